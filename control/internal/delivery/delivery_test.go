package delivery

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/switchyard/switchyard/codec"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func heartbeat(edge string, at int64, envs ...codec.EnvDelivery) *codec.DeliveryReport {
	return &codec.DeliveryReport{Edge: edge, At: at, Interval: 1000, Heartbeat: true, Envs: envs}
}

func changed(edge string, at int64, envs ...codec.EnvDelivery) *codec.DeliveryReport {
	return &codec.DeliveryReport{Edge: edge, At: at, Interval: 1000, Envs: envs}
}

func TestReceiptAcrossEdges(t *testing.T) {
	c := &clock{t: time.UnixMilli(10_000)}
	tr := New(c.now)
	tr.Observe(heartbeat("e1", 10_000, codec.EnvDelivery{EnvID: "env", EnvVersion: 4, Server: 2, Client: 3}))
	tr.Observe(heartbeat("e2", 10_000, codec.EnvDelivery{EnvID: "env", EnvVersion: 4, Server: 1}))
	tr.Observe(heartbeat("e3", 10_000, codec.EnvDelivery{EnvID: "other", EnvVersion: 9, Server: 7}))
	if _, err := tr.Receipt("env", "r5"); !errors.Is(err, ErrUnknownChange) {
		t.Fatalf("receipt of a change nobody reported: %v", err)
	}
	tr.Published("env", "r5", 5, 10_050)
	r, err := tr.Receipt("env", "r5")
	if err != nil || r.Connections.Total != 6 || r.Delivered.Total != 0 || r.Complete || r.Fraction != 0 || len(r.Edges) != 2 {
		t.Fatalf("published, no edge has it: %+v %v", r, err)
	}
	tr.Observe(changed("e1", 10_080, codec.EnvDelivery{EnvID: "env", EnvVersion: 5, RequestID: "r5", ChangeAt: 10_050, Server: 2, Client: 3}))
	r, _ = tr.Receipt("env", "r5")
	if r.Delivered.Total != 5 || r.Delivered.Server != 2 || r.Delivered.Client != 3 || r.Complete || r.Fraction != 5.0/6 {
		t.Fatalf("one edge has it: %+v", r)
	}
	tr.Observe(changed("e2", 10_120, codec.EnvDelivery{EnvID: "env", EnvVersion: 5, RequestID: "r5", ChangeAt: 10_050, Server: 1}))
	r, _ = tr.Receipt("env", "r5")
	if !r.Complete || r.Fraction != 1 || r.DeliveredInMs != 70 {
		t.Fatalf("both edges have it: %+v (want complete in 70 ms)", r)
	}
	// a later version covers it; a connection that opens later counts as delivered
	tr.Observe(heartbeat("e2", 11_000, codec.EnvDelivery{EnvID: "env", EnvVersion: 6, Server: 4}))
	r, _ = tr.Receipt("env", "r5")
	if r.Connections.Total != 9 || r.Delivered.Total != 9 {
		t.Fatalf("after e2 gained connections: %+v", r)
	}
	// an edge whose heartbeat lists no connections for env has none
	tr.Observe(heartbeat("e1", 11_000))
	r, _ = tr.Receipt("env", "r5")
	if r.Connections.Total != 4 {
		t.Fatalf("after e1's connections closed: %+v", r)
	}
	// an edge that misses three heartbeats is forgotten
	c.t = c.t.Add(2500 * time.Millisecond)
	tr.Observe(heartbeat("e1", 12_500))
	c.t = c.t.Add(1000 * time.Millisecond)
	r, _ = tr.Receipt("env", "r5")
	if r.Connections.Total != 0 || len(r.Edges) != 1 || r.Edges[0].Edge != "e1" || r.Fraction != 1 {
		t.Fatalf("after e2 went silent: %+v", r)
	}
}

func TestReceiptAnEdgeBehindKeepsItIncomplete(t *testing.T) {
	tr := New(nil)
	now := time.Now().UnixMilli()
	tr.Observe(changed("e1", now, codec.EnvDelivery{EnvID: "env", EnvVersion: 8, RequestID: "r8", Server: 1}))
	tr.Observe(heartbeat("e2", now, codec.EnvDelivery{EnvID: "env", EnvVersion: 7, Client: 1}))
	r, err := tr.Receipt("env", "r8")
	if err != nil || r.Complete || r.Fraction != 0.5 {
		t.Fatalf("%+v %v", r, err)
	}
	// an edge behind without connections does not hold it up
	tr.Observe(heartbeat("e2", now+1))
	if r, _ = tr.Receipt("env", "r8"); !r.Complete {
		t.Fatalf("e2 has no connections: %+v", r)
	}
}

