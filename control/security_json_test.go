package control

import (
	"strings"
	"testing"
)

// TestSecurityDuplicateKeysAndNULNamesRefused: bodies that encoding/json
// would read one way and a proxy, audit tool or the comment hook another
// are refused with 400 naming the field, and nothing is written.
func TestSecurityDuplicateKeysAndNULNamesRefused(t *testing.T) {
	h := newHarness(t)
	env := h.env("dev")
	for _, tc := range []struct{ body, field string }{
		{`{"key":"innocent","name":"x","variationType":"boolean","key":"evil"}`, "key"},
		{`{"key":"dup-comment","name":"x","variationType":"boolean","comment":"approved by alice","comment":"nobody"}`, "comment"},
		{`{"key":"nul-name","name":"x","variationType":"boolean","ke\u0000y":"evil"}`, `ke\u0000y`},
		{`{"key":"deep","name":"x","variationType":"boolean","tags":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, "tags" + strings.Repeat("[0]", 63)},
	} {
		r := h.do(h.admin, "POST", h.flagsURL(env), tc.body)
		if code, field := r.errField(t); r.Code != 400 || code != "invalid" || field != tc.field {
			t.Errorf("%.70s: %d %s (want field %q)", tc.body, r.Code, r.Body, tc.field)
		}
	}
	for _, key := range []string{"innocent", "evil", "dup-comment", "nul-name", "deep"} {
		if r := h.do(h.admin, "GET", h.flagsURL(env)+"/"+key, nil); r.Code != 404 {
			t.Errorf("flag %s was written: %d", key, r.Code)
		}
	}
}
