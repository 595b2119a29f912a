package storetest

import (
	"context"
	"testing"

	"github.com/switchyard/switchyard/control/internal/store"
)

// testAccess: groups and policies are per organization, compare-and-set
// versioned and listed by organization.
func testAccess(t *testing.T, s *store.Store) {
	ctx := context.Background()
	g := &store.Group{ID: "g1", OrgID: "o1", Name: "dev-team", Members: []string{"u1"}}
	must(t, s.CreateGroup(ctx, g))
	must(t, s.CreateGroup(ctx, &store.Group{ID: "g2", OrgID: "o2", Name: "other"}))
	_, err := s.GetGroup(ctx, "o2", "g1")
	wantErr(t, err, store.ErrNotFound) // another organization's group
	g.Members = append(g.Members, "u2")
	must(t, s.UpdateGroup(ctx, g, 1))
	wantErr(t, s.UpdateGroup(ctx, &store.Group{ID: "g1", OrgID: "o1", Name: "stale"}, 1), store.ErrConflict)
	gs, err := s.ListGroups(ctx, "o1")
	must(t, err)
	if len(gs) != 1 || gs[0].Version != 2 || len(gs[0].Members) != 2 {
		t.Fatalf("groups of o1: %+v", gs)
	}

	p := &store.Policy{ID: "p1", OrgID: "o1", Name: "dev only", Principals: []string{"group:g1"},
		Statements: []store.Statement{{Effect: "allow", Actions: []string{"flag:toggle"}, Resources: []string{"project/*/env/dev"}}}}
	must(t, s.CreatePolicy(ctx, p))
	got, err := s.GetPolicy(ctx, "o1", "p1")
	must(t, err)
	if got.Version != 1 || got.Statements[0].Resources[0] != "project/*/env/dev" || got.Principals[0] != "group:g1" {
		t.Fatalf("policy %+v", got)
	}
	ps, err := s.ListPolicies(ctx, "o2")
	must(t, err)
	if len(ps) != 0 {
		t.Fatalf("policies of o2: %+v", ps)
	}
	must(t, s.DeletePolicy(ctx, "p1"))
	must(t, s.DeleteGroup(ctx, "g1"))
	_, err = s.GetPolicy(ctx, "o1", "p1")
	wantErr(t, err, store.ErrNotFound)
}

// testFlagVersions: every stored flag version is kept, the last
// store.FlagHistory of them, and a deleted flag's history goes with it.
func testFlagVersions(t *testing.T, s *store.Store) {
	ctx := context.Background()
	newEnv(t, s, "e1")
	f := boolFlag("e1", "f1", "beta")
	must(t, s.CreateFlag(ctx, f))
	for v := int64(1); v <= store.FlagHistory+1; v++ {
		f.Description = "v" + pad(v+1)
		must(t, s.UpdateFlag(ctx, f, v))
	}
	last := int64(store.FlagHistory + 2)
	old, err := s.GetFlagVersion(ctx, "e1", "f1", 3)
	must(t, err)
	if old.Version != 3 || old.Description != "v"+pad(3) {
		t.Fatalf("version 3: %+v", old)
	}
	_, err = s.GetFlagVersion(ctx, "e1", "f1", 2) // beyond the kept history
	wantErr(t, err, store.ErrNotFound)
	_, err = s.GetFlagVersion(ctx, "e2", "f1", 3) // another environment
	wantErr(t, err, store.ErrNotFound)
	vs, err := s.FlagVersions(ctx, "e1", "f1")
	must(t, err)
	if len(vs) != store.FlagHistory || vs[0].Version != last || vs[len(vs)-1].Version != 3 {
		t.Fatalf("history: %d versions, newest %d", len(vs), vs[0].Version)
	}
	f.IsArchived = true
	must(t, s.UpdateFlag(ctx, f, last))
	must(t, s.DeleteFlag(ctx, "e1", "f1", last+1))
	vs, err = s.FlagVersions(ctx, "e1", "f1")
	must(t, err)
	if len(vs) != 0 {
		t.Fatalf("a deleted flag keeps %d versions", len(vs))
	}
}

func pad(n int64) string {
	return string(rune('0'+n/100%10)) + string(rune('0'+n/10%10)) + string(rune('0'+n%10))
}