func TestWait(t *testing.T) {
	tr := New(nil)
	now := time.Now().UnixMilli()
	tr.Observe(heartbeat("e1", now, codec.EnvDelivery{EnvID: "env", EnvVersion: 1, Server: 2}))
	tr.Published("env", "r2", 2, now)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	r, err := tr.Wait(ctx, "env", "r2", 1)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || r == nil || r.Complete {
		t.Fatalf("wait with nothing delivered: %+v %v", r, err)
	}
	done := make(chan error, 1)
	go func() {
		r, err := tr.Wait(context.Background(), "env", "r2", 1)
		if err == nil && !r.Complete {
			err = fmt.Errorf("returned incomplete: %+v", r)
		}
		done <- err
	}()
	tr.Observe(changed("e1", now+5, codec.EnvDelivery{EnvID: "env", EnvVersion: 2, RequestID: "r2", Server: 2}))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := tr.Wait(ctx, "env", "nope", 1); !errors.Is(err, ErrUnknownChange) {
		t.Fatalf("wait for an unknown change: %v", err)
	}
}

func TestBounds(t *testing.T) {
	tr := New(nil)
	for i := range MaxChanges + 10 {
		tr.Published("env", fmt.Sprint("r", i), int64(i+1), 0)
	}
	if _, err := tr.Receipt("env", "r0"); !errors.Is(err, ErrUnknownChange) {
		t.Fatal("the oldest request id was kept beyond MaxChanges")
	}
	if _, err := tr.Receipt("env", fmt.Sprint("r", MaxChanges+9)); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	for i := range MaxEdges + 5 {
		tr.Observe(heartbeat(fmt.Sprint("e", i), now, codec.EnvDelivery{EnvID: "env", EnvVersion: 1, Server: 1}))
	}
	if v := tr.View("env", time.Hour); v.Connections.Total != MaxEdges {
		t.Fatalf("edges tracked: %d, want the cap %d", v.Connections.Total, MaxEdges)
	}
	// change reports keep at most MaxTimes pairs per edge and environment
	for i := range MaxTimes * 2 {
		tr.Observe(changed("e0", now+int64(i), codec.EnvDelivery{EnvID: "env", EnvVersion: int64(100 + i), Server: 1}))
	}
	if n := len(tr.edges["e0"].envs["env"].times); n != MaxTimes {
		t.Fatalf("times kept: %d, want %d", n, MaxTimes)
	}
}

func TestView(t *testing.T) {
	c := &clock{t: time.UnixMilli(1_000_000)}
	tr := New(c.now)
	soon, later := int64(1_000_000+3_600_000), int64(1_000_000+48*3_600_000)
	tr.Observe(heartbeat("e1", 1, codec.EnvDelivery{EnvID: "env", EnvVersion: 3, Server: 2, Client: 1, SDKs: []codec.SDKCount{
		{Type: codec.SecretServer, SDK: "NodeJS-Server-SDK/1.3.0", Count: 2, Expires: soon},
		{Type: codec.SecretClient, SDK: "browser", Count: 1}}}))
	tr.Observe(heartbeat("e2", 1, codec.EnvDelivery{EnvID: "env", EnvVersion: 3, Server: 1, SDKs: []codec.SDKCount{
		{Type: codec.SecretServer, SDK: "NodeJS-Server-SDK/1.3.0", Count: 1, Expires: later}}}))
	v := tr.View("env", 24*time.Hour)
	if v.Connections.Total != 4 || len(v.Edges) != 2 || v.Expiring != 2 {
		t.Fatalf("%+v", v)
	}
	var node int
	for _, g := range v.SDKs {
		if g.SDK == "NodeJS-Server-SDK/1.3.0" {
			node += g.Count
			if g.Problem == "" {
				t.Errorf("Node server SDK 1.3.0 is not flagged with its known problems")
			}
		}
	}
	if node != 3 {
		t.Fatalf("Node SDK connections across edges: %d, want 3 (%+v)", node, v.SDKs)
	}
}
