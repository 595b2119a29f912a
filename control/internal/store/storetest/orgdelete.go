package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/control/internal/store"
)

// testDeleteOrg: an organization with a project is not deleted (conflict
// naming the count); without, everything keyed by it goes, except the kept
// webhook, and another organization is untouched.
func testDeleteOrg(t *testing.T, s *store.Store) {
	ctx := context.Background()
	for _, o := range []string{"o1", "o2"} {
		must(t, s.CreateOrg(ctx, &store.Org{ID: o, Name: o, Key: o}))
		for _, u := range []string{"u1", "u2"} {
			_, err := s.PutMember(ctx, o, u, store.RoleOwner)
			must(t, err)
		}
		must(t, s.CreateToken(ctx, &store.AccessToken{ID: o + "-t", OrgID: o, Hash: o + "-hash", Role: store.RoleAdmin, CreatedBy: "u1"}))
		must(t, s.CreateInvitation(ctx, &store.Invitation{ID: o + "-inv", OrgID: o, Email: "x@example.com", Hash: o + "-ihash", ExpiresAt: s.Now() + 60_000}))
		must(t, s.CreateGroup(ctx, &store.Group{ID: o + "-g", OrgID: o, Name: "g"}))
		must(t, s.CreatePolicy(ctx, &store.Policy{ID: o + "-p", OrgID: o, Name: "p"}))
		must(t, s.CreateSSOIssuer(ctx, &store.SSOIssuer{ID: o + "-i", OrgID: o, Name: "corp"}))
		must(t, s.CreateSSOIdentity(ctx, &store.SSOIdentity{IssuerID: o + "-i", Subject: "sub", UserID: "u1"}))
		must(t, s.PutSSOSettings(ctx, &store.SSOSettings{ID: o, ForbidPassword: true}))
		for _, w := range []string{"-w", "-wkeep"} {
			must(t, s.CreateWebhook(ctx, &store.Webhook{ID: o + w, OrgID: o, Name: "w", URL: "https://example.com", Secret: "s"}))
			must(t, s.AddDelivery(ctx, &store.Delivery{ID: o + w + "-d", WebhookID: o + w, OrgID: o, Status: store.DeliveryDelivered}))
		}
		for _, a := range []string{"-a1", "-a2"} {
			must(t, s.AddAudit(ctx, &store.AuditEntry{ID: o + a, OrgID: o, At: s.Now(), Action: "updated", ResourceType: "organization"}))
		}
	}
	must(t, s.CreateProject(ctx, &store.Project{ID: "p1", OrgID: "o1", Key: "shop"}))
	err := s.DeleteOrg(ctx, "o1", store.OrgDeletion{})
	if !errors.Is(err, store.ErrConflict) || !strings.Contains(err.Error(), "1 project") {
		t.Fatalf("delete with a project: %v", err)
	}
	if _, err := s.GetToken(ctx, "o1-t"); err != nil {
		t.Fatalf("a refused deletion deleted the token: %v", err)
	}
	must(t, s.DeleteProject(ctx, "p1"))
	must(t, s.DeleteOrg(ctx, "o1", store.OrgDeletion{KeepWebhooks: []string{"o1-wkeep"}}))

	_, err = s.GetOrg(ctx, "o1")
	wantErr(t, err, store.ErrNotFound)
	_, err = s.GetTokenByHash(ctx, "o1-hash")
	wantErr(t, err, store.ErrNotFound)
	_, err = s.GetInvitation(ctx, "o1-inv")
	wantErr(t, err, store.ErrNotFound)
	_, err = s.GetGroup(ctx, "o1", "o1-g")
	wantErr(t, err, store.ErrNotFound)
	_, err = s.GetPolicy(ctx, "o1", "o1-p")
	wantErr(t, err, store.ErrNotFound)
	_, err = s.GetSSOIssuer(ctx, "o1-i")
	wantErr(t, err, store.ErrNotFound)
	_, err = s.GetSSOIdentity(ctx, "o1-i", "sub")
	wantErr(t, err, store.ErrNotFound)
	_, err = s.GetWebhook(ctx, "o1", "o1-w")
	wantErr(t, err, store.ErrNotFound)
	_, err = s.GetDelivery(ctx, "o1-w-d")
	wantErr(t, err, store.ErrNotFound)
	if _, err := s.GetWebhook(ctx, "o1", "o1-wkeep"); err != nil {
		t.Fatalf("the kept webhook: %v", err)
	}
	if ss, err := s.GetSSOSettings(ctx, "o1"); err != nil || ss.ForbidPassword {
		t.Fatalf("sign-in rules %+v %v", ss, err)
	}
	if ms, err := s.ListMemberships(ctx, "u1"); err != nil || len(ms) != 1 || ms[0].OrgID != "o2" {
		t.Fatalf("memberships of u1: %+v %v", ms, err)
	}
	if es, n, err := s.ListAudit(ctx, store.AuditFilter{OrgID: "o1"}); err != nil || n != 0 {
		t.Fatalf("audit of o1: %d %+v %v", n, es, err)
	}
	// The kept webhook goes with its log once its last delivery ended.
	must(t, s.DeleteWebhookAndDeliveries(ctx, "o1-wkeep"))
	_, err = s.GetWebhook(ctx, "o1", "o1-wkeep")
	wantErr(t, err, store.ErrNotFound)
	_, err = s.GetDelivery(ctx, "o1-wkeep-d")
	wantErr(t, err, store.ErrNotFound)

	// The other organization keeps everything.
	if _, err := s.GetOrg(ctx, "o2"); err != nil {
		t.Fatal(err)
	}
	if ms, err := s.ListMembers(ctx, "o2"); err != nil || len(ms) != 2 {
		t.Fatalf("members of o2: %+v %v", ms, err)
	}
	for _, check := range []error{
		func() error { _, err := s.GetTokenByHash(ctx, "o2-hash"); return err }(),
		func() error { _, err := s.GetGroup(ctx, "o2", "o2-g"); return err }(),
		func() error { _, err := s.GetPolicy(ctx, "o2", "o2-p"); return err }(),
		func() error { _, err := s.GetSSOIdentity(ctx, "o2-i", "sub"); return err }(),
		func() error { _, err := s.GetWebhook(ctx, "o2", "o2-w"); return err }(),
		func() error { _, err := s.GetDelivery(ctx, "o2-w-d"); return err }(),
		func() error { _, err := s.GetInvitation(ctx, "o2-inv"); return err }(),
	} {
		must(t, check)
	}
	if _, n, err := s.ListAudit(ctx, store.AuditFilter{OrgID: "o2"}); err != nil || n != 2 {
		t.Fatalf("audit of o2: %d %v", n, err)
	}
	// Deleting again: not found.
	wantErr(t, s.DeleteOrg(ctx, "o1", store.OrgDeletion{}), store.ErrNotFound)
}
