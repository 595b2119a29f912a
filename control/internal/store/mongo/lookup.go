package mongo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/switchyard/switchyard/control/internal/store"
)

// Reads by key on FerretDB.
//
// FerretDB v1 over SQLite hands a query's filter to SQLite only when it is
// exactly {_id: <string>}; any other filter ({envId, key}, {_id, _v}) reads
// and decodes every document of the collection, every environment's, and
// filters them in Go. So on FerretDB (b.locked) the backend never filters
// on anything but _id on the path of a write:
//
//   - Replace and Delete read the document by _id under its lock, compare
//     the version in Go and write with the filter {_id} (the lock, which
//     every writer of the document takes, makes that compare-and-set).
//   - For each unique index marked Lookup in the schema (a flag's or a
//     segment's envId+key), a key document {_id: "<coll>/<index>/<values>",
//     id: <document id>} in collKeys points at the document holding that
//     key, and Find answers a query naming exactly the index's fields with
//     two reads by _id.
//
// Invariant: every document of such a collection has its key document
// pointing at it. A key document may also point at a document that no
// longer holds the key (a write that failed after its claim, a process that
// died before removing it): readers check the document they reach, and a
// writer may take such a key over once it is older than LockTTL (younger,
// its document may still be on its way: see claim). Takeovers of one key
// are serialised by the key's lock (lock(collKeys, key)). Databases
// written before the key documents existed get them from migration
// 0002-lookup-keys.
//
// collKeys is the collection of the key documents.
const collKeys = "lookup_keys"

// keyBatch is how many key documents the backfill inserts at a time.
const keyBatch = 1000

// lookupKey is the _id of the key document of index ix for the field
// values f: the collection, the index and each value length-prefixed, so
// that no two value lists share an id.
func lookupKey(coll string, ix *store.Index, f map[string]string) string {
	var sb strings.Builder
	sb.WriteString(coll)
	sb.WriteByte('/')
	sb.WriteString(ix.Name)
	for _, k := range ix.Fields {
		v := f[k]
		sb.WriteByte('/')
		sb.WriteString(strconv.Itoa(len(v)))
		sb.WriteByte(':')
		sb.WriteString(v)
	}
	return sb.String()
}

// lookupIndexes returns the Lookup indexes of the schema by collection.
func lookupIndexes(schema []store.Collection) map[string][]store.Index {
	out := map[string][]store.Index{}
	for _, c := range schema {
		for _, ix := range c.Indexes {
			if ix.Lookup && ix.Unique {
				out[c.Name] = append(out[c.Name], ix)
			}
		}
	}
	return out
}

// sameKey reports whether two documents' fields agree on the index.
func sameKey(ix *store.Index, a, b map[string]string) bool {
	for _, k := range ix.Fields {
		if a[k] != b[k] {
			return false
		}
	}
	return true
}

// holds reports whether document id of coll exists and holds the key f.
func (b *Backend) holds(ctx context.Context, coll string, ix *store.Index, id string, f map[string]string) (bool, error) {
	d, err := b.Get(ctx, coll, id)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return sameKey(ix, d.Fields, f), nil
}

// keyTarget returns the document id a key document points at ("" when
// there is none).
func (b *Backend) keyTarget(ctx context.Context, key string) (string, error) {
	var cur struct {
		ID string `bson:"id"`
	}
	err := b.db.Collection(collKeys).FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&cur)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return "", nil
	}
	if err != nil {
		return "", mapErr(err)
	}
	return cur.ID, nil
}

