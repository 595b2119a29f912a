package control

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/control/internal/auth"
	"github.com/switchyard/switchyard/control/internal/store"
)

// Attacks on accounts, organizations, owners, tokens and sessions, each
// written as the requests an attacker sends and the refusal expected.

const acceptURL = "/api/v1/auth/invitations/accept"

// orgWithOwner has the instance admin create an organization and bring in
// email as its owner; it returns the organization id and the owner's
// session.
func (h *harness) orgWithOwner(name, email, pw string) (string, string) {
	h.t.Helper()
	var o struct{ ID string }
	h.must(201, h.admin, "POST", "/api/v1/orgs", map[string]string{"name": name}).decode(h.t, &o)
	return o.ID, h.addMember(o.ID, email, pw, "owner")
}

func (h *harness) memberRole(org, email string) string {
	h.t.Helper()
	var l struct {
		Items []struct{ Email, Role string }
	}
	h.must(200, h.admin, "GET", "/api/v1/orgs/"+org+"/members", nil).decode(h.t, &l)
	for _, m := range l.Items {
		if m.Email == email {
			return m.Role
		}
	}
	return ""
}

func (h *harness) userID(email string) string {
	h.t.Helper()
	u, err := h.s.st.GetUserByEmail(context.Background(), email)
	if err != nil {
		h.t.Fatal(err)
	}
	return u.ID
}

// jsonKeys returns the sorted top-level keys of a JSON object.
func jsonKeys(t *testing.T, b []byte) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not a JSON object: %s", b)
	}
	return slices.Sorted(maps.Keys(m))
}

// TestSecurityAccountTakeoverAcrossOrgs: the owner of organization B tries
// to plant an account for an email that organization A will invite later,
// with a password of B's owner's choosing.
func TestSecurityAccountTakeoverAcrossOrgs(t *testing.T) {
	h := newHarness(t)
	orgA := h.info.OrgID
	orgB, mallory := h.orgWithOwner("B", "mallory@evil.example", "mallory-password")

	// The old trick: add the victim to B with a password. The route takes
	// no password and creates no account.
	r := h.must(400, mallory, "POST", "/api/v1/orgs/"+orgB+"/members",
		map[string]string{"email": "victim@corp.example", "password": "planted-password", "role": "viewer"})
	if _, f := r.errField(t); f != "password" {
		t.Fatalf("refusal names %q, want password: %s", f, r.Body)
	}
	h.must(404, mallory, "POST", "/api/v1/orgs/"+orgB+"/members", map[string]string{"email": "victim@corp.example", "role": "viewer"})
	if _, err := h.s.st.GetUserByEmail(context.Background(), "victim@corp.example"); err == nil {
		t.Fatal("an account was created for the victim")
	}

	// A invites the victim as admin; the victim accepts with its own
	// password. Mallory's planted password does not open it.
	h.must(200, "", "POST", acceptURL, map[string]string{"token": h.invite(h.admin, orgA, "victim@corp.example", "admin"), "password": "victims-own-password"})
	h.must(401, "", "POST", "/api/v1/auth/login", map[string]string{"email": "victim@corp.example", "password": "planted-password"})
	victim := h.login("victim@corp.example", "victims-own-password")
	h.must(200, victim, "GET", "/api/v1/orgs/"+orgA, nil)

	// Variant: Mallory squats a second email through B's own invitation
	// (its holder sets the password). When A invites that email, the
	// invitation's token goes to A's invitee; Mallory's account does not
	// get into A — neither by logging in nor by accepting without a session.
	squat := h.invite(mallory, orgB, "cfo@corp.example", "viewer")
	h.must(200, "", "POST", acceptURL, map[string]string{"token": squat, "password": "mallory-knows-this"})
	asCFO := h.login("cfo@corp.example", "mallory-knows-this")
	tokA := h.invite(h.admin, orgA, "cfo@corp.example", "admin")
	h.must(403, asCFO, "GET", "/api/v1/orgs/"+orgA, nil)
	r = h.must(200, "", "POST", acceptURL, map[string]string{"token": tokA, "password": "another-password"})
	var ar struct{ Joined bool }
	r.decode(t, &ar)
	if ar.Joined || h.memberRole(orgA, "cfo@corp.example") != "" {
		t.Fatalf("accepting without a session joined an existing account: %s", r.Body)
	}
	h.must(401, "", "POST", "/api/v1/auth/login", map[string]string{"email": "cfo@corp.example", "password": "another-password"})
	h.must(403, asCFO, "GET", "/api/v1/orgs/"+orgA, nil)
}

