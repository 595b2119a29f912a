package bolt

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/control/internal/store"
)

var testSchema = []store.Collection{{Name: "items", Indexes: []store.Index{
	{Name: "key", Fields: []string{"key"}, Unique: true},
	{Name: "env", Fields: []string{"env"}},
}}}

func openTest(t *testing.T, dir string) *Backend {
	t.Helper()
	b, err := Open(dir, testSchema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(context.Background()) })
	return b
}

func doc(id, key string, v int64) *store.Doc {
	return &store.Doc{ID: id, Version: v, Fields: map[string]string{"key": key, "env": "e"}, Data: []byte(`{"v":` + fmt.Sprint(v) + `}`)}
}

// hold runs a Modify whose callback blocks until release is closed, so the
// writes made meanwhile queue up and share the next transaction.
func hold(t *testing.T, b *Backend) (release func(), wait func()) {
	t.Helper()
	in, rel, out := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		out <- b.Modify(context.Background(), "items", []string{"holder"}, func(string, *store.Doc) (*store.Doc, error) {
			close(in)
			<-rel
			return doc("holder", "holder", 1), nil
		})
	}()
	<-in
	return func() { close(rel) }, func() {
		if err := <-out; err != nil {
			t.Errorf("holder: %v", err)
		}
	}
}

// queued waits until n writes wait in the committer's queue.
func queued(t *testing.T, b *Backend, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(b.gc.queue) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d writes queued, want %d", len(b.gc.queue), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestGroupCommitSharesOneTransaction: writes made while a transaction
// runs commit together, each acknowledged, and are on disk after a reopen.
func TestGroupCommitSharesOneTransaction(t *testing.T) {
	dir := t.TempDir()
	b, err := Open(dir, testSchema)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	release, wait := hold(t, b)
	const n = 50
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = b.Insert(ctx, "items", doc(fmt.Sprint("d", i), fmt.Sprint("k", i), 1)) })
	}
	queued(t, b, n)
	b.gc.smu.Lock()
	before := b.gc.stats
	b.gc.smu.Unlock()
	release()
	wait()
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("insert %d: %v", i, err)
		}
	}
	b.gc.smu.Lock()
	commits := b.gc.stats.commits - before.commits
	b.gc.smu.Unlock()
	if commits > 2 { // the holder's, then one for the 50
		t.Fatalf("%d commits for %d queued writes, want them in one", commits, n)
	}
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	b = openTest(t, dir)
	_, total, err := b.Find(ctx, "items", store.Query{Eq: map[string]string{"env": "e"}})
	if err != nil || total != n+1 {
		t.Fatalf("after reopen %d documents, %v; want %d", total, err, n+1)
	}
}