// claim points the key document of index ix for the fields f at document
// id, unless another document holds that key (ErrDuplicate). The caller
// then writes the document; if that write fails it calls the returned
// function, which removes a key this claim wrote (one that pointed at id
// already is left).
//
// A new key is one insert (a unique insert is atomic). A key that exists
// and points at a document that does not hold it is stale — the write
// after its claim failed, or has not landed yet: it is taken over only
// when older than LockTTL (until then the key is being written and the
// claim is a duplicate), under the key's lock, so two writers cannot both
// take it over.
func (b *Backend) claim(ctx context.Context, coll string, ix *store.Index, f map[string]string, id string) (func(), error) {
	key := lookupKey(coll, ix, f)
	keys := b.db.Collection(collKeys)
	dup := func() error {
		return fmt.Errorf("%s: %s %s exists: %w", coll, ix.Name, strings.Join(fieldValues(ix, f), "/"), store.ErrDuplicate)
	}
	for attempt := 0; attempt < 10; attempt++ {
		now := time.Now().UnixMilli()
		undo := func() { b.dropKey(ctx, coll, ix, f, id) }
		_, err := keys.InsertOne(ctx, bson.D{{Key: "_id", Value: key}, {Key: "id", Value: id}, {Key: "at", Value: now}})
		if err == nil {
			return undo, nil
		}
		if !mongo.IsDuplicateKeyError(err) && !strings.Contains(err.Error(), "UNIQUE constraint failed") {
			return nil, mapErr(err)
		}
		cur, at, err := b.keyDoc(ctx, key)
		switch {
		case err != nil:
			return nil, err
		case cur == "":
			continue // removed meanwhile
		case cur == id:
			return func() {}, nil
		}
		held, err := b.holds(ctx, coll, ix, cur, f)
		if err != nil {
			return nil, err
		}
		if held || now-at < LockTTL.Milliseconds() {
			return nil, dup()
		}
		unlock, err := b.lock(ctx, collKeys, key)
		if err != nil {
			return nil, err
		}
		if again, againAt, err := b.keyDoc(ctx, key); err != nil || again != cur || againAt != at {
			unlock()
			if err != nil {
				return nil, err
			}
			continue // changed meanwhile: look again
		}
		_, err = keys.ReplaceOne(ctx, bson.D{{Key: "_id", Value: key}}, bson.D{{Key: "_id", Value: key}, {Key: "id", Value: id}, {Key: "at", Value: now}})
		unlock()
		if err != nil {
			return nil, mapErr(err)
		}
		return undo, nil
	}
	return nil, fmt.Errorf("%s: the key %s changed concurrently too often: %w", coll, key, store.ErrConflict)
}

// keyDoc returns the document id a key document points at and when it was
// written ("" when there is none).
func (b *Backend) keyDoc(ctx context.Context, key string) (string, int64, error) {
	var cur struct {
		ID string `bson:"id"`
		At int64  `bson:"at"`
	}
	err := b.db.Collection(collKeys).FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&cur)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return "", 0, nil
	}
	if err != nil {
		return "", 0, mapErr(err)
	}
	return cur.ID, cur.At, nil
}

func fieldValues(ix *store.Index, f map[string]string) []string {
	out := make([]string, len(ix.Fields))
	for i, k := range ix.Fields {
		out[i] = f[k]
	}
	return out
}

// dropKey removes the key document of index ix for the fields f if it
// still points at id. Best effort: a key left behind is stale, which
// readers and claims recognise.
func (b *Backend) dropKey(ctx context.Context, coll string, ix *store.Index, f map[string]string, id string) {
	ctx = context.WithoutCancel(ctx)
	key := lookupKey(coll, ix, f)
	unlock, err := b.lock(ctx, collKeys, key)
	if err != nil {
		return
	}
	defer unlock()
	if cur, err := b.keyTarget(ctx, key); err == nil && cur == id {
		_, _ = b.db.Collection(collKeys).DeleteOne(ctx, bson.D{{Key: "_id", Value: key}})
	}
}

// lookupFor returns the Lookup index of coll that q reads by (Eq naming
// exactly its fields, nothing else), or nil.
func (b *Backend) lookupFor(coll string, q *store.Query) *store.Index {
	if !b.locked || len(q.In) > 0 || q.Search != "" || q.Offset > 0 || q.IDPrefix != "" {
		return nil
	}
	ixs := b.lookups[coll]
	for i := range ixs {
		ix := &ixs[i]
		if len(q.Eq) != len(ix.Fields) {
			continue
		}
		ok := true
		for _, k := range ix.Fields {
			if _, has := q.Eq[k]; !has {
				ok = false
				break
			}
		}
		if ok {
			return ix
		}
	}
	return nil
}

