package api

// requiredBody lists, per operation ("METHOD path"), the request body
// fields the handler refuses a request without, so the OpenAPI document
// marks them required (and the UI's generated types demand them). Today
// that is the version of every update: the handlers call requireVersion,
// which answers 400 "version: required" for a missing or zero version.
// TestOpenAPIRequiredFields (control) checks that every entry is an
// operation whose body has the field, that a write to each kind of item
// without it is refused, and that every other write carrying a version
// field is listed in its known-optional table.
var requiredBody = map[string][]string{
	"PUT " + Prefix + "/orgs/{orgId}":                              {"version"},
	"PUT " + Prefix + "/projects/{projectId}":                      {"version"},
	"PUT " + Prefix + "/envs/{envId}/flags/{key}":                  {"version"},
	"POST " + Prefix + "/envs/{envId}/flags/{key}/toggle":          {"version"},
	"POST " + Prefix + "/envs/{envId}/flags/{key}/archive":         {"version"},
	"POST " + Prefix + "/envs/{envId}/flags/{key}/restore":         {"version"},
	"POST " + Prefix + "/envs/{envId}/flags/{key}/restore-version": {"version"},
	"PUT " + Prefix + "/envs/{envId}/segments/{id}":                {"version"},
	"POST " + Prefix + "/envs/{envId}/segments/{id}/archive":       {"version"},
	"POST " + Prefix + "/envs/{envId}/segments/{id}/restore":       {"version"},
	"PUT " + Prefix + "/envs/{envId}/metrics/{id}":                 {"version"},
	"POST " + Prefix + "/envs/{envId}/experiments/{id}/start":      {"version"},
	"POST " + Prefix + "/envs/{envId}/experiments/{id}/stop":       {"version"},
	"PUT " + Prefix + "/envs/{envId}/triggers/{id}":                {"version"},
	"PUT " + Prefix + "/orgs/{orgId}/groups/{id}":                  {"version"},
	"PUT " + Prefix + "/orgs/{orgId}/policies/{id}":                {"version"},
	"PUT " + Prefix + "/orgs/{orgId}/sso/issuers/{id}":             {"version"},
	"PUT " + Prefix + "/orgs/{orgId}/webhooks/{id}":                {"version"},
}
