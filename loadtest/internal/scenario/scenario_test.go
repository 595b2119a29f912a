package scenario

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/edge/edgetest"
	"github.com/switchyard/switchyard/loadtest/internal/report"
)

// smallConfig runs a few hundred connections over two in-process workers
// against an in-process edge.
func smallConfig(e *edgetest.Edge) Config {
	return Config{Target: e.Addr, Conns: 300, PerWorker: 150, ClientShare: 0.3, Concurrency: 32, Flags: 10,
		Source: e.Source, InEdge: true, InProcessWorkers: true, PingInterval: 300 * time.Millisecond,
		HoldFor: 500 * time.Millisecond, Settle: 100 * time.Millisecond, Pushes: 5, PushRate: 20, PushTimeout: 30 * time.Second,
		HTTPConcurrency: 8, HTTPDuration: 300 * time.Millisecond, Out: io.Discard}
}

func mustOK(t *testing.T, r *report.Result, err error) {
	t.Helper()
	if r != nil && testing.Verbose() {
		var sb strings.Builder
		r.WriteTable(&sb)
		t.Log(sb.String())
	}
	if err != nil {
		if r != nil {
			for _, c := range r.Checks {
				t.Logf("check %s ok=%v: %s", c.Name, c.OK, c.Detail)
			}
			t.Logf("failures %v", r.Failures)
		}
		t.Fatal(err)
	}
	if !r.OK() {
		t.Fatalf("checks failed: %+v", r.Checks)
	}
}

func TestStreamingScenariosInProcess(t *testing.T) {
	e := edgetest.Run(t)
	ctx := context.Background()

	r, err := Connect(ctx, smallConfig(e))
	mustOK(t, r, err)
	if m := r.Metric("connections synced"); m == nil || m.Value != 300 {
		t.Fatalf("synced %+v", m)
	}
	if r.Latencies[0].Hist.N != 300 || r.Latencies[1].Hist.N != 300 {
		t.Fatalf("histogram counts %d %d", r.Latencies[0].Hist.N, r.Latencies[1].Hist.N)
	}
	if len(r.Timeline) == 0 || r.Timeline[len(r.Timeline)-1].Synced != 300 {
		t.Fatalf("timeline %+v", r.Timeline)
	}
	waitConns(t, e, 0)

	r, err = Hold(ctx, smallConfig(e))
	mustOK(t, r, err)
	if r.Metric("edge memory per connection (RSS delta)") == nil || r.Metric("kernel slab per connection (both socket ends)") == nil {
		t.Fatalf("hold metrics missing: %+v", r.Metrics)
	}
	if m := r.Metric("pings sent / pongs received"); m == nil || m.Value == 0 {
		t.Fatalf("no pings: %+v", r.Metrics)
	}
	waitConns(t, e, 0)

	// without periodic pings every connection is pinged once after the hold
	for _, engine := range []string{"netpoll", "epoll"} {
		c := smallConfig(e)
		c.PingInterval, c.Engine = -1, engine
		r, err = Hold(ctx, c)
		mustOK(t, r, err)
		if m := r.Metric("after the hold: one ping per connection, answered within"); m == nil {
			t.Fatalf("%s: no ping-all: %+v", engine, r.Metrics)
		}
		waitConns(t, e, 0)
	}

	c := smallConfig(e)
	r, err = Push(ctx, c)
	mustOK(t, r, err)
	if m := r.Metric("pushes delivered"); m == nil || m.Value != 5*300 {
		t.Fatalf("delivered %+v", m)
	}
	var lat report.Latency
	for _, l := range r.Latencies {
		if l.Name == "push receipt (change sent → patch read)" {
			lat = l
		}
	}
	if lat.Hist.N != 5*300 {
		t.Fatalf("push histogram n=%d", lat.Hist.N)
	}
	waitConns(t, e, 0)

	// sequential changes
	c = smallConfig(e)
	c.PushRate = 0
	r, err = Push(ctx, c)
	mustOK(t, r, err)
	if m := r.Metric("pushes delivered"); m == nil || m.Value != 5*300 {
		t.Fatalf("sequential delivered %+v", m)
	}
	waitConns(t, e, 0)

	// msgpack subprotocol, server connections only
	c = smallConfig(e)
	c.Msgpack, c.ClientShare, c.Conns = true, 0, 200
	r, err = Push(ctx, c)
	mustOK(t, r, err)
	if m := r.Metric("pushes delivered"); m == nil || m.Value != 5*200 {
		t.Fatalf("msgpack delivered %+v", m)
	}
	waitConns(t, e, 0)

	// the epoll client engine, JSON and msgpack
	for _, mp := range []bool{false, true} {
		c = smallConfig(e)
		c.Engine, c.Msgpack = "epoll", mp
		r, err = Push(ctx, c)
		mustOK(t, r, err)
		if m := r.Metric("pushes delivered"); m == nil || m.Value != 5*300 {
			t.Fatalf("epoll msgpack=%v delivered %+v", mp, m)
		}
		waitConns(t, e, 0)
	}
}

func waitConns(t *testing.T, e *edgetest.Edge, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for e.Server.Connections() != n {
		if time.Now().After(deadline) {
			t.Fatalf("edge still has %d connections, want %d", e.Server.Connections(), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestHTTPScenariosInProcess(t *testing.T) {
	e := edgetest.Run(t)
	ctx := context.Background()
	for _, mix := range []string{"ofrep", "server-poll", "client-poll", "mix"} {
		c := smallConfig(e)
		c.EvalMix = mix
		r, err := Evaluate(ctx, c)
		mustOK(t, r, err)
		if r.Metric("requests").Value == 0 {
			t.Fatalf("%s: no requests", mix)
		}
	}

	// a fresh edge: the OFREP evaluations above sent evaluation events of
	// their own, so the sink of e holds more than this scenario's
	e = edgetest.Run(t)
	sinkEvents := func() (n int64) {
		for _, b := range e.Sink.InsightBatches() {
			n += int64(len(b.Evals) + len(b.Metrics))
		}
		return n
	}
	c := smallConfig(e)
	c.EventsPerReq = 10
	r, err := Events(ctx, c)
	mustOK(t, r, err)
	accepted := int64(r.Metric("events accepted").Value)
	// the edge batches events to its sink; wait until all of them are there
	deadline := time.Now().Add(30 * time.Second)
	for {
		n := sinkEvents()
		if n == accepted {
			break
		}
		if time.Now().After(deadline) || n > accepted {
			t.Fatalf("sink has %d events, harness counted %d accepted", n, accepted)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestAbortsWhenMemoryRunsLow(t *testing.T) {
	e := edgetest.Run(t)
	c := smallConfig(e)
	c.Rate = 100 // slow enough that the watchdog fires during the connect phase
	c.MinMemAvailable = 1 << 50
	_, err := Hold(context.Background(), c)
	if err == nil || !strings.Contains(err.Error(), "aborted: MemAvailable") {
		t.Fatalf("want an abort, got %v", err)
	}
	waitConns(t, e, 0)
}
