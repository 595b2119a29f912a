package control

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/store"
)

// accessFixture is the demo organization with members and helpers for the
// examples of docs/access.md.
type accessFixture struct {
	*harness
	org, dev, prod string
}

func newAccess(t *testing.T) *accessFixture {
	h := newHarness(t)
	return &accessFixture{harness: h, org: h.info.OrgID, dev: h.env("dev"), prod: h.env("prod")}
}

// userID returns the id of a member by email.
func (f *accessFixture) userID(email string) string {
	u, err := f.s.st.GetUserByEmail(context.Background(), email)
	if err != nil {
		f.t.Fatal(err)
	}
	return u.ID
}

func (f *accessFixture) group(name string, members ...string) string {
	var g store.Group
	f.must(201, f.admin, "POST", "/api/v1/orgs/"+f.org+"/groups", map[string]any{"name": name, "members": members}).decode(f.t, &g)
	return g.ID
}

func stmt(effect string, actions []string, resources ...string) map[string]any {
	return map[string]any{"effect": effect, "actions": actions, "resources": resources}
}

func (f *accessFixture) policy(name string, principals []string, stmts ...map[string]any) string {
	var p store.Policy
	f.must(201, f.admin, "POST", "/api/v1/orgs/"+f.org+"/policies", map[string]any{"name": name, "statements": stmts, "principals": principals}).decode(f.t, &p)
	return p.ID
}

// token creates an access token as creator (a session or token) with role.
func (f *accessFixture) token(creator, role string) (id, value string) {
	var tc struct{ ID, Token string }
	f.must(201, creator, "POST", "/api/v1/orgs/"+f.org+"/tokens", map[string]string{"name": "t-" + role, "role": role}).decode(f.t, &tc)
	return tc.ID, tc.Token
}

// toggle turns welcome-banner in env on or off as tok and returns the status.
func (f *accessFixture) toggle(tok, env string) int {
	var fl codec.Flag
	f.must(200, f.admin, "GET", f.flagsURL(env)+"/welcome-banner", nil).decode(f.t, &fl)
	return f.do(tok, "POST", f.flagsURL(env)+"/welcome-banner/toggle", map[string]any{"version": fl.Version}).Code
}

func (f *accessFixture) permissions(tok, env string) []string {
	var p struct{ Actions []string }
	f.must(200, tok, "GET", "/api/v1/envs/"+env+"/permissions", nil).decode(f.t, &p)
	return p.Actions
}

// Example 1 of docs/access.md: viewers everywhere, and the "dev-team" group
// may change flags, toggle and read secrets in every dev environment.
func TestAccessGroupWidensViewerToDev(t *testing.T) {
	f := newAccess(t)
	ann := f.addMember(f.org, "ann@example.com", "ann-password", "viewer")
	bob := f.addMember(f.org, "bob@example.com", "bob-password", "viewer") // not in the group
	g := f.group("dev-team", f.userID("ann@example.com"))
	f.policy("dev-team edits dev", []string{"group:" + g},
		stmt("allow", []string{"flag:write", "flag:toggle", "secret:read"}, "project/*/env/dev"))

	if c := f.toggle(ann, f.dev); c != 200 {
		t.Fatalf("group member toggling dev: %d, want 200", c)
	}
	if c := f.toggle(ann, f.prod); c != 403 {
		t.Fatalf("group member toggling prod: %d, want 403", c)
	}
	if c := f.toggle(bob, f.dev); c != 403 {
		t.Fatalf("viewer outside the group toggling dev: %d, want 403", c)
	}
	if got := f.permissions(ann, f.dev); !slices.Contains(got, "flag:toggle") || slices.Contains(got, "segment:write") {
		t.Fatalf("dev permissions of the group member: %v", got)
	}
	if got := f.permissions(ann, f.prod); !slices.Equal(got, []string{"read"}) {
		t.Fatalf("prod permissions of the group member: %v", got)
	}

	// A token: the policy attached to it widens it in dev, never beyond its
	// creator (an owner here), and it stays refused in prod.
	tid, tok := f.token(f.admin, "viewer")
	if c := f.toggle(tok, f.dev); c != 403 {
		t.Fatalf("viewer token toggling dev before the policy: %d, want 403", c)
	}
	f.policy("ci toggles dev", []string{"token:" + tid}, stmt("allow", []string{"flag:toggle"}, "project/*/env/dev"))
	if c := f.toggle(tok, f.dev); c != 200 {
		t.Fatalf("token toggling dev: %d, want 200", c)
	}
	if c := f.toggle(tok, f.prod); c != 403 {
		t.Fatalf("token toggling prod: %d, want 403", c)
	}
}

