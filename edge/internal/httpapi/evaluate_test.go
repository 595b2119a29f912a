package httpapi_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/edge/edgetest"
)

type evalResult struct {
	Key       string
	Variation struct {
		ID, Type, Value, MatchReason string
		SendToExperiment             bool
	}
}

// TestFeatBitEvaluate: POST /api/public/featureflag/evaluate answers the
// environment's live flags evaluated for the posted user in FeatBit's shape,
// filtered by keys (each once, unknown keys ignored), with either secret
// type; a missing user, a malformed filter or no key are refused.
func TestFeatBitEvaluate(t *testing.T) {
	api, key, sk := newAPI(t)
	post := func(auth, body string) (int, []evalResult, string) {
		ctx := call(api, "POST", "/api/public/featureflag/evaluate", auth, []byte(body))
		var out []evalResult
		if ctx.Response.StatusCode() == 200 {
			if err := json.Unmarshal(ctx.Response.Body(), &out); err != nil {
				t.Fatalf("%v: %s", err, ctx.Response.Body())
			}
		}
		return ctx.Response.StatusCode(), out, string(ctx.Response.Body())
	}
	code, all, body := post(key, `{"user":{"keyId":"u-fr","name":"Zoé","customizedProperties":[{"name":"country","value":"FR"}]}}`)
	if code != 200 {
		t.Fatalf("status %d %s", code, body)
	}
	got := map[string]evalResult{}
	for _, r := range all {
		got[r.Key] = r
	}
	if _, ok := got[edgetest.FlagArchived]; ok || len(got) != len(all) || len(all) != 4 {
		t.Fatalf("flags %s", body)
	}
	if s := got[edgetest.FlagString].Variation; s.Value != "fr" || s.Type != "string" || s.ID == "" || s.MatchReason == "" {
		t.Fatalf("%s: %+v", edgetest.FlagString, s)
	}
	if d := got[edgetest.FlagDisabled].Variation; d.Value != "0" || d.Type != "number" {
		t.Fatalf("%s: %+v", edgetest.FlagDisabled, d)
	}

	code, some, body := post(key, `{"user":{"keyId":"u-de"},"filter":{"keys":["`+edgetest.FlagString+`","no-such","`+edgetest.FlagString+`","`+edgetest.FlagArchived+`"]}}`)
	if code != 200 || len(some) != 1 || some[0].Key != edgetest.FlagString || some[0].Variation.Value != "default" {
		t.Fatalf("keys filter: %d %s", code, body)
	}
	code, some, body = post(key, `{"user":{"keyId":"u"},"filter":{"tags":["nobody-has-this"]}}`)
	if code != 200 || len(some) != 0 || body != "[]" {
		t.Fatalf("tags filter: %d %s", code, body)
	}

	for _, c := range []struct {
		auth, body string
		code       int
		want       string
	}{
		{"", `{"user":{"keyId":"u"}}`, 401, "SDK key"},
		{key, `{"filter":{}}`, 400, "valid user"},
		{key, `{"user":{"keyId":""}}`, 400, "valid user"},
		{key, `{"user":{"keyId":"u"},"filter":{"tagFilterMode":"xor"}}`, 400, "tagFilterMode"},
		{key, `{"user":`, 400, "offset"},
	} {
		if code, _, body := post(c.auth, c.body); code != c.code || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %s, want %d naming %s", c.body, code, body, c.code, c.want)
		}
	}

	api.Users.Flush(context.Background())
	n := 0
	for _, b := range sk.EndUserBatches() {
		for _, u := range b.Users {
			if u.KeyID == "u-fr" && u.Name == "Zoé" {
				n++
			}
		}
	}
	if n != 1 {
		t.Fatalf("the evaluated user reached the end-user list %d times", n)
	}
}
