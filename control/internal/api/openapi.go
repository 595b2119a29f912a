package api

import "github.com/switchyard/switchyard/control/internal/openapi"

// OpenAPIPath is where the document is served.
const OpenAPIPath = "/api/openapi.json"

// OpenAPI returns the OpenAPI 3 document of the route table. A request
// body's required fields are the ones its handler refuses a write without
// (requiredBody).
func (a *API) OpenAPI() map[string]any {
	ops := make([]openapi.Op, len(a.routes))
	for i, rt := range a.routes {
		sum := rt.Summary
		if rt.Action != "" {
			sum += " (action: " + rt.Action + ")"
		}
		ops[i] = openapi.Op{Method: rt.Method, Path: rt.Path, Summary: sum, Tag: rt.Tag,
			Public: rt.Scope == Public, Status: rt.Status, Body: rt.Body, Resp: rt.Resp, Query: rt.Query,
			Required: requiredBody[rt.Method+" "+rt.Path]}
	}
	return openapi.Build(openapi.Info{Title: "Switchyard control API", Version: "1",
		Description: "Feature flags, segments, environments and access control. Errors: " +
			`{"error":{"code","field","message"}}; stale versions get 409.`}, ops)
}

// Document returns the OpenAPI document without a running server (the
// route table does not depend on the store): the UI's API types are
// generated from it (control/ui/internal/apidoc).
func Document() map[string]any { return New(nil, nil, nil, Config{}).OpenAPI() }
