//go:build integration

package ui_test

import (
	"testing"

	"github.com/switchyard/switchyard/control/internal/sso/ssotest"
)

// seedSSO starts the local OpenID provider (ops/oidc-provider) and, as the
// admin (password), configures it as an issuer of the demo organization
// whose "groups" claim value "eng" maps to a group allowed to toggle flags
// in dev, and adds the flag sso-e2e-switch to every environment; it returns
// the environment of the browser script's SSO step.
func seedSSO(t *testing.T, p *platform, uiURL string) []string {
	t.Helper()
	issuer := ssotest.Start(t, ssotest.Config{
		Clients: []ssotest.Client{{ID: "switchyard-e2e", Secret: "e2e-client-secret-1234", RedirectURIs: []string{uiURL + "/api/v1/auth/sso/callback"}}},
		Accounts: map[string]ssotest.Account{
			"sso-dev": {"email": "sso-dev@corp.example", "email_verified": true, "name": "Dana Developer", "groups": []string{"eng"}},
		},
	})
	base := "http://" + p.ctlAddr
	var login struct {
		Token string `json:"token"`
	}
	apiCall(t, base, "", "POST", "/api/v1/auth/login", map[string]string{"email": "admin@switchyard.local", "password": p.adminPassword}, &login)
	tok := "Bearer " + login.Token
	var orgs struct{ Items []idItem }
	apiCall(t, base, tok, "GET", "/api/v1/orgs", nil, &orgs)
	org := orgs.Items[0].ID
	var g, pol, iss idItem
	apiCall(t, base, tok, "POST", "/api/v1/orgs/"+org+"/groups", map[string]any{"name": "sso-engineering"}, &g)
	apiCall(t, base, tok, "POST", "/api/v1/orgs/"+org+"/policies", map[string]any{"name": "engineering toggles dev", "principals": []string{"group:" + g.ID},
		"statements": []map[string]any{{"effect": "allow", "actions": []string{"flag:toggle"}, "resources": []string{"project/*/env/dev"}}}}, &pol)
	apiCall(t, base, tok, "POST", "/api/v1/orgs/"+org+"/sso/issuers", map[string]any{"name": "Corp ID", "issuerUrl": issuer, "clientId": "switchyard-e2e",
		"clientSecret": "e2e-client-secret-1234", "scopes": []string{"email", "profile", "groups"}, "groupClaim": "groups",
		"groupMap": map[string]string{"eng": g.ID}}, &iss)
	var projects, envs struct{ Items []idItem }
	apiCall(t, base, tok, "GET", "/api/v1/orgs/"+org+"/projects", nil, &projects)
	apiCall(t, base, tok, "GET", "/api/v1/projects/"+projects.Items[0].ID+"/envs", nil, &envs)
	ids := map[string]string{}
	for _, e := range envs.Items {
		ids[e.Key] = e.ID
		var f idItem
		apiCall(t, base, tok, "POST", "/api/v1/envs/"+e.ID+"/flags", map[string]any{"key": "sso-e2e-switch", "name": "SSO e2e switch", "variationType": "boolean"}, &f)
	}
	if ids["dev"] == "" || ids["prod"] == "" {
		t.Fatalf("the demo project has no dev and prod environments: %+v", envs.Items)
	}
	return []string{"SY_SSO_ORG=" + org, "SY_SSO_ISSUER=" + issuer, "SY_SSO_LOGIN=sso-dev", "SY_SSO_DEV_ENV=" + ids["dev"], "SY_SSO_PROD_ENV=" + ids["prod"]}
}