// TestSecurityNoEmailEnumeration: an admin probes which emails have an
// account through every route that takes an email.
func TestSecurityNoEmailEnumeration(t *testing.T) {
	h := newHarness(t)
	orgA := h.info.OrgID
	orgB, prober := h.orgWithOwner("B", "prober@evil.example", "prober-password")
	h.addMember(orgA, "exists@corp.example", "exists-password", "viewer")

	// Inviting: the same status and shape for an account and for none.
	ra := h.do(prober, "POST", "/api/v1/orgs/"+orgB+"/invitations", map[string]string{"email": "exists@corp.example", "role": "viewer"})
	rn := h.do(prober, "POST", "/api/v1/orgs/"+orgB+"/invitations", map[string]string{"email": "nobody@corp.example", "role": "viewer"})
	if ra.Code != 201 || rn.Code != 201 || !slices.Equal(jsonKeys(t, ra.Body), jsonKeys(t, rn.Body)) {
		t.Fatalf("invitations differ: %d %s / %d %s", ra.Code, ra.Body, rn.Code, rn.Body)
	}
	// Changing a role of a non-member: the same answer either way.
	ma := h.do(prober, "POST", "/api/v1/orgs/"+orgB+"/members", map[string]string{"email": "exists@corp.example", "role": "viewer"})
	mn := h.do(prober, "POST", "/api/v1/orgs/"+orgB+"/members", map[string]string{"email": "nobody@corp.example", "role": "viewer"})
	if ma.Code != mn.Code || string(ma.Body) != string(mn.Body) {
		t.Fatalf("member route tells accounts apart: %d %s / %d %s", ma.Code, ma.Body, mn.Code, mn.Body)
	}
	// Accepting the invitations without a session: the same status and
	// shape.
	var ia, in struct{ Token string }
	ra.decode(t, &ia)
	rn.decode(t, &in)
	aa := h.do("", "POST", acceptURL, map[string]string{"token": ia.Token, "password": "probe-password"})
	an := h.do("", "POST", acceptURL, map[string]string{"token": in.Token, "password": "probe-password"})
	if aa.Code != 200 || an.Code != 200 || !slices.Equal(jsonKeys(t, aa.Body), jsonKeys(t, an.Body)) {
		t.Fatalf("accepts differ: %d %s / %d %s", aa.Code, aa.Body, an.Code, an.Body)
	}
	// The existing account kept its password.
	h.login("exists@corp.example", "exists-password")
}

