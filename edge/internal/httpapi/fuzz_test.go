package httpapi_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/codec/secret"
	"github.com/switchyard/switchyard/edge/edgetest"
	"github.com/switchyard/switchyard/edge/internal/httpapi"
	"github.com/switchyard/switchyard/edge/internal/hub"
	"github.com/switchyard/switchyard/edge/internal/limit"
	"github.com/switchyard/switchyard/edge/internal/metrics"
	"github.com/switchyard/switchyard/edge/internal/ofrep"
	"github.com/switchyard/switchyard/edge/internal/sink"
	"github.com/switchyard/switchyard/edge/internal/source"
	"github.com/switchyard/switchyard/edge/internal/wsconn"
	"github.com/valyala/fasthttp"
)

// newAPI is an API over the demo environment whose OFREP evaluations and
// users go to the returned sink (users flushed by sink.Users.Flush); it
// returns the environment's server secret.
func newAPI(tb testing.TB) (*httpapi.API, string, *edgetest.Sink) {
	return newAPIWith(tb, nil)
}

// newAPIWith is newAPI; opts (may be nil) adjusts the OFREP API before its
// handler is built.
func newAPIWith(tb testing.TB, opts func(*ofrep.API)) (*httpapi.API, string, *edgetest.Sink) {
	snap := edgetest.DemoSnapshot(secret.NewGUID())
	src := source.NewLocal()
	if err := src.WriteSnapshot(context.Background(), snap); err != nil {
		tb.Fatal(err)
	}
	m := metrics.New()
	h := hub.New(hub.Config{}, src, nil, m)
	sk := &edgetest.Sink{}
	// limits on, generous: the allocation budgets cover their Allow calls
	byAddr := limit.New(limit.Config{Rate: 1e9}, limit.BytesHash16Key[wsconn.AddrKey])
	bySecret := limit.New(limit.Config{Rate: 1e9}, limit.StringHash)
	tb.Cleanup(byAddr.Close)
	tb.Cleanup(bySecret.Close)
	api := &httpapi.API{Hub: h, Sink: sk, Metrics: m, ByAddr: byAddr, BySecret: bySecret, MaxTrackUsers: 100}
	users := sink.NewUsers(sk, time.Hour, 0, nil, nil)
	tb.Cleanup(users.Close)
	api.Users = users
	oa := ofrep.New(h, m, api.AuthAny, httpapi.StatusOf)
	oa.Events, oa.Users = sk, users
	if opts != nil {
		opts(oa)
	}
	api.OFREP = oa.Handler()
	return api, snap.Secrets[0].Value, sk
}

func call(api *httpapi.API, method, path, auth string, body []byte) *fasthttp.RequestCtx {
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI(path)
	if auth != "" {
		ctx.Request.Header.Set("Authorization", auth)
	}
	ctx.Request.SetBody(body)
	api.Handler()(&ctx)
	return &ctx
}

// FuzzTrack: any body gets 200 (well-formed) or 400 (malformed), never
// anything else, and a 400 produces no events.
func FuzzTrack(f *testing.F) {
	f.Add([]byte(`[{"user":{"keyId":"u1","name":"Bob","customizedProperties":[{"name":"age","value":18}]},"variations":[{"featureFlagKey":"f","variation":{"id":"v","value":"true"},"timestamp":1,"sendToExperiment":true}]}]`))
	f.Add([]byte(`[{"user":{"keyId":"u1"},"metrics":[{"eventName":"e","numericValue":1.5,"timestamp":2}]}]`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[{"user":null}]`))
	f.Add([]byte(`[{"user":{"keyId":"a","keyId":"b"}}]`))
	api, key, sk := newAPI(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		before := len(sk.InsightBatches())
		ctx := call(api, "POST", "/api/public/insight/track", key, body)
		switch code := ctx.Response.StatusCode(); code {
		case 200:
		case 400:
			if len(sk.InsightBatches()) != before {
				t.Fatal("a rejected body produced events")
			}
		default:
			t.Fatalf("status %d for %q", code, body)
		}
	})
}

// FuzzOFREP: any body gets 200, 400 or 404 with a JSON body.
func FuzzOFREP(f *testing.F) {
	f.Add([]byte(`{"context":{"targetingKey":"u1","country":"FR","age":18,"vip":true,"x":{"y":[1,null]}}}`), edgetest.FlagString)
	f.Add([]byte(`{"context":{"targetingKey":"\u00e9\ud83d\ude00"}}`), edgetest.FlagBool)
	f.Add([]byte(``), "")
	f.Add([]byte(`{"context":[]}`), edgetest.FlagDisabled)
	// events to a discarding sink: the recording one would grow per input
	api, key, _ := newAPIWith(f, func(o *ofrep.API) { o.Events = sink.Discard{} })
	f.Fuzz(func(t *testing.T, body []byte, flag string) {
		if strings.ContainsFunc(flag, func(r rune) bool { return r <= ' ' || r >= 0x7f || strings.ContainsRune("#?%/\\", r) }) {
			return // not a path segment an HTTP client sends as is
		}
		path := "/ofrep/v1/evaluate/flags"
		if flag != "" {
			path += "/" + flag
		}
		ctx := call(api, "POST", path, "Bearer "+key, body)
		switch code := ctx.Response.StatusCode(); code {
		case 200, 400, 404:
			if b := ctx.Response.Body(); len(b) == 0 || b[0] != '{' {
				t.Fatalf("status %d body %q", code, b)
			}
		default:
			t.Fatalf("status %d for %q", code, body)
		}
	})
}

// FuzzOFREPContext: the context parser never panics, and a parsed context
// always has a targeting key.
func FuzzOFREPContext(f *testing.F) {
	f.Add([]byte(`{"context":{"targetingKey":"u1","a":"b\n","n":-1.5e3}}`))
	f.Add([]byte(`{"context":{"targetingKey":"x\"y"},"other":[{},[],"s",1,true,null]}`))
	f.Add([]byte(`{"context":{"targetingKey":"a","targetingKey":"b","k\u0000":1}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var c ofrep.Context
		if code, _ := c.Parse(body); code == "" && c.User.KeyID == "" {
			t.Fatalf("parsed %q without a targeting key", body)
		}
	})
}
