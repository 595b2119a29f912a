package control

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/coderefs"
)

// fakeInsights is analytics as the stale report and erasure see it:
// synthetic evaluations per environment and flag.
type fakeInsights struct {
	mu      sync.Mutex
	evals   map[string]map[string]int64 // envId/flagKey → variation → count
	deleted []string
	down    bool
	calls   int // EnvFlagVariations requests
}

func (f *fakeInsights) EnvFlagVariations(_ context.Context, envID string, _, _ time.Time) (map[string]map[string]int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.down {
		return nil, fmt.Errorf("connection refused")
	}
	out := map[string]map[string]int64{}
	for k, v := range f.evals {
		if flag, ok := strings.CutPrefix(k, envID+"/"); ok {
			out[flag] = v
		}
	}
	return out, nil
}

func (f *fakeInsights) DeleteUser(_ context.Context, envID, userKey string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return fmt.Errorf("connection refused")
	}
	f.deleted = append(f.deleted, envID+"/"+userKey)
	return nil
}

// TestCodeRefsScanUploadList runs the real scanner over a fixture tree,
// uploads through the API, replaces the upload, and lists by flag.
func TestCodeRefsScanUploadList(t *testing.T) {
	h := newHarness(t, WithInsights(&fakeInsights{}))
	proj := "/api/v1/projects/" + h.info.ProjectID
	env := h.env("dev")
	h.must(201, h.admin, "POST", h.flagsURL(env), boolFlagBody("search-v2"))
	h.must(201, h.admin, "POST", h.flagsURL(env), boolFlagBody("search"))

	var keys struct{ Keys []string }
	h.must(200, h.admin, "GET", proj+"/code-refs/keys", nil).decode(t, &keys)
	if !slices.Contains(keys.Keys, "search") || !slices.Contains(keys.Keys, "search-v2") {
		t.Fatalf("keys %v lack the new flags", keys.Keys)
	}

	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "a.go"), []byte("if c.Bool(\"search-v2\") {}\n"), 0o644)
	os.WriteFile(filepath.Join(root, "b.ts"), []byte("fb.variation('search', false)\n"), 0o644)
	res, err := coderefs.Scan(context.Background(), root, coderefs.Options{Keys: keys.Keys})
	if err != nil {
		t.Fatal(err)
	}
	up := coderefs.Upload{Repository: "acme/web", Branch: "main", Commit: "abc", References: res.References, Stats: res.Stats}
	var sum struct{ References, Flags int }
	h.must(200, h.admin, "POST", proj+"/code-refs", up).decode(t, &sum)
	if sum.References != 2 || sum.Flags != 2 {
		t.Fatalf("summary %+v, want 2 references to 2 flags", sum)
	}
	var refs struct {
		Items []struct{ Repository, File, FlagKey string }
		Total int
	}
	h.must(200, h.admin, "GET", proj+"/code-refs?flagKey=search", nil).decode(t, &refs)
	if refs.Total != 1 || refs.Items[0].File != "b.ts" || refs.Items[0].Repository != "acme/web" {
		t.Fatalf("refs of search: %+v", refs)
	}
	// A second upload of the same repository and branch replaces the first.
	os.Remove(filepath.Join(root, "b.ts"))
	res, _ = coderefs.Scan(context.Background(), root, coderefs.Options{Keys: keys.Keys})
	up.References, up.Commit = res.References, "def"
	h.must(200, h.admin, "POST", proj+"/code-refs", up)
	h.must(200, h.admin, "GET", proj+"/code-refs?flagKey=search", nil).decode(t, &refs)
	if refs.Total != 0 {
		t.Fatalf("after the second upload, search still has %d references", refs.Total)
	}
	// Another branch is kept beside it.
	up.Branch = "release"
	h.must(200, h.admin, "POST", proj+"/code-refs", up)
	var repos struct{ Total int }
	h.must(200, h.admin, "GET", proj+"/code-refs/repositories", nil).decode(t, &repos)
	if repos.Total != 2 {
		t.Fatalf("%d repository branches, want 2", repos.Total)
	}
	// Bad uploads name the field and store nothing.
	bad := coderefs.Upload{Repository: "", Branch: "main"}
	if code, field := h.must(400, h.admin, "POST", proj+"/code-refs", bad).errField(t); code != "invalid" || field != "repository" {
		t.Fatalf("empty repository: %s %s", code, field)
	}
	bad = coderefs.Upload{Repository: "r", Branch: "b", References: []coderefs.Reference{{FlagKey: "x", File: "f", Line: 0}}}
	if _, field := h.must(400, h.admin, "POST", proj+"/code-refs", bad).errField(t); field != "references[0].line" {
		t.Fatalf("line 0: field %q", field)
	}
	h.must(200, h.admin, "GET", proj+"/code-refs/repositories", nil).decode(t, &repos)
	if repos.Total != 2 {
		t.Fatalf("a refused upload changed the repositories: %d", repos.Total)
	}

	// A token of another organization cannot read or write these references.
	var orgB, tok struct{ ID, Token string }
	h.must(201, h.admin, "POST", "/api/v1/orgs", map[string]string{"name": "Org B"}).decode(t, &orgB)
	h.must(201, h.admin, "POST", "/api/v1/orgs/"+orgB.ID+"/tokens", map[string]string{"name": "b", "role": "admin"}).decode(t, &tok)
	h.must(403, tok.Token, "GET", proj+"/code-refs", nil)
	h.must(403, tok.Token, "GET", proj+"/code-refs/keys", nil)
	h.must(403, tok.Token, "POST", proj+"/code-refs", up)
	h.must(403, tok.Token, "GET", proj+"/stale-flags", nil)
}

