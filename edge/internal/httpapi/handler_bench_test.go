package httpapi_test

import (
	"testing"

	"github.com/switchyard/switchyard/edge/edgetest"
	"github.com/switchyard/switchyard/edge/internal/ofrep"
	"github.com/switchyard/switchyard/edge/internal/sink"
	"github.com/valyala/fasthttp"
)

// BenchmarkOFREPHandler is one single-flag OFREP evaluation through the
// handler (no network; its evaluation event to a discarding sink, its user
// already queued), with the per-address and per-secret limiters on
// (never refusing) and off: the limiters' share of a request.
func BenchmarkOFREPHandler(b *testing.B) {
	for _, limits := range []bool{true, false} {
		name := "limits=on"
		if !limits {
			name = "limits=off"
		}
		b.Run(name, func(b *testing.B) {
			// events to a sink that keeps nothing (the Kafka sink's cost is
			// its own): the recording test sink would grow with b.N
			api, key, _ := newAPIWith(b, func(o *ofrep.API) { o.Events = sink.Discard{} })
			if !limits {
				api.ByAddr, api.BySecret = nil, nil
			}
			h := api.Handler()
			var ctx fasthttp.RequestCtx
			body := []byte(`{"context":{"targetingKey":"9c4b1f2e-5d6a-4e8b-9f0c-1a2b3c4d5e6f","country":"FR","plan":"pro","age":42}}`)
			uri, auth := "/ofrep/v1/evaluate/flags/"+edgetest.FlagString, "Bearer "+key
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ctx.Request.Reset()
				ctx.Response.Reset()
				ctx.Request.Header.SetMethod("POST")
				ctx.Request.SetRequestURI(uri)
				ctx.Request.Header.Set("Authorization", auth)
				ctx.Request.SetBody(body)
				h(&ctx)
			}
		})
	}
}
