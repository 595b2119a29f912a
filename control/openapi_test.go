package control

import (
	"encoding/json"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/control/internal/api"
)

// TestOpenAPIInStepWithRoutes walks the registered routes and the served
// document: every route is documented with its method, every documented
// operation is routed by the mux to exactly its pattern, and every path
// parameter is declared.
func TestOpenAPIInStepWithRoutes(t *testing.T) {
	h := newHarness(t)
	var doc struct {
		OpenAPI string `json:"openapi"`
		Paths   map[string]map[string]struct {
			Parameters []struct{ Name, In string }
		}
	}
	h.must(200, "", "GET", api.OpenAPIPath, nil).decode(t, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	documented := map[string]bool{}
	param := regexp.MustCompile(`\{([A-Za-z0-9_]+)\}`)
	for path, ops := range doc.Paths {
		for method, op := range ops {
			key := strings.ToUpper(method) + " " + path
			documented[key] = true
			// The mux must route a concrete request to this very pattern.
			concrete := param.ReplaceAllString(path, "x1")
			_, pattern := h.s.mux.Handler(httptest.NewRequest(strings.ToUpper(method), concrete, nil))
			if pattern != key {
				t.Errorf("documented %s is routed to %q", key, pattern)
			}
			declared := map[string]bool{}
			for _, p := range op.Parameters {
				if p.In == "path" {
					declared[p.Name] = true
				}
			}
			for _, m := range param.FindAllStringSubmatch(path, -1) {
				if !declared[m[1]] {
					t.Errorf("%s: path parameter %s not declared", key, m[1])
				}
			}
		}
	}
	var registered []string
	for _, rt := range h.s.api.Routes() {
		key := rt.Method + " " + rt.Path
		registered = append(registered, key)
		if !documented[key] {
			t.Errorf("route %s is not in the OpenAPI document", key)
		}
		delete(documented, key)
	}
	for key := range documented {
		t.Errorf("OpenAPI documents %s, which is not a route", key)
	}
	sort.Strings(registered)
	for i := 1; i < len(registered); i++ {
		if registered[i] == registered[i-1] {
			t.Errorf("route %s registered twice", registered[i])
		}
	}
	if len(registered) < 50 {
		t.Fatalf("only %d routes", len(registered))
	}
	// The document is valid JSON with the error schema.
	var raw map[string]any
	if err := json.Unmarshal(h.do("", "GET", api.OpenAPIPath, nil).Body, &raw); err != nil {
		t.Fatal(err)
	}
}
