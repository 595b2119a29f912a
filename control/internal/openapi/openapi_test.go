package openapi

import (
	"reflect"
	"testing"
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
}

func TestSchema(t *testing.T) {
	s := Schema(reflect.TypeOf(sample{}))
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
}

func TestBuild(t *testing.T) {
	doc := Build(Info{Title: "t", Version: "1"}, []Op{
		{Method: "GET", Path: "/a/{id}", Resp: sample{}, Query: []string{"q"}},
		{Method: "POST", Path: "/a/{id}", Body: inner{}, Public: true},
	})
	item := doc["paths"].(map[string]any)["/a/{id}"].(map[string]any)
	get := item["get"].(map[string]any)
	if len(get["parameters"].([]any)) != 2 || get["operationId"] != "getAId" {
		t.Fatalf("get: %v", get)
	}
	post := item["post"].(map[string]any)
	if _, ok := post["responses"].(map[string]any)["204"]; !ok || len(post["security"].([]any)) != 0 {
		t.Fatalf("post: %v", post)
	}
}

type node struct {
	Kids []node `json:"kids"`
	Kind kind   `json:"kind"`
}

type kind uint8

func (k kind) MarshalText() ([]byte, error) { return []byte("k"), nil }

func TestRecursiveAndText(t *testing.T) {
	s := Schema(reflect.TypeOf(node{}))
	props := s["properties"].(map[string]any)
	if props["kind"].(map[string]any)["type"] != "string" {
		t.Fatalf("text marshaler: %v", props["kind"])
	}
	inner := props["kids"].(map[string]any)["items"].(map[string]any)
	if _, ok := inner["properties"]; ok {
		t.Fatalf("recursion expanded: %v", inner)
	}
}
