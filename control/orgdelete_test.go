package control

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/control/internal/store"
)

// orgPath is the API path of an organization.
func orgPath(org string) string { return "/api/v1/orgs/" + org }

// TestOrgDelete: only an owner deletes an organization, only once it has no
// projects; everything scoped to it goes, the deletion is audited and sent
// to the webhooks subscribed to organization.deleted (which go once it is
// delivered), and its members keep their other organizations.
func TestOrgDelete(t *testing.T) {
	h := newHarnessWith(t, allowLoopback)
	ctx := context.Background()
	org, owner := h.orgWithOwner("Throwaway", "own@example.com", "own-password")
	admin := h.addMember(org, "adm@example.com", "adm-password", "admin")
	member := h.addMember(org, "mem@example.com", "mem-password", "editor")
	// The admin is also a member of the demo organization.
	h.must(200, admin, "POST", acceptURL, map[string]string{"token": h.invite(h.admin, h.info.OrgID, "adm@example.com", "viewer")})

	var proj struct{ ID string }
	h.must(201, owner, "POST", orgPath(org)+"/projects", map[string]string{"name": "Shop"}).decode(t, &proj)
	r := h.must(409, owner, "DELETE", orgPath(org), nil)
	if !strings.Contains(string(r.Body), "1 project") {
		t.Fatalf("409 does not say how many projects remain: %s", r.Body)
	}
	for _, tok := range []string{admin, member} {
		if r := h.do(tok, "DELETE", orgPath(org), nil); r.Code != 403 || !strings.Contains(string(r.Body), "org:delete") {
			t.Fatalf("non-owner delete: %d %s", r.Code, r.Body)
		}
	}
	// Only owners see the action.
	for tok, want := range map[string]bool{owner: true, admin: false} {
		var p struct{ Actions []string }
		h.must(200, tok, "GET", orgPath(org)+"/permissions", nil).decode(t, &p)
		if got := strings.Contains(strings.Join(p.Actions, " "), "org:delete"); got != want {
			t.Fatalf("permissions %v: org:delete %v, want %v", p.Actions, got, want)
		}
	}
	h.must(204, owner, "DELETE", "/api/v1/projects/"+proj.ID, nil)

	// Everything an organization holds.
	h.must(201, owner, "POST", orgPath(org)+"/tokens", map[string]string{"name": "ci", "role": "editor"})
	h.invite(owner, org, "later@example.com", "viewer")
	var g store.Group
	h.must(201, owner, "POST", orgPath(org)+"/groups", map[string]any{"name": "devs"}).decode(t, &g)
	h.must(201, owner, "POST", orgPath(org)+"/policies", map[string]any{"name": "p", "principals": []string{"group:" + g.ID},
		"statements": []any{stmt("allow", []string{"flag:write"}, "*")}})
	if err := h.s.st.CreateSSOIssuer(ctx, &store.SSOIssuer{ID: "iss-" + org, OrgID: org, Name: "corp"}); err != nil {
		t.Fatal(err)
	}
	rc := newReceiver(t)
	var hook struct{ ID, Secret string }
	h.must(201, owner, "POST", orgPath(org)+"/webhooks", map[string]any{"name": "bye", "url": rc.srv.URL, "events": []string{"organization.deleted"}}).decode(t, &hook)
	rc.secret = hook.Secret
	var other struct{ ID string }
	h.must(201, owner, "POST", orgPath(org)+"/webhooks", map[string]any{"name": "flags", "url": rc.srv.URL, "events": []string{"flag.toggled"}}).decode(t, &other)

	h.must(204, owner, "DELETE", orgPath(org)+"?comment=closing+down", nil)

	if _, err := h.s.st.GetOrg(ctx, org); err == nil {
		t.Fatal("the organization is still there")
	}
	for name, n := range map[string]func() (int, error){
		"members":     func() (int, error) { x, err := h.s.st.ListMembers(ctx, org); return len(x), err },
		"tokens":      func() (int, error) { x, err := h.s.st.ListTokens(ctx, org); return len(x), err },
		"invitations": func() (int, error) { x, err := h.s.st.ListInvitations(ctx, org); return len(x), err },
		"groups":      func() (int, error) { x, err := h.s.st.ListGroups(ctx, org); return len(x), err },
		"policies":    func() (int, error) { x, err := h.s.st.ListPolicies(ctx, org); return len(x), err },
		"issuers":     func() (int, error) { x, err := h.s.st.ListSSOIssuers(ctx, org); return len(x), err },
	} {
		if got, err := n(); err != nil || got != 0 {
			t.Errorf("%s left: %d (%v)", name, got, err)
		}
	}
	if _, err := h.s.st.GetWebhook(ctx, org, other.ID); err == nil {
		t.Error("the webhook not subscribed to organization.deleted is still there")
	}
	// The audit log is gone but for the deletion's entry.
	es, n, err := h.s.st.ListAudit(ctx, store.AuditFilter{OrgID: org})
	if err != nil || n != 1 || es[0].ResourceType != "organization" || es[0].Action != "deleted" || es[0].Comment != "closing down" ||
		es[0].ResourceKey != "throwaway" || es[0].ActorName != "own@example.com" {
		t.Fatalf("audit after the deletion: %d %+v %v", n, es, err)
	}
	// The event reaches the subscribed webhook, which then goes.
	d := h.s.wf.Webhooks()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		d.Sweep(ctx)
		if _, err := h.s.st.GetWebhook(ctx, org, hook.ID); err != nil && len(rc.received()) > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	got := rc.received()
	if len(got) != 1 || got[0].Event != "organization.deleted" || !got[0].SigOK || !strings.Contains(string(got[0].Body), "closing down") {
		t.Fatalf("webhook deliveries %+v", got)
	}
	if _, err := h.s.st.GetWebhook(ctx, org, hook.ID); err == nil {
		t.Fatal("the webhook of the deleted organization stayed after its last delivery")
	}

	// Members: the organization is gone from their lists; sessions work.
	var orgs struct{ Items []store.Org }
	h.must(200, admin, "GET", "/api/v1/orgs", nil).decode(t, &orgs)
	if len(orgs.Items) != 1 || orgs.Items[0].ID != h.info.OrgID {
		t.Fatalf("orgs of the admin: %+v", orgs.Items)
	}
	h.must(200, admin, "GET", orgPath(h.info.OrgID)+"/projects", nil)
	h.must(200, owner, "GET", "/api/v1/auth/me", nil)
	h.must(200, owner, "GET", "/api/v1/orgs", nil).decode(t, &orgs)
	if len(orgs.Items) != 0 {
		t.Fatalf("orgs of the owner: %+v", orgs.Items)
	}
	if r := h.do(owner, "GET", orgPath(org), nil); r.Code != 403 && r.Code != 404 {
		t.Fatalf("GET the deleted org: %d %s", r.Code, r.Body)
	}
	if r := h.do(owner, "DELETE", orgPath(org), nil); r.Code != 403 && r.Code != 404 {
		t.Fatalf("DELETE it again: %d %s", r.Code, r.Body)
	}
}

