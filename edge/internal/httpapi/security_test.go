package httpapi_test

import (
	"strings"
	"testing"

	"github.com/switchyard/switchyard/edge/edgetest"
)

// TestSecurityJSONKeyConfusionIsRefused: bodies whose keys parsers read
// differently — a duplicate targetingKey or keyId, a NUL inside a key —
// are refused with 400 naming the key, on OFREP, track, client polling and
// evaluate, and produce no events.
func TestSecurityJSONKeyConfusionIsRefused(t *testing.T) {
	api, key, sk := newAPI(t)
	for _, c := range []struct{ path, body, want string }{
		{"/ofrep/v1/evaluate/flags/" + edgetest.FlagString, `{"context":{"targetingKey":"victim","targetingKey":"me"}}`, `duplicate key \"targetingKey\"`},
		{"/ofrep/v1/evaluate/flags", `{"context":{"targetingKey":"u","country":"FR","country":"US"}}`, `duplicate key \"country\"`},
		{"/ofrep/v1/evaluate/flags", `{"context":{"targetingKey":"u","coun\u0000try":"FR"}}`, `NUL character in object key`},
		{"/ofrep/v1/evaluate/flags", `{"context":{"targetingKey":"u"},"context":{"targetingKey":"v"}}`, `duplicate key \"context\"`},
		{"/api/public/insight/track", `[{"user":{"keyId":"a","keyId":"b"},"variations":[]}]`, `duplicate key "keyId"`},
		{"/api/public/insight/track", `[{"user":{"keyId":"a","n\u0000":"b"}}]`, `NUL character in object key`},
		{"/api/public/sdk/client/latest-all", `{"keyId":"a","keyId":"b"}`, `duplicate key "keyId"`},
		{"/api/public/featureflag/evaluate", `{"user":{"keyId":"victim"},"User":{"keyId":"me"}}`, `duplicate key "User"`},
	} {
		ctx := call(api, "POST", c.path, key, []byte(c.body))
		if code, body := ctx.Response.StatusCode(), string(ctx.Response.Body()); code != 400 || !strings.Contains(body, c.want) {
			t.Errorf("%s %s: %d %s, want 400 naming %s", c.path, c.body, code, body, c.want)
		}
	}
	if n := len(sk.InsightBatches()); n != 0 {
		t.Fatalf("refused bodies produced %d insight batches", n)
	}
}
