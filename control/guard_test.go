package control

import (
	"net/http"
	"testing"
)

func TestGuardedEnvHandler(t *testing.T) {
	hits := 0
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++; w.WriteHeader(200) })
	h := newHarness(t, WithGuardedEnvHandler("/api/analytics/", inner))
	env := h.env("dev")
	org := h.info.OrgID
	base := "/api/analytics/v1/envs/" + env + "/flags/f/variations"

	h.must(401, "", "GET", base, nil)
	h.must(401, "syt_garbage", "GET", base, nil)
	h.must(404, h.admin, "GET", "/api/analytics/v1/health", nil) // names no environment
	h.must(404, h.admin, "GET", "/api/analytics/v1/envs/no-such-env/flags/f/variations", nil)
	if hits != 0 {
		t.Fatalf("the guarded handler ran %d times for refused requests", hits)
	}
	h.must(200, h.admin, "GET", base, nil)
	h.must(200, h.admin, "POST", "/api/analytics/v1/envs/"+env+"/flags/f/experiment", nil)

	var tok struct{ Token string }
	h.must(201, h.admin, "POST", "/api/v1/orgs/"+org+"/tokens", map[string]string{"name": "ro", "role": "viewer"}).decode(t, &tok)
	h.must(200, tok.Token, "GET", base, nil)
	h.must(403, tok.Token, "DELETE", "/api/analytics/v1/envs/"+env+"/users/u1", nil)
	h.must(200, h.admin, "DELETE", "/api/analytics/v1/envs/"+env+"/users/u1", nil)

	// A token of another organization reads nothing here.
	var orgB, tokB struct{ ID, Token string }
	h.must(201, h.admin, "POST", "/api/v1/orgs", map[string]string{"name": "B"}).decode(t, &orgB)
	h.must(201, h.admin, "POST", "/api/v1/orgs/"+orgB.ID+"/tokens", map[string]string{"name": "b", "role": "owner"}).decode(t, &tokB)
	before := hits
	h.must(403, tokB.Token, "GET", base, nil)
	if hits != before {
		t.Fatal("another organization's token reached the guarded handler")
	}
}
