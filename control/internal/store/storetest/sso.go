package storetest

import (
	"context"
	"testing"

	"github.com/switchyard/switchyard/control/internal/store"
)

// testSSO: issuers are per organization and bounded; an identity links once;
// a flow is taken once (compare-and-set) and expires; settings start empty.
func testSSO(t *testing.T, s *store.Store) {
	ctx := context.Background()
	x := &store.SSOIssuer{ID: "i1", OrgID: "o1", Name: "Corp", IssuerURL: "https://id.example", ClientID: "c",
		ClientSecret: "s", GroupMap: map[string]string{"eng": "g1"}}
	must(t, s.CreateSSOIssuer(ctx, x))
	for i := 1; i < store.MaxSSOIssuers; i++ {
		must(t, s.CreateSSOIssuer(ctx, &store.SSOIssuer{ID: "i1-" + pad(int64(i)), OrgID: "o1"}))
	}
	wantErr(t, s.CreateSSOIssuer(ctx, &store.SSOIssuer{ID: "one-too-many", OrgID: "o1"}), store.ErrConflict)
	must(t, s.CreateSSOIssuer(ctx, &store.SSOIssuer{ID: "i2", OrgID: "o2"}))
	xs, err := s.ListSSOIssuers(ctx, "o2")
	must(t, err)
	if len(xs) != 1 || xs[0].ID != "i2" {
		t.Fatalf("issuers of o2: %+v", xs)
	}
	x.Name = "Corp SSO"
	must(t, s.UpdateSSOIssuer(ctx, x, 1))
	wantErr(t, s.UpdateSSOIssuer(ctx, &store.SSOIssuer{ID: "i1", OrgID: "o1"}, 1), store.ErrConflict)
	got, err := s.GetSSOIssuer(ctx, "i1")
	must(t, err)
	if got.Name != "Corp SSO" || got.ClientSecret != "s" || got.GroupMap["eng"] != "g1" || got.Version != 2 {
		t.Fatalf("issuer %+v", got)
	}

	must(t, s.CreateSSOIdentity(ctx, &store.SSOIdentity{IssuerID: "i1", Subject: "sub", UserID: "u1"}))
	wantErr(t, s.CreateSSOIdentity(ctx, &store.SSOIdentity{IssuerID: "i1", Subject: "sub", UserID: "u2"}), store.ErrDuplicate)
	id, err := s.GetSSOIdentity(ctx, "i1", "sub")
	must(t, err)
	if id.UserID != "u1" {
		t.Fatalf("identity %+v", id)
	}
	_, err = s.GetSSOIdentity(ctx, "i2", "sub") // the same subject at another issuer is someone else
	wantErr(t, err, store.ErrNotFound)

	now := s.Now()
	must(t, s.CreateSSOFlow(ctx, &store.SSOFlow{ID: "f1", IssuerID: "i1", State: "st", Expires: now + 60_000}))
	must(t, s.CreateSSOFlow(ctx, &store.SSOFlow{ID: "old", IssuerID: "i1", Expires: now - 1}))
	f, ver, err := s.GetSSOFlow(ctx, "f1")
	must(t, err)
	f.SessionToken = "sys_x"
	must(t, s.UpdateSSOFlow(ctx, f, ver))
	wantErr(t, s.UpdateSSOFlow(ctx, f, ver), store.ErrConflict) // a replay in parallel loses
	_, _, err = s.GetSSOFlow(ctx, "old")                        // expired
	wantErr(t, err, store.ErrNotFound)
	must(t, s.CreateSSOFlow(ctx, &store.SSOFlow{ID: "old2", IssuerID: "i1", Expires: now - 1}))
	n, err := s.PruneSSOFlows(ctx, now)
	must(t, err)
	if n != 1 {
		t.Fatalf("pruned %d flows, want 1", n)
	}
	f, ver, err = s.GetSSOFlow(ctx, "f1")
	must(t, err)
	must(t, s.DeleteSSOFlow(ctx, "f1", ver))
	if f.SessionToken != "sys_x" {
		t.Fatalf("flow %+v", f)
	}

	st, err := s.GetSSOSettings(ctx, "o1")
	must(t, err)
	if st.ForbidPassword || st.Version != 0 {
		t.Fatalf("default settings %+v", st)
	}
	st.ForbidPassword = true
	must(t, s.PutSSOSettings(ctx, st))
	wantErr(t, s.PutSSOSettings(ctx, &store.SSOSettings{ID: "o1"}), store.ErrDuplicate)
	st, err = s.GetSSOSettings(ctx, "o1")
	must(t, err)
	if !st.ForbidPassword || st.Version != 1 {
		t.Fatalf("settings %+v", st)
	}
}