// Example 2 of docs/access.md: editors everywhere but prod; deny wins over
// the role and over any allow, for the member and its tokens.
func TestAccessDenyWins(t *testing.T) {
	f := newAccess(t)
	eve := f.addMember(f.org, "eve@example.com", "eve-password", "editor")
	uid := f.userID("eve@example.com")
	f.policy("no prod writes", []string{"user:" + uid},
		stmt("deny", []string{"flag:write", "flag:toggle", "segment:write", "experiment:write", "secret:read"}, "project/*/env/prod"))
	f.policy("everything", []string{"user:" + uid}, stmt("allow", []string{"flag:toggle"}, "*"))

	if c := f.toggle(eve, f.dev); c != 200 {
		t.Fatalf("editor toggling dev: %d, want 200", c)
	}
	if c := f.toggle(eve, f.prod); c != 403 {
		t.Fatalf("editor toggling prod despite the deny: %d, want 403", c)
	}
	f.must(403, eve, "POST", f.flagsURL(f.prod), boolFlagBody("sneaky"))
	f.must(201, eve, "POST", f.flagsURL(f.dev), boolFlagBody("fine"))

	// Her token (editor, created by her) carries her denies.
	_, tok := f.token(f.admin, "editor")
	if c := f.toggle(tok, f.prod); c != 200 {
		t.Fatalf("an owner's editor token toggling prod: %d, want 200", c)
	}
	// A member cannot create tokens (token:manage); promote her to admin
	// with the same policies and let her mint one.
	f.must(200, f.admin, "POST", "/api/v1/orgs/"+f.org+"/members", map[string]string{"email": "eve@example.com", "role": "admin"})
	_, etok := f.token(eve, "editor")
	if c := f.toggle(etok, f.dev); c != 200 {
		t.Fatalf("her token toggling dev: %d, want 200", c)
	}
	if c := f.toggle(etok, f.prod); c != 403 {
		t.Fatalf("her token toggling prod: %d, want 403 (a token never does what its creator may not)", c)
	}

	// Owners are not subject to policies: a deny attached to one changes nothing.
	f.policy("deny the owner", []string{"user:" + f.userID(f.info.AdminEmail)}, stmt("deny", []string{"*"}, "*"))
	if c := f.toggle(f.admin, f.prod); c != 200 {
		t.Fatalf("owner toggling prod: %d, want 200", c)
	}
}

// Example 3 of docs/access.md: flag:write without flag:toggle in prod —
// an update, a schedule or a trigger cannot stand in for the toggle.
func TestAccessToggleIsItsOwnAction(t *testing.T) {
	f := newAccess(t)
	eve := f.addMember(f.org, "eve@example.com", "eve-password", "editor")
	f.policy("no prod toggles", []string{"user:" + f.userID("eve@example.com")}, stmt("deny", []string{"flag:toggle"}, "project/*/env/prod"))
	var fl codec.Flag
	f.must(200, eve, "GET", f.flagsURL(f.prod)+"/welcome-banner", nil).decode(t, &fl)
	fl.Description = "edited"
	f.must(200, eve, "PUT", f.flagsURL(f.prod)+"/welcome-banner", fl).decode(t, &fl)
	fl.IsEnabled = !fl.IsEnabled
	f.must(403, eve, "PUT", f.flagsURL(f.prod)+"/welcome-banner", fl)
	f.must(403, eve, "POST", f.flagsURL(f.prod)+"/welcome-banner/triggers", map[string]string{"action": "on"})
	f.must(201, eve, "POST", f.flagsURL(f.dev)+"/welcome-banner/triggers", map[string]string{"action": "on"})
}

