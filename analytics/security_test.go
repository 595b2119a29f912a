package analytics

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSecurityProbeFloodDoesNotReachDependencies: an attacker (or a
// misconfigured monitor) hammering /readyz, /metrics and the health route
// must not turn into ClickHouse/Kafka traffic: every answer comes from the
// background probe's cached result.
func TestSecurityProbeFloodDoesNotReachDependencies(t *testing.T) {
	s := newEmbedded(t)
	var calls atomic.Int64
	p := &probe{name: "clickhouse", check: func(context.Context) error { calls.Add(1); return nil }}
	s.probes = []*probe{p}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	h := s.Handler()
	waitStatus(t, h, "/readyz", 200)

	before := calls.Load()
	t0 := time.Now()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 250 {
				for _, path := range []string{"/readyz", "/metrics", APIPrefix + "/health"} {
					fetch(h, path)
				}
			}
		})
	}
	wg.Wait()
	// The background prober runs once per probeInterval whatever the load:
	// allow the ticks that fit in the elapsed time, plus one.
	allowed := int64(time.Since(t0)/probeInterval) + 2
	if n := calls.Load() - before; n > allowed {
		t.Errorf("6,000 requests caused %d dependency probes (at most %d background ticks fit); probes must not run per request", n, allowed)
	}
}

// TestSecuritySlowBodyIsCut: a client that sends request headers and then
// trickles (or withholds) the body is disconnected after the read timeout
// instead of holding a connection and a goroutine forever.
func TestSecuritySlowBodyIsCut(t *testing.T) {
	s, err := New(Config{DataDir: t.TempDir(), Addr: "127.0.0.1:0", httpReadTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })

	c, err := net.Dial("tcp", s.ListenAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = io.WriteString(c, "POST "+APIPrefix+"/envs/e/flags/f/experiment HTTP/1.1\r\nHost: x\r\n"+
		"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"baselineVariationId\":")
	if err != nil {
		t.Fatal(err)
	}
	// The guard deadline only keeps a broken server from hanging the test;
	// the server must close the connection well before it.
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, err = io.ReadAll(c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the server kept a stalled request body open for 20 s")
	}
}
