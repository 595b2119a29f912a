package control

import (
	"slices"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/control/internal/api"
)

// versionOptional lists the writes whose body has a version field the
// handler does not insist on, with the reason. Every other update (not a
// create) carrying a version must be marked required in the document.
var versionOptional = map[string]string{
	"POST /api/v1/envs/{envId}/change-requests/{id}/apply":   "a review without a version skips the staleness check",
	"POST /api/v1/envs/{envId}/change-requests/{id}/approve": "a review without a version skips the staleness check",
	"POST /api/v1/envs/{envId}/change-requests/{id}/close":   "a review without a version skips the staleness check",
	"POST /api/v1/envs/{envId}/change-requests/{id}/rebase":  "a review without a version skips the staleness check",
	"POST /api/v1/envs/{envId}/change-requests/{id}/reject":  "a review without a version skips the staleness check",
	"PUT /api/v1/orgs/{orgId}/sso/settings":                  "the settings start at version 0: the first write sends none",
}

type docOp struct {
	RequestBody *struct {
		Content map[string]struct {
			Schema struct {
				Required   []string       `json:"required"`
				Properties map[string]any `json:"properties"`
			} `json:"schema"`
		} `json:"content"`
	} `json:"requestBody"`
	Responses map[string]any `json:"responses"`
}

// TestOpenAPIRequiredFields: the document marks the version of every
// update as required (the API refuses an update without one), and the API
// does refuse such writes, naming the field.
func TestOpenAPIRequiredFields(t *testing.T) {
	h := newHarness(t)
	var doc struct {
		Paths map[string]map[string]docOp `json:"paths"`
	}
	h.must(200, "", "GET", api.OpenAPIPath, nil).decode(t, &doc)
	marked := 0
	for path, ops := range doc.Paths {
		for method, op := range ops {
			if op.RequestBody == nil {
				continue
			}
			key := strings.ToUpper(method) + " " + path
			s := op.RequestBody.Content["application/json"].Schema
			req := slices.Contains(s.Required, "version")
			if req {
				marked++
			}
			if _, has := s.Properties["version"]; !has {
				if req {
					t.Errorf("%s: version required but not a body field", key)
				}
				continue
			}
			_, create := op.Responses["201"]
			why, optional := versionOptional[key]
			switch {
			case create && req:
				t.Errorf("%s creates an item, yet its version is marked required", key)
			case !create && optional && req:
				t.Errorf("%s: version marked required, but %s", key, why)
			case !create && !optional && !req:
				t.Errorf("%s: an update whose version is not marked required (add it to api.requiredBody, or to versionOptional with the reason)", key)
			}
		}
	}
	if marked < 15 {
		t.Fatalf("only %d operations mark version required", marked)
	}

	// The API refuses each kind of update without a version, naming it.
	env := h.env("dev")
	seg := h.segmentID(env, "Beta testers")
	var flag map[string]any
	h.must(200, h.admin, "GET", h.flagsURL(env)+"/welcome-banner", nil).decode(t, &flag)
	delete(flag, "version")
	var segment map[string]any
	h.must(200, h.admin, "GET", "/api/v1/envs/"+env+"/segments/"+seg, nil).decode(t, &segment)
	delete(segment, "version")
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"PUT", h.flagsURL(env) + "/welcome-banner", flag},
		{"POST", h.flagsURL(env) + "/welcome-banner/toggle", map[string]any{"isEnabled": true}},
		{"POST", h.flagsURL(env) + "/welcome-banner/archive", map[string]any{}},
		{"PUT", "/api/v1/envs/" + env + "/segments/" + seg, segment},
		{"POST", "/api/v1/envs/" + env + "/segments/" + seg + "/archive", map[string]any{}},
		{"PUT", "/api/v1/orgs/" + h.info.OrgID, map[string]any{"name": "Renamed", "key": "renamed"}},
		{"PUT", "/api/v1/projects/" + h.info.ProjectID, map[string]any{"name": "Renamed", "key": "renamed"}},
	} {
		r := h.do(h.admin, c.method, c.path, c.body)
		if code, field := r.errField(t); r.Code != 400 || field != "version" {
			t.Errorf("%s %s without version: %d %s field %q, want 400 naming version: %s", c.method, c.path, r.Code, code, field, r.Body)
		}
	}
}