// A member of dev only (viewer + secret:read on dev) reads dev's SDK
// secrets and never prod's: not by getting prod, not by listing the
// project's environments.
func TestSecurityEnvScopedSecrets(t *testing.T) {
	f := newAccess(t)
	ann := f.addMember(f.org, "ann@example.com", "ann-password", "viewer")
	f.policy("dev only", []string{"user:" + f.userID("ann@example.com")},
		stmt("allow", []string{"flag:write", "flag:toggle", "secret:read"}, "project/*/env/dev"))
	prodSecret := ""
	for _, e := range f.info.Envs {
		if e.ID == f.prod {
			prodSecret = e.ServerSecret
		}
	}
	type envView struct {
		ID      string
		Secrets []codec.EnvSecret
	}
	var ev envView
	f.must(200, ann, "GET", "/api/v1/envs/"+f.dev, nil).decode(t, &ev)
	if len(ev.Secrets) != 2 {
		t.Fatalf("dev secrets for the dev member: %+v", ev.Secrets)
	}
	r := f.must(200, ann, "GET", "/api/v1/envs/"+f.prod, nil)
	r.decode(t, &ev)
	if len(ev.Secrets) != 0 || strings.Contains(string(r.Body), prodSecret) {
		t.Fatalf("prod secrets leaked to the dev member: %s", r.Body)
	}
	r = f.must(200, ann, "GET", "/api/v1/projects/"+f.info.ProjectID+"/envs", nil)
	if strings.Contains(string(r.Body), prodSecret) {
		t.Fatalf("prod secrets leaked through the environment list: %s", r.Body)
	}
	f.must(403, ann, "POST", "/api/v1/envs/"+f.prod+"/secrets/server/rotate", nil)
	// A plain viewer reads no secrets; an editor does.
	vic := f.addMember(f.org, "vic@example.com", "vic-password", "viewer")
	f.must(200, vic, "GET", "/api/v1/envs/"+f.dev, nil).decode(t, &ev)
	if len(ev.Secrets) != 0 {
		t.Fatalf("viewer got secrets: %+v", ev.Secrets)
	}
	ed := f.addMember(f.org, "ed@example.com", "ed-password", "editor")
	f.must(200, ed, "GET", "/api/v1/envs/"+f.prod, nil).decode(t, &ev)
	if len(ev.Secrets) != 2 {
		t.Fatalf("editor secrets: %+v", ev.Secrets)
	}
}

// Only admins manage access, and a policy cannot hand out access:manage,
// so a policy never lifts anyone above what an admin could grant by role.
func TestSecurityPolicyCannotEscalate(t *testing.T) {
	f := newAccess(t)
	ed := f.addMember(f.org, "ed@example.com", "ed-password", "editor")
	uid := f.userID("ed@example.com")
	body := map[string]any{"name": "mine", "principals": []string{"user:" + uid},
		"statements": []any{stmt("allow", []string{"member:manage"}, "*")}}
	f.must(403, ed, "POST", "/api/v1/orgs/"+f.org+"/policies", body)

	for _, tc := range []struct {
		stmt  map[string]any
		field string
	}{
		{stmt("allow", []string{"access:manage"}, "*"), "statements[0].actions[0]"},
		{stmt("allow", []string{"*"}, "*"), "statements[0].actions[0]"},
		{stmt("allow", []string{"flag:fly"}, "*"), "statements[0].actions[0]"},
		{stmt("maybe", []string{"read"}, "*"), "statements[0].effect"},
		{stmt("allow", []string{"read"}, "projects/x"), "statements[0].resources[0]"},
		{stmt("allow", []string{"read"}, "project/[x/env/dev"), "statements[0].resources[0]"},
	} {
		r := f.must(400, f.admin, "POST", "/api/v1/orgs/"+f.org+"/policies", map[string]any{"name": "bad", "statements": []any{tc.stmt}})
		if _, field := r.errField(t); field != tc.field {
			t.Fatalf("%v: field %q, want %q (%s)", tc.stmt, field, tc.field, r.Body)
		}
	}
	r := f.must(400, f.admin, "POST", "/api/v1/orgs/"+f.org+"/policies", map[string]any{"name": "bad",
		"statements": []any{stmt("allow", []string{"read"}, "*")}, "principals": []string{"user:nobody"}})
	if _, field := r.errField(t); field != "principals[0]" {
		t.Fatalf("unknown principal: %s", r.Body)
	}
	// An access token of another organization cannot be named.
	f.must(400, f.admin, "POST", "/api/v1/orgs/"+f.org+"/groups", map[string]any{"name": "g", "members": []string{"nobody"}})

	// Groups and policies are audited.
	var l struct{ Items []store.AuditEntry }
	f.group("auditors")
	f.must(200, f.admin, "GET", "/api/v1/orgs/"+f.org+"/audit?type=group", nil).decode(t, &l)
	if len(l.Items) != 1 || l.Items[0].Action != "created" || l.Items[0].ResourceKey != "auditors" {
		t.Fatalf("group audit: %+v", l.Items)
	}
}

