package httpload

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func TestRunCountsStatuses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(c *fasthttp.RequestCtx) {
		if string(c.Path()) == "/bad" {
			c.SetStatusCode(400)
			return
		}
		c.SetBodyString(`{"value":true}`)
	}}
	go srv.Serve(ln)
	defer srv.Shutdown()
	r := Run(context.Background(), Spec{Addr: ln.Addr().String(), Concurrency: 4, Duration: 300 * time.Millisecond,
		Build: func(i int, req *fasthttp.Request) {
			req.Header.SetMethod("POST")
			req.SetRequestURI("http://" + ln.Addr().String() + map[bool]string{true: "/bad", false: "/ok"}[i%4 == 0])
			req.SetBodyString(`{}`)
		}})
	if r.Requests == 0 || r.OK+r.Bad != r.Requests || r.Status[200] != r.OK || r.Status[400] != r.Bad || r.Latency.N < uint64(r.Requests) {
		t.Fatalf("%+v", r)
	}
	if len(r.Rate) == 0 {
		t.Fatal("no rate samples")
	}
	if len(r.Errors) != 0 {
		t.Fatalf("errors %v", r.Errors)
	}
}
