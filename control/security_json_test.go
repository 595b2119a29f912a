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

// TestSecurityRequestListsCapped: lists whose entries each cost a store
// read or write are capped: a webhook filtering on 5,000 environment ids
// and a copy of 5,000 flag keys are refused with 400 naming the list,
// before any lookup.
func TestSecurityRequestListsCapped(t *testing.T) {
	h := newHarness(t)
	many := make([]string, 5000)
	for i := range many {
		many[i] = "x"
	}
	r := h.do(h.admin, "POST", "/api/v1/orgs/"+h.info.OrgID+"/webhooks", map[string]any{"name": "x", "url": "https://hooks.example.com/", "events": []string{"*"}, "envIds": many})
	if code, field := r.errField(t); r.Code != 400 || code != "invalid" || field != "envIds" {
		t.Fatalf("webhook envIds: %d %s", r.Code, r.Body)
	}
	r = h.do(h.admin, "POST", "/api/v1/envs/"+h.env("dev")+"/copy-flags", map[string]any{"targetEnvId": h.env("prod"), "keys": many})
	if code, field := r.errField(t); r.Code != 400 || code != "invalid" || field != "keys" {
		t.Fatalf("copy-flags keys: %d %s", r.Code, r.Body)
	}
}