// TestSecurityAdminCannotDemoteOwner: an admin tries every way to take the
// owner role away or to give it to itself.
func TestSecurityAdminCannotDemoteOwner(t *testing.T) {
	h := newHarness(t)
	org := h.info.OrgID
	ownerEmail := h.info.AdminEmail
	adm := h.addMember(org, "adam@corp.example", "admin-password2", "admin")
	members := "/api/v1/orgs/" + org + "/members"

	h.must(403, adm, "POST", members, map[string]string{"email": ownerEmail, "role": "admin"})
	h.must(403, adm, "POST", members, map[string]string{"email": ownerEmail, "role": "viewer"})
	h.must(403, adm, "POST", members, map[string]string{"email": "adam@corp.example", "role": "owner"})
	h.must(403, adm, "DELETE", members+"/"+h.userID(ownerEmail), nil)
	h.must(403, adm, "POST", "/api/v1/orgs/"+org+"/invitations", map[string]string{"email": "friend@evil.example", "role": "owner"})
	h.must(403, adm, "POST", "/api/v1/orgs/"+org+"/tokens", map[string]string{"name": "mine", "role": "owner"})
	// The owner's owner token cannot be revoked by an admin.
	var ot struct{ ID string }
	h.must(201, h.admin, "POST", "/api/v1/orgs/"+org+"/tokens", map[string]string{"name": "owner-ci", "role": "owner"}).decode(t, &ot)
	h.must(403, adm, "DELETE", "/api/v1/orgs/"+org+"/tokens/"+ot.ID, nil)
	// An admin token acts as an admin: same refusals.
	var at struct{ Token string }
	h.must(201, adm, "POST", "/api/v1/orgs/"+org+"/tokens", map[string]string{"name": "adm-ci", "role": "admin"}).decode(t, &at)
	h.must(403, at.Token, "POST", members, map[string]string{"email": ownerEmail, "role": "admin"})
	h.must(403, at.Token, "DELETE", "/api/v1/orgs/"+org+"/tokens/"+ot.ID, nil)
	if got := h.memberRole(org, ownerEmail); got != "owner" {
		t.Fatalf("owner is now %q", got)
	}

	// The last owner can neither be demoted nor removed, not even by itself.
	h.must(409, h.admin, "POST", members, map[string]string{"email": ownerEmail, "role": "admin"})
	h.must(409, h.admin, "DELETE", members+"/"+h.userID(ownerEmail), nil)
	// With a second owner, owners may demote each other — but not the last.
	h.must(200, h.admin, "POST", members, map[string]string{"email": "adam@corp.example", "role": "owner"})
	h.must(200, adm, "POST", members, map[string]string{"email": ownerEmail, "role": "admin"})
	h.must(409, adm, "POST", members, map[string]string{"email": "adam@corp.example", "role": "editor"})
	if got := h.memberRole(org, "adam@corp.example"); got != "owner" {
		t.Fatalf("last owner is now %q", got)
	}
}

// TestSecurityLastOwnerRace: two owners demote each other at the same time;
// one organization must keep an owner.
func TestSecurityLastOwnerRace(t *testing.T) {
	h := newHarness(t)
	org := h.info.OrgID
	second := h.addMember(org, "second@corp.example", "second-password", "owner")
	var wg sync.WaitGroup
	wg.Go(func() {
		h.do(h.admin, "POST", "/api/v1/orgs/"+org+"/members", map[string]string{"email": "second@corp.example", "role": "viewer"})
	})
	wg.Go(func() {
		h.do(second, "POST", "/api/v1/orgs/"+org+"/members", map[string]string{"email": h.info.AdminEmail, "role": "viewer"})
	})
	wg.Wait()
	if h.memberRole(org, h.info.AdminEmail) != "owner" && h.memberRole(org, "second@corp.example") != "owner" {
		t.Fatal("both owners demoted: the organization has no owner")
	}
}

// TestSecurityTokenDiesWithCreator: a member mints a token, then is demoted
// or removed, and keeps using the token.
func TestSecurityTokenDiesWithCreator(t *testing.T) {
	h := newHarness(t)
	org, env := h.info.OrgID, h.env("dev")
	adm := h.addMember(org, "leaver@corp.example", "leaver-password", "admin")
	var tok, child struct{ Token, ID string }
	h.must(201, adm, "POST", "/api/v1/orgs/"+org+"/tokens", map[string]string{"name": "backdoor", "role": "admin"}).decode(t, &tok)
	h.must(201, tok.Token, "POST", "/api/v1/orgs/"+org+"/tokens", map[string]string{"name": "child", "role": "editor"}).decode(t, &child)
	h.must(201, child.Token, "POST", h.flagsURL(env), boolFlagBody("before-demotion"))

	// Demoted to viewer: the admin token and its child act as viewers.
	h.must(200, h.admin, "POST", "/api/v1/orgs/"+org+"/members", map[string]string{"email": "leaver@corp.example", "role": "viewer"})
	h.must(403, tok.Token, "POST", "/api/v1/orgs/"+org+"/invitations", map[string]string{"email": "x@evil.example", "role": "viewer"})
	h.must(403, child.Token, "POST", h.flagsURL(env), boolFlagBody("after-demotion"))
	var me struct{ Orgs []struct{ Role string } }
	h.must(200, tok.Token, "GET", "/api/v1/auth/me", nil).decode(t, &me)
	if len(me.Orgs) != 1 || me.Orgs[0].Role != "viewer" {
		t.Fatalf("demoted creator's token reports %+v", me.Orgs)
	}
	h.must(200, tok.Token, "GET", h.flagsURL(env), nil)

	// Removed: both tokens are dead.
	h.must(204, h.admin, "DELETE", "/api/v1/orgs/"+org+"/members/"+h.userID("leaver@corp.example"), nil)
	h.must(401, tok.Token, "GET", h.flagsURL(env), nil)
	h.must(401, child.Token, "GET", h.flagsURL(env), nil)

	// A child token dies with the token that created it.
	var t2, c2 struct{ Token, ID string }
	h.must(201, h.admin, "POST", "/api/v1/orgs/"+org+"/tokens", map[string]string{"name": "parent", "role": "admin"}).decode(t, &t2)
	h.must(201, t2.Token, "POST", "/api/v1/orgs/"+org+"/tokens", map[string]string{"name": "child2", "role": "viewer"}).decode(t, &c2)
	h.must(200, c2.Token, "GET", h.flagsURL(env), nil)
	h.must(204, h.admin, "DELETE", "/api/v1/orgs/"+org+"/tokens/"+t2.ID, nil)
	h.must(401, c2.Token, "GET", h.flagsURL(env), nil)
}