func TestStaleFlagsReport(t *testing.T) {
	ins := &fakeInsights{evals: map[string]map[string]int64{}}
	h := newHarness(t, WithInsights(ins))
	proj := "/api/v1/projects/" + h.info.ProjectID
	env := h.env("dev")
	// The flags are made three days ago: older than the report's window.
	h.s.st.Now = func() int64 { return time.Now().Add(-72 * time.Hour).UnixMilli() }
	h.must(201, h.admin, "POST", h.flagsURL(env), boolFlagBody("quiet-flag"))
	h.must(201, h.admin, "POST", h.flagsURL(env), boolFlagBody("busy-flag"))
	h.must(201, h.admin, "POST", h.flagsURL(env), boolFlagBody("archived-flag"))
	h.must(200, h.admin, "POST", h.flagsURL(env)+"/archived-flag/archive", map[string]any{"version": 1})
	h.s.st.Now = func() int64 { return time.Now().UnixMilli() }
	h.must(201, h.admin, "POST", h.flagsURL(env), boolFlagBody("new-flag")) // made today
	var busy struct{ Variations []struct{ ID string } }
	h.must(200, h.admin, "GET", h.flagsURL(env)+"/busy-flag", nil).decode(t, &busy)
	ins.evals[env+"/busy-flag"] = map[string]int64{busy.Variations[0].ID: 7, busy.Variations[1].ID: 9}

	get := func() map[string][]string {
		var r struct {
			Flags []struct {
				EnvID, FlagKey string
				Stale, Risk    bool
				Reasons        []struct{ Code, Message string }
			}
		}
		h.must(200, h.admin, "GET", proj+"/stale-flags?days=1", nil).decode(t, &r)
		out := map[string][]string{}
		for _, f := range r.Flags {
			if f.EnvID != env {
				continue
			}
			for _, x := range f.Reasons {
				if x.Message == "" {
					t.Errorf("%s: reason %s without a message", f.FlagKey, x.Code)
				}
				out[f.FlagKey] = append(out[f.FlagKey], x.Code)
			}
		}
		return out
	}
	var envs struct{ Items []struct{ ID string } }
	h.must(200, h.admin, "GET", proj+"/envs", nil).decode(t, &envs)
	ins.calls = 0
	got := get()
	if ins.calls == 0 || ins.calls > len(envs.Items) { // one analytics query per environment, not per flag
		t.Errorf("%d analytics queries for %d environments, want one each at most", ins.calls, len(envs.Items))
	}
	if !slices.Contains(got["quiet-flag"], "no-evaluations") {
		t.Errorf("quiet-flag reasons %v, want no-evaluations", got["quiet-flag"])
	}
	if slices.Contains(got["busy-flag"], "no-evaluations") || slices.Contains(got["busy-flag"], "single-variation") {
		t.Errorf("busy-flag reasons %v: it served two variations", got["busy-flag"])
	}
	if len(got["new-flag"]) != 0 || len(got["archived-flag"]) != 0 {
		t.Errorf("new-flag %v, archived-flag %v: want nothing before a scan", got["new-flag"], got["archived-flag"])
	}
	// After a scan that finds busy-flag and archived-flag: quiet-flag has no
	// references left, and the archived flag still in code is a risk.
	h.must(200, h.admin, "POST", proj+"/code-refs", coderefs.Upload{Repository: "r", Branch: "main",
		References: []coderefs.Reference{{FlagKey: "busy-flag", File: "a.go", Line: 1}, {FlagKey: "archived-flag", File: "a.go", Line: 9}}})
	got = get()
	if !slices.Contains(got["quiet-flag"], "no-code-references") || slices.Contains(got["busy-flag"], "no-code-references") {
		t.Errorf("after the scan: %v", got)
	}
	if !slices.Contains(got["archived-flag"], "archived-with-code-references") {
		t.Errorf("archived-flag reasons %v, want archived-with-code-references", got["archived-flag"])
	}
	// Analytics down: the report still answers, without evaluation rules.
	ins.down = true
	if got = get(); slices.Contains(got["quiet-flag"], "no-evaluations") {
		t.Errorf("analytics down, yet quiet-flag has no-evaluations: %v", got["quiet-flag"])
	}
	h.must(400, h.admin, "GET", proj+"/stale-flags?days=0", nil)
	h.must(400, h.admin, "GET", proj+"/stale-flags?days=x", nil)
}