// A group a policy is attached to cannot be deleted (the attachment would
// dangle); a policy on a project key covers its environments.
func TestAccessProjectPatternAndGroupDelete(t *testing.T) {
	f := newAccess(t)
	var p store.Project
	f.must(200, f.admin, "GET", "/api/v1/projects/"+f.info.ProjectID, nil).decode(t, &p)
	ann := f.addMember(f.org, "ann@example.com", "ann-password", "viewer")
	g := f.group("project team", f.userID("ann@example.com"))
	pid := f.policy("whole project", []string{"group:" + g}, stmt("allow", []string{"flag:toggle"}, "project/"+p.Key))
	if c := f.toggle(ann, f.prod); c != 200 {
		t.Fatalf("project pattern covers prod: %d", c)
	}
	f.must(409, f.admin, "DELETE", "/api/v1/orgs/"+f.org+"/groups/"+g, nil)
	f.must(204, f.admin, "DELETE", "/api/v1/orgs/"+f.org+"/policies/"+pid, nil)
	f.must(204, f.admin, "DELETE", "/api/v1/orgs/"+f.org+"/groups/"+g, nil)
	if c := f.toggle(ann, f.prod); c != 403 {
		t.Fatalf("after the policy is gone: %d", c)
	}
	var op struct {
		Role    string
		Actions []string
	}
	f.must(200, ann, "GET", "/api/v1/orgs/"+f.org+"/permissions", nil).decode(t, &op)
	if op.Role != "viewer" || !slices.Equal(op.Actions, []string{"read"}) {
		t.Fatalf("org permissions: %+v", op)
	}

	// a project's own permissions: project:manage granted on the project
	// shows there, not on the organization, and a pattern of its
	// environments does not cover the project itself
	f.policy("manage the project", []string{"user:" + f.userID("ann@example.com")},
		stmt("allow", []string{"project:manage"}, "project/"+p.Key),
		stmt("allow", []string{"env:manage"}, "project/"+p.Key+"/env/*"))
	var pp struct {
		Resource string
		Actions  []string
	}
	f.must(200, ann, "GET", "/api/v1/projects/"+f.info.ProjectID+"/permissions", nil).decode(t, &pp)
	if pp.Resource != "project/"+p.Key || !slices.Contains(pp.Actions, "project:manage") || slices.Contains(pp.Actions, "env:manage") {
		t.Fatalf("project permissions: %+v", pp)
	}
	f.must(200, ann, "GET", "/api/v1/orgs/"+f.org+"/permissions", nil).decode(t, &op)
	if slices.Contains(op.Actions, "project:manage") {
		t.Fatalf("org permissions after a project grant: %+v", op)
	}
}

// Rotation without downtime: the new secret is added, the old one keeps
// working until its expiry (default 24 h, settable, "now" ends it), both are
// published to the edges, and the audit entry names no value.
func TestSecretRotationKeepsOldUntilExpiry(t *testing.T) {
	h := newHarness(t)
	env := h.env("dev")
	old := h.info.Envs[0].ServerSecret
	if h.info.Envs[0].ID != env {
		old = h.info.Envs[1].ServerSecret
	}
	type view struct{ Secrets []codec.EnvSecret }
	var v view
	h.must(200, h.admin, "POST", "/api/v1/envs/"+env+"/secrets/server/rotate", nil).decode(t, &v)
	server := func(v view) (cur []codec.EnvSecret, prev []codec.EnvSecret) {
		for _, s := range v.Secrets {
			if s.Type != codec.SecretServer {
				continue
			}
			if s.ExpiresAt == 0 {
				cur = append(cur, s)
			} else {
				prev = append(prev, s)
			}
		}
		return cur, prev
	}
	cur, prev := server(v)
	now := h.s.st.Now()
	if len(cur) != 1 || cur[0].Value == old || v.Secrets[0] != cur[0] || len(prev) != 1 || prev[0].Value != old ||
		prev[0].ExpiresAt < now+23*3600_000 || prev[0].ExpiresAt > now+24*3600_000 {
		t.Fatalf("after a default rotation: %+v", v.Secrets)
	}
	h.publish()
	if snap := h.sink.Snapshot(env); len(snap.Secrets) != 3 {
		t.Fatalf("published secrets: %+v", snap.Secrets)
	}
	var al struct{ Items []store.AuditEntry }
	r := h.must(200, h.admin, "GET", "/api/v1/envs/"+env+"/audit?type=secret", nil)
	r.decode(t, &al)
	if len(al.Items) != 1 || !slices.Contains(al.Items[0].Changes, "server secret rotated") || strings.Contains(string(r.Body), old) || strings.Contains(string(r.Body), cur[0].Value) {
		t.Fatalf("audit: %s", r.Body)
	}

	h.must(200, h.admin, "POST", "/api/v1/envs/"+env+"/secrets/server/rotate", map[string]string{"expiresIn": "1h"}).decode(t, &v)
	cur2, prev2 := server(v)
	if len(cur2) != 1 || len(prev2) != 2 || prev2[0].ExpiresAt > h.s.st.Now()+3600_000 {
		t.Fatalf("after a 1h rotation: %+v", v.Secrets)
	}
	h.must(200, h.admin, "POST", "/api/v1/envs/"+env+"/secrets/server/rotate", map[string]string{"expiresIn": "now"}).decode(t, &v)
	if cur3, prev3 := server(v); len(cur3) != 1 || len(prev3) != 0 {
		t.Fatalf("after rotating with now: %+v", v.Secrets)
	}
	for _, bad := range []string{"forever", "-1h", "721h", "0s"} {
		r := h.must(400, h.admin, "POST", "/api/v1/envs/"+env+"/secrets/server/rotate", map[string]string{"expiresIn": bad})
		if _, field := r.errField(t); field != "expiresIn" {
			t.Fatalf("%q: %s", bad, r.Body)
		}
	}
	// at most 4 server secrets live at once
	for range 3 {
		h.must(200, h.admin, "POST", "/api/v1/envs/"+env+"/secrets/server/rotate", nil)
	}
	h.must(409, h.admin, "POST", "/api/v1/envs/"+env+"/secrets/server/rotate", nil)
}

