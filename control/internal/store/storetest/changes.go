package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/store"
)

// testChangeRequests: change requests are per environment, listed newest
// first with a status filter, compare-and-set versioned, and bounded in
// number of open ones per environment.
func testChangeRequests(t *testing.T, s *store.Store) {
	ctx := context.Background()
	mk := func(id, env string) *store.ChangeRequest {
		return &store.ChangeRequest{ID: id, OrgID: "o1", EnvID: env, Kind: store.CRKindFlag, Op: store.CROpUpdate,
			ItemKey: "k", Proposed: []byte(`{"key":"k"}`), Status: store.CROpen, Author: "u1"}
	}
	a := mk("cr1", "e1")
	must(t, s.CreateChangeRequest(ctx, a))
	must(t, s.CreateChangeRequest(ctx, mk("cr2", "e1")))
	must(t, s.CreateChangeRequest(ctx, mk("cr3", "e2")))
	if _, err := s.GetChangeRequest(ctx, "e2", "cr1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another environment's request: %v", err)
	}
	got, err := s.GetChangeRequest(ctx, "e1", "cr1")
	must(t, err)
	if got.Version != 1 || string(got.Proposed) != `{"key":"k"}` {
		t.Fatalf("got %+v", got)
	}
	got.Status, got.Approvals = store.CRApproved, 1
	must(t, s.UpdateChangeRequest(ctx, got, 1))
	stale := mk("cr1", "e1")
	if err := s.UpdateChangeRequest(ctx, stale, 1); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale update: %v", err)
	}
	all, total, err := s.ListChangeRequests(ctx, "e1", "", 0, 0)
	must(t, err)
	if len(all) != 2 || total != 2 {
		t.Fatalf("listed %d of %d, want 2", len(all), total)
	}
	ap, total, err := s.ListChangeRequests(ctx, "e1", store.CRApproved, 0, 10)
	must(t, err)
	if len(ap) != 1 || total != 1 || ap[0].ID != "cr1" || ap[0].Approvals != 1 {
		t.Fatalf("approved: %+v", ap)
	}
	one, total, err := s.ListChangeRequests(ctx, "e1", "", 1, 1)
	must(t, err)
	if len(one) != 1 || total != 2 {
		t.Fatalf("second page: %d of %d", len(one), total)
	}
	for i := range store.MaxOpenChangeRequests - 1 {
		must(t, s.CreateChangeRequest(ctx, mk("x"+pad3(i), "e3")))
	}
	must(t, s.CreateChangeRequest(ctx, mk("last", "e3")))
	if err := s.CreateChangeRequest(ctx, mk("over", "e3")); !errors.Is(err, store.ErrTooMany) {
		t.Fatalf("over the limit: %v", err)
	}
}

func pad3(i int) string {
	return string(rune('a'+i/100)) + string(rune('a'+i/10%10)) + string(rune('a'+i%10))
}

// testProtectedGate: in a protected environment every flag and segment
// write is refused with ErrChangeRequest (nothing stored, nothing in the
// outbox) unless it applies a change request.
func testProtectedGate(t *testing.T, s *store.Store) {
	ctx := context.Background()
	e := newEnv(t, s, "pe")
	must(t, s.CreateFlag(ctx, boolFlag("pe", "f1", "one")))
	arch := boolFlag("pe", "f3", "three")
	must(t, s.CreateFlag(ctx, arch))
	arch.IsArchived = true
	must(t, s.UpdateFlag(ctx, arch, 1))
	sg := &codec.Segment{ID: "s1", EnvID: "pe", Name: "seg"}
	must(t, s.CreateSegment(ctx, sg))
	must(t, s.PutEnvSettings(ctx, &store.EnvSettings{EnvID: "pe", Protected: true, RequiredApprovals: 1}))
	before, err := s.GetEnv(ctx, e.ID)
	must(t, err)
	f, err := s.GetFlagByKey(ctx, "pe", "one")
	must(t, err)
	for name, err := range map[string]error{
		"create flag":    s.CreateFlag(ctx, boolFlag("pe", "f2", "two")),
		"update flag":    s.UpdateFlag(ctx, f, f.Version),
		"delete flag":    s.DeleteFlag(ctx, "pe", "f3", -1),
		"create segment": s.CreateSegment(ctx, &codec.Segment{ID: "s2", EnvID: "pe", Name: "seg2"}),
		"update segment": s.UpdateSegment(ctx, sg, sg.Version),
		"delete segment": s.DeleteSegment(ctx, "pe", "s1", -1),
	} {
		if !errors.Is(err, store.ErrChangeRequest) {
			t.Errorf("%s: %v, want ErrChangeRequest", name, err)
		}
	}
	after, err := s.GetEnv(ctx, e.ID)
	must(t, err)
	if after.Version != before.Version || len(after.Outbox) != len(before.Outbox) {
		t.Fatalf("refused writes bumped the environment: %d → %d", before.Version, after.Version)
	}
	if _, err := s.GetFlagByKey(ctx, "pe", "two"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("refused create stored: %v", err)
	}
	f, err = s.GetFlagByKey(ctx, "pe", "one")
	must(t, err)
	f.Description = "approved"
	must(t, s.UpdateFlag(store.WithChangeRequest(ctx, "cr1"), f, f.Version))
	got, err := s.GetFlagByKey(ctx, "pe", "one")
	must(t, err)
	if got.Description != "approved" {
		t.Fatalf("applied change request: %+v", got)
	}
}
