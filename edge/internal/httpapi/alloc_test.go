package httpapi_test

import (
	"testing"

	"github.com/switchyard/switchyard/edge/edgetest"
	"github.com/switchyard/switchyard/edge/internal/ofrep"
	"github.com/switchyard/switchyard/edge/internal/sink"
	"github.com/valyala/fasthttp"
)

// TestOFREPSingleIsAllocationFree: a single-flag OFREP evaluation through
// the HTTP handler (auth, context parse, evaluation, response, its
// evaluation event to a sink that keeps nothing, its user to the end-user
// batch where it is already queued) allocates nothing once warm.
func TestOFREPSingleIsAllocationFree(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation budgets are not checked under the race detector")
	}
	api, key, _ := newAPIWith(t, func(o *ofrep.API) { o.Events = sink.Discard{} })
	h := api.Handler()
	var ctx fasthttp.RequestCtx
	body := []byte(`{"context":{"targetingKey":"9c4b1f2e-5d6a-4e8b-9f0c-1a2b3c4d5e6f","country":"FR","plan":"pro","age":42}}`)
	uri, auth := "/ofrep/v1/evaluate/flags/"+edgetest.FlagString, "Bearer "+key
	run := func() {
		ctx.Request.Reset()
		ctx.Response.Reset()
		ctx.Request.Header.SetMethod("POST")
		ctx.Request.SetRequestURI(uri)
		ctx.Request.Header.Set("Authorization", auth)
		ctx.Request.SetBody(body)
		h(&ctx)
		if ctx.Response.StatusCode() != 200 {
			t.Fatalf("status %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
		}
	}
	for i := 0; i < 100; i++ {
		run()
	}
	if n := testing.AllocsPerRun(1000, run); n != 0 {
		t.Errorf("%v allocations per evaluation", n)
	}
}