// A removed member invited again starts without the grants it had: its
// policy attachments and group memberships went with the removal (audited);
// a revoked token is detached too.
func TestSecurityRemovedMemberLosesGrants(t *testing.T) {
	f := newAccess(t)
	ann := f.addMember(f.org, "ann@example.com", "ann-password", "viewer")
	uid := f.userID("ann@example.com")
	g := f.group("dev-team", uid)
	tid, _ := f.token(f.admin, "viewer")
	f.policy("dev", []string{"group:" + g}, stmt("allow", []string{"flag:toggle"}, "project/*/env/dev"))
	pid := f.policy("direct", []string{"user:" + uid, "token:" + tid}, stmt("allow", []string{"flag:toggle"}, "project/*/env/prod"))
	if f.toggle(ann, f.dev) != 200 || f.toggle(ann, f.prod) != 200 {
		t.Fatal("grants not in effect")
	}
	f.must(204, f.admin, "DELETE", "/api/v1/orgs/"+f.org+"/members/"+uid, nil)
	f.must(204, f.admin, "DELETE", "/api/v1/orgs/"+f.org+"/tokens/"+tid, nil)
	tok := f.invite(f.admin, f.org, "ann@example.com", "viewer")
	f.must(200, ann, "POST", "/api/v1/auth/invitations/accept", map[string]string{"token": tok})
	if c := f.toggle(ann, f.dev); c != 403 {
		t.Fatalf("re-invited member toggling dev through the old group: %d, want 403", c)
	}
	if c := f.toggle(ann, f.prod); c != 403 {
		t.Fatalf("re-invited member toggling prod through the old policy: %d, want 403", c)
	}
	var p store.Policy
	f.must(200, f.admin, "GET", "/api/v1/orgs/"+f.org+"/policies/"+pid, nil).decode(t, &p)
	if len(p.Principals) != 0 {
		t.Fatalf("principals left: %v", p.Principals)
	}
	var l struct{ Items []store.AuditEntry }
	f.must(200, f.admin, "GET", "/api/v1/orgs/"+f.org+"/audit?type=group", nil).decode(t, &l)
	if len(l.Items) == 0 || !strings.Contains(strings.Join(l.Items[0].Changes, ";"), "removed from the organization") {
		t.Fatalf("group audit: %+v", l.Items)
	}
}

// The permissions of a project tell nothing to a caller outside its
// organization: the route is refused like every other project route.
func TestSecurityProjectPermissionsOtherOrg(t *testing.T) {
	f := newAccess(t)
	_, eve := f.orgWithOwner("eve's org", "eve@example.com", "eve-password-1")
	if c := f.do(eve, "GET", "/api/v1/projects/"+f.info.ProjectID+"/permissions", nil).Code; c != 403 && c != 404 {
		t.Fatalf("an owner of another organization reading this project's permissions: %d, want 403 or 404", c)
	}
	if c := f.do("", "GET", "/api/v1/projects/"+f.info.ProjectID+"/permissions", nil).Code; c != 401 {
		t.Fatalf("without a session: %d, want 401", c)
	}
}
