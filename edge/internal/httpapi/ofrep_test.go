package httpapi_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/edge/edgetest"
	"github.com/switchyard/switchyard/edge/internal/ofrep"
	"github.com/valyala/fasthttp"
)

func callHdr(api interface {
	Handler() fasthttp.RequestHandler
}, method, path string, hdr map[string]string, body []byte) *fasthttp.RequestCtx {
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI(path)
	for k, v := range hdr {
		ctx.Request.Header.Set(k, v)
	}
	ctx.Request.SetBody(body)
	api.Handler()(&ctx)
	return &ctx
}

// TestOFREPConfiguration: GET /ofrep/v1/configuration answers OFREP's
// configuration document (polling enabled with the configured minimum
// interval, every type supported, no provider caching) with an ETag that
// If-None-Match turns into a 304; it needs a key and GET.
func TestOFREPConfiguration(t *testing.T) {
	api, key, _ := newAPIWith(t, func(o *ofrep.API) { o.MinPollInterval = 2500_000_000 })
	ctx := callHdr(api, "GET", "/ofrep/v1/configuration", map[string]string{"Authorization": "Bearer " + key}, nil)
	if code := ctx.Response.StatusCode(); code != 200 {
		t.Fatalf("status %d %s", code, ctx.Response.Body())
	}
	var doc struct {
		Name         string
		Capabilities struct {
			CacheInvalidation struct {
				Polling struct {
					Enabled              bool
					MinPollingIntervalMs float64
				}
			}
			FlagEvaluation struct{ SupportedTypes []string }
			Caching        struct{ Enabled bool }
		}
	}
	if err := json.Unmarshal(ctx.Response.Body(), &doc); err != nil {
		t.Fatalf("%v: %s", err, ctx.Response.Body())
	}
	p := doc.Capabilities.CacheInvalidation.Polling
	if doc.Name == "" || !p.Enabled || p.MinPollingIntervalMs != 2500 || len(doc.Capabilities.FlagEvaluation.SupportedTypes) != 5 || doc.Capabilities.Caching.Enabled {
		t.Fatalf("configuration %s", ctx.Response.Body())
	}
	tag := string(ctx.Response.Header.Peek("ETag"))
	if tag == "" {
		t.Fatal("no ETag")
	}
	ctx = callHdr(api, "GET", "/ofrep/v1/configuration", map[string]string{"X-API-Key": key, "If-None-Match": "W/" + tag}, nil)
	if code := ctx.Response.StatusCode(); code != 304 {
		t.Fatalf("If-None-Match %s: status %d", tag, code)
	}
	if code := callHdr(api, "GET", "/ofrep/v1/configuration", nil, nil).Response.StatusCode(); code != 401 {
		t.Fatalf("without a key: status %d, want 401", code)
	}
	if code := callHdr(api, "POST", "/ofrep/v1/configuration", map[string]string{"X-API-Key": key}, nil).Response.StatusCode(); code != 405 {
		t.Fatalf("POST: status %d, want 405", code)
	}
}

