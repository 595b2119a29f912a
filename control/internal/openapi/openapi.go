// Package openapi builds an OpenAPI 3.0 document from a list of operations
// whose request and response bodies are Go values: their JSON shape is
// derived by reflection from the json struct tags, so the document cannot
// drift from the types the handlers decode and encode. Build is pure and
// safe for concurrent use.
package openapi

import (
	"encoding"
	"reflect"
	"regexp"
	"strconv"
	"strings"
)

// Op is one operation.
type Op struct {
	Method  string // GET, POST, ...
	Path    string // with {param} segments
	Summary string
	Tag     string
	Public  bool // no bearer token needed
	Status  int  // success status
	Body    any  // request body example value (nil: none)
	Resp    any  // response example value (nil: no content)
	Query   []string
}

// Info is the document's info object.
type Info struct {
	Title, Version, Description string
}

var paramRE = regexp.MustCompile(`\{([A-Za-z0-9_]+)\}`)

// Build returns the document (marshal it with encoding/json).
func Build(info Info, ops []Op) map[string]any {
	paths := map[string]any{}
	for _, op := range ops {
		item, _ := paths[op.Path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[op.Path] = item
		}
		o := map[string]any{
			"summary":     op.Summary,
			"operationId": operationID(op),
			"tags":        []string{op.Tag},
		}
		var params []any
		for _, m := range paramRE.FindAllStringSubmatch(op.Path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true,
				"schema": map[string]any{"type": "string"}})
		}
		for _, q := range op.Query {
			params = append(params, map[string]any{"name": q, "in": "query", "required": false,
				"schema": map[string]any{"type": "string"}})
		}
		if len(params) > 0 {
			o["parameters"] = params
		}
		if op.Body != nil {
			o["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				"application/json": map[string]any{"schema": Schema(reflect.TypeOf(op.Body))}}}
		}
		status := op.Status
		if status == 0 {
			status = 200
		}
		resps := map[string]any{}
		if op.Resp != nil {
			resps[strconv.Itoa(status)] = map[string]any{"description": "success", "content": map[string]any{
				"application/json": map[string]any{"schema": Schema(reflect.TypeOf(op.Resp))}}}
		} else {
			resps["204"] = map[string]any{"description": "success, no content"}
		}
		resps["default"] = map[string]any{"description": "error", "content": map[string]any{
			"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}}
		o["responses"] = resps
		if op.Public {
			o["security"] = []any{}
		}
		item[strings.ToLower(op.Method)] = o
	}
	return map[string]any{
		"openapi":  "3.0.3",
		"info":     map[string]any{"title": info.Title, "version": info.Version, "description": info.Description},
		"paths":    paths,
		"security": []any{map[string]any{"bearerAuth": []any{}}},
		"components": map[string]any{
			"securitySchemes": map[string]any{"bearerAuth": map[string]any{"type": "http", "scheme": "bearer"}},
			"schemas": map[string]any{"Error": map[string]any{"type": "object", "properties": map[string]any{
				"error": map[string]any{"type": "object", "properties": map[string]any{
					"code":    map[string]any{"type": "string"},
					"field":   map[string]any{"type": "string"},
					"message": map[string]any{"type": "string"},
				}}}}},
		},
	}
}

func operationID(op Op) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(op.Method))
	for _, seg := range strings.Split(op.Path, "/") {
		if seg == "" || seg == "api" || seg == "v1" {
			continue
		}
		seg = strings.Trim(seg, "{}")
		seg = strings.ReplaceAll(seg, "-", "")
		if seg != "" {
			b.WriteString(strings.ToUpper(seg[:1]) + seg[1:])
		}
	}
	return b.String()
}

var textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()

// Schema returns the JSON schema of a Go type as encoding/json encodes it.
// A recursive type is described once; its inner occurrences are plain
// objects.
func Schema(t reflect.Type) map[string]any { return schema(t, map[reflect.Type]bool{}) }

func schema(t reflect.Type, open map[reflect.Type]bool) map[string]any {
	if t.Kind() != reflect.Pointer && (t.Implements(textMarshaler) || reflect.PointerTo(t).Implements(textMarshaler)) {
		return map[string]any{"type": "string"}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return schema(t.Elem(), open)
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "format": "byte"}
		}
		return map[string]any{"type": "array", "items": schema(t.Elem(), open)}
	case reflect.Array:
		return map[string]any{"type": "array", "items": schema(t.Elem(), open), "minItems": t.Len(), "maxItems": t.Len()}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schema(t.Elem(), open)}
	case reflect.Struct:
		if open[t] {
			return map[string]any{"type": "object", "description": "recursive " + t.Name()}
		}
		open[t] = true
		defer delete(open, t)
		props := map[string]any{}
		addFields(t, props, open)
		return map[string]any{"type": "object", "properties": props}
	}
	return map[string]any{}
}

func addFields(t reflect.Type, props map[string]any, open map[reflect.Type]bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				addFields(ft, props, open)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = schema(f.Type, open)
	}
}