func TestEraseEndUser(t *testing.T) {
	ins := &fakeInsights{}
	h := newHarness(t, WithInsights(ins))
	env := h.env("dev")
	if err := h.s.st.UpsertEndUsers(context.Background(), env, []codec.EndUser{{KeyID: "u-1", Name: "Ann"}}); err != nil {
		t.Fatal(err)
	}
	h.must(200, h.admin, "GET", "/api/v1/envs/"+env+"/end-users/u-1", nil)
	ins.down = true
	h.must(503, h.admin, "DELETE", "/api/v1/envs/"+env+"/end-users/u-1", nil)
	h.must(200, h.admin, "GET", "/api/v1/envs/"+env+"/end-users/u-1", nil) // nothing half-done
	ins.down = false
	var res struct{ EndUserDeleted, EventsDeleted bool }
	h.must(200, h.admin, "DELETE", "/api/v1/envs/"+env+"/end-users/u-1", nil).decode(t, &res)
	if !res.EndUserDeleted || !res.EventsDeleted || len(ins.deleted) != 1 || !strings.HasSuffix(ins.deleted[0], "/u-1") {
		t.Fatalf("erasure %+v, analytics saw %v", res, ins.deleted)
	}
	h.must(404, h.admin, "GET", "/api/v1/envs/"+env+"/end-users/u-1", nil)

	// An environment that requires a change comment requires one for an
	// erasure too; the erasure is audited (the key only, no erased data)
	// and sent to webhooks as end_user.erased.
	if err := h.s.st.UpsertEndUsers(context.Background(), env, []codec.EndUser{{KeyID: "u-2", Name: "Bea"}}); err != nil {
		t.Fatal(err)
	}
	h.must(200, h.admin, "PUT", "/api/v1/envs/"+env+"/workflow-settings", map[string]any{"requireComment": true})
	h.must(400, h.admin, "DELETE", "/api/v1/envs/"+env+"/end-users/u-2", nil)
	h.must(200, h.admin, "GET", "/api/v1/envs/"+env+"/end-users/u-2", nil) // nothing erased
	h.must(200, h.admin, "DELETE", "/api/v1/envs/"+env+"/end-users/u-2?comment=GDPR+request+42", nil)
	var audit struct {
		Items []struct {
			ResourceType, Action, ResourceKey, Comment string
			Changes                                    []string
		}
	}
	h.must(200, h.admin, "GET", "/api/v1/envs/"+env+"/audit?limit=10", nil).decode(t, &audit)
	found := false
	for _, e := range audit.Items {
		if e.ResourceType == "end_user" && e.Action == "erased" && e.ResourceKey == "u-2" {
			found = true
			if e.Comment != "GDPR request 42" || strings.Contains(strings.Join(e.Changes, " "), "Bea") {
				t.Fatalf("erasure audit entry %+v", e)
			}
		}
	}
	if !found {
		t.Fatalf("no end_user/erased audit entry in %+v", audit.Items)
	}
	var kinds struct{ Items []string }
	h.must(200, h.admin, "GET", "/api/v1/orgs/"+h.info.OrgID+"/webhook-kinds", nil).decode(t, &kinds)
	if !slices.Contains(kinds.Items, "end_user.erased") {
		t.Fatalf("webhook kinds %v lack end_user.erased", kinds.Items)
	}
}
