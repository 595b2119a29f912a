//go:build integration

package compat

import (
	"context"
	"testing"

	"github.com/switchyard/switchyard/codec"
)

// testEdge is an in-process edge fed by a LocalSource, producing its events
// to Kafka under a random topic prefix. launch (edge_real_test.go) starts
// the edge itself.
type testEdge struct {
	Addr   string
	Source interface {
		Produce(ctx context.Context, ev *codec.ChangeEvent) error
	}
	Insights *insightWatch
	Prefix   string
	Brokers  []string
	stop     func() // shuts the running edge down
}

// startEdge creates the Kafka topics for a fresh prefix, starts consuming
// the insight topic and starts an edge on a free loopback port serving fx.
func startEdge(t *testing.T, fx *fixture) *testEdge {
	t.Helper()
	e := &testEdge{Brokers: kafkaBrokers(t), Prefix: topicPrefix()}
	createTopics(t, e.Brokers, e.Prefix)
	e.Insights = watchInsights(t, e.Brokers, e.Prefix+"sy.insights")
	e.launch(t, fx, "127.0.0.1:0")
	return e
}

// restart shuts the edge down (streaming connections get its shutdown close
// code) and starts a new one on the same address, with a new source holding
// fx's current snapshot.
func (e *testEdge) restart(t *testing.T, fx *fixture) {
	t.Helper()
	e.stop()
	e.launch(t, fx, e.Addr)
}
