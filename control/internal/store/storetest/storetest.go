// Package storetest is the conformance suite every store.Backend passes:
// bolt runs it as a unit test, mongo as an integration test against the
// MongoDB-wire server. It checks the Backend contract (ids, unique indexes,
// compare-and-set, find semantics) and the typed Store on top of it.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/store"
)

// Open returns a fresh, empty backend with store.Schema applied.
type Open func(t *testing.T) store.Backend

// Run runs the whole suite.
func Run(t *testing.T, open Open) {
	t.Run("InsertGet", func(t *testing.T) { testInsertGet(t, open(t)) })
	t.Run("UniqueIndex", func(t *testing.T) { testUnique(t, open(t)) })
	t.Run("CompareAndSet", func(t *testing.T) { testCAS(t, open(t)) })
	t.Run("ConcurrentCompareAndSet", func(t *testing.T) { testConcurrentCAS(t, open(t)) })
	t.Run("Find", func(t *testing.T) { testFind(t, open(t)) })
	t.Run("Modify", func(t *testing.T) { testModify(t, open(t)) })
	t.Run("ConcurrentModify", func(t *testing.T) { testConcurrentModify(t, open(t)) })
	t.Run("Flags", func(t *testing.T) { testFlags(t, store.New(open(t))) })
	t.Run("BatchFlags", func(t *testing.T) { testBatchFlags(t, store.New(open(t))) })
	t.Run("BatchReadsNamedOnly", func(t *testing.T) { testBatchReadsNamedOnly(t, open(t)) })
	t.Run("SettingsMemo", func(t *testing.T) { testSettingsMemo(t, open(t)) })
	t.Run("InsertMany", func(t *testing.T) { testInsertMany(t, open(t)) })
	t.Run("Outbox", func(t *testing.T) { testOutbox(t, store.New(open(t))) })
	t.Run("EnvStoredAsJSON", func(t *testing.T) { testEnvStoredAsJSON(t, open(t)) })
	t.Run("Segments", func(t *testing.T) { testSegments(t, store.New(open(t))) })
	t.Run("SegmentRefs", func(t *testing.T) { testSegmentRefs(t, open(t)) })
	t.Run("Stamps", func(t *testing.T) { testStamps(t, store.New(open(t))) })
	t.Run("EndUsers", func(t *testing.T) { testEndUsers(t, store.New(open(t))) })
	t.Run("AuditRetention", func(t *testing.T) { testAuditRetention(t, store.New(open(t))) })
	t.Run("LoginAttempts", func(t *testing.T) { testLoginAttempts(t, store.New(open(t))) })
	t.Run("LoginReservation", func(t *testing.T) { testLoginReservation(t, store.New(open(t))) })
	t.Run("Invitations", func(t *testing.T) { testInvitations(t, store.New(open(t))) })
	t.Run("SessionsOfUser", func(t *testing.T) { testSessionsOfUser(t, store.New(open(t))) })
	t.Run("Access", func(t *testing.T) { testAccess(t, store.New(open(t))) })
	t.Run("FlagVersions", func(t *testing.T) { testFlagVersions(t, store.New(open(t))) })
	t.Run("ChangeRequests", func(t *testing.T) { testChangeRequests(t, store.New(open(t))) })
	t.Run("ProtectedGate", func(t *testing.T) { testProtectedGate(t, store.New(open(t))) })
	t.Run("SSO", func(t *testing.T) { testSSO(t, store.New(open(t))) })
	t.Run("DeleteOrg", func(t *testing.T) { testDeleteOrg(t, store.New(open(t))) })
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("error = %v, want %v", err, kind)
	}
}

func flagDoc(id, env, key string, v int64) *store.Doc {
	return &store.Doc{ID: id, Version: v, Fields: map[string]string{"envId": env, "key": key}, Data: []byte(`{"id":"` + id + `"}`)}
}

func testInsertGet(t *testing.T, b store.Backend) {
	ctx := context.Background()
	must(t, b.Insert(ctx, store.CollFlags, flagDoc("f1", "e1", "k1", 1)))
	d, err := b.Get(ctx, store.CollFlags, "f1")
	must(t, err)
	if d.ID != "f1" || d.Version != 1 || d.Fields["key"] != "k1" || string(d.Data) != `{"id":"f1"}` {
		t.Fatalf("got %+v", d)
	}
	wantErr(t, b.Insert(ctx, store.CollFlags, flagDoc("f1", "e1", "other", 1)), store.ErrDuplicate)
	_, err = b.Get(ctx, store.CollFlags, "nope")
	wantErr(t, err, store.ErrNotFound)
}

