//go:build integration

package mongo

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/switchyard/switchyard/control/internal/store"
)

func keyDoc(env, key, id string) *store.Doc {
	return &store.Doc{ID: id, Version: 1, Fields: map[string]string{"envId": env, "key": key}, Data: []byte(`{}`)}
}

func byKey(t *testing.T, b *Backend, env, key string) string {
	t.Helper()
	ds, n, err := b.Find(context.Background(), store.CollSegments, store.Query{Eq: map[string]string{"envId": env, "key": key}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != n || n > 1 {
		t.Fatalf("find %s/%s: %d docs, total %d", env, key, len(ds), n)
	}
	if n == 0 {
		return ""
	}
	return ds[0].ID
}

// TestIntegrationLookupKeys: on FerretDB a read by a flag's or segment's
// key goes through its key document; the key follows inserts, renames and
// deletes, a stale key (pointing at a document that does not hold it) is
// neither returned nor in the way, concurrent inserts of one key leave
// exactly one winner that the key finds, and documents written without keys
// get them from the backfill.
func TestIntegrationLookupKeys(t *testing.T) {
	b, _ := openCost(t)
	if !b.locked {
		t.Skip("key documents are kept on FerretDB only")
	}
	ctx := context.Background()
	c := store.CollSegments
	if err := b.Insert(ctx, c, keyDoc("e", "a", "s1")); err != nil {
		t.Fatal(err)
	}
	if got := byKey(t, b, "e", "a"); got != "s1" {
		t.Fatalf("key a finds %q", got)
	}
	if got := byKey(t, b, "other", "a"); got != "" {
		t.Fatalf("key a of another environment finds %q", got)
	}
	if err := b.Insert(ctx, c, keyDoc("e", "a", "s2")); !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("second insert of key a: %v", err)
	}
	// rename a -> b: the old key no longer finds it, the new one does,
	// and a can be taken again
	d := keyDoc("e", "b", "s1")
	d.Version = 2
	if err := b.Replace(ctx, c, d, 1); err != nil {
		t.Fatal(err)
	}
	if got := byKey(t, b, "e", "a"); got != "" {
		t.Fatalf("after rename, key a finds %q", got)
	}
	if got := byKey(t, b, "e", "b"); got != "s1" {
		t.Fatalf("after rename, key b finds %q", got)
	}
	if err := b.Replace(ctx, c, keyDoc("e", "b", "s1"), 1); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("replace at a stale version: %v", err)
	}
	if err := b.Insert(ctx, c, keyDoc("e", "a", "s3")); err != nil {
		t.Fatal(err)
	}
	// renaming onto a held key is a duplicate and changes nothing
	d = keyDoc("e", "a", "s1")
	d.Version = 3
	if err := b.Replace(ctx, c, d, 2); !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("rename onto a held key: %v", err)
	}
	if byKey(t, b, "e", "a") != "s3" || byKey(t, b, "e", "b") != "s1" {
		t.Fatal("a failed rename moved a key")
	}
	// delete: the key goes with the document
	if err := b.Delete(ctx, c, "s3", 1); err != nil {
		t.Fatal(err)
	}
	if got := byKey(t, b, "e", "a"); got != "" {
		t.Fatalf("after delete, key a finds %q", got)
	}
	if n, _ := b.db.Collection(collKeys).CountDocuments(ctx, bson.D{{Key: "_id", Value: lookupKey(c, &b.lookups[c][0], map[string]string{"envId": "e", "key": "a"})}}); n != 0 {
		t.Fatalf("the key document of a deleted document is left")
	}
	// a stale key (a writer died after its claim) neither finds nor blocks
	stale := lookupKey(c, &b.lookups[c][0], map[string]string{"envId": "e", "key": "z"})
	if _, err := b.db.Collection(collKeys).InsertOne(ctx, bson.D{{Key: "_id", Value: stale}, {Key: "id", Value: "s1"}}); err != nil {
		t.Fatal(err)
	}
	if got := byKey(t, b, "e", "z"); got != "" {
		t.Fatalf("a stale key finds %q", got)
	}
	if err := b.Insert(ctx, c, keyDoc("e", "z", "s9")); err != nil {
		t.Fatalf("insert over a stale key: %v", err)
	}
	if got := byKey(t, b, "e", "z"); got != "s9" {
		t.Fatalf("key z finds %q", got)
	}
	// an insert that fails (its id exists) leaves no key in the way of the
	// next insert of that key
	if err := b.Insert(ctx, c, keyDoc("e", "fresh", "s9")); !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("insert with an existing id: %v", err)
	}
	if err := b.Insert(ctx, c, keyDoc("e", "fresh", "s10")); err != nil {
		t.Fatalf("insert of a key whose previous insert failed: %v", err)
	}
	if byKey(t, b, "e", "fresh") != "s10" || byKey(t, b, "e", "z") != "s9" {
		t.Fatal("keys after a failed insert")
	}
	// concurrent inserts of one key: one wins, and the key finds it
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = b.Insert(ctx, c, keyDoc("e", "race", fmt.Sprintf("r%d", i)))
		}()
	}
	wg.Wait()
	won := ""
	for i, err := range errs {
		switch {
		case err == nil && won != "":
			t.Fatalf("two inserts of one key won: %s and r%d", won, i)
		case err == nil:
			won = fmt.Sprintf("r%d", i)
		case !errors.Is(err, store.ErrDuplicate):
			t.Fatalf("insert r%d: %v", i, err)
		}
	}
	if got := byKey(t, b, "e", "race"); won == "" || got != won {
		t.Fatalf("winner %q, key finds %q", won, got)
	}
	// documents written without their keys get them from the backfill
	if _, err := b.db.Collection(c).InsertOne(ctx, toBSON(keyDoc("e", "old", "s-old"))); err != nil {
		t.Fatal(err)
	}
	if got := byKey(t, b, "e", "old"); got != "" {
		t.Fatalf("before the backfill, key old finds %q", got)
	}
	if err := b.backfillLookups(ctx); err != nil {
		t.Fatal(err)
	}
	if got := byKey(t, b, "e", "old"); got != "s-old" {
		t.Fatalf("after the backfill, key old finds %q", got)
	}
	if byKey(t, b, "e", "z") != "s9" || byKey(t, b, "e", "b") != "s1" {
		t.Fatal("the backfill moved a key")
	}
}
