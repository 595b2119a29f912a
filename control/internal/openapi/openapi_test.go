package openapi

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	"github.com/switchyard/switchyard/control/internal/openapi/internal/other"
)

type inner struct {
	A string `json:"a"`
}

type sample struct {
	inner
	N      int64      `json:"n"`
	R      [2]float64 `json:"r"`
	Hidden string     `json:"-"`
	P      *inner     `json:"p,omitempty"`
	L      []inner    `json:"l"`
	B      []byte     `json:"b"`
	Opt    string     `json:"opt,omitempty"`
	Ptr    *int       `json:"ptr"`
}

func TestInputSchema(t *testing.T) {
	s := InputSchema(reflect.TypeOf(sample{}))
	props := s["properties"].(map[string]any)
	for _, k := range []string{"a", "n", "r", "p", "l", "b"} {
		if _, ok := props[k]; !ok {
			t.Fatalf("missing %s in %v", k, props)
		}
	}
	if _, ok := props["Hidden"]; ok {
		t.Fatal("json:\"-\" field documented")
	}
	if props["n"].(map[string]any)["type"] != "integer" || props["r"].(map[string]any)["maxItems"] != 2 {
		t.Fatalf("types: %v", props)
	}
	if _, ok := s["required"]; ok {
		t.Fatalf("a request body schema claims required fields of its own: %v", s["required"])
	}
	if _, ok := props["p"].(map[string]any)["$ref"]; ok {
		t.Fatalf("request body schemas are inline: %v", props["p"])
	}
}

type flagLike struct {
	Key     string `json:"key"`
	Version int64  `json:"version"`
}

type List[T any] struct {
	Items []T `json:"items"`
	Total int `json:"total"`
}

func TestBuild(t *testing.T) {
	doc := Build(Info{Title: "t", Version: "1"}, []Op{
		{Method: "GET", Path: "/a/{id}", Resp: sample{}, Query: []string{"q"}},
		{Method: "POST", Path: "/a/{id}", Body: inner{}, Public: true},
		{Method: "PUT", Path: "/f/{key}", Body: flagLike{}, Resp: flagLike{}, Required: []string{"version"}},
		{Method: "POST", Path: "/f", Body: flagLike{}, Resp: List[flagLike]{}, Status: 201},
	})
	// the document is JSON
	if _, err := json.Marshal(doc); err != nil {
		t.Fatal(err)
	}
	item := doc["paths"].(map[string]any)["/a/{id}"].(map[string]any)
	get := item["get"].(map[string]any)
	if len(get["parameters"].([]any)) != 2 || get["operationId"] != "getAId" {
		t.Fatalf("get: %v", get)
	}
	post := item["post"].(map[string]any)
	if _, ok := post["responses"].(map[string]any)["204"]; !ok || len(post["security"].([]any)) != 0 {
		t.Fatalf("post: %v", post)
	}

	body := func(method, path string) map[string]any {
		op := doc["paths"].(map[string]any)[path].(map[string]any)[method].(map[string]any)
		return op["requestBody"].(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)
	}
	// an update requires the version; a create does not
	if r, _ := body("put", "/f/{key}")["required"].([]string); !slices.Equal(r, []string{"version"}) {
		t.Fatalf("PUT body required %v, want [version]", r)
	}
	if r, ok := body("post", "/f")["required"]; ok {
		t.Fatalf("POST body required %v, want none", r)
	}

	// responses: named structs are components; fields without omitempty are required
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	resp := get["responses"].(map[string]any)["200"].(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)
	if resp["$ref"] != "#/components/schemas/sample" {
		t.Fatalf("response schema %v, want a $ref to sample", resp)
	}
	sm := schemas["sample"].(map[string]any)
	if r := sm["required"].([]string); !slices.Equal(r, []string{"a", "b", "l", "n", "ptr", "r"}) {
		t.Fatalf("sample required %v", r)
	}
	props := sm["properties"].(map[string]any)
	if props["p"].(map[string]any)["$ref"] != "#/components/schemas/inner" {
		t.Fatalf("nested named struct not a $ref: %v", props["p"])
	}
	if props["ptr"].(map[string]any)["nullable"] != true {
		t.Fatalf("a pointer written as null is not nullable: %v", props["ptr"])
	}
	if _, ok := schemas["List_flagLike"]; !ok {
		t.Fatalf("generic list not named List_flagLike: %v", keys(schemas))
	}
	if _, ok := schemas["Error"]; !ok {
		t.Fatal("no Error schema")
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

type node struct {
	Kids []node `json:"kids"`
	Kind kind   `json:"kind"`
}

type kind uint8

func (k kind) MarshalText() ([]byte, error) { return []byte("k"), nil }

func TestRecursiveAndText(t *testing.T) {
	s := InputSchema(reflect.TypeOf(node{}))
	props := s["properties"].(map[string]any)
	if props["kind"].(map[string]any)["type"] != "string" {
		t.Fatalf("text marshaler: %v", props["kind"])
	}
	inner := props["kids"].(map[string]any)["items"].(map[string]any)
	if _, ok := inner["properties"]; ok {
		t.Fatalf("recursion expanded: %v", inner)
	}
	// in responses the recursion is a $ref to itself
	doc := Build(Info{}, []Op{{Method: "GET", Path: "/n", Resp: node{}}})
	n := doc["components"].(map[string]any)["schemas"].(map[string]any)["node"].(map[string]any)
	items := n["properties"].(map[string]any)["kids"].(map[string]any)["items"].(map[string]any)
	if items["$ref"] != "#/components/schemas/node" {
		t.Fatalf("recursive response type: %v", items)
	}
}

type Inner struct {
	A string `json:"a"`
}

// TestComponentNameCollision: of two types of the same name from different
// packages, the one with the shorter import path keeps the name, the other
// gets its package name in front, deterministically.
func TestComponentNameCollision(t *testing.T) {
	type both struct {
		X Inner       `json:"x"`
		Y other.Inner `json:"y"`
	}
	for range 5 {
		doc := Build(Info{}, []Op{{Method: "GET", Path: "/b", Resp: both{}}})
		schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
		a, okA := schemas["Inner"].(map[string]any)
		b, okB := schemas["other_Inner"].(map[string]any)
		if !okA || !okB {
			t.Fatalf("schemas %v, want Inner and other_Inner", keys(schemas))
		}
		if _, ok := a["properties"].(map[string]any)["a"]; !ok {
			t.Fatalf("Inner is %v", a)
		}
		if _, ok := b["properties"].(map[string]any)["b"]; !ok {
			t.Fatalf("other_Inner is %v", b)
		}
	}
}

// TestRawJSON: a json.RawMessage field holds any JSON value, not base64.
func TestRawJSON(t *testing.T) {
	type withRaw struct {
		R json.RawMessage `json:"r"`
	}
	p := InputSchema(reflect.TypeOf(withRaw{}))["properties"].(map[string]any)["r"].(map[string]any)
	if len(p) != 0 {
		t.Fatalf("raw JSON schema %v, want {} (any)", p)
	}
}
