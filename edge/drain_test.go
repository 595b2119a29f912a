package edge_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/edge"
	"github.com/switchyard/switchyard/edge/edgetest"
)

// dialSynced opens n streaming connections to e for env, each past its
// first data-sync.
func dialSynced(t *testing.T, addr string, env *edgetest.DemoEnv, n int) []*edgetest.Client {
	t.Helper()
	cs := make([]*edgetest.Client, n)
	for i := range cs {
		cs[i] = edgetest.Dial(t, edgetest.StreamURL(addr, "server", env.ServerSecret))
		if err := cs[i].Send(`{"messageType":"data-sync","data":{"timestamp":0}}`); err != nil {
			t.Fatal(err)
		}
		readServerSync(t, cs[i])
	}
	return cs
}

// TestDrainSpreadsClosesOverTheWindow: on shutdown every connection is
// closed with 1012, not all at once: about half of them are still open at
// half the window (counted, not timed to the millisecond).
func TestDrainSpreadsClosesOverTheWindow(t *testing.T) {
	const n, window = 20, 2 * time.Second
	e := edgetest.Run(t, edge.Config{DrainWindow: window})
	cs := dialSynced(t, e.Addr, e.Env(t), n)

	type closed struct {
		code ws.StatusCode
		at   time.Duration
	}
	got := make(chan closed, n)
	start := time.Now()
	for _, c := range cs {
		go func() {
			code, err := c.ExpectClose(30 * time.Second)
			if err != nil {
				code = 0
			}
			got <- closed{code, time.Since(start)}
		}()
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		done <- e.Server.Shutdown(ctx)
	}()
	firstHalf := 0
	for range n {
		c := <-got
		if c.code != 1012 {
			t.Fatalf("close code %d, want 1012", c.code)
		}
		if c.at <= window/2 {
			firstHalf++
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	// Evenly spread, 10 of 20 close in the first half; load only delays
	// closes. All at once would be 20.
	if firstHalf == 0 || firstHalf > n*3/4 {
		t.Fatalf("%d of %d connections closed in the first half of the window, want about half", firstHalf, n)
	}
}

// TestChangeDuringDrainReachesReconnectedSDKs: a change made while edge a
// drains reaches every SDK: those still on a get it pushed, and those a
// closed get it from edge b, where they reconnect (both edges receive
// every change, as from Kafka).
func TestChangeDuringDrainReachesReconnectedSDKs(t *testing.T) {
	const n = 8
	a := edgetest.Run(t, edge.Config{DrainWindow: 2 * time.Second})
	b := edgetest.Run(t)
	env := a.Env(t)
	if err := b.Source.WriteSnapshot(context.Background(), copySnapshot(t, env.Snapshot)); err != nil {
		t.Fatal(err)
	}
	cs := dialSynced(t, a.Addr, env, n)

	f := env.Snapshot.Flags[1] // demo-string
	f.Variations = append([]codec.Variation(nil), f.Variations...)
	f.Variations[0].Value = "drain-marker"
	f.Version++
	f.UpdatedAt = time.Now().UnixMilli()

	firstClose := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, c := range cs {
		wg.Go(func() {
			// On a: read until the close; a patch with the change may come first.
			for {
				_, p, err := c.Read(30 * time.Second)
				var ce *edgetest.CloseError
				if errors.As(err, &ce) {
					once.Do(func() { close(firstClose) })
					if ce.Code != 1012 {
						errs <- errors.New("closed " + ce.Error())
						return
					}
					break
				}
				if err != nil {
					errs <- err
					return
				}
				_ = p // a patch with the change, pushed by a before this connection's turn
			}
			// Reconnect to b, as an SDK does after 1012.
			nc, err := edgetest.DialErr(edgetest.StreamURL(b.Addr, "server", env.ServerSecret))
			if err != nil {
				errs <- err
				return
			}
			defer nc.Conn.Close()
			if err := nc.Send(`{"messageType":"data-sync","data":{"timestamp":0}}`); err != nil {
				errs <- err
				return
			}
			// The full sync has it, or (reconnected before the change) a
			// patch pushed by b brings it.
			for {
				m, err := nc.ReadJSON(10 * time.Second)
				if err != nil {
					errs <- errors.New("the change made during the drain never reached the SDK on edge b: " + err.Error())
					return
				}
				if strings.Contains(string(m.Data), "drain-marker") {
					return
				}
			}
		})
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = a.Server.Shutdown(ctx)
	}()
	select {
	case <-firstClose:
	case <-time.After(30 * time.Second):
		t.Fatal("no connection closed by the drain")
	}
	// The change, during the drain, to both edges.
	// As control publishes: the snapshot store first (Redis, shared by
	// the edges; here each edge's own source), then the event (Kafka).
	updated := copySnapshot(t, env.Snapshot)
	updated.Flags[1], updated.Version = f, updated.Version+1
	for _, e := range []*edgetest.Edge{b, a} {
		if err := e.Source.WriteSnapshot(context.Background(), copySnapshot(t, updated)); err != nil {
			t.Fatal(err)
		}
		produceFlag(t, e, env.ID, &f)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// copySnapshot returns a deep copy of s.
func copySnapshot(t *testing.T, s *codec.EnvSnapshot) *codec.EnvSnapshot {
	t.Helper()
	raw, err := s.MarshalMsg(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := new(codec.EnvSnapshot)
	if _, err := c.UnmarshalMsg(raw); err != nil {
		t.Fatal(err)
	}
	return c
}
