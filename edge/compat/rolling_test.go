//go:build integration && !fakeedge

package compat

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestCompatRollingRestart is a rolling restart of two edges with FeatBit's
// Node server SDK connected (issue 17). Two in-process edges on their own
// ports, each with a drain window, serve two SDKs each (an SDK is given one
// edge's address and, like every FeatBit SDK, reconnects to that same URL).
// The edges are restarted one after the other: the edge drains (closes its
// connections with 1012, spread over the window), a change is published
// while it drains (to every running edge, as control's Kafka topic does),
// and a new edge starts on the same port with the current snapshot. Every
// SDK must see each change: those on the other edge get it pushed and keep
// their one connection; those on the restarted edge reconnect and get it in
// their re-sync. The stall (change published → the last SDK sees it through
// its own change notification) is measured and logged, not asserted.
func TestCompatRollingRestart(t *testing.T) {
	const (
		perEdge = 2
		drain   = 3 * time.Second
	)
	fx := newFixture(t)
	brokers, prefix := kafkaBrokers(t), topicPrefix()
	createTopics(t, brokers, prefix)
	edges := []*testEdge{
		{Brokers: brokers, Prefix: prefix, drain: drain},
		{Brokers: brokers, Prefix: prefix, drain: drain},
	}
	for _, e := range edges {
		e.launch(t, fx, "127.0.0.1:0")
	}

	dir, argv := nodeServerSDK.start(t)
	ctx, cancel := context.WithTimeout(context.Background(), sdkRunTimeout)
	defer cancel()
	type sdk struct {
		p    *sdkProc
		edge int
	}
	var sdks []sdk
	for i, e := range edges {
		for range perEdge {
			name := fmt.Sprintf("node-server-sdk-%d(edge %d)", len(sdks)+1, i+1)
			p := startSDK(t, ctx, name, dir, append([]string{
				"COMPAT_SECRET=" + fx.ServerSecret,
				"COMPAT_STREAMING_URL=ws://" + e.Addr,
				"COMPAT_EVENTS_URL=http://" + e.Addr,
			}, nodeServerSDK.env...), argv...)
			sdks = append(sdks, sdk{p, i})
		}
	}
	for _, s := range sdks {
		s.p.waitEvent("ready", readyTimeout)
	}
	u := fx.Users["u-plain"]

	var stalls []time.Duration
	for round, e := range edges {
		value := fmt.Sprintf("after-%d", round+1)
		want := typedJSON(t, "string", value)
		watches := make([]msg, len(sdks))
		for i, s := range sdks {
			watches[i] = s.p.call(map[string]any{"cmd": "watch", "flag": flagPush, "type": "string", "user": u, "want": value, "default": defaultFor(flagPush)})
			if sameJSON(watches[i].Value, want) {
				s.p.fatalf("round %d: the SDK already evaluates %s to %s before the change", round+1, flagPush, watches[i].Value)
			}
		}
		if n := e.conns(); n != perEdge {
			t.Fatalf("round %d: edge %d has %d streaming connections before its restart, want %d", round+1, round+1, n, perEdge)
		}
		// Drain: the edge closes its connections one by one over the window.
		stopped := make(chan struct{})
		go func() { defer close(stopped); e.stop() }()
		deadline := time.Now().Add(30 * time.Second)
		for e.conns() == perEdge {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: edge %d closed no connection within 30 s of its shutdown", round+1, round+1)
			}
			time.Sleep(10 * time.Millisecond)
		}
		drainingLeft := e.conns()
		// The change, during the drain, to every edge (the draining one
		// too, as its Kafka consumer would get it until it stops; its
		// source may already be closed when the drain ended first).
		ev := fx.change(t, flagPush, value)
		var changedAt time.Time
		for j, o := range edges {
			if j == round {
				pctx, pcancel := context.WithTimeout(context.Background(), 5*time.Second)
				if err := o.Source.WriteSnapshot(pctx, fx.snapshot()); err == nil {
					_ = o.Source.Produce(pctx, ev)
				}
				pcancel()
				continue
			}
			changedAt = o.publish(t, fx, ev)
		}
		select {
		case <-stopped:
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d: edge %d did not shut down within 30 s", round+1, round+1)
		}
		// The new edge on the same port, with the current snapshot.
		addr := e.Addr
		e.launch(t, fx, addr)
		var last time.Duration
		for i, s := range sdks {
			seen := waitSeen(t, s.p, reconnectDeadline, value, u, fmt.Sprintf("round %d", round+1))
			if seen.ID != watches[i].ID || !sameJSON(seen.Value, want) {
				s.p.fatalf("round %d: unexpected seen event %s (watch %d, want %s)", round+1, seen.raw, watches[i].ID, want)
			}
			d := time.Duration(seen.AtUs-changedAt.UnixMicro()) * time.Microsecond
			how := "on the other edge, pushed"
			if s.edge == round {
				how = "on the restarted edge: pushed before its turn to close, or in its re-sync after the reconnect"
			}
			t.Logf("round %d: %s saw the change %.0f ms after it was published (%s)", round+1, s.p.name, float64(d.Microseconds())/1000, how)
			last = max(last, d)
		}
		stalls = append(stalls, last)
		// The SDKs of the edges not restarted yet kept their connection.
		for _, s := range sdks {
			if s.edge > round {
				if st := s.p.call(map[string]any{"cmd": "stats"}); st.Connects != 1 {
					s.p.errorf("round %d: %d WebSocket connections, want 1 (its edge was not restarted yet)", round+1, st.Connects)
				}
			}
		}
		t.Logf("round %d: edge %d restarted on %s with a %s drain window (%d of %d connections still open at the change); stall, change → last SDK sees it: %.0f ms",
			round+1, round+1, addr, drain, drainingLeft, perEdge, float64(last.Microseconds())/1000)
	}

	// Connections: an SDK's connection ended only when its own edge
	// restarted, with the shutdown code 1012 read from the close frame.
	for _, s := range sdks {
		st := s.p.call(map[string]any{"cmd": "stats"})
		if st.Connects < 2 {
			s.p.errorf("%d WebSocket connections, want at least 2 (one before its edge's restart, one after; attempts while the port was closed count too)", st.Connects)
		}
		if len(st.CloseCodes) == 0 || st.CloseCodes[0] == nil || *st.CloseCodes[0] != 1012 {
			s.p.errorf("close codes %s, want the first connection closed with 1012 by its edge's drain", fmtCodes(st.CloseCodes))
		}
		s.p.call(map[string]any{"cmd": "close"})
	}
	t.Logf("rolling restart of %d edges (%d Node SDKs, drain window %s): stall per restart %s", len(edges), len(sdks), drain, summarize(stalls))
}
