package control

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/edge/edgetest"
)

func batchURL(env string) string { return "/api/v1/envs/" + env + "/flags/batch" }

func batchOf(n int, prefix string) map[string]any {
	items := make([]map[string]any, n)
	for i := range items {
		items[i] = boolFlagBody(fmt.Sprintf("%s-%05d", prefix, i))
	}
	return map[string]any{"items": items}
}

type batchResult struct {
	Created, Updated int
	Items            []struct {
		Key, ID, Result string
		Version         int64
	}
}

// A batch creates and updates flags as one change: one environment bump
// per batch, ONE change event of kind "batch" carrying every item, the
// items in the snapshot.
func TestFlagBatchIsOnePublish(t *testing.T) {
	h := newHarness(t)
	env := h.env("dev")
	h.publish()
	v0, n0 := h.envVersion(env)
	ev0 := len(h.sink.Events())

	var res batchResult
	h.must(200, h.admin, "POST", batchURL(env), batchOf(300, "bulk")).decode(t, &res)
	if res.Created != 300 || res.Updated != 0 || len(res.Items) != 300 || res.Items[7].Key != "bulk-00007" || res.Items[7].Version != 1 || res.Items[7].ID == "" {
		t.Fatalf("result %+v", res.Items[:1])
	}
	v1, n1 := h.envVersion(env)
	if v1 != v0+1 || n1 != n0+300 {
		t.Fatalf("env version %d → %d, flags %d → %d; want one bump and 300 flags", v0, v1, n0, n1)
	}
	h.publish()
	evs := h.sink.Events()[ev0:]
	if len(evs) != 1 || evs[0].Kind != codec.KindBatch {
		t.Fatalf("%d events after the batch (first %+v), want one of kind batch", len(evs), evs[0].Kind)
	}
	var b codec.EnvSnapshot
	if _, err := b.UnmarshalMsg(evs[0].Payload); err != nil || len(b.Flags) != 300 {
		t.Fatalf("batch payload: %d flags, %v", len(b.Flags), err)
	}
	if snap := h.sink.Snapshot(env); len(snap.Flags) != n1 {
		t.Fatalf("snapshot holds %d flags, want %d", len(snap.Flags), n1)
	}

	// updates (with their versions) and creates in one call
	var f1, f2 codec.Flag
	h.must(200, h.admin, "GET", h.flagsURL(env)+"/bulk-00001", nil).decode(t, &f1)
	h.must(200, h.admin, "GET", h.flagsURL(env)+"/bulk-00002", nil).decode(t, &f2)
	f1.IsEnabled, f2.Description = true, "second"
	upd := map[string]any{"items": []any{f1, f2, boolFlagBody("bulk-new")}}
	h.must(200, h.admin, "POST", batchURL(env), upd).decode(t, &res)
	if res.Created != 1 || res.Updated != 2 || res.Items[0].Version != 2 || res.Items[0].Result != "updated" {
		t.Fatalf("result %+v", res)
	}
	h.publish()
	evs = h.sink.Events()[ev0+1:]
	if len(evs) != 1 || evs[0].Kind != codec.KindBatch {
		t.Fatalf("%d events after the second batch, want one", len(evs))
	}
	var got codec.Flag
	h.must(200, h.admin, "GET", h.flagsURL(env)+"/bulk-00001", nil).decode(t, &got)
	if !got.IsEnabled || got.Version != 2 {
		t.Fatalf("bulk-00001 after the batch: %+v", got)
	}
}

// Bad input is refused naming the item, and nothing is written.
func TestFlagBatchBadInputNamesItemAndWritesNothing(t *testing.T) {
	h := newHarness(t)
	env := h.env("dev")
	h.must(200, h.admin, "POST", batchURL(env), batchOf(3, "have"))
	h.publish()
	v0, n0 := h.envVersion(env)
	ev0 := len(h.sink.Events())

	good := func() []map[string]any {
		items := make([]map[string]any, 5)
		for i := range items {
			items[i] = boolFlagBody(fmt.Sprintf("new-%d", i))
		}
		return items
	}
	cases := []struct {
		name   string
		mut    func([]map[string]any) []map[string]any
		status int
		field  string
	}{
		{"bad key", func(it []map[string]any) []map[string]any { it[3]["key"] = "no spaces allowed"; return it }, 400, "items[3].key"},
		{"bad variation type", func(it []map[string]any) []map[string]any { it[2]["variationType"] = "colour"; return it }, 400, "items[2].variationType"},
		{"duplicate in batch", func(it []map[string]any) []map[string]any { it[4]["key"] = "new-1"; return it }, 400, "items[4].key"},
		{"exists", func(it []map[string]any) []map[string]any { it[1]["key"] = "have-00000"; return it }, 400, "items[1].key"},
		{"stale version", func(it []map[string]any) []map[string]any {
			it[2]["key"], it[2]["version"] = "have-00001", 7
			return it
		}, 409, "items[2].version"},
		{"update of a missing flag", func(it []map[string]any) []map[string]any { it[0]["version"] = 3; return it }, 404, "items[0].key"},
		{"unknown segment", func(it []map[string]any) []map[string]any {
			it[1]["rules"] = []map[string]any{{"name": "r", "conditions": []map[string]any{{"property": "User is in segment", "op": "", "value": `["nope"]`}},
				"variations": []map[string]any{{"id": "x", "rollout": []float64{0, 1}}}}}
			return it
		}, 400, "items[1].rules"},
		{"empty", func([]map[string]any) []map[string]any { return []map[string]any{} }, 400, "items"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := h.do(h.admin, "POST", batchURL(env), map[string]any{"items": c.mut(good())})
			if r.Code != c.status {
				t.Fatalf("status %d, want %d: %s", r.Code, c.status, r.Body)
			}
			if _, f := r.errField(t); len(f) < len(c.field) || f[:len(c.field)] != c.field {
				t.Fatalf("field %q, want %q: %s", f, c.field, r.Body)
			}
			if v, n := h.envVersion(env); v != v0 || n != n0 {
				t.Fatalf("env version %d → %d, flags %d → %d after a refused batch", v0, v, n0, n)
			}
		})
	}
	h.publish()
	if evs := h.sink.Events()[ev0:]; len(evs) != 0 {
		t.Fatalf("%d events after refused batches", len(evs))
	}
}