func testUnique(t *testing.T, b store.Backend) {
	ctx := context.Background()
	must(t, b.Insert(ctx, store.CollFlags, flagDoc("f1", "e1", "k1", 1)))
	must(t, b.Insert(ctx, store.CollFlags, flagDoc("f2", "e2", "k1", 1))) // other env: fine
	wantErr(t, b.Insert(ctx, store.CollFlags, flagDoc("f3", "e1", "k1", 1)), store.ErrDuplicate)
	if _, err := b.Get(ctx, store.CollFlags, "f3"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused insert left a document: %v", err)
	}
	// Moving f2 onto e1/k1 is refused and leaves f2 as it was.
	wantErr(t, b.Replace(ctx, store.CollFlags, flagDoc("f2", "e1", "k1", 2), 1), store.ErrDuplicate)
	d, err := b.Get(ctx, store.CollFlags, "f2")
	must(t, err)
	if d.Version != 1 || d.Fields["envId"] != "e2" {
		t.Fatalf("refused replace changed the document: %+v", d)
	}
	// A key freed by a replace can be reused.
	must(t, b.Replace(ctx, store.CollFlags, flagDoc("f1", "e1", "k2", 2), 1))
	must(t, b.Insert(ctx, store.CollFlags, flagDoc("f4", "e1", "k1", 1)))
	ds, n, err := b.Find(ctx, store.CollFlags, store.Query{Eq: map[string]string{"envId": "e1", "key": "k1"}})
	must(t, err)
	if n != 1 || len(ds) != 1 || ds[0].ID != "f4" {
		t.Fatalf("find by unique key: %d %v", n, ds)
	}
	// Deleting frees the key.
	must(t, b.Delete(ctx, store.CollFlags, "f4", 1))
	must(t, b.Insert(ctx, store.CollFlags, flagDoc("f5", "e1", "k1", 1)))
}

func testCAS(t *testing.T, b store.Backend) {
	ctx := context.Background()
	must(t, b.Insert(ctx, store.CollFlags, flagDoc("f1", "e1", "k1", 1)))
	must(t, b.Replace(ctx, store.CollFlags, flagDoc("f1", "e1", "k1", 2), 1))
	wantErr(t, b.Replace(ctx, store.CollFlags, flagDoc("f1", "e1", "k1", 2), 1), store.ErrConflict)
	wantErr(t, b.Replace(ctx, store.CollFlags, flagDoc("nope", "e1", "k9", 2), 1), store.ErrNotFound)
	wantErr(t, b.Delete(ctx, store.CollFlags, "f1", 1), store.ErrConflict)
	must(t, b.Delete(ctx, store.CollFlags, "f1", 2))
	wantErr(t, b.Delete(ctx, store.CollFlags, "f1", -1), store.ErrNotFound)
}

