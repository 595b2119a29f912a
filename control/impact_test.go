package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/switchyard/switchyard/codec"
)

// seedUsers ingests n end users into env: country fr for i%3==0, seen now,
// except every 10th user, last seen 40 days ago.
func seedUsers(t testing.TB, h *harness, env string, n int) {
	t.Helper()
	now := time.Now().UnixMilli()
	for lo := 0; lo < n; lo += 10_000 {
		b := &codec.EndUserBatch{EnvID: env}
		for i := lo; i < min(lo+10_000, n); i++ {
			u := codec.EndUser{KeyID: fmt.Sprint("user-", i), LastSeen: now, FirstSeen: now}
			if i%10 == 9 {
				u.LastSeen = now - 40*24*3600*1000
			}
			if i%3 == 0 {
				u.Props = []codec.UserProp{{Name: "country", Value: "fr"}}
			}
			b.Users = append(b.Users, u)
		}
		if err := h.s.IngestEndUsers(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
}

type impactResult struct {
	Users, Changed int
	Transitions    []struct {
		From, To struct{ ID, Name string }
		Count    int
		Reasons  []struct {
			Reason string
			Count  int
		}
		Samples []string
	}
}

// proposal returns the flag with a rule serving its other variation to fr
// users, and that variation's id.
func proposal(t testing.TB, h *harness, env, key string) (map[string]any, string) {
	t.Helper()
	var f map[string]any
	h.must(200, h.admin, "GET", h.flagsURL(env)+"/"+key, nil).decode(t, &f)
	served := f["fallthrough"].(map[string]any)["variations"].([]any)[0].(map[string]any)["id"].(string)
	other := ""
	for _, v := range f["variations"].([]any) {
		if id := v.(map[string]any)["id"].(string); id != served {
			other = id
		}
	}
	f["rules"] = []any{map[string]any{"name": "French", "conditions": []any{map[string]any{"property": "country", "op": "IsOneOf", "value": `["fr"]`}},
		"variations": []any{map[string]any{"id": other, "rollout": []float64{0, 1}}}}}
	return f, other
}

func TestImpactPreview(t *testing.T) {
	h := newHarness(t)
	env := h.env("dev")
	h.must(201, h.admin, "POST", h.flagsURL(env), boolFlagBody("impact-flag"))
	h.must(200, h.admin, "POST", h.flagsURL(env)+"/impact-flag/toggle", map[string]any{"isEnabled": true, "version": 1})
	const n = 3000
	seedUsers(t, h, env, n)
	f, other := proposal(t, h, env, "impact-flag")
	// expected from the population: fr users seen within the default 30 days
	want := 0
	for i := range n {
		if i%3 == 0 && i%10 != 9 {
			want++
		}
	}
	var r impactResult
	h.must(200, h.admin, "POST", h.flagsURL(env)+"/impact-flag/impact", map[string]any{"flag": f, "samples": 2}).decode(t, &r)
	if r.Users != n-n/10 || r.Changed != want || len(r.Transitions) != 1 || r.Transitions[0].To.ID != other ||
		r.Transitions[0].Count != want || r.Transitions[0].Reasons[0].Reason != "French" || len(r.Transitions[0].Samples) != 2 {
		t.Fatalf("preview: %+v, want %d of %d users moved by French", r, want, n-n/10)
	}
	// a longer window includes the users seen 40 days ago
	h.must(200, h.admin, "POST", h.flagsURL(env)+"/impact-flag/impact", map[string]any{"flag": f, "seenWithin": "1000h"}).decode(t, &r)
	if r.Users != n || r.Changed != (n+2)/3 {
		t.Fatalf("preview over 1000h: %d users, %d changed; want %d and %d", r.Users, r.Changed, n, (n+2)/3)
	}
	// nothing was written: the flag has no rule
	var cur struct{ Rules []any }
	h.must(200, h.admin, "GET", h.flagsURL(env)+"/impact-flag", nil).decode(t, &cur)
	if len(cur.Rules) != 0 {
		t.Fatal("the preview changed the flag")
	}
	// bad input: a clear 400 naming the field
	bad := func(body map[string]any, field string) {
		t.Helper()
		r := h.must(400, h.admin, "POST", h.flagsURL(env)+"/impact-flag/impact", body)
		if _, got := r.errField(t); got != field {
			t.Errorf("%v: field %q, want %q (%s)", body, got, field, r.Body)
		}
	}
	bad(map[string]any{"flag": f, "seenWithin": "forever"}, "seenWithin")
	bad(map[string]any{"flag": f, "seenWithin": "100000h"}, "seenWithin")
	bad(map[string]any{"flag": f, "samples": 21}, "samples")
	broken, _ := proposal(t, h, env, "impact-flag")
	broken["rules"].([]any)[0].(map[string]any)["conditions"].([]any)[0].(map[string]any)["op"] = "Approximately"
	bad(map[string]any{"flag": broken}, "flag.rules[0].conditions[0].op")
	h.must(404, h.admin, "POST", h.flagsURL(env)+"/no-such-flag/impact", map[string]any{"flag": f})
}

// TestImpactPreviewStreams: with Accept: application/x-ndjson the answer is
// progress lines (every 50,000 users) and then the result.
func TestImpactPreviewStreams(t *testing.T) {
	h := newHarness(t)
	env := h.env("dev")
	h.must(201, h.admin, "POST", h.flagsURL(env), boolFlagBody("impact-flag"))
	h.must(200, h.admin, "POST", h.flagsURL(env)+"/impact-flag/toggle", map[string]any{"isEnabled": true, "version": 1})
	seedUsers(t, h, env, 120_000)
	f, _ := proposal(t, h, env, "impact-flag")
	body, _ := json.Marshal(map[string]any{"flag": f})
	req := httptest.NewRequest("POST", h.flagsURL(env)+"/impact-flag/impact", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+h.admin)
	req.Header.Set("Accept", "application/x-ndjson")
	w := httptest.NewRecorder()
	h.s.Handler().ServeHTTP(w, req)
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("%d %s", w.Code, w.Header().Get("Content-Type"))
	}
	var progress []int
	var res *impactResult
	sc := bufio.NewScanner(w.Body)
	for sc.Scan() {
		var line struct {
			Progress *struct{ Users int }
			Result   *impactResult
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		switch {
		case line.Progress != nil:
			progress = append(progress, line.Progress.Users)
		case line.Result != nil:
			res = line.Result
		}
	}
	if fmt.Sprint(progress) != "[50000 100000]" || res == nil || res.Users != 108_000 {
		t.Fatalf("progress %v, result %+v", progress, res)
	}
}

// BenchmarkImpactStore previews a rule over SY_IMPACT_USERS stored end
// users (default 100,000) in the embedded store, through the API.
//
//	SY_IMPACT_USERS=1000000 go test -run '^$' -bench BenchmarkImpactStore -benchtime 3x ./control/
func BenchmarkImpactStore(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("SY_IMPACT_USERS")); err == nil && v > 0 {
		n = v
	}
	h := newHarness(b)
	env := h.env("dev")
	h.must(201, h.admin, "POST", h.flagsURL(env), boolFlagBody("impact-flag"))
	h.must(200, h.admin, "POST", h.flagsURL(env)+"/impact-flag/toggle", map[string]any{"isEnabled": true, "version": 1})
	seedUsers(b, h, env, n)
	f, _ := proposal(b, h, env, "impact-flag")
	body, _ := json.Marshal(map[string]any{"flag": f, "seenWithin": "8000h"})
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		req := httptest.NewRequest("POST", h.flagsURL(env)+"/impact-flag/impact", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+h.admin)
		w := httptest.NewRecorder()
		h.s.Handler().ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/preview")
	b.ReportMetric(float64(n), "users")
}
