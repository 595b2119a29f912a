package storetest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/publish"
	"github.com/switchyard/switchyard/control/internal/store"
)

// countingBackend counts the flag documents the Store reads through it
// (Get, Find, Scan, GetMany, and the current documents Modify hands to its
// function) and can fail the next Modify of the flags.
type countingBackend struct {
	store.Backend
	flagReads     atomic.Int64
	settingsReads atomic.Int64
	failModify    atomic.Bool
}

func (c *countingBackend) count(coll string, n int) {
	switch coll {
	case store.CollFlags:
		c.flagReads.Add(int64(n))
	case store.CollEnvSettings:
		c.settingsReads.Add(1)
	}
}

func (c *countingBackend) Get(ctx context.Context, coll, id string) (*store.Doc, error) {
	d, err := c.Backend.Get(ctx, coll, id)
	if err == nil || coll == store.CollEnvSettings {
		c.count(coll, 1)
	}
	return d, err
}

func (c *countingBackend) GetMany(ctx context.Context, coll string, ids []string) ([]*store.Doc, error) {
	var out []*store.Doc
	if g, ok := c.Backend.(store.ManyGetter); ok {
		docs, err := g.GetMany(ctx, coll, ids)
		if err != nil {
			return nil, err
		}
		out = docs
	} else {
		for _, id := range ids {
			d, err := c.Backend.Get(ctx, coll, id)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			out = append(out, d)
		}
	}
	c.count(coll, len(out))
	return out, nil
}

func (c *countingBackend) Find(ctx context.Context, coll string, q store.Query) ([]*store.Doc, int, error) {
	docs, n, err := c.Backend.Find(ctx, coll, q)
	c.count(coll, len(docs))
	return docs, n, err
}

func (c *countingBackend) Scan(ctx context.Context, coll string, q store.Query, fn func(*store.Doc) error) error {
	return c.Backend.Scan(ctx, coll, q, func(d *store.Doc) error { c.count(coll, 1); return fn(d) })
}

func (c *countingBackend) Modify(ctx context.Context, coll string, ids []string, fn func(string, *store.Doc) (*store.Doc, error)) error {
	if coll == store.CollFlags && c.failModify.Swap(false) {
		return fmt.Errorf("injected failure: %w", store.ErrUnavailable)
	}
	return c.Backend.Modify(ctx, coll, ids, func(id string, old *store.Doc) (*store.Doc, error) {
		if old != nil {
			c.count(coll, 1)
		}
		return fn(id, old)
	})
}

// testBatchReadsNamedOnly: a bulk write into an environment of 300 flags,
// and its publish, read only the flags the batch names (a few reads per
// item, never the environment: before, the publish and the failure path
// read every flag of it); a batch whose flag writes fail reads only its own
// flags to learn that none landed, and is cancelled.
func testBatchReadsNamedOnly(t *testing.T, b store.Backend) {
	const size, batchN = 300, 5
	ctx := context.Background()
	cb := &countingBackend{Backend: b}
	s := store.New(cb)
	newEnv(t, s, "e1")
	base := make([]*codec.Flag, size)
	for i := range base {
		base[i] = boolFlag("e1", "", fmt.Sprintf("base-%03d", i))
	}
	must(t, s.BatchFlags(ctx, "e1", base))
	p := publish.New(s, publish.Discard{}, publish.Discard{}, slog.New(slog.DiscardHandler))
	must(t, p.PublishEnv(ctx, "e1"))

	items := make([]*codec.Flag, batchN)
	for i := range items {
		items[i] = boolFlag("e1", "", fmt.Sprintf("new-%d", i))
	}
	items[0], items[1] = boolFlag("e1", "", "base-007"), boolFlag("e1", "", "base-123")
	items[0].Version, items[1].Version, items[0].IsEnabled = 1, 1, true
	cb.flagReads.Store(0)
	must(t, s.BatchFlags(ctx, "e1", items))
	snap, _, err := s.ChangedItems(ctx, "e1")
	must(t, err)
	if len(snap.Flags) != batchN {
		t.Fatalf("the changed items hold %d flags, want the batch's %d", len(snap.Flags), batchN)
	}
	must(t, p.PublishEnv(ctx, "e1"))
	if n := cb.flagReads.Load(); n > 4*batchN {
		t.Fatalf("a batch of %d flags and its publish read %d flag documents (environment: %d flags): want at most %d", batchN, n, size, 4*batchN)
	}
	e, err := s.GetEnv(ctx, "e1")
	must(t, err)
	if e.PublishedVersion != e.Version {
		t.Fatalf("published %d of %d", e.PublishedVersion, e.Version)
	}

	// the flag writes fail: anyLanded reads the batch's flags only, and
	// the entry is cancelled
	failed := []*codec.Flag{boolFlag("e1", "", "lost-1"), boolFlag("e1", "", "lost-2")}
	cb.failModify.Store(true)
	cb.flagReads.Store(0)
	if err := s.BatchFlags(ctx, "e1", failed); err == nil {
		t.Fatal("a batch whose writes failed succeeded")
	}
	if n := cb.flagReads.Load(); n > int64(4*len(failed)) {
		t.Fatalf("a failed batch of %d read %d flag documents", len(failed), n)
	}
	e2, err := s.GetEnv(ctx, "e1")
	must(t, err)
	for _, en := range e2.Outbox {
		if en.EnvVersion > e.Version && en.Kind == codec.KindBatch {
			t.Fatalf("the failed batch's entry stays in the outbox: %+v", en)
		}
	}
	if _, err := s.GetFlagByKey(ctx, "e1", "lost-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a flag of the failed batch: %v", err)
	}
}