// findByKey answers a query by a Lookup index with two reads by _id.
func (b *Backend) findByKey(ctx context.Context, coll string, ix *store.Index, q *store.Query) ([]*store.Doc, int, error) {
	id, err := b.keyTarget(ctx, lookupKey(coll, ix, q.Eq))
	if err != nil || id == "" {
		return nil, 0, err
	}
	d, err := b.Get(ctx, coll, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	if !store.Matches(d.Fields, q) {
		return nil, 0, nil // a stale key
	}
	return []*store.Doc{d}, 1, nil
}

// insertKeyed inserts a document of a collection with Lookup indexes: its
// keys are claimed first and held until the document is written.
func (b *Backend) insertKeyed(ctx context.Context, coll string, d *store.Doc, ixs []store.Index) error {
	var undo []func()
	fail := func(err error) error {
		for _, u := range undo {
			u()
		}
		return err
	}
	for i := range ixs {
		u, err := b.claim(ctx, coll, &ixs[i], d.Fields, d.ID)
		if err != nil {
			return fail(err)
		}
		undo = append(undo, u)
	}
	if _, err := b.db.Collection(coll).InsertOne(ctx, toBSON(d)); err != nil {
		// the key must not point at a document that is not there (a
		// retry would see a young stale key and refuse it)
		return fail(mapErr(err))
	}
	return nil
}

// replaceLocked is Replace on FerretDB: under the document's lock, the
// version is compared in Go and the write filtered on _id alone; a key
// that changes is claimed before and the old one dropped after.
func (b *Backend) replaceLocked(ctx context.Context, coll string, d *store.Doc, expect int64) error {
	unlock, err := b.lock(ctx, coll, d.ID)
	if err != nil {
		return err
	}
	defer unlock()
	old, err := b.Get(ctx, coll, d.ID)
	if err != nil {
		return err
	}
	if old.Version != expect {
		return fmt.Errorf("stale version: %w", store.ErrConflict)
	}
	return b.replaceHeld(ctx, coll, old, d)
}

// modifyLocked is Modify of one document on FerretDB: the lock is taken
// before the read, so fn sees the document no other writer can change
// until the write, and is called once; the write is by _id (replaceHeld)
// without reading the document again. A compare-and-set that read first
// and locked only to write read it twice and, under concurrent writers,
// lost and started over.
func (b *Backend) modifyLocked(ctx context.Context, coll, id string, fn func(string, *store.Doc) (*store.Doc, error)) error {
	for attempt := 0; ; attempt++ {
		if attempt == 50 {
			return fmt.Errorf("%s %s changed concurrently too often: %w", coll, id, store.ErrConflict)
		}
		again, err := b.modifyHeld(ctx, coll, id, fn)
		if !again {
			return err
		}
	}
}

// modifyHeld is one attempt of modifyLocked; again reports that the
// document was inserted concurrently (inserts take no document lock), so
// fn must see it.
func (b *Backend) modifyHeld(ctx context.Context, coll, id string, fn func(string, *store.Doc) (*store.Doc, error)) (again bool, err error) {
	unlock, err := b.lock(ctx, coll, id)
	if err != nil {
		return false, err
	}
	defer unlock()
	old, err := b.Get(ctx, coll, id)
	if errors.Is(err, store.ErrNotFound) {
		old, err = nil, nil
	}
	if err != nil {
		return false, err
	}
	d, err := fn(id, old)
	switch {
	case err != nil || d == nil:
		return false, err
	case old == nil:
		err = b.Insert(ctx, coll, d)
		if errors.Is(err, store.ErrDuplicate) && d.ID == id {
			if _, gerr := b.Get(ctx, coll, id); gerr == nil {
				return true, err // the id, not a unique key, was taken
			}
		}
		return false, err
	case d.ID != id:
		return false, b.Replace(ctx, coll, d, old.Version)
	}
	return false, b.replaceHeld(ctx, coll, old, d)
}

// replaceHeld writes d over old, read under the document's lock.
func (b *Backend) replaceHeld(ctx context.Context, coll string, old, d *store.Doc) error {
	ixs := b.lookups[coll]
	var moved []*store.Index
	var undo []func()
	for i := range ixs {
		ix := &ixs[i]
		if sameKey(ix, old.Fields, d.Fields) {
			continue
		}
		u, err := b.claim(ctx, coll, ix, d.Fields, d.ID)
		if err != nil {
			for _, u := range undo {
				u()
			}
			return err
		}
		undo = append(undo, u)
		moved = append(moved, ix)
	}
	res, err := b.db.Collection(coll).ReplaceOne(ctx, bson.D{{Key: "_id", Value: d.ID}}, toBSON(d))
	if err == nil && res.MatchedCount == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		for _, u := range undo {
			u()
		}
		return mapErr(err)
	}
	for _, ix := range moved {
		b.dropKey(ctx, coll, ix, old.Fields, d.ID)
	}
	return nil
}