// testConcurrentCAS: writers racing from the same version: exactly one
// wins each round; the others get ErrConflict. Deletes race the same way.
func testConcurrentCAS(t *testing.T, b store.Backend) {
	ctx := context.Background()
	must(t, b.Insert(ctx, store.CollFlags, flagDoc("f1", "e1", "k1", 1)))
	const writers = 6
	for round := int64(1); round <= 5; round++ {
		var wg sync.WaitGroup
		var mu sync.Mutex
		won, other := 0, []error{}
		for w := range writers {
			wg.Go(func() {
				d := flagDoc("f1", "e1", fmt.Sprintf("k-%d-%d", round, w), round+1)
				err := b.Replace(ctx, store.CollFlags, d, round)
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					won++
				} else if !errors.Is(err, store.ErrConflict) {
					other = append(other, err)
				}
			})
		}
		wg.Wait()
		if won != 1 || len(other) > 0 {
			t.Fatalf("round %d: %d writers won the same version (other errors: %v)", round, won, other)
		}
	}
	d, err := b.Get(ctx, store.CollFlags, "f1")
	must(t, err)
	if d.Version != 6 {
		t.Fatalf("version %d after 5 rounds", d.Version)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	deleted := 0
	for range writers {
		wg.Go(func() {
			if b.Delete(ctx, store.CollFlags, "f1", 6) == nil {
				mu.Lock()
				deleted++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if deleted != 1 {
		t.Fatalf("%d deletes succeeded", deleted)
	}
}

func testFind(t *testing.T, b store.Backend) {
	ctx := context.Background()
	for i := range 25 {
		env := "e1"
		if i%5 == 0 {
			env = "e2"
		}
		must(t, b.Insert(ctx, store.CollEndUsers, &store.Doc{ID: fmt.Sprintf("u%02d", i), Version: 1,
			Fields: map[string]string{"envId": env, "keyId": fmt.Sprintf("key-%02d", i),
				"name": fmt.Sprintf("name %d", i%3), "lastSeen": fmt.Sprintf("%05d", 100-i)},
			Data: []byte("{}")}))
	}
	ds, n, err := b.Find(ctx, store.CollEndUsers, store.Query{Eq: map[string]string{"envId": "e1"}, Sort: "lastSeen", Desc: true, Offset: 2, Limit: 3})
	must(t, err)
	if n != 20 || len(ds) != 3 || ds[0].ID != "u03" || ds[2].ID != "u06" {
		t.Fatalf("page: total %d, %v", n, ids(ds))
	}
	// the same page for a caller that does not use the total: the same
	// documents, and a total of at least the offset plus those read
	ds, n, err = b.Find(ctx, store.CollEndUsers, store.Query{Eq: map[string]string{"envId": "e1"}, Sort: "lastSeen", Desc: true, Offset: 2, Limit: 3, NoTotal: true})
	must(t, err)
	if n < 5 || n > 20 || len(ds) != 3 || ds[0].ID != "u03" || ds[2].ID != "u06" {
		t.Fatalf("page without its total: total %d, %v", n, ids(ds))
	}
	ds, n, err = b.Find(ctx, store.CollEndUsers, store.Query{Eq: map[string]string{"envId": "e1"}, Search: "name 2", SearchFields: []string{"keyId", "name"}})
	must(t, err)
	for _, d := range ds {
		if d.Fields["name"] != "name 2" || d.Fields["envId"] != "e1" {
			t.Fatalf("search returned %+v", d)
		}
	}
	if n != len(ds) || n != 6 {
		t.Fatalf("search total %d (%d docs), want 6", n, len(ds))
	}
	ds, _, err = b.Find(ctx, store.CollEndUsers, store.Query{Search: "y-1", SearchFields: []string{"keyId"}, Sort: "keyId"})
	must(t, err)
	if len(ds) != 10 || ds[0].ID != "u10" {
		t.Fatalf("search without Eq: %v", ids(ds))
	}
	ds, n, err = b.Find(ctx, store.CollEndUsers, store.Query{In: map[string][]string{"keyId": {"key-01", "key-07", "zzz"}}})
	must(t, err)
	if n != 2 || len(ds) != 2 {
		t.Fatalf("in: %v", ids(ds))
	}
	ds, n, err = b.Find(ctx, store.CollEndUsers, store.Query{Search: "a.b", SearchFields: []string{"name"}})
	must(t, err)
	if n != 0 || len(ds) != 0 {
		t.Fatalf("search must be literal, not a pattern: %v", ids(ds))
	}
}

func testModify(t *testing.T, b store.Backend) {
	ctx := context.Background()
	must(t, b.Insert(ctx, store.CollFlags, flagDoc("f1", "e1", "k1", 1)))
	seen := map[string]int64{}
	err := b.Modify(ctx, store.CollFlags, []string{"f1", "f2", "f3"}, func(id string, old *store.Doc) (*store.Doc, error) {
		if old != nil {
			seen[id] = old.Version
			return flagDoc(id, "e1", "k1-renamed", old.Version+1), nil
		}
		seen[id] = 0
		if id == "f3" {
			return nil, nil // leave missing
		}
		return flagDoc(id, "e1", "k2", 1), nil
	})
	must(t, err)
	if seen["f1"] != 1 || seen["f2"] != 0 || len(seen) != 3 {
		t.Fatalf("fn saw %v", seen)
	}
	d, err := b.Get(ctx, store.CollFlags, "f1")
	must(t, err)
	if d.Version != 2 || d.Fields["key"] != "k1-renamed" {
		t.Fatalf("f1 after modify: %+v", d)
	}
	if _, err := b.Get(ctx, store.CollFlags, "f2"); err != nil {
		t.Fatalf("f2 not inserted: %v", err)
	}
	if _, err := b.Get(ctx, store.CollFlags, "f3"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("f3 written: %v", err)
	}
	// The old key of f1 is free, the new one taken.
	must(t, b.Insert(ctx, store.CollFlags, flagDoc("f4", "e1", "k1", 1)))
	wantErr(t, b.Modify(ctx, store.CollFlags, []string{"f5"}, func(id string, _ *store.Doc) (*store.Doc, error) {
		return flagDoc(id, "e1", "k2", 1), nil
	}), store.ErrDuplicate)
	boom := errors.New("boom")
	wantErr(t, b.Modify(ctx, store.CollFlags, []string{"f1"}, func(string, *store.Doc) (*store.Doc, error) { return nil, boom }), boom)
}

// testConcurrentModify: writers modifying one document at once each get
// their change in, none lost: every version from 2 to writers × rounds + 1
// is written exactly once, by a fn that saw the version before it.
func testConcurrentModify(t *testing.T, b store.Backend) {
	ctx := context.Background()
	must(t, b.Insert(ctx, store.CollFlags, flagDoc("f1", "e1", "k1", 1)))
	const writers, rounds = 6, 4
	var mu sync.Mutex
	wrote := map[int64]int{}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for r := range rounds {
				var next int64
				err := b.Modify(ctx, store.CollFlags, []string{"f1"}, func(id string, old *store.Doc) (*store.Doc, error) {
					next = old.Version + 1
					return flagDoc(id, "e1", fmt.Sprintf("k-%d-%d", w, r), next), nil
				})
				if err != nil {
					t.Errorf("writer %d round %d: %v", w, r, err)
					return
				}
				mu.Lock()
				wrote[next]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	d, err := b.Get(ctx, store.CollFlags, "f1")
	must(t, err)
	if d.Version != writers*rounds+1 {
		t.Fatalf("version %d after %d modifications from 1", d.Version, writers*rounds)
	}
	for v := int64(2); v <= writers*rounds+1; v++ {
		if wrote[v] != 1 {
			t.Fatalf("version %d written %d times (all: %v)", v, wrote[v], wrote)
		}
	}
}

func ids(ds []*store.Doc) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

func newEnv(t *testing.T, s *store.Store, id string) *store.Env {
	e := &store.Env{ID: id, ProjectID: "p1", OrgID: "o1", Name: id,
		Secrets: []codec.EnvSecret{{EnvID: id, Type: codec.SecretServer, Value: "s"}}}
	must(t, s.CreateEnv(context.Background(), e))
	return e
}

func boolFlag(env, id, key string) *codec.Flag {
	return &codec.Flag{ID: id, EnvID: env, Key: key, Name: key, VariationType: "boolean",
		Variations:          []codec.Variation{{ID: "t", Value: "true"}, {ID: "f", Value: "false"}},
		DisabledVariationID: "f",
		Fallthrough:         codec.Fallthrough{Variations: []codec.RolloutVariation{{ID: "t", Rollout: [2]float64{0, 1}}}}}
}

func testFlags(t *testing.T, s *store.Store) {
	ctx := context.Background()
	newEnv(t, s, "e1")
	f := boolFlag("e1", "f1", "beta")
	must(t, s.CreateFlag(ctx, f))
	wantErr(t, s.CreateFlag(ctx, boolFlag("e1", "f2", "beta")), store.ErrDuplicate)
	got, err := s.GetFlagByKey(ctx, "e1", "beta")
	must(t, err)
	if got.ID != "f1" || got.Version != 1 {
		t.Fatalf("got %+v", got)
	}
	got.IsEnabled = true
	must(t, s.UpdateFlag(ctx, got, 1))
	stale := boolFlag("e1", "f1", "beta")
	var fe *store.FieldError
	err = s.UpdateFlag(ctx, stale, 1)
	if !errors.As(err, &fe) || !errors.Is(err, store.ErrConflict) || fe.Field != "version" {
		t.Fatalf("stale update: %v", err)
	}
	got, _ = s.GetFlag(ctx, "e1", "f1")
	if !got.IsEnabled || got.Version != 2 {
		t.Fatalf("stale update overwrote: %+v", got)
	}
	wantErr(t, s.DeleteFlag(ctx, "e1", "f1", -1), store.ErrConflict) // not archived
	got.IsArchived = true
	must(t, s.UpdateFlag(ctx, got, 2))
	list, n, err := s.ListFlags(ctx, "e1", store.FlagFilter{})
	must(t, err)
	if n != 0 || len(list) != 0 {
		t.Fatalf("archived flag listed as active")
	}
	list, n, _ = s.ListFlags(ctx, "e1", store.FlagFilter{Status: "archived"})
	if n != 1 || list[0].Key != "beta" {
		t.Fatalf("archived list: %d", n)
	}
	must(t, s.DeleteFlag(ctx, "e1", "f1", 3))
	_, err = s.GetFlag(ctx, "e1", "f1")
	wantErr(t, err, store.ErrNotFound)
	must(t, s.CreateFlag(ctx, boolFlag("e1", "f3", "beta"))) // key free again
}

// testEnvStoredAsJSON: an environment document written as JSON (before
// environments were stored as MessagePack) is read with its pending
// changes, bumped, published and listed like a new one, and the first
// write stores it in the new form.
func testEnvStoredAsJSON(t *testing.T, b store.Backend) {
	ctx := context.Background()
	old := &store.Env{ID: "e1", ProjectID: "p1", OrgID: "o1", Name: "e1", Version: 3, PublishedVersion: 1, Stamp: 1000, Rev: 4,
		Secrets: []codec.EnvSecret{{EnvID: "e1", Type: codec.SecretServer, Value: "s"}},
		Outbox: []store.OutboxEntry{{EnvVersion: 2, Kind: codec.KindFlag, Op: codec.OpUpsert, ID: "f0", At: 900, Stamp: 999},
			{EnvVersion: 3, Kind: codec.KindFlag, Op: codec.OpUpsert, ID: "f1", At: 1000, Stamp: 1000, RequestID: "r"}}}
	data, err := json.Marshal(old)
	must(t, err)
	must(t, b.Insert(ctx, store.CollEnvs, &store.Doc{ID: "e1", Version: 4, Fields: map[string]string{"projectId": "p1", "dirty": "1"}, Data: data}))
	s := store.New(b)
	e, err := s.GetEnv(ctx, "e1")
	must(t, err)
	if e.Version != 3 || e.Stamp != 1000 || len(e.Outbox) != 2 || e.Outbox[1].RequestID != "r" || e.Secrets[0].Value != "s" {
		t.Fatalf("JSON environment read as %+v", e)
	}
	if es, err := s.ListEnvs(ctx, "p1"); err != nil || len(es) != 1 || es[0].ID != "e1" {
		t.Fatalf("ListEnvs: %v %+v", err, es)
	}
	if dirty, err := s.DirtyEnvs(ctx); err != nil || len(dirty) != 1 || len(dirty[0].Outbox) != 2 {
		t.Fatalf("DirtyEnvs: %v %+v", err, dirty)
	}
	must(t, s.CreateFlag(ctx, boolFlag("e1", "f2", "b")))
	d, err := b.Get(ctx, store.CollEnvs, "e1")
	must(t, err)
	if len(d.Data) == 0 || d.Data[0] == '{' {
		t.Fatalf("environment still stored as JSON after a write: %.40q", d.Data)
	}
	e, err = s.GetEnv(ctx, "e1")
	must(t, err)
	if e.Version != 4 || len(e.Outbox) != 3 || e.Outbox[2].ID != "f2" || e.Outbox[2].Stamp <= 1000 || e.PublishedVersion != 1 {
		t.Fatalf("after a bump: %+v", e)
	}
	must(t, s.MarkPublished(ctx, "e1", 4))
	if m, err := s.GetEnvMeta(ctx, "e1"); err != nil || m.Pending() != 0 || m.PublishedVersion != 4 {
		t.Fatalf("after publishing: %v %+v", err, m)
	}
}

func testOutbox(t *testing.T, s *store.Store) {
	ctx := context.Background()
	newEnv(t, s, "e1")
	dirty, err := s.DirtyEnvs(ctx)
	must(t, err)
	if len(dirty) != 1 {
		t.Fatalf("new env must be dirty, got %d", len(dirty))
	}
	must(t, s.CreateFlag(ctx, boolFlag("e1", "f1", "a")))
	must(t, s.CreateFlag(ctx, boolFlag("e1", "f2", "b")))
	e, err := s.GetEnv(ctx, "e1")
	must(t, err)
	if e.Version != 3 || len(e.Outbox) != 2 || e.Outbox[0].EnvVersion != 2 || e.Outbox[1].ID != "f2" {
		t.Fatalf("env after two creates: %+v", e)
	}
	// the metadata read leaves the outbox out but counts it and keeps the rest
	m, err := s.GetEnvMeta(ctx, "e1")
	must(t, err)
	if m.Outbox != nil || m.Pending() != 2 || e.Pending() != 2 || m.Version != e.Version || m.Rev != e.Rev ||
		m.Stamp != e.Stamp || m.OrgID != e.OrgID || len(m.Secrets) != len(e.Secrets) {
		t.Fatalf("GetEnvMeta %+v, GetEnv %+v", m, e)
	}
	must(t, s.MarkPublished(ctx, "e1", 2))
	e, _ = s.GetEnv(ctx, "e1")
	if e.PublishedVersion != 2 || len(e.Outbox) != 1 || e.Outbox[0].EnvVersion != 3 {
		t.Fatalf("after partial publish: %+v", e)
	}
	must(t, s.MarkPublished(ctx, "e1", 3))
	dirty, _ = s.DirtyEnvs(ctx)
	if len(dirty) != 0 {
		t.Fatalf("published env still dirty")
	}
	snap, _, err := s.Snapshot(ctx, "e1")
	must(t, err)
	if snap.Version != 3 || len(snap.Flags) != 2 || len(snap.Secrets) != 1 {
		t.Fatalf("snapshot %+v", snap)
	}
	newEnv(t, s, "e-gone")
	must(t, s.DeleteEnv(ctx, "e-gone"))
	if _, err := s.GetEnvMeta(ctx, "e-gone"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetEnvMeta of a deleted environment: %v", err)
	}
}

func testSegments(t *testing.T, s *store.Store) {
	ctx := context.Background()
	newEnv(t, s, "e1")
	sg := &codec.Segment{ID: "s1", EnvID: "e1", Name: "Beta users", Included: []string{"u1"}}
	must(t, s.CreateSegment(ctx, sg))
	wantErr(t, s.CreateSegment(ctx, &codec.Segment{ID: "s2", EnvID: "e1", Name: "beta USERS"}), store.ErrDuplicate)
	f := boolFlag("e1", "f1", "a")
	f.Rules = []codec.Rule{{ID: "r1", Conditions: []codec.Condition{{Property: store.PropInSegment, Value: `["s1"]`}},
		Variations: []codec.RolloutVariation{{ID: "t", Rollout: [2]float64{0, 1}}}}}
	must(t, s.CreateFlag(ctx, f))
	must(t, s.CreateFlag(ctx, boolFlag("e1", "f2", "b")))
	users, err := s.SegmentUsedBy(ctx, "e1", "s1")
	must(t, err)
	if len(users) != 1 || users[0].ID != "f1" {
		t.Fatalf("used by %v", users)
	}
	wantErr(t, s.DeleteSegment(ctx, "e1", "s1", -1), store.ErrConflict)
	sg.Included = []string{"u1", "u2"}
	must(t, s.UpdateSegment(ctx, sg, 1))
	f1, _ := s.GetFlag(ctx, "e1", "f1")
	f2, _ := s.GetFlag(ctx, "e1", "f2")
	if f1.Version != 2 || f2.Version != 1 {
		t.Fatalf("segment change must bump exactly its flags: f1 v%d f2 v%d", f1.Version, f2.Version)
	}
	e, _ := s.GetEnv(ctx, "e1")
	last := e.Outbox[len(e.Outbox)-2]
	if last.Kind != codec.KindSegment || len(last.AffectedFlags) != 1 || last.AffectedFlags[0] != "f1" {
		t.Fatalf("segment outbox entry %+v", last)
	}
	f1.Rules = nil
	must(t, s.UpdateFlag(ctx, f1, 2))
	must(t, s.DeleteSegment(ctx, "e1", "s1", 2))
}

func testEndUsers(t *testing.T, s *store.Store) {
	ctx := context.Background()
	must(t, s.UpsertEndUsers(ctx, "e1", []codec.EndUser{
		{KeyID: "u1", Name: "Alice", Props: []codec.UserProp{{Name: "plan", Value: "free"}}, LastSeen: 100},
		{KeyID: "u2", Name: "Bob", LastSeen: 50},
	}))
	must(t, s.UpsertEndUsers(ctx, "e1", []codec.EndUser{
		{KeyID: "u1", Props: []codec.UserProp{{Name: "plan", Value: "pro"}, {Name: "country", Value: "FR"}}, LastSeen: 200, FirstSeen: 90},
	}))
	must(t, s.UpsertEndUsers(ctx, "e2", []codec.EndUser{{KeyID: "u1", Name: "Other", LastSeen: 1}}))
	u, err := s.GetEndUser(ctx, "e1", "u1")
	must(t, err)
	if u.Name != "Alice" || u.FirstSeen != 90 || u.LastSeen != 200 || len(u.Props) != 2 || u.Props[0].Value != "pro" {
		t.Fatalf("merged user %+v", u)
	}
	us, n, err := s.ListEndUsers(ctx, "e1", "", 0, 10)
	must(t, err)
	if n != 2 || us[0].KeyID != "u1" {
		t.Fatalf("list: %d", n)
	}
	us, n, _ = s.ListEndUsers(ctx, "e1", "BO", 0, 10)
	if n != 1 || us[0].KeyID != "u2" {
		t.Fatalf("search: %d", n)
	}
	props, err := s.EndUserProps(ctx, "e1")
	must(t, err)
	if len(props) != 4 {
		t.Fatalf("props %v", props)
	}
	// ScanEndUsers: every user of the environment seen since the cut-off, once
	seen := map[string]int{}
	must(t, s.ScanEndUsers(ctx, "e1", 60, func(u *codec.EndUser) error { seen[u.KeyID]++; return nil }))
	if len(seen) != 1 || seen["u1"] != 1 {
		t.Fatalf("scan since 60: %v, want u1 once", seen)
	}
	clear(seen)
	must(t, s.ScanEndUsers(ctx, "e1", 0, func(u *codec.EndUser) error { seen[u.KeyID]++; return nil }))
	if len(seen) != 2 || seen["u1"] != 1 || seen["u2"] != 1 {
		t.Fatalf("scan of all: %v", seen)
	}
	stop := errors.New("stop")
	n = 0
	if err := s.ScanEndUsers(ctx, "e1", 0, func(*codec.EndUser) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Fatalf("an error from fn: %v after %d users, want it returned after 1", err, n)
	}
}

// testAuditRetention: PruneAudit deletes exactly the entries older than the
// cut-off, across organizations and across several batches.
func testAuditRetention(t *testing.T, s *store.Store) {
	ctx := context.Background()
	const old, recent = 620, 7 // more old entries than one prune batch (500)
	cut := int64(1_800_000_000_000)
	for i := range old + recent {
		at := cut - int64(old-i)*1000 // the first `old` are before the cut-off
		if i >= old {
			at = cut + int64(i-old)*1000
		}
		org := fmt.Sprintf("org-%d", i%3)
		must(t, s.AddAudit(ctx, &store.AuditEntry{ID: fmt.Sprintf("a-%04d", i), OrgID: org, At: at, Actor: "u", Action: "updated", ResourceType: "flag"}))
	}
	n, err := s.PruneAudit(ctx, cut)
	if err != nil || n != old {
		t.Fatalf("PruneAudit: %d deleted, %v; want %d", n, err, old)
	}
	left := 0
	for o := range 3 {
		es, total, err := s.ListAudit(ctx, store.AuditFilter{OrgID: fmt.Sprintf("org-%d", o), Limit: 1000})
		must(t, err)
		for _, e := range es {
			if e.At < cut {
				t.Errorf("entry %s at %d survived the cut-off %d", e.ID, e.At, cut)
			}
		}
		left += total
	}
	if left != recent {
		t.Fatalf("%d entries left, want %d", left, recent)
	}
	if n, err := s.PruneAudit(ctx, cut); err != nil || n != 0 {
		t.Fatalf("second prune: %d, %v", n, err)
	}
}

// testLoginAttempts: failures count atomically across concurrent callers
// (several control instances), the lock comes from the rule, a success
// clears, and pruning keeps recent and still-locked records.
func testLoginAttempts(t *testing.T, s *store.Store) {
	ctx := context.Background()
	now := time.UnixMilli(1_800_000_000_000)
	lock := func(n int) time.Duration {
		if n < 5 {
			return 0
		}
		return time.Duration(n) * time.Minute
	}
	if a, err := s.GetLoginAttempts(ctx, "k1"); err != nil || a != nil {
		t.Fatalf("unknown key: %+v %v", a, err)
	}
	const n = 12
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if _, err := s.FailLogin(ctx, "k1", now, lock); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	a, err := s.GetLoginAttempts(ctx, "k1")
	if err != nil || a == nil || a.Failures != n || a.Until != now.Add(n*time.Minute).UnixMilli() || a.Last != now.UnixMilli() {
		t.Fatalf("after %d concurrent failures: %+v %v", n, a, err)
	}
	must(t, s.ClearLogin(ctx, "k1"))
	must(t, s.ClearLogin(ctx, "k1")) // twice: no error
	if a, _ := s.GetLoginAttempts(ctx, "k1"); a != nil {
		t.Fatalf("cleared key still has %+v", a)
	}
	// pruning: old and unlocked goes; old but locked past the cut-off and
	// recent stay
	_, _ = s.FailLogin(ctx, "old", now.Add(-2*time.Hour), lock)
	for range 6 {
		_, _ = s.FailLogin(ctx, "old-locked", now.Add(-2*time.Hour), func(int) time.Duration { return 3 * time.Hour })
	}
	_, _ = s.FailLogin(ctx, "recent", now, lock)
	if n, err := s.PruneLoginAttempts(ctx, now.Add(-time.Hour).UnixMilli()); err != nil || n != 1 {
		t.Fatalf("pruned %d, %v; want 1", n, err)
	}
	for k, want := range map[string]bool{"old": false, "old-locked": true, "recent": true} {
		if a, _ := s.GetLoginAttempts(ctx, k); (a != nil) != want {
			t.Errorf("%s kept = %v, want %v", k, a != nil, want)
		}
	}
}

// testLoginReservation: of many concurrent reservations of one key, exactly
// as many get through as the rule allows before the lock; a locked key
// reserves nothing until the lock ends; a clear starts over.
func testLoginReservation(t *testing.T, s *store.Store) {
	ctx := context.Background()
	now := time.UnixMilli(1_800_000_000_000)
	lock := func(n int) time.Duration {
		if n < 5 {
			return 0
		}
		return time.Duration(n) * time.Minute
	}
	const n = 24
	var (
		wg      sync.WaitGroup
		granted atomic.Int32
	)
	for range n {
		wg.Go(func() {
			_, ok, err := s.ReserveLogin(ctx, "k", now, lock)
			if err != nil {
				t.Error(err)
			}
			if ok {
				granted.Add(1)
			}
		})
	}
	wg.Wait()
	a, err := s.GetLoginAttempts(ctx, "k")
	if granted.Load() != 5 || err != nil || a == nil || a.Failures != 5 || a.Until != now.Add(5*time.Minute).UnixMilli() {
		t.Fatalf("%d concurrent reservations: %d granted, record %+v %v; want 5 granted, 5 failures, locked 5 min", n, granted.Load(), a, err)
	}
	if a, ok, err := s.ReserveLogin(ctx, "k", now.Add(4*time.Minute), lock); ok || err != nil || a.Failures != 5 {
		t.Fatalf("locked key reserved: %+v %v %v", a, ok, err)
	}
	later := now.Add(5*time.Minute + time.Millisecond)
	if a, ok, err := s.ReserveLogin(ctx, "k", later, lock); !ok || err != nil || a.Failures != 6 || a.Until != later.Add(6*time.Minute).UnixMilli() {
		t.Fatalf("after the lock: %+v %v %v; want the 6th attempt, locked 6 min", a, ok, err)
	}
	must(t, s.ClearLogin(ctx, "k"))
	if a, ok, err := s.ReserveLogin(ctx, "k", later, lock); !ok || err != nil || a.Failures != 1 || a.Until != 0 {
		t.Fatalf("after a clear: %+v %v %v", a, ok, err)
	}
}

// testInvitations: stored by hash (unique), listed per organization,
// expired ones are not found by hash, and of concurrent consumers exactly
// one wins.
func testInvitations(t *testing.T, s *store.Store) {
	ctx := context.Background()
	now := s.Now()
	live := &store.Invitation{ID: "i1", OrgID: "o1", Email: "a@x", Role: store.RoleViewer, Hash: "h1", ExpiresAt: now + 60_000}
	old := &store.Invitation{ID: "i2", OrgID: "o1", Email: "b@x", Role: store.RoleAdmin, Hash: "h2", ExpiresAt: now - 1}
	must(t, s.CreateInvitation(ctx, live))
	must(t, s.CreateInvitation(ctx, old))
	if err := s.CreateInvitation(ctx, &store.Invitation{ID: "i3", OrgID: "o2", Hash: "h1", ExpiresAt: now + 60_000}); !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("duplicate hash: %v", err)
	}
	if vs, err := s.ListInvitations(ctx, "o1"); err != nil || len(vs) != 2 {
		t.Fatalf("list: %d %v", len(vs), err)
	}
	if v, err := s.GetInvitationByHash(ctx, "h1"); err != nil || v.ID != "i1" || v.Hash != "h1" || v.Role != store.RoleViewer {
		t.Fatalf("by hash: %+v %v", v, err)
	}
	if _, err := s.GetInvitationByHash(ctx, "h2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired invitation found: %v", err)
	}
	var (
		wg   sync.WaitGroup
		wins atomic.Int32
	)
	for range 6 {
		wg.Go(func() {
			err := s.ConsumeInvitation(ctx, "i1")
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, store.ErrNotFound):
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d consumers won the same invitation; want 1", wins.Load())
	}
	if _, err := s.GetInvitationByHash(ctx, "h1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("consumed invitation found: %v", err)
	}
	must(t, s.DeleteInvitation(ctx, "i2"))
	if vs, _ := s.ListInvitations(ctx, "o1"); len(vs) != 0 {
		t.Fatalf("left: %+v", vs)
	}
}

// testSessionsOfUser: ending a user's sessions keeps the one named and other
// users' sessions.
func testSessionsOfUser(t *testing.T, s *store.Store) {
	ctx := context.Background()
	exp := s.Now() + 3_600_000
	for _, x := range []store.Session{{ID: "s1", UserID: "u1"}, {ID: "s2", UserID: "u1"}, {ID: "s3", UserID: "u1"}, {ID: "s4", UserID: "u2"}} {
		x.ExpiresAt = exp
		must(t, s.CreateSession(ctx, &x))
	}
	if n, err := s.DeleteSessionsOfUser(ctx, "u1", "s2"); err != nil || n != 2 {
		t.Fatalf("ended %d, %v; want 2", n, err)
	}
	for id, want := range map[string]bool{"s1": false, "s2": true, "s3": false, "s4": true} {
		if _, err := s.GetSession(ctx, id); (err == nil) != want {
			t.Errorf("session %s alive = %v, want %v", id, err == nil, want)
		}
	}
}

// testStamps: item timestamps (UpdatedAt) are given in the environment's
// compare-and-set, so they increase strictly with the environment version
// — with 8 writers at once and with the clock going back — and every outbox
// entry carries the stamp its item was written with.
func testStamps(t *testing.T, s *store.Store) {
	ctx := context.Background()
	newEnv(t, s, "e1")
	const writers, rounds = 8, 4
	for w := range writers {
		must(t, s.CreateFlag(ctx, boolFlag("e1", fmt.Sprintf("f%d", w), fmt.Sprintf("k%d", w))))
	}
	var clock atomic.Int64
	clock.Store(time.Now().UnixMilli())
	s.Now = func() int64 { return clock.Add(-1000) } // every reading is a second earlier
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for r := range rounds {
				f, err := s.GetFlag(ctx, "e1", fmt.Sprintf("f%d", w))
				if err != nil {
					errs <- err
					return
				}
				f.IsEnabled = r%2 == 0
				if err := s.UpdateFlag(ctx, f, f.Version); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	e, err := s.GetEnv(ctx, "e1")
	must(t, err)
	if len(e.Outbox) != writers*(rounds+1) {
		t.Fatalf("%d outbox entries, want %d", len(e.Outbox), writers*(rounds+1))
	}
	last := map[string]store.OutboxEntry{}
	for i, en := range e.Outbox {
		if i > 0 && en.Stamp <= e.Outbox[i-1].Stamp {
			t.Fatalf("entry v%d stamped %d after v%d stamped %d", en.EnvVersion, en.Stamp, e.Outbox[i-1].EnvVersion, e.Outbox[i-1].Stamp)
		}
		last[en.ID] = en
	}
	if e.Stamp != e.Outbox[len(e.Outbox)-1].Stamp {
		t.Fatalf("env stamp %d, last entry %d", e.Stamp, e.Outbox[len(e.Outbox)-1].Stamp)
	}
	for id, en := range last {
		f, err := s.GetFlag(ctx, "e1", id)
		must(t, err)
		if f.Version != en.ItemVersion || f.UpdatedAt != en.Stamp {
			t.Fatalf("flag %s v%d updatedAt %d; its last entry: v%d stamp %d", id, f.Version, f.UpdatedAt, en.ItemVersion, en.Stamp)
		}
	}
}

// testBatchFlags: BatchFlags creates and updates flags with one environment
// bump and one KindBatch outbox entry naming each flag and the version its
// write produced; a refused batch (stale version, existing key, duplicate
// in the batch) writes nothing and bumps nothing.
func testBatchFlags(t *testing.T, s *store.Store) {
	ctx := context.Background()
	newEnv(t, s, "e1")
	must(t, s.CreateFlag(ctx, boolFlag("e1", "f0", "have")))
	e0, err := s.GetEnv(ctx, "e1")
	must(t, err)
	batch := func(keys ...string) []*codec.Flag {
		out := make([]*codec.Flag, len(keys))
		for i, k := range keys {
			out[i] = boolFlag("e1", "", k)
		}
		return out
	}
	fs := batch("a", "b", "c")
	must(t, s.BatchFlags(ctx, "e1", fs))
	e1, err := s.GetEnv(ctx, "e1")
	must(t, err)
	if e1.Version != e0.Version+1 || len(e1.Outbox) != len(e0.Outbox)+1 {
		t.Fatalf("env version %d → %d, outbox %d → %d: want one bump, one entry", e0.Version, e1.Version, len(e0.Outbox), len(e1.Outbox))
	}
	en := e1.Outbox[len(e1.Outbox)-1]
	if en.Kind != codec.KindBatch || len(en.Items) != 3 || en.Items[1].ID != fs[1].ID || en.Items[1].ItemVersion != 1 {
		t.Fatalf("outbox entry %+v", en)
	}
	for _, f := range fs {
		got, err := s.GetFlagByKey(ctx, "e1", f.Key)
		must(t, err)
		if got.ID != f.ID || got.Version != 1 || got.UpdatedAt != e1.Stamp {
			t.Fatalf("flag %s: %+v", f.Key, got)
		}
	}
	// update two, create one
	upd := batch("a", "b", "d")
	upd[0].Version, upd[1].Version, upd[0].IsEnabled = 1, 1, true
	must(t, s.BatchFlags(ctx, "e1", upd))
	if got, _ := s.GetFlagByKey(ctx, "e1", "a"); !got.IsEnabled || got.Version != 2 || got.ID != fs[0].ID {
		t.Fatalf("updated a: %+v", got)
	}
	e2, _ := s.GetEnv(ctx, "e1")
	for name, bad := range map[string][]*codec.Flag{
		"stale":     func() []*codec.Flag { b := batch("x", "a"); b[1].Version = 1; return b }(),
		"existing":  batch("y", "have"),
		"duplicate": batch("z", "z"),
	} {
		var fe *store.FieldError
		if err := s.BatchFlags(ctx, "e1", bad); !errors.As(err, &fe) || !strings.HasPrefix(fe.Field, "items[1].") {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := s.GetFlagByKey(ctx, "e1", bad[0].Key); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%s: item 0 written by a refused batch", name)
		}
	}
	if e3, _ := s.GetEnv(ctx, "e1"); e3.Version != e2.Version {
		t.Fatalf("refused batches bumped the environment %d → %d", e2.Version, e3.Version)
	}
}