// testSettingsMemo: within a request memo an environment's settings are
// read once however often they are checked; a settings write through the
// request drops the memo (the gate then sees the protection at once);
// without a memo every check reads.
func testSettingsMemo(t *testing.T, b store.Backend) {
	ctx := context.Background()
	cb := &countingBackend{Backend: b}
	s := store.New(cb)
	newEnv(t, s, "e1")
	req := store.WithRequestMemo(ctx)
	for range 3 {
		must(t, s.Gate(req, "e1"))
	}
	if n := cb.settingsReads.Load(); n != 1 {
		t.Fatalf("three gate checks of one request read the settings %d times, want 1", n)
	}
	must(t, s.PutEnvSettings(req, &store.EnvSettings{EnvID: "e1", Protected: true}))
	if err := s.Gate(req, "e1"); !errors.Is(err, store.ErrChangeRequest) {
		t.Fatalf("gate after protecting the environment in the same request: %v", err)
	}
	cb.settingsReads.Store(0)
	for range 2 {
		if err := s.Gate(ctx, "e1"); !errors.Is(err, store.ErrChangeRequest) {
			t.Fatalf("gate without a memo: %v", err)
		}
	}
	if n := cb.settingsReads.Load(); n != 2 {
		t.Fatalf("two checks without a memo read the settings %d times, want 2", n)
	}
}

// testInsertMany: a backend's InsertMany (store.ManyInserter) writes the
// documents whose id and unique keys are free, reports the others as
// duplicates without writing them, and the written ones are found by
// their unique key.
func testInsertMany(t *testing.T, b store.Backend) {
	m, ok := b.(store.ManyInserter)
	if !ok {
		t.Skip("the backend has no InsertMany")
	}
	ctx := context.Background()
	must(t, b.Insert(ctx, store.CollFlags, flagDoc("f1", "e1", "k1", 1)))
	must(t, b.Insert(ctx, store.CollFlags, flagDoc("f9", "e1", "k9", 1)))
	dup, err := m.InsertMany(ctx, store.CollFlags, []*store.Doc{
		flagDoc("f1", "e1", "other", 1), // id exists
		flagDoc("f2", "e1", "k2", 1),
		flagDoc("f3", "e1", "k9", 1), // key exists
		flagDoc("f4", "e1", "k4", 1),
	})
	must(t, err)
	slices.Sort(dup) // in no particular order
	if strings.Join(dup, ",") != "f1,f3" {
		t.Fatalf("duplicates %v, want f1,f3", dup)
	}
	for id, key := range map[string]string{"f2": "k2", "f4": "k4", "f9": "k9", "f1": "k1"} {
		docs, _, err := b.Find(ctx, store.CollFlags, store.Query{Eq: map[string]string{"envId": "e1", "key": key}})
		must(t, err)
		if len(docs) != 1 || docs[0].ID != id {
			t.Fatalf("key %s: %v, want %s", key, docs, id)
		}
	}
	if _, err := b.Get(ctx, store.CollFlags, "f3"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("f3, a duplicate key, was written: %v", err)
	}
}