// TestSecurityTokenCannotInviteAboveItsRole: a token tries to bring in an
// account with more power than it has.
func TestSecurityTokenCannotInviteAboveItsRole(t *testing.T) {
	h := newHarness(t)
	org := h.info.OrgID
	var adminTok, editorTok struct{ Token string }
	h.must(201, h.admin, "POST", "/api/v1/orgs/"+org+"/tokens", map[string]string{"name": "a", "role": "admin"}).decode(t, &adminTok)
	h.must(201, h.admin, "POST", "/api/v1/orgs/"+org+"/tokens", map[string]string{"name": "e", "role": "editor"}).decode(t, &editorTok)
	inv := "/api/v1/orgs/" + org + "/invitations"
	h.must(403, adminTok.Token, "POST", inv, map[string]string{"email": "boss@evil.example", "role": "owner"})
	h.must(403, editorTok.Token, "POST", inv, map[string]string{"email": "x@evil.example", "role": "viewer"})
	h.must(201, adminTok.Token, "POST", inv, map[string]string{"email": "colleague@corp.example", "role": "admin"})
	// An access token cannot accept an invitation (it is no account).
	tok := h.invite(h.admin, org, "someone@corp.example", "viewer")
	h.must(403, adminTok.Token, "POST", acceptURL, map[string]string{"token": tok})
}

// TestSecurityTokenExpires: an expired token is refused; a token cannot be
// created already expired.
func TestSecurityTokenExpires(t *testing.T) {
	h := newHarness(t)
	org, env := h.info.OrgID, h.env("dev")
	r := h.must(400, h.admin, "POST", "/api/v1/orgs/"+org+"/tokens", map[string]any{"name": "old", "role": "viewer", "expiresAt": time.Now().Add(-time.Minute).UnixMilli()})
	if _, f := r.errField(t); f != "expiresAt" {
		t.Fatalf("refusal names %q: %s", f, r.Body)
	}
	var live struct {
		Token     string
		ExpiresAt int64
	}
	exp := time.Now().Add(time.Hour).UnixMilli()
	h.must(201, h.admin, "POST", "/api/v1/orgs/"+org+"/tokens", map[string]any{"name": "ci", "role": "viewer", "expiresAt": exp}).decode(t, &live)
	if live.ExpiresAt != exp {
		t.Fatalf("expiresAt %d, want %d", live.ExpiresAt, exp)
	}
	h.must(200, live.Token, "GET", h.flagsURL(env), nil)
	// A token whose time has come (stored as if created an hour ago).
	val := auth.NewToken(auth.KindAccess)
	if err := h.s.st.CreateToken(context.Background(), &store.AccessToken{ID: "expired", OrgID: org, Name: "expired", Role: "admin",
		Hash: auth.Hash(val), Prefix: val[:8], CreatedBy: h.userID(h.info.AdminEmail), ExpiresAt: time.Now().Add(-time.Second).UnixMilli()}); err != nil {
		t.Fatal(err)
	}
	h.must(401, val, "GET", h.flagsURL(env), nil)
}