// TestGroupCommitIsolatesFailures: in one group, writes that fail get their
// own error and change nothing; a write that fails half-way is rolled back
// alone; the others commit.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	b := openTest(t, t.TempDir())
	ctx := context.Background()
	if err := b.Insert(ctx, "items", doc("a", "ka", 1)); err != nil {
		t.Fatal(err)
	}
	release, wait := hold(t, b)
	boom := errors.New("boom")
	type res struct {
		name string
		err  error
	}
	out := make(chan res, 10)
	var wg sync.WaitGroup
	start := func(name string, f func() error) {
		wg.Go(func() { out <- res{name, f()} })
	}
	n := 0
	next := func() { n++; queued(t, b, n) } // keep the queue order
	start("insert b", func() error { return b.Insert(ctx, "items", doc("b", "kb", 1)) })
	next()
	start("insert a again", func() error { return b.Insert(ctx, "items", doc("a", "kx", 1)) })
	next()
	start("replace a stale", func() error { return b.Replace(ctx, "items", doc("a", "ka", 9), 5) })
	next()
	start("insert c with b's key", func() error { return b.Insert(ctx, "items", doc("c", "kb", 1)) })
	next()
	start("modify half-way", func() error {
		return b.Modify(ctx, "items", []string{"d", "e"}, func(id string, _ *store.Doc) (*store.Doc, error) {
			if id == "e" {
				return nil, boom
			}
			return doc(id, "kd", 1), nil
		})
	})
	next()
	start("replace a", func() error { return b.Replace(ctx, "items", doc("a", "ka", 2), 1) })
	next()
	start("delete missing", func() error { return b.Delete(ctx, "items", "zz", -1) })
	next()
	start("insert f", func() error { return b.Insert(ctx, "items", doc("f", "kf", 1)) })
	next()
	release()
	wait()
	wg.Wait()
	close(out)
	got := map[string]error{}
	for r := range out {
		got[r.name] = r.err
	}
	for name, want := range map[string]error{"insert b": nil, "replace a": nil, "insert f": nil,
		"insert a again": store.ErrDuplicate, "replace a stale": store.ErrConflict, "insert c with b's key": store.ErrDuplicate,
		"modify half-way": boom, "delete missing": store.ErrNotFound} {
		if err := got[name]; (want == nil) != (err == nil) || (want != nil && !errors.Is(err, want)) {
			t.Errorf("%s: %v, want %v", name, err, want)
		}
	}
	for id, v := range map[string]int64{"a": 2, "b": 1, "f": 1, "holder": 1} {
		if d, err := b.Get(ctx, "items", id); err != nil || d.Version != v {
			t.Errorf("%s: %+v %v, want version %d", id, d, err, v)
		}
	}
	for _, id := range []string{"c", "d", "e"} {
		if _, err := b.Get(ctx, "items", id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s written by a failed write: %v", id, err)
		}
	}
	if ds, _, _ := b.Find(ctx, "items", store.Query{Eq: map[string]string{"key": "kd"}}); len(ds) != 0 {
		t.Error("the half-way write left an index entry")
	}
	b.gc.smu.Lock()
	defer b.gc.smu.Unlock()
	if b.gc.stats.reruns != 1 {
		t.Errorf("%d reruns, want 1 (the half-way failure)", b.gc.stats.reruns)
	}
}

// TestGroupCommitPanicReachesTheCaller: a write that panics panics in its
// caller, as with a transaction of its own; the store keeps working.
func TestGroupCommitPanicReachesTheCaller(t *testing.T) {
	b := openTest(t, t.TempDir())
	ctx := context.Background()
	func() {
		defer func() {
			if v := recover(); v != "bad write" {
				t.Fatalf("recovered %v", v)
			}
		}()
		_ = b.Modify(ctx, "items", []string{"p"}, func(string, *store.Doc) (*store.Doc, error) { panic("bad write") })
		t.Fatal("no panic")
	}()
	if err := b.Insert(ctx, "items", doc("ok", "ok", 1)); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Insert(ctx, "items", doc("late", "late", 1)); !errors.Is(err, errClosed) {
		t.Fatalf("write after close: %v", err)
	}
}

// BenchmarkGroupCommitParallel measures concurrent compare-and-set writes
// (each its own fsync before the group commit) and reports how many share
// one commit.
func BenchmarkGroupCommitParallel(b *testing.B) {
	bk, err := Open(b.TempDir(), testSchema)
	if err != nil {
		b.Fatal(err)
	}
	defer bk.Close(context.Background())
	ctx := context.Background()
	var mu sync.Mutex
	n := 0
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		mu.Lock()
		id := fmt.Sprint("p", n)
		n++
		mu.Unlock()
		if err := bk.Insert(ctx, "items", doc(id, id, 1)); err != nil {
			b.Error(err)
			return
		}
		for v := int64(1); pb.Next(); v++ {
			if err := bk.Replace(ctx, "items", doc(id, id, v+1), v); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	bk.gc.smu.Lock()
	defer bk.gc.smu.Unlock()
	if bk.gc.stats.commits > 0 {
		b.ReportMetric(float64(bk.gc.stats.ops)/float64(bk.gc.stats.commits), "writes/commit")
	}
}
