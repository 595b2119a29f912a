package control

import (
	"testing"

	"github.com/switchyard/switchyard/codec"
)

// FuzzChangeComment feeds arbitrary bodies to an audited write (toggle) in
// an environment that requires a change comment: the comment extraction
// never causes a 5xx, a refused write changes nothing, and an accepted one
// carried a non-empty comment.
func FuzzChangeComment(f *testing.F) {
	for _, s := range []string{
		`{"version":1,"comment":"ok"}`, `{"version":1}`, `{"version":1,"comment":""}`, `{"version":1,"comment":7}`,
		`{"comment":"x","version":1,"isEnabled":true}`, `{"comment":"a","comment":"b","version":1}`, `[]`, `{`, `"comment"`,
		`{"version":1,"comment":"   "}`, `{"version":1,"comment":null}`, `{"version":1,"extra":{"comment":"nested"}}`,
	} {
		f.Add([]byte(s))
	}
	h := newHarness(f)
	env := h.env("dev")
	h.must(201, h.admin, "POST", h.flagsURL(env), boolFlagBody("fuzzed"))
	h.must(200, h.admin, "PUT", "/api/v1/envs/"+env+"/workflow-settings", map[string]any{"requireComment": true})
	f.Fuzz(func(t *testing.T, body []byte) {
		h.t = t
		var before codec.Flag
		h.must(200, h.admin, "GET", h.flagsURL(env)+"/fuzzed", nil).decode(t, &before)
		r := h.do(h.admin, "POST", h.flagsURL(env)+"/fuzzed/toggle", body)
		if r.Code >= 500 {
			t.Fatalf("status %d for %q: %s", r.Code, body, r.Body)
		}
		var after codec.Flag
		h.must(200, h.admin, "GET", h.flagsURL(env)+"/fuzzed", nil).decode(t, &after)
		if r.Code != 200 && after.Version != before.Version {
			t.Fatalf("refused (%d) but the flag changed: %q", r.Code, body)
		}
		if r.Code == 200 {
			var l auditList
			h.must(200, h.admin, "GET", "/api/v1/envs/"+env+"/audit?resource=fuzzed&limit=1", nil).decode(t, &l)
			if l.Items[0].Comment == "" {
				t.Fatalf("accepted without a comment: %q", body)
			}
		}
	})
}
