package publish

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/store"
)

// TestBatchInFlightProbe: while a batch's last flag has not landed the
// sweep leaves the environment for later without a publish attempt (which
// would read every flag of the batch); once it has, the batch is published
// as one event; a batch past its wait is left to the attempt (presumed
// failed or not, as before).
func TestBatchInFlightProbe(t *testing.T) {
	ctx := context.Background()
	st, sink, p := published(t)
	refs := []store.BatchRef{{ID: "f1", ItemVersion: 1}, {ID: "f2", ItemVersion: 1}}
	if _, err := st.BumpEnv(ctx, "e", store.OutboxEntry{Kind: codec.KindBatch, Op: codec.OpUpsert, ID: "b", Items: refs}); err != nil {
		t.Fatal(err)
	}
	write := func(id string) {
		f := flag("e", id, id)
		f.Version = 1
		data, _ := json.Marshal(f)
		if err := st.Backend().Insert(ctx, store.CollFlags, &store.Doc{ID: id, Version: 1, Fields: map[string]string{"envId": "e", "key": id}, Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	env := func() *store.Env {
		e, err := st.GetEnv(ctx, "e")
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	if !p.batchInFlight(ctx, env()) {
		t.Fatal("a batch none of whose flags landed is not in flight")
	}
	write("f1")
	if !p.batchInFlight(ctx, env()) {
		t.Fatal("a batch whose last flag has not landed is not in flight")
	}
	events := len(sink.Events())
	t0 := time.Now()
	if left := p.Sweep(ctx); left != 1 || len(sink.Events()) != events {
		t.Fatalf("sweep during the write: %d left, %d events produced", left, len(sink.Events())-events)
	}
	// the sweep probed instead of attempting (an attempt that finds the
	// batch incomplete retries after notReadyRetry)
	p.mu.Lock()
	next := p.retry["e"].next
	p.mu.Unlock()
	if next.Sub(t0) < batchProbeRetry {
		t.Fatalf("retry in %v: the sweep made a publish attempt, want a probe (retry in %v)", next.Sub(t0), batchProbeRetry)
	}
	write("f2")
	if p.batchInFlight(ctx, env()) {
		t.Fatal("a batch whose last flag landed is still in flight")
	}
	for deadline := time.Now().Add(10 * time.Second); p.Sweep(ctx) != 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the landed batch was not published")
		}
	}
	evs := sink.Events()[events:]
	if len(evs) != 1 || evs[0].Kind != codec.KindBatch {
		t.Fatalf("events after the batch landed: %d, want one batch event", len(evs))
	}
	// a batch past its wait is the attempt's to judge
	old := env()
	old.Outbox = []store.OutboxEntry{{Kind: codec.KindBatch, Items: []store.BatchRef{{ID: "f9", ItemVersion: 1}}, At: time.Now().Add(-time.Hour).UnixMilli()}}
	old.PublishedVersion = 1
	if p.batchInFlight(ctx, old) {
		t.Fatal("a batch past LandWait is reported in flight")
	}
}