// TestOFREPFeedsInsightsAndEndUsers: a single evaluation sends one
// evaluation event (the served variation, the user, sendToExperiment), a
// bulk answer one per live flag, a bulk 304 none; the context's user
// reaches the end-user batch with its attributes; a missing flag sends
// nothing.
func TestOFREPFeedsInsightsAndEndUsers(t *testing.T) {
	api, key, sk := newAPI(t)
	bearer := map[string]string{"Authorization": "Bearer " + key}
	body := []byte(`{"context":{"targetingKey":"u-fr","name":"Zoé","country":"FR","age":42}}`)

	ctx := callHdr(api, "POST", "/ofrep/v1/evaluate/flags/"+edgetest.FlagString, bearer, body)
	if code := ctx.Response.StatusCode(); code != 200 {
		t.Fatalf("status %d %s", code, ctx.Response.Body())
	}
	var res struct{ Value string }
	_ = json.Unmarshal(ctx.Response.Body(), &res)
	ev := sk.FlagEvents()
	if len(ev) != 1 || ev[0].FlagKey != edgetest.FlagString || ev[0].Value != res.Value || res.Value != "fr" ||
		ev[0].UserKey != "u-fr" || ev[0].UserName != "Zoé" || ev[0].VariationID == "" || ev[0].EnvID == "" || ev[0].Timestamp == 0 {
		t.Fatalf("events after a single evaluation: %+v (value %q)", ev, res.Value)
	}

	if code := callHdr(api, "POST", "/ofrep/v1/evaluate/flags/no-such-flag", bearer, body).Response.StatusCode(); code != 404 {
		t.Fatalf("missing flag: %d", code)
	}
	if n := len(sk.FlagEvents()); n != 1 {
		t.Fatalf("a missing flag produced events: %d", n-1)
	}

	ctx = callHdr(api, "POST", "/ofrep/v1/evaluate/flags", bearer, body)
	var bulk struct{ Flags []json.RawMessage }
	if err := json.Unmarshal(ctx.Response.Body(), &bulk); err != nil || ctx.Response.StatusCode() != 200 {
		t.Fatalf("bulk: %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	// every live flag serves a variation in the demo environment
	if got := len(sk.FlagEvents()) - 1; got != len(bulk.Flags) || got < 3 {
		t.Fatalf("bulk of %d flags produced %d events", len(bulk.Flags), got)
	}
	for _, e := range sk.FlagEvents() {
		if e.FlagKey == edgetest.FlagArchived {
			t.Fatalf("event for the archived flag: %+v", e)
		}
	}
	tag := string(ctx.Response.Header.Peek("ETag"))
	before := len(sk.FlagEvents())
	hdr := map[string]string{"Authorization": "Bearer " + key, "If-None-Match": tag}
	if code := callHdr(api, "POST", "/ofrep/v1/evaluate/flags", hdr, body).Response.StatusCode(); code != 304 {
		t.Fatalf("bulk with If-None-Match: %d", code)
	}
	if n := len(sk.FlagEvents()); n != before {
		t.Fatalf("a 304 produced %d events", n-before)
	}

	api.Users.Flush(context.Background())
	var users []codec.EndUser
	for _, b := range sk.EndUserBatches() {
		users = append(users, b.Users...)
	}
	if len(users) != 1 || users[0].KeyID != "u-fr" || users[0].Name != "Zoé" || users[0].LastSeen == 0 {
		t.Fatalf("end users %+v", users)
	}
	props := map[string]string{}
	for _, p := range users[0].Props {
		props[p.Name] = p.Value
	}
	if props["country"] != "FR" || props["age"] != "42" {
		t.Fatalf("end user's properties %+v", users[0].Props)
	}
}

// TestOFREPUserIsCopied: the end user queued from an OFREP request keeps
// its strings after the request's buffers are reused by later requests on
// the same connection.
func TestOFREPUserIsCopied(t *testing.T) {
	api, key, sk := newAPI(t)
	h := api.Handler()
	var ctx fasthttp.RequestCtx
	post := func(body string) {
		ctx.Request.Reset()
		ctx.Response.Reset()
		ctx.Request.Header.SetMethod("POST")
		ctx.Request.SetRequestURI("/ofrep/v1/evaluate/flags/" + edgetest.FlagBool)
		ctx.Request.Header.Set("Authorization", "Bearer "+key)
		ctx.Request.SetBodyString(body)
		h(&ctx)
		if ctx.Response.StatusCode() != 200 {
			t.Fatalf("status %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
		}
	}
	post(`{"context":{"targetingKey":"first","plan":"gold"}}`)
	for i := 0; i < 50; i++ {
		post(`{"context":{"targetingKey":"XXXXX","plan":"XXXX"}}`)
	}
	api.Users.Flush(context.Background())
	var keys []string
	for _, b := range sk.EndUserBatches() {
		for _, u := range b.Users {
			keys = append(keys, u.KeyID+"/"+u.Props[0].Value)
		}
	}
	if got := strings.Join(keys, ","); got != "first/gold,XXXXX/XXXX" {
		t.Fatalf("queued users %s", got)
	}
}

// TestOFREPExposesETag: a browser script reads only CORS-safelisted
// response headers, so the bulk ETag (and a 429's Retry-After) must be
// listed in Access-Control-Expose-Headers, else OFREP's web provider never
// polls with If-None-Match (edge/compat's TestCompatOpenFeatureWeb).
func TestOFREPExposesETag(t *testing.T) {
	api, key, _ := newAPI(t)
	ctx := callHdr(api, "POST", "/ofrep/v1/evaluate/flags", map[string]string{"Authorization": "Bearer " + key, "Origin": "http://app.example"},
		[]byte(`{"context":{"targetingKey":"u1"}}`))
	exp := string(ctx.Response.Header.Peek("Access-Control-Expose-Headers"))
	if ctx.Response.StatusCode() != 200 || len(ctx.Response.Header.Peek("ETag")) == 0 || !strings.Contains(exp, "ETag") || !strings.Contains(exp, "Retry-After") {
		t.Fatalf("status %d, ETag %q, Access-Control-Expose-Headers %q", ctx.Response.StatusCode(), ctx.Response.Header.Peek("ETag"), exp)
	}
}
