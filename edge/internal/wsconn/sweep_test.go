package wsconn

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

type nopHandler struct{}

func (nopHandler) Open(*Conn, *Request) (ws.StatusCode, string) { return 0, "" }
func (nopHandler) Message(*Conn, ws.OpCode, []byte)             {}
func (nopHandler) Closed(*Conn)                                 {}

func TestSweepPlan(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		tick time.Duration
		scan time.Duration
	}{
		{Config{}, 250 * time.Millisecond, 15 * time.Second}, // defaults: 1 s close timeout, 2 min HTTP idle
		{Config{IdleTimeout: time.Hour, HTTPIdleTimeout: time.Hour, CloseTimeout: 4 * time.Second}, time.Second, 30 * time.Second},
		{Config{IdleTimeout: time.Second, HTTPIdleTimeout: time.Second}, 250 * time.Millisecond, 250 * time.Millisecond}, // short idle: every tick
	} {
		tc.cfg.defaults()
		p := (&Server{cfg: tc.cfg}).plan()
		if want := float64(shards) * float64(tc.tick) / float64(tc.scan); p.tick != tc.tick || p.scan != tc.scan || p.shardsPerTick != want {
			t.Errorf("%+v: plan %+v, want tick %v scan %v shards/tick %v", tc.cfg, p, tc.tick, tc.scan, want)
		}
	}
}

// TestSweeperVisitsIdleConnectionsIncrementally: with minutes-long idle
// timeouts a tick visits a slice of the registry, not every connection, and
// a silent handshake (pending) is still closed within its timeout.
func TestSweeperVisitsIdleConnectionsIncrementally(t *testing.T) {
	const n = 256
	// the handshake timeout is long enough that a slow (race-instrumented,
	// loaded) machine finishes every dial in it; the short frame and close
	// timeouts set the 100 ms tick
	s := New(Config{IdleTimeout: time.Hour, HTTPIdleTimeout: time.Hour, HandshakeTimeout: 3 * time.Second,
		FrameTimeout: 400 * time.Millisecond, CloseTimeout: 400 * time.Millisecond}, nopHandler{}, nil, nil)
	if err := s.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background(), ws.StatusGoingAway, "")
	addr := s.Addr().String()
	for range n {
		c, _, _, err := ws.Dial(context.Background(), "ws://"+addr+"/streaming")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	deadline := time.Now().Add(20 * time.Second)
	for s.Conns() < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if s.Conns() != n {
		t.Fatalf("%d of %d open", s.Conns(), n)
	}
	// the client's Dial returns once it has read the upgrade response, which
	// the server writes just before it takes the connection out of the
	// pending set: the last few may still be on their way out
	for s.pending.len() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if p := s.pending.len(); p != 0 {
		t.Fatalf("%d open idle connections left in the pending set", p)
	}
	swept0, sweeps0 := s.swept.Load(), s.sweeps.Load()
	for s.sweeps.Load() < sweeps0+10 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	ticks := s.sweeps.Load() - sweeps0
	visits := s.swept.Load() - swept0
	if ticks < 10 {
		t.Fatalf("only %d sweeps", ticks)
	}
	// a pass every 30 s at a tick of 100 ms: 32 × 0.1 / 30 ≈ 0.1 shard,
	// under one connection per tick on average, never the 256 of a full pass
	if visits > ticks*n/shards+n/shards || s.sweeps.Load() == 0 {
		t.Fatalf("%d visits in %d ticks: want at most %d", visits, ticks, ticks*n/shards+n/shards)
	}

	// a silent connection is pending and closed after the handshake timeout
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	var b [1]byte
	if _, err := c.Read(b[:]); err == nil {
		t.Fatal("silent connection got data")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("silent connection not closed by the handshake timeout")
	}
}
