package control

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fakeDiscovery serves a discovery document (enough to start a sign-in).
func fakeDiscovery(t *testing.T) string {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"issuer":"` + srv.URL + `","authorization_endpoint":"` + srv.URL + `/auth","token_endpoint":"` + srv.URL +
			`/token","jwks_uri":"` + srv.URL + `/jwks","id_token_signing_alg_values_supported":["RS256"]}`))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func issuerBody(url string) map[string]any {
	return map[string]any{"name": "Corp", "issuerUrl": url, "clientId": "c", "clientSecret": "top-secret-client-secret"}
}

// TestSecuritySSOIssuerValidation: issuer settings are bounded and an
// issuer on an internal address is refused unless -sso-allow permits it
// (the same egress rule as webhooks); only admins configure issuers.
func TestSecuritySSOIssuerValidation(t *testing.T) {
	h := newHarness(t)
	org := "/api/v1/orgs/" + h.info.OrgID + "/sso/issuers"
	for _, c := range []struct {
		mut   func(map[string]any)
		field string
	}{
		{func(b map[string]any) { b["issuerUrl"] = "http://127.0.0.1:9000" }, "issuerUrl"},
		{func(b map[string]any) { b["issuerUrl"] = "http://169.254.169.254/latest" }, "issuerUrl"},
		{func(b map[string]any) { b["issuerUrl"] = "http://id.example.com" }, "issuerUrl"}, // https only
		{func(b map[string]any) { b["issuerUrl"] = "https://id.example.com/?x=1" }, "issuerUrl"},
		{func(b map[string]any) { b["issuerUrl"] = "https://u:p@id.example.com" }, "issuerUrl"},
		{func(b map[string]any) { b["name"] = "" }, "name"},
		{func(b map[string]any) { b["clientId"] = strings.Repeat("c", 201) }, "clientId"},
		{func(b map[string]any) { b["role"] = "admin" }, "role"},
		{func(b map[string]any) { b["scopes"] = []string{"openid"} }, "scopes[0]"},
		{func(b map[string]any) { b["scopes"] = []string{"a b"} }, "scopes[0]"},
		{func(b map[string]any) { b["groupMap"] = map[string]string{"eng": "g"} }, "groupClaim"},
		{func(b map[string]any) {
			b["groupClaim"] = "groups"
			b["groupMap"] = map[string]string{"eng": "no-such-group"}
		}, "groupMap.eng"},
	} {
		b := issuerBody("https://id.example.com")
		c.mut(b)
		r := h.do(h.admin, "POST", org, b)
		if _, f := r.errField(t); r.Code != 400 || f != c.field {
			t.Errorf("%v: %d %s, want 400 naming %s", b, r.Code, r.Body, c.field)
		}
	}
	ed := h.addMember(h.info.OrgID, "ed@example.com", "ed-password", "editor")
	h.must(403, ed, "POST", org, issuerBody("https://id.example.com"))
	r := h.must(201, h.admin, "POST", org, issuerBody("https://id.example.com"))
	if strings.Contains(string(r.Body), "top-secret") || !strings.Contains(string(r.Body), `"hasSecret":true`) {
		t.Fatalf("create answered %s", r.Body)
	}
	if r := h.must(200, ed, "GET", org, nil); strings.Contains(string(r.Body), "top-secret") {
		t.Fatalf("list shows the secret: %s", r.Body)
	}
	if r := h.must(200, h.admin, "GET", "/api/v1/orgs/"+h.info.OrgID+"/audit", nil); strings.Contains(string(r.Body), "top-secret") {
		t.Fatalf("audit shows the secret: %s", r.Body)
	}
}

// TestSecuritySSOFlowCookie: starting a sign-in sets a short-lived,
// HttpOnly, SameSite=Lax cookie scoped to the SSO routes and sends the
// browser to the issuer with PKCE (S256), a state and a nonce; without
// -public-url SSO is off.
func TestSecuritySSOFlowCookie(t *testing.T) {
	iss := fakeDiscovery(t)
	h := newHarnessWith(t, func(c *Config) { c.PublicURL = "https://flags.example.com"; c.SSOAllow = loopback })
	var v struct{ ID string }
	h.must(201, h.admin, "POST", "/api/v1/orgs/"+h.info.OrgID+"/sso/issuers", issuerBody(iss)).decode(t, &v)
	r := h.must(200, "", "POST", "/api/v1/auth/sso/start", map[string]any{"issuerId": v.ID})
	var st struct{ URL string }
	r.decode(t, &st)
	for _, want := range []string{iss + "/auth?", "code_challenge_method=S256", "code_challenge=", "state=", "nonce=",
		"redirect_uri=https%3A%2F%2Fflags.example.com%2Fapi%2Fv1%2Fauth%2Fsso%2Fcallback"} {
		if !strings.Contains(st.URL, want) {
			t.Errorf("sign-in URL %s lacks %s", st.URL, want)
		}
	}
	ck := (&http.Response{Header: r.Header}).Cookies()
	if len(ck) != 1 || ck[0].Name != "sy_sso" || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteLaxMode || !ck[0].Secure ||
		ck[0].Path != "/api/v1/auth/sso" || ck[0].MaxAge <= 0 || ck[0].MaxAge > 600 {
		t.Fatalf("cookie %+v", ck)
	}
	if strings.Contains(st.URL, ck[0].Value) {
		t.Fatal("the cookie's value is in the URL")
	}
	h.must(401, "", "POST", "/api/v1/auth/sso/session", nil) // no cookie

	off := newHarness(t)
	off.must(201, off.admin, "POST", "/api/v1/orgs/"+off.info.OrgID+"/sso/issuers", issuerBody("https://id.example.com")).decode(t, &v)
	off.must(503, "", "POST", "/api/v1/auth/sso/start", map[string]any{"issuerId": v.ID})
}
