package publish

import (
	"context"
	"fmt"
	"testing"
	"time"

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
	st := envStore(t)
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

// TestSplitBatchBoundsRecords: a large batch event is split into batch
// events of at most the bound, carrying every flag once, in order; a small
// one is left whole.
func TestSplitBatchBoundsRecords(t *testing.T) {
	b := &codec.EnvSnapshot{EnvID: "e", Version: 9}
	for i := range 3000 {
		f := flag("e", fmt.Sprintf("id-%04d", i), fmt.Sprintf("key-%04d", i))
		f.Description = "a description of some length to make the flags weigh a few hundred bytes each"
		b.Flags = append(b.Flags, *f)
	}
	p, err := b.MarshalMsg(nil)
	if err != nil {
		t.Fatal(err)
	}
	ev := &codec.ChangeEvent{EnvID: "e", Kind: codec.KindBatch, Op: codec.OpUpsert, EnvVersion: 9, Payload: p}
	const max = 64 << 10
	parts, err := SplitBatch(ev, max)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) < len(p)/max {
		t.Fatalf("%d parts for %d bytes", len(parts), len(p))
	}
	next := 0
	for _, part := range parts {
		if len(part.Payload) > max || part.Kind != codec.KindBatch || part.EnvVersion != 9 {
			t.Fatalf("part of %d bytes, kind %s", len(part.Payload), part.Kind)
		}
		items, err := codec.ExpandBatch(part)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			if it.ID != b.Flags[next].ID {
				t.Fatalf("item %s, want %s", it.ID, b.Flags[next].ID)
			}
			next++
		}
	}
	if next != len(b.Flags) {
		t.Fatalf("%d of %d flags carried", next, len(b.Flags))
	}
	if whole, _ := SplitBatch(ev, len(p)); len(whole) != 1 || whole[0] != ev {
		t.Fatal("a batch within the bound was split")
	}
}

// TestSlowBatchIsNotPresumedFailedWhileWriting: a batch whose flags are
// still being written (the MongoDB-wire store writes them one by one) waits
// LandWait plus LandWaitPerItem per flag before it is presumed failed, so
// it is not published without the flags that land later (which would then
// never reach an edge).
func TestSlowBatchIsNotPresumedFailedWhileWriting(t *testing.T) {
	const n = 1000
	snap := &codec.EnvSnapshot{EnvID: "e"}
	en := store.OutboxEntry{Kind: codec.KindBatch, Op: codec.OpUpsert, ID: "b", EnvVersion: 2}
	for i := range n {
		id := fmt.Sprintf("f%04d", i)
		en.Items = append(en.Items, store.BatchRef{ID: id, ItemVersion: 1})
		if i < n/3 { // a third landed so far
			snap.Flags = append(snap.Flags, codec.Flag{ID: id, EnvID: "e", Key: id, Version: 1})
		}
	}
	ix := indexOf(snap)
	now := time.Now().UnixMilli()
	en.At = now - (2 * LandWait).Milliseconds() // past LandWait, well within LandWait + n × LandWaitPerItem
	if got := landed(ix, nil, &en, now); got != pending {
		t.Fatalf("a batch of %d flags, a third written, %v after its bump: %v, want pending", n, 2*LandWait, got)
	}
	en.At = now - (LandWait + n*LandWaitPerItem + time.Second).Milliseconds()
	if got := landed(ix, nil, &en, now); got != ok {
		t.Fatalf("a batch past its whole wait: %v, want ok (presumed failed: published with what landed)", got)
	}
}
