// Package openapi builds an OpenAPI 3.0 document from a list of operations
// whose request and response bodies are Go values: their JSON shape is
// derived by reflection from the json struct tags, so the document cannot
// drift from the types the handlers decode and encode. Build is pure and
// safe for concurrent use.
//
// Response bodies describe what the server writes: every named struct type
// becomes one schema under components/schemas (referenced with $ref), and a
// field without omitempty/omitzero is required (encoding/json always writes
// it). Request bodies describe what the server accepts: they are inline
// object schemas whose required list is the operation's Required fields
// (the fields the handler refuses a write without), nothing else.
package openapi

import (
	"encoding"
	"encoding/json"
	"reflect"
	"regexp"
	"slices"
	"sort"
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
	// Required lists the top-level request body fields (JSON names) the
	// operation refuses a request without, e.g. "version" on updates.
	Required []string
}

// Info is the document's info object.
type Info struct {
	Title, Version, Description string
}

var paramRE = regexp.MustCompile(`\{([A-Za-z0-9_]+)\}`)

// Build returns the document (marshal it with encoding/json).
func Build(info Info, ops []Op) map[string]any {
	c := newComponents()
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
			s := InputSchema(reflect.TypeOf(op.Body))
			if len(op.Required) > 0 {
				s["required"] = slicesSorted(op.Required)
			}
			o["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				"application/json": map[string]any{"schema": s}}}
		}
		status := op.Status
		if status == 0 {
			status = 200
		}
		resps := map[string]any{}
		if op.Resp != nil {
			resps[strconv.Itoa(status)] = map[string]any{"description": "success", "content": map[string]any{
				"application/json": map[string]any{"schema": c.schema(reflect.TypeOf(op.Resp))}}}
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
	schemas := c.finish()
	schemas["Error"] = map[string]any{"type": "object", "required": []string{"error"}, "properties": map[string]any{
		"error": map[string]any{"type": "object", "required": []string{"code", "message"}, "properties": map[string]any{
			"code":    map[string]any{"type": "string"},
			"field":   map[string]any{"type": "string"},
			"message": map[string]any{"type": "string"},
		}}}}
	return map[string]any{
		"openapi":  "3.0.3",
		"info":     map[string]any{"title": info.Title, "version": info.Version, "description": info.Description},
		"paths":    paths,
		"security": []any{map[string]any{"bearerAuth": []any{}}},
		"components": map[string]any{
			"securitySchemes": map[string]any{"bearerAuth": map[string]any{"type": "http", "scheme": "bearer"}},
			"schemas":         schemas,
		},
	}
}

func slicesSorted(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return slices.Compact(out)
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

var (
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
)

// InputSchema returns the JSON schema of a request body of Go type t as
// encoding/json decodes it: inline (no $ref), no field required (Build adds
// the operation's Required list). A recursive type is described once; its
// inner occurrences are plain objects.
func InputSchema(t reflect.Type) map[string]any { return walk(t, nil, map[reflect.Type]bool{}) }

// components collects the named struct types of response bodies.
type components struct {
	types map[reflect.Type]map[string]any // schema of each named struct type
	refs  map[reflect.Type][]map[string]any
}

func newComponents() *components {
	return &components{types: map[reflect.Type]map[string]any{}, refs: map[reflect.Type][]map[string]any{}}
}

// schema returns the output schema of t, with named struct types as $refs
// (filled in by finish once every name is known).
func (c *components) schema(t reflect.Type) map[string]any { return walk(t, c, nil) }

// finish names the collected types and returns components/schemas. A
// type's name is its Go name (a generic's type arguments appended with
// "_"). When types of several packages share a name, the one with the
// shortest import path keeps it (codec's wire types before control's
// internal ones, so a new type elsewhere does not rename them) and the
// others get their package name in front.
func (c *components) finish() map[string]any {
	byName := map[string][]reflect.Type{}
	for t := range c.types {
		byName[shortName(t)] = append(byName[shortName(t)], t)
	}
	out := map[string]any{}
	for n, ts := range byName {
		sort.Slice(ts, func(i, j int) bool {
			a, b := ts[i].PkgPath(), ts[j].PkgPath()
			if len(a) != len(b) {
				return len(a) < len(b)
			}
			return a < b
		})
		for i, t := range ts {
			name := n
			if i > 0 {
				name = sanitize(pkgName(t.PkgPath())) + "_" + n
			}
			out[name] = c.types[t]
			for _, r := range c.refs[t] {
				r["$ref"] = "#/components/schemas/" + name
			}
		}
	}
	return out
}

var nonIdent = regexp.MustCompile(`[^A-Za-z0-9_]+`)

func sanitize(s string) string { return strings.Trim(nonIdent.ReplaceAllString(s, "_"), "_") }

func pkgName(path string) string { return path[strings.LastIndex(path, "/")+1:] }

// shortName is t's name without package paths: List[github.com/x/codec.Flag]
// becomes List_Flag.
func shortName(t reflect.Type) string {
	n := t.Name()
	base, args, ok := strings.Cut(n, "[")
	if !ok {
		return sanitize(n)
	}
	parts := []string{base}
	for _, a := range strings.Split(strings.TrimSuffix(args, "]"), ",") {
		a = a[strings.LastIndex(a, "/")+1:]
		if i := strings.LastIndex(a, "."); i >= 0 {
			a = a[i+1:]
		}
		parts = append(parts, sanitize(a))
	}
	return strings.Join(parts, "_")
}

func isNamedStruct(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && t.Name() != "" && t.PkgPath() != ""
}

// walk describes t. With c (output mode) named struct types become $refs
// into c and fields without omitempty are required; without c (input mode)
// everything is inline and nothing is required (open guards recursion).
func walk(t reflect.Type, c *components, open map[reflect.Type]bool) map[string]any {
	if t.Kind() != reflect.Pointer && (t.Implements(textMarshaler) || reflect.PointerTo(t).Implements(textMarshaler)) {
		return map[string]any{"type": "string"}
	}
	if t.Kind() != reflect.Pointer && (t.Implements(jsonMarshaler) || reflect.PointerTo(t).Implements(jsonMarshaler)) {
		return map[string]any{} // its own JSON (json.RawMessage): any value
	}
	switch t.Kind() {
	case reflect.Pointer:
		return walk(t.Elem(), c, open)
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
		return map[string]any{"type": "array", "items": walk(t.Elem(), c, open)}
	case reflect.Array:
		return map[string]any{"type": "array", "items": walk(t.Elem(), c, open), "minItems": t.Len(), "maxItems": t.Len()}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": walk(t.Elem(), c, open)}
	case reflect.Struct:
		if c != nil && isNamedStruct(t) {
			ref := map[string]any{}
			c.refs[t] = append(c.refs[t], ref)
			if _, ok := c.types[t]; !ok {
				c.types[t] = map[string]any{} // placeholder: recursion ends here
				c.types[t] = structSchema(t, c, open)
			}
			return ref
		}
		if c == nil {
			if open[t] {
				return map[string]any{"type": "object", "description": "recursive " + t.Name()}
			}
			open[t] = true
			defer delete(open, t)
		}
		return structSchema(t, c, open)
	}
	return map[string]any{}
}

func structSchema(t reflect.Type, c *components, open map[reflect.Type]bool) map[string]any {
	props := map[string]any{}
	var req []string
	addFields(t, props, &req, c, open)
	s := map[string]any{"type": "object", "properties": props}
	if c != nil && len(req) > 0 {
		sort.Strings(req)
		s["required"] = slices.Compact(req)
	}
	return s
}

func addFields(t reflect.Type, props map[string]any, req *[]string, c *components, open map[reflect.Type]bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" && opts == "" {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				addFields(ft, props, req, c, open)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		p := walk(f.Type, c, open)
		omit := false
		for _, o := range strings.Split(opts, ",") {
			if o == "omitempty" || o == "omitzero" {
				omit = true
			}
		}
		if c != nil && !omit {
			*req = append(*req, name)
			if f.Type.Kind() == reflect.Pointer { // always written, null when nil
				if _, ref := p["$ref"]; ref {
					p = map[string]any{"allOf": []any{p}}
				}
				p["nullable"] = true
			}
		}
		props[name] = p
	}
}
