package control

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/codec"
)

// fuzzSeeds are valid and nearly valid flag bodies.
var fuzzSeeds = []string{
	`{"key":"a","variationType":"boolean"}`,
	`{"key":"b","variationType":"string","variations":[{"id":"x","value":"1"},{"id":"y","value":"2"}],"fallthrough":{"variations":[{"id":"x","rollout":[0,0.5]},{"id":"y","rollout":[0.5,1]}]}}`,
	`{"key":"c","variationType":"number","variations":[{"value":"1e308"}],"rules":[{"conditions":[{"property":"age","op":"BiggerThan","value":"18"}],"variations":[{"id":"zz","rollout":[0,1]}]}]}`,
	`{"key":"d","variationType":"json","variations":[{"value":"{\"a\":[1,2]}"}],"targetUsers":[{"keyIds":["u1",""],"variationId":"q"}]}`,
	`{"key":"e","rules":[{"conditions":[{"property":"User is in segment","value":"[\"s\"]"}]}]}`,
	`{"key":"f","rules":[{"conditions":[{"property":"email","op":"MatchRegex","value":"(("}]}],"version":-3}`,
	`{"key":"g","fallthrough":{"variations":[{"id":"t","rollout":[NaN,1]}]}}`,
	`[]`, `null`, `{"key":1}`, `{"rules":{}}`, `"x"`, `{"key":"h","variations":[null]}`,
}

// FuzzFlagCreate feeds arbitrary bodies to the flag create handler: it
// never answers 500 and never panics (the handler wrapper turns a panic into
// a 500).
func FuzzFlagCreate(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	h := newHarness(f)
	env := h.env("dev")
	f.Fuzz(func(t *testing.T, body []byte) {
		h.t = t
		r := h.do(h.admin, "POST", h.flagsURL(env), body)
		if r.Code >= 500 {
			t.Fatalf("status %d for %q: %s", r.Code, body, r.Body)
		}
		if r.Code == 201 {
			var fl codec.Flag
			if err := json.Unmarshal(r.Body, &fl); err != nil || fl.Version != 1 {
				t.Fatalf("created flag %s: %v", r.Body, err)
			}
		}
	})
}

// FuzzFlagUpdate does the same for the update handler, with the flag's
// current version injected half of the time so that validation, not the
// version check, is exercised.
func FuzzFlagUpdate(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), true)
	}
	h := newHarness(f)
	env := h.env("dev")
	f.Fuzz(func(t *testing.T, body []byte, withVersion bool) {
		h.t = t
		var cur codec.Flag
		h.must(200, h.admin, "GET", h.flagsURL(env)+"/welcome-banner", nil).decode(t, &cur)
		if withVersion {
			var m map[string]any
			if json.Unmarshal(body, &m) == nil && m != nil {
				m["version"] = cur.Version
				delete(m, "key")
				body, _ = json.Marshal(m)
			}
		}
		r := h.do(h.admin, "PUT", h.flagsURL(env)+"/welcome-banner", body)
		if r.Code >= 500 {
			t.Fatalf("status %d for %q: %s", r.Code, body, r.Body)
		}
		if r.Code != 200 {
			var after codec.Flag
			h.must(200, h.admin, "GET", h.flagsURL(env)+"/welcome-banner", nil).decode(t, &after)
			if after.Version != cur.Version {
				t.Fatalf("refused update (%d) changed the flag", r.Code)
			}
		}
	})
}

// FuzzAcceptInvitation feeds arbitrary bodies, with and without a session,
// to the public accept route: never a 5xx, never a new member.
func FuzzAcceptInvitation(f *testing.F) {
	for _, s := range []string{`{"token":"syi_x","password":"password1"}`, `{"token":"","name":"n"}`, `{"token":1}`,
		`{"token":"syi_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","password":"` + strings.Repeat("p", 80) + `"}`, `[]`, `null`, `{}`} {
		f.Add([]byte(s), false)
	}
	h := newHarness(f)
	org := h.info.OrgID
	f.Fuzz(func(t *testing.T, body []byte, session bool) {
		h.t = t
		tok := ""
		if session {
			tok = h.admin
		}
		r := h.do(tok, "POST", "/api/v1/auth/invitations/accept", body)
		if r.Code >= 500 || r.Code == 200 {
			t.Fatalf("status %d for %q: %s", r.Code, body, r.Body)
		}
		if ms, err := h.s.st.ListMembers(context.Background(), org); err != nil || len(ms) != 1 {
			t.Fatalf("members after %q: %d %v", body, len(ms), err)
		}
	})
}
