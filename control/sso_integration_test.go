//go:build integration

package control

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/control/internal/sso/ssotest"
)

// The single sign-on tests run the real authorization-code flow against the
// local OpenID provider (ops/oidc-provider: panva/oidc-provider under Node)
// with an HTTP client that follows redirects, keeps cookies and submits the
// provider's login form, like a browser.

type ssoFixture struct {
	*accessFixture
	base, issuer, issuerID, groupID string
}

const ssoClientSecret = "client-secret-of-the-test-provider"

func newSSO(t *testing.T) *ssoFixture {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	h := newHarnessWith(t, func(c *Config) { c.PublicURL = base; c.SSOAllow = loopback })
	srv := &http.Server{Handler: h.s.Handler()}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	f := &ssoFixture{accessFixture: &accessFixture{harness: h, org: h.info.OrgID, dev: h.env("dev"), prod: h.env("prod")}, base: base}
	f.issuer = ssotest.Start(t, ssotest.Config{
		Clients: []ssotest.Client{{ID: "switchyard", Secret: ssoClientSecret, RedirectURIs: []string{base + "/api/v1/auth/sso/callback"}}},
		Accounts: map[string]ssotest.Account{
			"alice":   {"email": "alice@corp.example", "email_verified": true, "name": "Alice", "groups": []string{"eng", "unmapped"}},
			"carol":   {"email": "carol@corp.example", "email_verified": true, "groups": []string{}},
			"mallory": {"email": "ceo@corp.example", "email_verified": false},
			"ann":     {"email": "ann@example.com", "email_verified": true},
			"admin":   {"email": h.info.AdminEmail, "email_verified": true},
		},
	})
	f.groupID = f.group("engineering")
	f.policy("engineering toggles dev", []string{"group:" + f.groupID}, stmt("allow", []string{"flag:toggle"}, "project/*/env/dev"))
	var v struct{ ID string }
	f.must(201, f.admin, "POST", "/api/v1/orgs/"+f.org+"/sso/issuers", map[string]any{
		"name": "Corp", "issuerUrl": f.issuer, "clientId": "switchyard", "clientSecret": ssoClientSecret,
		"scopes": []string{"email", "profile", "groups"}, "groupClaim": "groups", "groupMap": map[string]string{"eng": f.groupID},
	}).decode(t, &v)
	f.issuerID = v.ID
	return f
}

// browser is an HTTP client with cookies that follows redirects until it
// is sent back to the UI (control's "/sso").
func (f *ssoFixture) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(r *http.Request, via []*http.Request) error {
		if strings.HasPrefix(r.URL.String(), f.base+"/") && r.URL.Path == "/sso" {
			return http.ErrUseLastResponse
		}
		if len(via) > 20 {
			return http.ErrUseLastResponse
		}
		return nil
	}}
}

