package bolt_test

import (
	"context"
	"testing"

	"github.com/switchyard/switchyard/control/internal/store"
	"github.com/switchyard/switchyard/control/internal/store/bolt"
	"github.com/switchyard/switchyard/control/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Backend {
		b, err := bolt.Open(t.TempDir(), store.Schema)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close(context.Background()) })
		return b
	})
}

func TestReopenKeepsData(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	b, err := bolt.Open(dir, store.Schema)
	if err != nil {
		t.Fatal(err)
	}
	d := &store.Doc{ID: "x", Version: 3, Fields: map[string]string{"envId": "e", "key": "k"}, Data: []byte("{}")}
	if err := b.Insert(ctx, store.CollFlags, d); err != nil {
		t.Fatal(err)
	}
	b.Close(ctx)
	b, err = bolt.Open(dir, store.Schema)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(ctx)
	ds, n, err := b.Find(ctx, store.CollFlags, store.Query{Eq: map[string]string{"envId": "e", "key": "k"}})
	if err != nil || n != 1 || ds[0].Version != 3 {
		t.Fatalf("after reopen: %v %d", err, n)
	}
}