// TestSecurityInvitationSingleUse: an invitation token is replayed, used
// after revocation or expiry, or used by another account.
func TestSecurityInvitationSingleUse(t *testing.T) {
	h := newHarness(t)
	org := h.info.OrgID
	tok := h.invite(h.admin, org, "one@corp.example", "editor")
	h.must(200, "", "POST", acceptURL, map[string]string{"token": tok, "password": "first-password"})
	r := h.must(400, "", "POST", acceptURL, map[string]string{"token": tok, "password": "second-password"})
	if _, f := r.errField(t); f != "token" {
		t.Fatalf("replay refusal names %q", f)
	}
	h.must(401, "", "POST", "/api/v1/auth/login", map[string]string{"email": "one@corp.example", "password": "second-password"})

	// Revoked.
	var v struct{ ID, Token string }
	h.must(201, h.admin, "POST", "/api/v1/orgs/"+org+"/invitations", map[string]string{"email": "two@corp.example", "role": "viewer"}).decode(t, &v)
	var l struct{ Items []map[string]any }
	r = h.must(200, h.admin, "GET", "/api/v1/orgs/"+org+"/invitations", nil)
	r.decode(t, &l)
	if len(l.Items) != 1 || strings.Contains(string(r.Body), v.Token) || strings.Contains(string(r.Body), auth.Hash(v.Token)) {
		t.Fatalf("invitation list: %s", r.Body)
	}
	h.must(204, h.admin, "DELETE", "/api/v1/orgs/"+org+"/invitations/"+v.ID, nil)
	h.must(400, "", "POST", acceptURL, map[string]string{"token": v.Token, "password": "two-password"})

	// Expired.
	val := auth.NewToken(auth.KindInvite)
	if err := h.s.st.CreateInvitation(context.Background(), &store.Invitation{ID: "old", OrgID: org, Email: "three@corp.example",
		Role: "viewer", Hash: auth.Hash(val), ExpiresAt: time.Now().Add(-time.Second).UnixMilli()}); err != nil {
		t.Fatal(err)
	}
	h.must(400, "", "POST", acceptURL, map[string]string{"token": val, "password": "three-password"})

	// Another account's session cannot take someone else's invitation.
	other := h.invite(h.admin, org, "four@corp.example", "admin")
	one := h.login("one@corp.example", "first-password")
	h.must(403, one, "POST", acceptURL, map[string]string{"token": other})
	if h.memberRole(org, "one@corp.example") != "editor" {
		t.Fatal("the editor took the admin invitation of another email")
	}
	// Garbage tokens, and a body over the public route's 4 KiB.
	h.must(413, "", "POST", acceptURL, `{"token":"`+strings.Repeat("a", 5000)+`"}`)
	h.must(400, "", "POST", acceptURL, map[string]string{"token": "syt_" + val[4:], "password": "whatever-pw"})
	h.must(400, "", "POST", acceptURL, map[string]string{"token": "", "password": "whatever-pw"})
}

// TestSecurityOrgCreationAdminsOnly: a member who is no instance admin tries
// to create organizations (the default setting).
func TestSecurityOrgCreationAdminsOnly(t *testing.T) {
	h := newHarness(t)
	ed := h.addMember(h.info.OrgID, "ed@corp.example", "editor-password", "owner")
	h.must(403, ed, "POST", "/api/v1/orgs", map[string]string{"name": "Shadow"})
	h.must(201, h.admin, "POST", "/api/v1/orgs", map[string]string{"name": "Real"})
	var tok struct{ Token string }
	h.must(201, h.admin, "POST", "/api/v1/orgs/"+h.info.OrgID+"/tokens", map[string]string{"name": "t", "role": "owner"}).decode(t, &tok)
	h.must(403, tok.Token, "POST", "/api/v1/orgs", map[string]string{"name": "Shadow"})
}

