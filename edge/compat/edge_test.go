//go:build integration

package compat

import (
	"context"
	"testing"
	"time"

	"github.com/switchyard/switchyard/codec"
)

// testEdge is an in-process edge fed by a LocalSource, producing its events
// to Kafka under a random topic prefix. launch (edge_real_test.go) starts
// the edge itself.
type testEdge struct {
	Addr     string
	Source   source
	Insights *insightWatch
	Users    *userWatch
	Prefix   string
	Brokers  []string
	stop     func() // shuts the running edge down
	// conns returns the running edge's open streaming connections.
	conns func() int
	// drain is the edge's DrainWindow (0: the edge's default).
	drain time.Duration
}

// source is what the test needs of edge.LocalSource: the control plane's
// SnapshotWriter and ChangeProducer (docs/architecture.md).
type source interface {
	WriteSnapshot(ctx context.Context, s *codec.EnvSnapshot) error
	Produce(ctx context.Context, ev *codec.ChangeEvent) error
}

// publish does what control's publisher does for a change: write the whole
// environment snapshot, then produce the change events in order. It returns
// the time just before the first Produce.
func (e *testEdge) publish(t *testing.T, fx *fixture, evs ...*codec.ChangeEvent) time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Source.WriteSnapshot(ctx, fx.snapshot()); err != nil {
		t.Fatalf("LocalSource.WriteSnapshot: %v", err)
	}
	at := time.Now()
	for _, ev := range evs {
		if err := e.Source.Produce(ctx, ev); err != nil {
			t.Fatalf("LocalSource.Produce: %v", err)
		}
	}
	return at
}

// startEdge creates the Kafka topics for a fresh prefix, starts consuming
// the insight topic and starts an edge on a free loopback port serving fx.
func startEdge(t *testing.T, fx *fixture) *testEdge {
	t.Helper()
	e := &testEdge{Brokers: kafkaBrokers(t), Prefix: topicPrefix()}
	createTopics(t, e.Brokers, e.Prefix)
	e.Insights = watchInsights(t, e.Brokers, e.Prefix+"sy.insights")
	e.Users = watchEndUsers(t, e.Brokers, e.Prefix+"sy.endusers")
	e.launch(t, fx, "127.0.0.1:0")
	return e
}

// restart shuts the edge down (streaming connections get its shutdown close
// code), calls change (the fixture changes while no edge runs) and starts a
// new edge on the same address, with a new source holding fx's snapshot.
func (e *testEdge) restart(t *testing.T, fx *fixture, change func()) {
	t.Helper()
	e.stop()
	change()
	e.launch(t, fx, e.Addr)
}