func (f *ssoFixture) post(bc *http.Client, token, path string, body any) (int, []byte) {
	f.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", f.base+path, strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := bc.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// signIn runs the whole flow as login and returns where control sent the
// browser back to and the session route's answer.
func (f *ssoFixture) signIn(bc *http.Client, login, linkToken string) (back string, code int, body []byte) {
	f.t.Helper()
	req := map[string]any{"issuerId": f.issuerID}
	if linkToken != "" {
		req["link"] = true
	}
	c, b := f.post(bc, linkToken, "/api/v1/auth/sso/start", req)
	if c != 200 {
		f.t.Fatalf("start: %d %s", c, b)
	}
	var st struct{ URL string }
	if err := json.Unmarshal(b, &st); err != nil || !strings.HasPrefix(st.URL, f.issuer+"/") {
		f.t.Fatalf("start answered %s, want a URL of the issuer", b)
	}
	resp := ssotest.SignIn(f.t, bc, st.URL, login)
	resp.Body.Close()
	back = ssotest.Location(resp)
	code, body = f.post(bc, "", "/api/v1/auth/sso/session", nil)
	return back, code, body
}

type ssoLogin struct {
	Token string
	User  struct{ ID, Email, Name string }
	Orgs  []struct{ OrgID, Role string }
}

// TestSSOSignInJustInTime: a new user signs in through the provider, gets an
// account, joins the issuer's organization as a viewer, lands in the group
// its "groups" claim maps to and can do what the group's policy allows
// (toggle in dev) and no more (not in prod).
func TestSSOSignInJustInTime(t *testing.T) {
	f := newSSO(t)
	back, code, body := f.signIn(f.browser(), "alice", "")
	if back != "/sso" || code != 200 {
		t.Fatalf("back to %q, session %d %s", back, code, body)
	}
	var lr ssoLogin
	if err := json.Unmarshal(body, &lr); err != nil {
		t.Fatal(err)
	}
	if lr.User.Email != "alice@corp.example" || lr.User.Name != "Alice" || len(lr.Orgs) != 1 || lr.Orgs[0].OrgID != f.org || lr.Orgs[0].Role != "viewer" {
		t.Fatalf("signed in as %+v", lr)
	}
	if c := f.toggle(lr.Token, f.dev); c != 200 {
		t.Fatalf("toggle in dev through the mapped group: %d", c)
	}
	if c := f.toggle(lr.Token, f.prod); c != 403 {
		t.Fatalf("toggle in prod: %d, want 403", c)
	}
	// The same subject again is the same account; carol (no mapped value) is
	// in no group.
	_, code, body = f.signIn(f.browser(), "alice", "")
	var again ssoLogin
	_ = json.Unmarshal(body, &again)
	if code != 200 || again.User.ID != lr.User.ID {
		t.Fatalf("second sign-in: %d %s", code, body)
	}
	_, code, body = f.signIn(f.browser(), "carol", "")
	var carol ssoLogin
	_ = json.Unmarshal(body, &carol)
	if code != 200 || f.toggle(carol.Token, f.dev) != 403 {
		t.Fatalf("carol: %d %s", code, body)
	}
	// The audit log tells who joined how.
	r := f.must(200, f.admin, "GET", "/api/v1/orgs/"+f.org+"/audit?type=member", nil)
	if !strings.Contains(string(r.Body), "joined through single sign-on with Corp") {
		t.Fatalf("audit: %s", r.Body)
	}
	if strings.Contains(string(f.must(200, f.admin, "GET", "/api/v1/orgs/"+f.org+"/audit", nil).Body), ssoClientSecret) {
		t.Fatal("the client secret is in the audit log")
	}
}

// TestSecuritySSOUnverifiedEmailRefused: an issuer that does not say
// email_verified=true gets no account for the address it claims.
func TestSecuritySSOUnverifiedEmailRefused(t *testing.T) {
	f := newSSO(t)
	back, code, body := f.signIn(f.browser(), "mallory", "")
	if !strings.Contains(back, "email_verified") || code != 401 || !strings.Contains(string(body), "email_verified") {
		t.Fatalf("back to %q, session %d %s", back, code, body)
	}
	if c := f.s.st; c != nil {
		if _, err := c.GetUserByEmail(t.Context(), "ceo@corp.example"); err == nil {
			t.Fatal("an account was created for an unverified email")
		}
	}
}

// TestSecuritySSOExistingAccountNotLinkedSilently: the issuer vouches for
// the email of an existing password account; the sign-in is refused (no
// session for that account) until the account's owner, signed in with the
// password, links the identity; from then on SSO signs in to that account.
func TestSecuritySSOExistingAccountNotLinkedSilently(t *testing.T) {
	f := newSSO(t)
	ann := f.addMember(f.org, "ann@example.com", "ann-password", "editor")
	_, code, body := f.signIn(f.browser(), "ann", "")
	if code != 401 || !strings.Contains(string(body), "sign in with its password and link") {
		t.Fatalf("session %d %s", code, body)
	}
	_, code, body = f.signIn(f.browser(), "ann", ann) // linking, with the password session
	var lr ssoLogin
	_ = json.Unmarshal(body, &lr)
	if code != 200 || lr.User.ID != f.userID("ann@example.com") || lr.Orgs[0].Role != "editor" {
		t.Fatalf("link: %d %s", code, body)
	}
	_, code, body = f.signIn(f.browser(), "ann", "")
	_ = json.Unmarshal(body, &lr)
	if code != 200 || lr.User.ID != f.userID("ann@example.com") {
		t.Fatalf("sign-in after linking: %d %s", code, body)
	}
}

// TestSecuritySSOFlowIsOneTime: the session of a finished sign-in is handed
// out once; a callback without the flow cookie, or with a wrong state, gets
// nothing.
func TestSecuritySSOFlowIsOneTime(t *testing.T) {
	f := newSSO(t)
	bc := f.browser()
	_, code, _ := f.signIn(bc, "alice", "")
	if code != 200 {
		t.Fatalf("sign-in: %d", code)
	}
	if c, b := f.post(bc, "", "/api/v1/auth/sso/session", nil); c != 401 {
		t.Fatalf("second collection: %d %s", c, b)
	}
	// Another browser (no cookie) replaying a callback URL.
	resp, err := f.browser().Get(f.base + "/api/v1/auth/sso/callback?code=x&state=y")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if l := ssotest.Location(resp); !strings.Contains(l, "error=") {
		t.Fatalf("callback without a flow: %q", l)
	}
	// A started flow answered with the wrong state fails and stays failed.
	bc = f.browser()
	if c, b := f.post(bc, "", "/api/v1/auth/sso/start", map[string]any{"issuerId": f.issuerID}); c != 200 {
		t.Fatalf("start: %d %s", c, b)
	}
	resp, err = bc.Get(f.base + "/api/v1/auth/sso/callback?code=x&state=forged")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if l := ssotest.Location(resp); !strings.Contains(l, "state") {
		t.Fatalf("forged state: %q", l)
	}
	if c, b := f.post(bc, "", "/api/v1/auth/sso/session", nil); c != 401 {
		t.Fatalf("session after a forged state: %d %s", c, b)
	}
}

// TestSecuritySSOForbidPassword: with forbidPassword, a member's password
// session is refused in the organization (403) while the SSO session of
// the same member works; only an owner's password session may turn the rule
// off again (the way back when the issuer is down).
func TestSecuritySSOForbidPassword(t *testing.T) {
	f := newSSO(t)
	orgURL := "/api/v1/orgs/" + f.org + "/sso/settings"
	ann := f.addMember(f.org, "ann@example.com", "ann-password", "editor")
	// An admin signed in with a password cannot turn it on (it would not
	// know SSO works); after linking and signing in through the issuer it can.
	r := f.do(f.admin, "PUT", orgURL, map[string]any{"forbidPassword": true, "version": 0})
	if code, field := r.errField(t); r.Code != 400 || code != "invalid" || field != "forbidPassword" {
		t.Fatalf("password admin: %d %s", r.Code, r.Body)
	}
	_, code, body := f.signIn(f.browser(), "admin", f.admin)
	var adm ssoLogin
	_ = json.Unmarshal(body, &adm)
	if code != 200 {
		t.Fatalf("admin link: %d %s", code, body)
	}
	f.must(200, adm.Token, "PUT", orgURL, map[string]any{"forbidPassword": true, "version": 0})

	if r := f.do(ann, "GET", f.flagsURL(f.dev), nil); r.Code != 403 || !strings.Contains(string(r.Body), "single sign-on") {
		t.Fatalf("password session in an SSO-only org: %d %s", r.Code, r.Body)
	}
	if r := f.do(f.admin, "GET", f.flagsURL(f.dev), nil); r.Code != 403 {
		t.Fatalf("the owner's password session: %d", r.Code)
	}
	if r := f.do(adm.Token, "GET", f.flagsURL(f.dev), nil); r.Code != 200 {
		t.Fatalf("SSO session: %d %s", r.Code, r.Body)
	}
	_, code, body = f.signIn(f.browser(), "ann", ann) // link, then act through SSO
	var as ssoLogin
	_ = json.Unmarshal(body, &as)
	if code != 200 || f.do(as.Token, "GET", f.flagsURL(f.dev), nil).Code != 200 {
		t.Fatalf("ann through SSO: %d %s", code, body)
	}
	// An editor's password session cannot turn it off; the owner's can.
	if r := f.do(ann, "PUT", orgURL, map[string]any{"forbidPassword": false, "version": 1}); r.Code != 403 {
		t.Fatalf("editor turning it off: %d", r.Code)
	}
	f.must(200, f.admin, "PUT", orgURL, map[string]any{"forbidPassword": false, "version": 1})
	f.must(200, ann, "GET", f.flagsURL(f.dev), nil)
}
