package publish

import (
	"context"
	"fmt"
	"testing"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/store"
)

// TestBatchIsOneEventAndNeverCarriesALaterState: a batch is produced as one
// KindBatch event with its flags, and the item fields reach the snapshot
// store one by one (codec.Flatten). A flag of the batch updated again
// before the publish is left out of the batch event (the later event
// carries it), so no event carries a state stamped after a later event.
func TestBatchIsOneEventAndNeverCarriesALaterState(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	if err := st.CreateEnv(ctx, &store.Env{ID: "e", ProjectID: "p"}); err != nil {
		t.Fatal(err)
	}
	sink := NewMemory()
	p := New(st, sink, sink, nil)
	if err := p.PublishEnv(ctx, "e"); err != nil {
		t.Fatal(err)
	}
	n0 := len(sink.Events())
	fs := make([]*codec.Flag, 50)
	for i := range fs {
		fs[i] = flag("e", "", fmt.Sprintf("k%02d", i))
	}
	if err := st.BatchFlags(ctx, "e", fs); err != nil {
		t.Fatal(err)
	}
	f, _ := st.GetFlag(ctx, "e", fs[3].ID)
	f.IsEnabled = true
	if err := st.UpdateFlag(ctx, f, 1); err != nil {
		t.Fatal(err)
	}
	if err := p.PublishEnv(ctx, "e"); err != nil {
		t.Fatal(err)
	}
	evs := sink.Events()[n0:]
	if len(evs) != 2 || evs[0].Kind != codec.KindBatch || evs[1].Kind != codec.KindFlag || evs[1].ID != fs[3].ID {
		t.Fatalf("%d events: want the batch, then the update", len(evs))
	}
	items, err := codec.ExpandBatch(evs[0])
	if err != nil || len(items) != 49 {
		t.Fatalf("batch event carries %d flags (%v), want 49", len(items), err)
	}
	for _, it := range items {
		if it.ID == fs[3].ID {
			t.Fatal("the batch event carries the flag's later state")
		}
		if it.Version != 1 {
			t.Fatalf("item %s at version %d", it.ID, it.Version)
		}
	}
	snap := sink.Snapshot("e")
	if len(snap.Flags) != 50 {
		t.Fatalf("snapshot holds %d flags", len(snap.Flags))
	}
	for _, sf := range snap.Flags {
		if sf.ID == fs[3].ID && (!sf.IsEnabled || sf.Version != 2) {
			t.Fatalf("snapshot holds %+v", sf)
		}
	}
	if e, _ := st.GetEnv(ctx, "e"); e.PublishedVersion != e.Version || len(e.Outbox) != 0 {
		t.Fatalf("publish state %d/%d, outbox %d", e.PublishedVersion, e.Version, len(e.Outbox))
	}
}