// deleteLocked is Delete on FerretDB (see replaceLocked).
func (b *Backend) deleteLocked(ctx context.Context, coll, id string, expect int64) error {
	unlock, err := b.lock(ctx, coll, id)
	if err != nil {
		return err
	}
	defer unlock()
	old, err := b.Get(ctx, coll, id)
	if err != nil {
		return err
	}
	if expect >= 0 && old.Version != expect {
		return fmt.Errorf("stale version: %w", store.ErrConflict)
	}
	res, err := b.db.Collection(coll).DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	if err != nil {
		return mapErr(err)
	}
	if res.DeletedCount == 0 {
		return store.ErrNotFound
	}
	ixs := b.lookups[coll]
	for i := range ixs {
		b.dropKey(ctx, coll, &ixs[i], old.Fields, id)
	}
	return nil
}

// backfillLookups gives every document of a collection with Lookup indexes
// its key document (migration 0002-lookup-keys, and tests that insert
// documents directly). Keys are inserted keyBatch at a time; one that
// exists is claimed one by one.
func (b *Backend) backfillLookups(ctx context.Context) error {
	if !b.locked {
		return nil
	}
	for coll, ixs := range b.lookups {
		cur, err := b.db.Collection(coll).Find(ctx, bson.D{}, options.Find().SetBatchSize(keyBatch))
		if err != nil {
			return fmt.Errorf("cannot read %s: %w", coll, mapErr(err))
		}
		var keys []any
		var docs []*store.Doc
		flush := func() error {
			if len(keys) == 0 {
				return nil
			}
			_, err := b.db.Collection(collKeys).InsertMany(ctx, keys, options.InsertMany().SetOrdered(false))
			if err != nil && (mongo.IsDuplicateKeyError(err) || strings.Contains(err.Error(), "UNIQUE constraint failed")) {
				// Some keys exist: claim each (one that points at this
				// document is left as is, one held by another kept).
				err = nil
				for _, d := range docs {
					for i := range ixs {
						// the document exists: its key stays (no undo)
						if _, cerr := b.claim(ctx, coll, &ixs[i], d.Fields, d.ID); cerr != nil && !errors.Is(cerr, store.ErrDuplicate) {
							return cerr
						}
					}
				}
			}
			keys, docs = keys[:0], docs[:0]
			if err != nil {
				return fmt.Errorf("cannot write lookup keys: %w", mapErr(err))
			}
			return nil
		}
		for cur.Next(ctx) {
			d, err := fromBSON(cur.Current)
			if err != nil {
				cur.Close(ctx)
				return err
			}
			for i := range ixs {
				keys = append(keys, bson.D{{Key: "_id", Value: lookupKey(coll, &ixs[i], d.Fields)}, {Key: "id", Value: d.ID}})
			}
			docs = append(docs, d)
			if len(docs) >= keyBatch {
				if err := flush(); err != nil {
					cur.Close(ctx)
					return err
				}
			}
		}
		err = cur.Err()
		cur.Close(ctx)
		if err != nil {
			return fmt.Errorf("cannot read %s: %w", coll, mapErr(err))
		}
		if err := flush(); err != nil {
			return err
		}
	}
	return nil
}
