package api

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/control/internal/store"
)

// maxJSONDepth bounds the nesting of request bodies (objects and arrays).
const maxJSONDepth = 64

// strictJSON refuses what encoding/json silently accepts but other parsers
// read differently: a key repeated in one object (encoding/json keeps the
// last, a proxy or audit tool in front may keep the first) and object names
// containing NUL (truncated by C-string consumers). It also bounds the
// nesting depth. The error is ErrInvalid naming the field by its JSON path.
// Syntax errors are left to the decoder, which reports them with offsets.
func strictJSON(b []byte) error {
	type frame struct {
		obj     bool
		wantKey bool
		path    string
		key     string
		idx     int
		keys    map[string]struct{}
	}
	var stack []frame
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	// after marks the end of a value in the innermost container.
	after := func() {
		if n := len(stack); n > 0 {
			if stack[n-1].obj {
				stack[n-1].wantKey = true
			} else {
				stack[n-1].idx++
			}
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // io.EOF, or a syntax error the decoder reports
		}
		n := len(stack)
		if n > 0 && stack[n-1].obj && stack[n-1].wantKey {
			top := &stack[n-1]
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:n-1]
				after()
				continue
			}
			k, _ := tok.(string)
			field := joinPath(top.path, k)
			if strings.IndexByte(k, 0) >= 0 {
				return store.Invalid(field, "object name %s contains a NUL character", strconv.Quote(k))
			}
			if _, dup := top.keys[k]; dup {
				return store.Invalid(field, "duplicate key %s", strconv.Quote(k))
			}
			top.keys[k] = struct{}{}
			top.key, top.wantKey = k, false
			continue
		}
		d, ok := tok.(json.Delim)
		if !ok {
			after()
			continue
		}
		switch d {
		case '{', '[':
			path := ""
			if n > 0 {
				if top := &stack[n-1]; top.obj {
					path = joinPath(top.path, top.key)
				} else {
					path = top.path + "[" + strconv.Itoa(top.idx) + "]"
				}
			}
			if n >= maxJSONDepth {
				return store.Invalid(path, "nested deeper than %d levels", maxJSONDepth)
			}
			f := frame{obj: d == '{', wantKey: d == '{', path: path}
			if f.obj {
				f.keys = map[string]struct{}{}
			}
			stack = append(stack, f)
		case '}', ']':
			if n > 0 {
				stack = stack[:n-1]
			}
			after()
		}
	}
}

// joinPath names a member of an object: "rules[0].name".
func joinPath(base, key string) string {
	key = strings.ReplaceAll(key, "\x00", `\u0000`)
	if base == "" {
		return key
	}
	return base + "." + key
}
