package publish

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/store"
	"github.com/switchyard/switchyard/control/internal/store/bolt"
)

func newStore(t testing.TB) *store.Store {
	b, err := bolt.Open(t.TempDir(), store.Schema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(context.Background()) })
	return store.New(b)
}

// envStore returns a new store holding environment "e".
func envStore(t testing.TB) *store.Store {
	t.Helper()
	st := newStore(t)
	if err := st.CreateEnv(context.Background(), &store.Env{ID: "e", ProjectID: "p"}); err != nil {
		t.Fatal(err)
	}
	return st
}

func flag(env, id, key string) *codec.Flag {
	return &codec.Flag{ID: id, EnvID: env, Key: key, VariationType: "boolean",
		Variations: []codec.Variation{{ID: "t", Value: "true"}}, DisabledVariationID: "t",
		Fallthrough: codec.Fallthrough{Variations: []codec.RolloutVariation{{ID: "t", Rollout: [2]float64{0, 1}}}}}
}

// published returns a store holding environment "e" with the flags ids
// (each its own key), published once to a Memory sink by the publisher.
func published(t *testing.T, ids ...string) (*store.Store, *Memory, *Publisher) {
	t.Helper()
	ctx := context.Background()
	st := envStore(t)
	sink := NewMemory()
	p := New(st, sink, sink, nil)
	for _, id := range ids {
		if err := st.CreateFlag(ctx, flag("e", id, id)); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.PublishEnv(ctx, "e"); err != nil {
		t.Fatal(err)
	}
	return st, sink, p
}

// TestOrderAndRetry: the snapshot is written before the events, events come
// in outbox order, a failure leaves everything pending and a later attempt
// delivers it; a flag created and deleted before publishing yields only the
// tombstone.
func TestOrderAndRetry(t *testing.T) {
	ctx := context.Background()
	st := envStore(t)
	sink := NewMemory()
	p := New(st, sink, sink, nil)
	for _, f := range []*codec.Flag{flag("e", "a", "a"), flag("e", "b", "b")} {
		if err := st.CreateFlag(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := st.GetFlag(ctx, "e", "b")
	b.IsArchived = true
	if err := st.UpdateFlag(ctx, b, 1); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteFlag(ctx, "e", "b", 2); err != nil {
		t.Fatal(err)
	}
	sink.SetDown(true)
	if err := p.PublishEnv(ctx, "e"); err == nil {
		t.Fatal("publish with the sink down succeeded")
	}
	if e, _ := st.GetEnv(ctx, "e"); e.PublishedVersion != 0 || len(e.Outbox) != 4 {
		t.Fatalf("state after failure: %+v", e)
	}
	sink.SetDown(false)
	if err := p.PublishEnv(ctx, "e"); err != nil {
		t.Fatal(err)
	}
	evs := sink.Events()
	if len(evs) != 2 || evs[0].ID != "a" || evs[0].Op != codec.OpUpsert || evs[1].ID != "b" || evs[1].Op != codec.OpDelete || evs[1].Version != 3 {
		for _, ev := range evs {
			t.Logf("%+v", ev)
		}
		t.Fatalf("events")
	}
	var tomb codec.Flag
	if _, err := tomb.UnmarshalMsg(evs[1].Payload); err != nil || tomb.Key != "b" || !tomb.IsArchived {
		t.Fatalf("tombstone %+v %v", tomb, err)
	}
	snap := sink.Snapshot("e")
	if snap.Version != 5 || len(snap.Flags) != 1 || snap.Flags[0].ID != "a" {
		t.Fatalf("snapshot %+v", snap)
	}
	if e, _ := st.GetEnv(ctx, "e"); e.PublishedVersion != 5 || len(e.Outbox) != 0 {
		t.Fatalf("state after success: %+v", e)
	}
	if left := p.Sweep(ctx); left != 0 {
		t.Fatalf("sweep left %d", left)
	}
}

func TestBackoffAndNotify(t *testing.T) {
	ctx := context.Background()
	st := envStore(t)
	sink := NewMemory()
	sink.SetDown(true)
	p := New(st, sink, sink, nil)
	if left := p.Sweep(ctx); left != 1 {
		t.Fatalf("left %d", left)
	}
	sink.SetDown(false)
	// Backing off: the next sweep does not try yet.
	if left := p.Sweep(ctx); left != 1 || sink.Snapshot("e") != nil {
		t.Fatalf("backoff ignored")
	}
	p.Notify("e")
	if left := p.Sweep(ctx); left != 0 || sink.Snapshot("e") == nil {
		t.Fatalf("notify did not clear the backoff")
	}
	if s := p.Stats(); s.Failures != 1 || s.Snapshots != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// TestWaitsForInFlightWrite: an outbox entry whose write has not landed
// holds the environment back (nothing produced, nothing marked) until the
// write lands; a write that never lands is given up after LandWait.
func TestWaitsForInFlightWrite(t *testing.T) {
	ctx := context.Background()
	st := envStore(t)
	sink := NewMemory()
	p := New(st, sink, sink, nil)
	f := flag("e", "a", "a")
	if err := st.CreateFlag(ctx, f); err != nil {
		t.Fatal(err)
	}
	if err := p.PublishEnv(ctx, "e"); err != nil {
		t.Fatal(err)
	}
	// Bumped for version 2, not written yet.
	if _, err := st.BumpEnv(ctx, "e", store.OutboxEntry{Kind: codec.KindFlag, Op: codec.OpUpsert, ID: "a", ItemVersion: 2}); err != nil {
		t.Fatal(err)
	}
	n := len(sink.Events())
	if err := p.PublishEnv(ctx, "e"); !errors.Is(err, errNotReady) {
		t.Fatalf("in-flight write: %v", err)
	}
	if e, _ := st.GetEnv(ctx, "e"); e.PublishedVersion != 2 || len(sink.Events()) != n || sink.Snapshot("e").Version != 2 {
		t.Fatalf("published past an in-flight write: %+v, %d events, snapshot v%d", e, len(sink.Events()), sink.Snapshot("e").Version)
	}
	// The write lands.
	f.Version, f.IsEnabled = 2, true
	data, _ := json.Marshal(f)
	if err := st.Backend().Replace(ctx, store.CollFlags, &store.Doc{ID: "a", Version: 2,
		Fields: map[string]string{"envId": "e", "key": "a"}, Data: data}, 1); err != nil {
		t.Fatal(err)
	}
	if err := p.PublishEnv(ctx, "e"); err != nil {
		t.Fatal(err)
	}
	evs := sink.Events()
	if len(evs) != n+1 || evs[n].Version != 2 || sink.Snapshot("e").Version != 3 {
		t.Fatalf("after landing: %d events, snapshot v%d", len(evs), sink.Snapshot("e").Version)
	}
	// A bump whose write never lands (the writer died) is given up after
	// LandWait: the current state is published.
	old := st.Now
	st.Now = func() int64 { return time.Now().Add(-2 * LandWait).UnixMilli() }
	if _, err := st.BumpEnv(ctx, "e", store.OutboxEntry{Kind: codec.KindFlag, Op: codec.OpUpsert, ID: "a", ItemVersion: 3}); err != nil {
		t.Fatal(err)
	}
	st.Now = old
	if err := p.PublishEnv(ctx, "e"); err != nil {
		t.Fatal(err)
	}
	if e, _ := st.GetEnv(ctx, "e"); e.PublishedVersion != 4 || len(e.Outbox) != 0 {
		t.Fatalf("abandoned write still pending: %+v", e)
	}
	// A cancelled entry is not waited for.
	e, _ := st.BumpEnv(ctx, "e", store.OutboxEntry{Kind: codec.KindFlag, Op: codec.OpUpsert, ID: "a", ItemVersion: 9})
	st.CancelEntry(ctx, "e", e.Version)
	if err := p.PublishEnv(ctx, "e"); err != nil {
		t.Fatalf("cancelled entry: %v", err)
	}
}

// TestCreateThenDeleteBeforePublish: the create's item is gone, but a later
// tombstone explains why, so nothing waits.
func TestCreateThenDeleteBeforePublish(t *testing.T) {
	ctx := context.Background()
	st := envStore(t)
	sink := NewMemory()
	p := New(st, sink, sink, nil)
	f := flag("e", "a", "a")
	f.IsArchived = true
	if err := st.CreateFlag(ctx, f); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteFlag(ctx, "e", "a", 1); err != nil {
		t.Fatal(err)
	}
	if err := p.PublishEnv(ctx, "e"); err != nil {
		t.Fatal(err)
	}
	if evs := sink.Events(); len(evs) != 1 || evs[0].Op != codec.OpDelete {
		t.Fatalf("events %+v", evs)
	}
}

func update(t *testing.T, st *store.Store, id string, enabled bool) *codec.Flag {
	t.Helper()
	f, err := st.GetFlag(context.Background(), "e", id)
	if err != nil {
		t.Fatal(err)
	}
	f.IsEnabled = enabled
	if err := st.UpdateFlag(context.Background(), f, f.Version); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestEventsNeverOvertakeTimestamps: A, B, A changed before a publish. The
// first A entry is superseded (its item moved on to the third change), so
// the events are B then A, each with the state of its own change, and the
// payloads' updatedAt increase in publish order: an SDK that got A and
// reconnects asking for "newer than A's updatedAt" has B already.
func TestEventsNeverOvertakeTimestamps(t *testing.T) {
	ctx := context.Background()
	st, sink, p := published(t, "a", "b")
	n := len(sink.Events())
	update(t, st, "a", true)
	b := update(t, st, "b", true)
	a := update(t, st, "a", false)
	if err := p.PublishEnv(ctx, "e"); err != nil {
		t.Fatal(err)
	}
	evs := sink.Events()[n:]
	var got []codec.Flag
	for _, ev := range evs {
		var f codec.Flag
		if _, err := f.UnmarshalMsg(ev.Payload); err != nil {
			t.Fatal(err)
		}
		got = append(got, f)
		if len(got) > 1 && f.UpdatedAt <= got[len(got)-2].UpdatedAt {
			t.Fatalf("event %d (%s v%d) stamped %d after %d: a later stamp overtook", len(got)-1, f.ID, f.Version, f.UpdatedAt, got[len(got)-2].UpdatedAt)
		}
	}
	if len(got) != 2 || got[0].ID != "b" || got[0].UpdatedAt != b.UpdatedAt || got[1].ID != "a" || got[1].Version != a.Version || got[1].IsEnabled {
		t.Fatalf("events %+v", got)
	}
}

// TestRaceWinnerCarriesItsOwnStamp: two writers hold version 1 of A and
// both bump (entries 1 and 3, B's change between them); the second one's
// write wins the compare-and-set, so A's state at version 2 carries entry
// 3's stamp. Entry 1 must not carry it: the events would go A(stamp 3),
// B(stamp 2), and an SDK that got A and reconnects asking for what is newer
// than its updatedAt would never get B. Entry 3 carries it, after B.
func TestRaceWinnerCarriesItsOwnStamp(t *testing.T) {
	ctx := context.Background()
	st, sink, p := published(t, "a", "b")
	n := len(sink.Events())
	// the first writer's bump; its write will lose (version 1 → 2 taken)
	lost, err := st.BumpEnv(ctx, "e", store.OutboxEntry{Kind: codec.KindFlag, Op: codec.OpUpsert, ID: "a", ItemVersion: 2})
	if err != nil {
		t.Fatal(err)
	}
	b := update(t, st, "b", true)
	a := update(t, st, "a", true) // the second writer: bump and write win
	if a.Version != 2 || a.UpdatedAt <= b.UpdatedAt {
		t.Fatalf("setup: a v%d stamped %d, b stamped %d", a.Version, a.UpdatedAt, b.UpdatedAt)
	}
	// published before the loser's CancelEntry
	if err := p.PublishEnv(ctx, "e"); err != nil {
		t.Fatal(err)
	}
	evs := sink.Events()[n:]
	var got []codec.Flag
	for _, ev := range evs {
		if ev.EnvVersion == lost.Version {
			t.Fatalf("the losing writer's entry carried the winner's state")
		}
		var f codec.Flag
		if _, err := f.UnmarshalMsg(ev.Payload); err != nil {
			t.Fatal(err)
		}
		if len(got) > 0 && f.UpdatedAt < got[len(got)-1].UpdatedAt {
			t.Fatalf("event %s v%d stamped %d after %s stamped %d: a later stamp overtook", f.ID, f.Version, f.UpdatedAt, got[len(got)-1].ID, got[len(got)-1].UpdatedAt)
		}
		got = append(got, f)
	}
	if len(got) != 2 || got[0].ID != "b" || got[1].ID != "a" || got[1].Version != 2 || got[1].UpdatedAt != a.UpdatedAt {
		t.Fatalf("events %+v", got)
	}
	st.CancelEntry(ctx, "e", lost.Version)
}

// TestSnapshotWaitsWhileAheadOfInFlightChange: A's change is bumped (its
// stamp given) but not written; B's later change lands. Writing the snapshot
// now would hand an edge B's later stamp without A's change, so nothing is
// written or produced until A lands.
func TestSnapshotWaitsWhileAheadOfInFlightChange(t *testing.T) {
	ctx := context.Background()
	st, sink, p := published(t, "a", "b")
	n := len(sink.Events())
	if _, err := st.BumpEnv(ctx, "e", store.OutboxEntry{Kind: codec.KindFlag, Op: codec.OpUpsert, ID: "a", ItemVersion: 2}); err != nil {
		t.Fatal(err)
	}
	update(t, st, "b", true)
	if err := p.PublishEnv(ctx, "e"); !errors.Is(err, errNotReady) {
		t.Fatalf("publish ahead of an in-flight change: %v", err)
	}
	if len(sink.Events()) != n {
		t.Fatalf("events produced ahead of an in-flight change")
	}
	for _, f := range sink.Snapshot("e").Flags {
		if f.ID == "b" && f.Version != 1 {
			t.Fatalf("snapshot holds b v%d (stamped after a's change in flight)", f.Version)
		}
	}
}

// TestMissingSnapshotsAreRewritten: a snapshot store that lost its data
// (Redis restarted empty) gets every live environment's snapshot again
// without any change; a deleted environment leaves a tombstone and is not
// rewritten.
func TestMissingSnapshotsAreRewritten(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	for _, id := range []string{"e", "x"} {
		if err := st.CreateEnv(ctx, &store.Env{ID: id, ProjectID: "p"}); err != nil {
			t.Fatal(err)
		}
	}
	sink := NewMemory()
	p := New(st, sink, sink, nil)
	if err := st.CreateFlag(ctx, flag("e", "a", "a")); err != nil {
		t.Fatal(err)
	}
	if left := p.Sweep(ctx); left != 0 {
		t.Fatalf("left %d", left)
	}
	if err := st.DeleteEnv(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	if left := p.Sweep(ctx); left != 0 {
		t.Fatalf("left %d", left)
	}
	sink.Lose("e")
	if n, err := p.CheckSnapshots(ctx); err != nil || n != 1 {
		t.Fatalf("check: %d rewritten, %v", n, err)
	}
	if s := sink.Snapshot("e"); s == nil || len(s.Flags) != 1 {
		t.Fatalf("snapshot not rewritten: %+v", s)
	}
	if sink.Snapshot("x") != nil {
		t.Fatal("a deleted environment's snapshot was written again")
	}
	if n, err := p.CheckSnapshots(ctx); err != nil || n != 0 {
		t.Fatalf("second check: %d rewritten, %v", n, err)
	}
}

func TestKafkaRetryBackoffDoublesToTheCap(t *testing.T) {
	f := retryBackoff(250 * time.Millisecond)
	want := []time.Duration{25, 50, 100, 200, 250, 250}
	for i, w := range want {
		if got := f(i + 1); got != w*time.Millisecond {
			t.Errorf("try %d: %v, want %v", i+1, got, w*time.Millisecond)
		}
	}
}

// hangingWriter's Missing stands for a Redis client that retries a
// read-only command during an outage until its context ends: without a
// deadline it would wait for the outage to end (the test fails at once
// instead); with one it ends with the deadline's error.
type hangingWriter struct{ *Memory }

func (hangingWriter) Missing(ctx context.Context, _ []string) ([]string, error) {
	if _, ok := ctx.Deadline(); !ok {
		return nil, errors.New("Missing called without a deadline: it would wait for the outage to end")
	}
	return nil, context.DeadlineExceeded
}

// TestSnapshotCheckIsBounded: a snapshot check during a Redis outage ends
// with an error (so Run sweeps, retries and reports the failure) instead of
// waiting for Redis to come back.
func TestSnapshotCheckIsBounded(t *testing.T) {
	ctx := context.Background()
	st := envStore(t)
	sink := NewMemory()
	p := New(st, hangingWriter{sink}, sink, nil)
	if _, err := p.CheckSnapshots(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("check during an outage: %v, want the attempt's deadline", err)
	}
}