// TestSecurityFlagBatchBounded: at most store.MaxBatch items per call; the
// route's body cap is its own (maxBatchBody), other routes keep -max-body.
func TestSecurityFlagBatchBounded(t *testing.T) {
	h := newHarness(t)
	env := h.env("dev")
	r := h.do(h.admin, "POST", batchURL(env), batchOf(10001, "x"))
	if code, f := r.errField(t); r.Code != 400 || code == "" || f != "items" {
		t.Fatalf("10,001 items: %d %s", r.Code, r.Body)
	}
	big := make([]byte, 0, 33<<20)
	big = append(big, `{"items":[{"key":"a","description":"`...)
	for len(big) < 33<<20 {
		big = append(big, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"...)
	}
	big = append(big, `"}]}`...)
	if r := h.do(h.admin, "POST", batchURL(env), big); r.Code != 413 {
		t.Fatalf("33 MiB body: %d", r.Code)
	}
	// 2 MiB is over -max-body (1 MiB) but allowed on this route
	two := append(append([]byte(`{"items":[{"key":"a","description":"`), make([]byte, 2<<20)...), `"}]}`...)
	for i := 36; i < len(two)-4; i++ {
		two[i] = 'a'
	}
	if r := h.do(h.admin, "POST", batchURL(env), two); r.Code == 413 {
		t.Fatalf("2 MiB batch refused as too large: %s", r.Body)
	}
	if r := h.do(h.admin, "POST", h.flagsURL(env), two[10:len(two)-2]); r.Code != 413 {
		t.Fatalf("2 MiB single flag: %d, want 413 (-max-body)", r.Code)
	}
}

// An SDK connected to the (in-process) edge gets a batch as ONE update
// carrying every item, and the next change as the next update.
func TestFlagBatchReachesSDKAsOneUpdate(t *testing.T) {
	e := edgetest.Run(t)
	h := newHarness(t, WithSnapshotWriter(e.Source), WithChangeProducer(e.Source))
	env := h.info.Envs[0]
	h.publish()
	c := edgetest.Dial(t, edgetest.StreamURL(e.Addr, "server", env.ServerSecret))
	if err := c.Send(`{"messageType":"data-sync","data":{"timestamp":0}}`); err != nil {
		t.Fatal(err)
	}
	type sync struct {
		EventType    string `json:"eventType"`
		FeatureFlags []struct {
			Key string `json:"key"`
		} `json:"featureFlags"`
	}
	next := func() sync {
		t.Helper()
		for {
			m, err := c.ReadJSON(30 * time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if m.MessageType != "data-sync" {
				continue
			}
			var s sync
			if err := json.Unmarshal(m.Data, &s); err != nil {
				t.Fatal(err)
			}
			return s
		}
	}
	full := next()
	if full.EventType != "full" {
		t.Fatalf("first message %q", full.EventType)
	}
	const n = 2000
	h.must(200, h.admin, "POST", batchURL(env.ID), batchOf(n, "sdk"))
	h.publish()
	p := next()
	if p.EventType != "patch" || len(p.FeatureFlags) != n {
		t.Fatalf("after the batch: %s with %d flags, want one patch with %d", p.EventType, len(p.FeatureFlags), n)
	}
	seen := map[string]bool{}
	for _, f := range p.FeatureFlags {
		seen[f.Key] = true
	}
	if len(seen) != n || !seen["sdk-00000"] || !seen[fmt.Sprintf("sdk-%05d", n-1)] {
		t.Fatalf("patch holds %d distinct keys", len(seen))
	}
	// the next change is the next message: the batch was not split
	h.must(200, h.admin, "POST", h.flagsURL(env.ID)+"/sdk-00005/toggle", map[string]any{"version": 1})
	h.publish()
	if p := next(); p.EventType != "patch" || len(p.FeatureFlags) != 1 || p.FeatureFlags[0].Key != "sdk-00005" {
		t.Fatalf("after a toggle: %s with %d flags", p.EventType, len(p.FeatureFlags))
	}
}