// TestSecurityOrgDeleteRevokesTokens: the access tokens of a deleted
// organization stop authenticating (even if an organization with the same
// key is created again), and no policy can hand org:delete to a non-owner.
func TestSecurityOrgDeleteRevokesTokens(t *testing.T) {
	h := newHarness(t)
	org, owner := h.orgWithOwner("Doomed", "own@example.com", "own-password")
	var toks []string
	for _, role := range []string{"owner", "admin", "viewer"} {
		var tc struct{ Token string }
		h.must(201, owner, "POST", orgPath(org)+"/tokens", map[string]string{"name": role, "role": role}).decode(t, &tc)
		h.must(200, tc.Token, "GET", orgPath(org), nil)
		toks = append(toks, tc.Token)
	}
	// An admin token cannot delete; a policy cannot allow it.
	h.must(403, toks[1], "DELETE", orgPath(org), nil)
	r := h.must(400, owner, "POST", orgPath(org)+"/policies", map[string]any{"name": "escalate",
		"statements": []any{stmt("allow", []string{"org:delete"}, "*")}})
	if _, field := r.errField(t); field != "statements[0].actions[0]" {
		t.Fatalf("allowing org:delete: %s", r.Body)
	}
	h.must(201, owner, "POST", orgPath(org)+"/policies", map[string]any{"name": "deny is fine",
		"statements": []any{stmt("deny", []string{"org:delete"}, "org")}})

	// An owner's token may delete (owners are out of reach of policies).
	h.must(204, toks[0], "DELETE", orgPath(org), nil)
	// The tokens are deleted, not only orphaned by their creator's leaving.
	if ts, err := h.s.st.ListTokens(context.Background(), org); err != nil || len(ts) != 0 {
		t.Fatalf("tokens left: %+v %v", ts, err)
	}
	var again struct{ ID string }
	h.must(201, h.admin, "POST", "/api/v1/orgs", map[string]string{"name": "Doomed"}).decode(t, &again)
	for _, tok := range toks {
		for _, p := range []string{"/api/v1/auth/me", orgPath(org), orgPath(again.ID), "/api/v1/orgs"} {
			if r := h.do(tok, "GET", p, nil); r.Code != 401 {
				t.Fatalf("token of the deleted organization on %s: %d %s", p, r.Code, r.Body)
			}
		}
	}
}