// TestSecurityPasswordChangeThrottled: a stolen session guesses the old
// password through PUT /auth/password.
func TestSecurityPasswordChangeThrottled(t *testing.T) {
	h := newHarness(t)
	statuses := map[int]int{}
	// the counter is process-wide: let checks of earlier tests' goroutines
	// (slow under -race) finish before counting this test's
	checks := auth.PasswordChecks()
	for quiet := time.Now(); time.Since(quiet) < 300*time.Millisecond; {
		time.Sleep(50 * time.Millisecond)
		if n := auth.PasswordChecks(); n != checks {
			checks, quiet = n, time.Now()
		}
	}
	start := time.Now()
	for range 30 {
		r := h.do(h.admin, "PUT", "/api/v1/auth/password", map[string]string{"oldPassword": "guess-password", "newPassword": "attacker-password"})
		statuses[r.Code]++
		if r.Code == http.StatusTooManyRequests && r.Header.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
	}
	if statuses[400] != 4 || statuses[429] != 26 {
		t.Fatalf("30 wrong old passwords answered %v; want 4 x 400, then 429", statuses)
	}
	// 5 free failures, then lockouts of 1 s, 2 s, 4 s, …: a slow run (-race)
	// may see a lockout end and one more password checked, never more
	allowed := int64(5)
	for lock, spent := time.Second, time.Since(start); spent >= lock; lock *= 2 {
		allowed++
		spent -= lock
	}
	if checked := auth.PasswordChecks() - checks; checked < 5 || checked > allowed {
		t.Fatalf("30 wrong old passwords in %v: %d checked, want 5 (at most %d after lockouts that ended)", time.Since(start).Round(time.Millisecond), checked, allowed)
	}
	// Locked: even the right old password waits (while the lockout lasts: a
	// run slower than the first lockout, e.g. under -race, cannot tell)
	if allowed == 5 {
		h.must(429, h.admin, "PUT", "/api/v1/auth/password", map[string]string{"oldPassword": "admin-password", "newPassword": "attacker-password"})
		h.login(h.info.AdminEmail, "admin-password")
	}
}

// TestSecurityPasswordChangeEndsOtherSessions: the owner of an account
// changes its password after a session was stolen; the thief's session
// stops working, the owner's stays.
func TestSecurityPasswordChangeEndsOtherSessions(t *testing.T) {
	h := newHarness(t)
	thief := h.login(h.info.AdminEmail, "admin-password")
	h.must(200, thief, "GET", "/api/v1/auth/me", nil)
	h.must(204, h.admin, "PUT", "/api/v1/auth/password", map[string]string{"oldPassword": "admin-password", "newPassword": "fresh-password"})
	h.must(401, thief, "GET", "/api/v1/auth/me", nil)
	h.must(200, h.admin, "GET", "/api/v1/auth/me", nil)
	h.login(h.info.AdminEmail, "fresh-password")
}

// TestSecurityLoginThrottleConcurrent: 60 password guesses fired in
// parallel; at most the throttle's allowance of passwords may be checked
// (bcrypt comparisons), the rest are refused with 429 unchecked.
func TestSecurityLoginThrottleConcurrent(t *testing.T) {
	h := newHarness(t)
	const n = 60
	checks := auth.PasswordChecks()
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			codes[i] = h.do("", "POST", "/api/v1/auth/login", map[string]string{"email": h.info.AdminEmail, "password": "guess-password"}).Code
		})
	}
	wg.Wait()
	counted := map[int]int{}
	for _, c := range codes {
		counted[c]++
	}
	allowed := int64(auth.DefaultThrottle().Free) // the Free-th attempt is checked, then locks
	if checked := auth.PasswordChecks() - checks; checked > allowed {
		t.Fatalf("%d parallel guesses checked %d passwords; the throttle allows %d", n, checked, allowed)
	}
	if counted[401] > int(allowed)-1 || counted[401]+counted[429] != n {
		t.Fatalf("%d parallel guesses answered %v; want at most %d x 401, the rest 429", n, counted, allowed-1)
	}
}
