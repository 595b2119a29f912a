//go:build integration && !fakeedge

package compat

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/switchyard/switchyard/edge"
)

// launch starts an in-process edge on addr, fed by a new LocalSource
// holding fx's snapshot, with the production (Kafka) event sink under
// e.Prefix.
func (e *testEdge) launch(t *testing.T, fx *fixture, addr string) {
	t.Helper()
	// The edge's config takes the production source's Redis address
	// together with the brokers; WithSource replaces that source, so Redis
	// is not used here.
	redis := os.Getenv("SY_TEST_REDIS_ADDR")
	if redis == "" {
		t.Fatal("SY_TEST_REDIS_ADDR is not set: start the services (make services-up) and `source ops/services/env.sh`")
	}
	src := edge.NewLocalSource()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := src.WriteSnapshot(ctx, fx.snapshot()); err != nil {
		t.Fatalf("LocalSource.WriteSnapshot: %v", err)
	}
	srv, err := edge.New(edge.Config{
		Addr:         addr,
		RedisAddr:    redis,
		KafkaBrokers: e.Brokers,
		TopicPrefix:  e.Prefix,
		DrainWindow:  e.drain,
	}, edge.WithSource(src))
	if err != nil {
		t.Fatalf("edge.New: %v", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("edge Start: %v", err)
	}
	stopped := false
	e.stop = func() {
		if stopped {
			return
		}
		stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("edge Shutdown: %v", err)
		}
	}
	t.Cleanup(e.stop)
	e.Addr, e.Source, e.conns = srv.Addr(), src, srv.Connections
}
