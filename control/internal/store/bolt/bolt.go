// Package bolt is the embedded store.Backend for `make run`: one bbolt file
// under a data directory, a bucket per collection ("d/<collection>": id →
// document) and a bucket per secondary index ("i/<collection>/<index>").
// Index keys are the indexed field values joined by 0x00; a non-unique
// index appends 0x00 and the document id to the key (value empty), a unique
// index maps the key to the id. Every operation is one bbolt transaction, so
// a document and its index entries change together or not at all.
//
// Find uses the index whose leading fields are all fixed by the query's Eq
// (the longest such prefix), scans that key range, and filters, sorts and
// pages in Go; without a usable index it scans the collection.
//
// A Backend is safe for concurrent use. Writes are group-committed: the
// writes waiting while a transaction commits share the next one (one fsync),
// each acknowledged only once it is on disk (group.go).
package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/switchyard/switchyard/control/internal/store"
)

// Backend is a store.Backend over a bbolt database.
type Backend struct {
	db     *bbolt.DB
	schema map[string]store.Collection
	gc     *committer // every write goes through it (group.go)
}

// Open opens (creating if needed) dir/control.db and its buckets.
func Open(dir string, schema []store.Collection) (*Backend, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cannot create data directory: %w", err)
	}
	path := filepath.Join(dir, "control.db")
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("cannot open embedded store in %s: %w", dir, err)
	}
	_ = os.Chmod(path, 0o600) // a store created by an older version may be world-readable
	b := &Backend{db: db, schema: map[string]store.Collection{}}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, c := range schema {
			b.schema[c.Name] = c
			if _, err := tx.CreateBucketIfNotExists(dataBucket(c.Name)); err != nil {
				return err
			}
			for _, ix := range c.Indexes {
				if _, err := tx.CreateBucketIfNotExists(indexBucket(c.Name, ix.Name)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("cannot create buckets: %w", err)
	}
	b.gc = newCommitter(db)
	return b, nil
}

// Close commits the writes already handed over, then closes the database;
// later writes fail.
func (b *Backend) Close(context.Context) error {
	b.gc.close()
	return b.db.Close()
}

func dataBucket(coll string) []byte      { return []byte("d/" + coll) }
func indexBucket(coll, ix string) []byte { return []byte("i/" + coll + "/" + ix) }
func (b *Backend) coll(name string) (store.Collection, error) {
	c, ok := b.schema[name]
	if !ok {
		return c, fmt.Errorf("BUG: unknown collection %q", name)
	}
	return c, nil
}

// ---- document encoding: uvarint version, uvarint n, n × (key, value), data ----

func encodeDoc(d *store.Doc) []byte {
	out := binary.AppendUvarint(nil, uint64(d.Version))
	out = binary.AppendUvarint(out, uint64(len(d.Fields)))
	keys := make([]string, 0, len(d.Fields))
	for k := range d.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = appendStr(out, k)
		out = appendStr(out, d.Fields[k])
	}
	return append(out, d.Data...)
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

var errCorrupt = errors.New("corrupt document")

func decodeDoc(id string, b []byte) (*store.Doc, error) {
	v, n := binary.Uvarint(b)
	if n <= 0 {
		return nil, errCorrupt
	}
	b = b[n:]
	cnt, n := binary.Uvarint(b)
	if n <= 0 || cnt > uint64(len(b)) {
		return nil, errCorrupt
	}
	b = b[n:]
	d := &store.Doc{ID: id, Version: int64(v), Fields: make(map[string]string, cnt)}
	for range cnt {
		var k, val string
		var ok bool
		if k, b, ok = readStr(b); !ok {
			return nil, errCorrupt
		}
		if val, b, ok = readStr(b); !ok {
			return nil, errCorrupt
		}
		d.Fields[k] = val
	}
	d.Data = append([]byte(nil), b...)
	return d, nil
}

func readStr(b []byte) (string, []byte, bool) {
	l, n := binary.Uvarint(b)
	if n <= 0 || l > uint64(len(b)-n) {
		return "", nil, false
	}
	return string(b[n : n+int(l)]), b[n+int(l):], true
}

// ---- index keys ----

func indexKey(ix store.Index, f map[string]string) []byte {
	var k []byte
	for i, name := range ix.Fields {
		if i > 0 {
			k = append(k, 0)
		}
		k = append(k, f[name]...)
	}
	return k
}

func entryKey(ix store.Index, f map[string]string, id string) []byte {
	k := indexKey(ix, f)
	if ix.Unique {
		return k
	}
	k = append(k, 0)
	return append(k, id...)
}

// checkUnique fails (before anything is written) when a unique index key
// of d belongs to another document.
func checkUnique(tx *bbolt.Tx, c store.Collection, d *store.Doc) error {
	for _, ix := range c.Indexes {
		if !ix.Unique {
			continue
		}
		if v := tx.Bucket(indexBucket(c.Name, ix.Name)).Get(entryKey(ix, d.Fields, d.ID)); v != nil && string(v) != d.ID {
			return failClean(fmt.Errorf("index %s of %s: %w", ix.Name, c.Name, store.ErrDuplicate))
		}
	}
	return nil
}

func addIndexes(tx *bbolt.Tx, c store.Collection, d *store.Doc) error {
	for _, ix := range c.Indexes {
		bk := tx.Bucket(indexBucket(c.Name, ix.Name))
		k := entryKey(ix, d.Fields, d.ID)
		if ix.Unique {
			if v := bk.Get(k); v != nil && string(v) != d.ID {
				return fmt.Errorf("index %s of %s: %w", ix.Name, c.Name, store.ErrDuplicate)
			}
			if err := bk.Put(k, []byte(d.ID)); err != nil {
				return err
			}
			continue
		}
		if err := bk.Put(k, nil); err != nil {
			return err
		}
	}
	return nil
}

func removeIndexes(tx *bbolt.Tx, c store.Collection, d *store.Doc) error {
	for _, ix := range c.Indexes {
		bk := tx.Bucket(indexBucket(c.Name, ix.Name))
		k := entryKey(ix, d.Fields, d.ID)
		if ix.Unique {
			if v := bk.Get(k); v == nil || string(v) != d.ID {
				continue
			}
		}
		if err := bk.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// ---- Backend ----

func insertTx(tx *bbolt.Tx, c store.Collection, d *store.Doc) error {
	data := tx.Bucket(dataBucket(c.Name))
	if data.Get([]byte(d.ID)) != nil {
		return failClean(fmt.Errorf("id %s: %w", d.ID, store.ErrDuplicate))
	}
	if err := checkUnique(tx, c, d); err != nil {
		return err
	}
	if err := addIndexes(tx, c, d); err != nil {
		return err
	}
	return data.Put([]byte(d.ID), encodeDoc(d))
}

// replaceTx overwrites old (as read in this transaction) with d.
func replaceTx(tx *bbolt.Tx, c store.Collection, old, d *store.Doc) error {
	if err := checkUnique(tx, c, d); err != nil {
		return err
	}
	if err := removeIndexes(tx, c, old); err != nil {
		return err
	}
	if err := addIndexes(tx, c, d); err != nil {
		return err // the transaction rolls back the removal
	}
	return tx.Bucket(dataBucket(c.Name)).Put([]byte(d.ID), encodeDoc(d))
}

// Insert implements store.Backend.
func (b *Backend) Insert(_ context.Context, coll string, d *store.Doc) error {
	c, err := b.coll(coll)
	if err != nil {
		return err
	}
	return b.gc.update(func(tx *bbolt.Tx) error { return insertTx(tx, c, d) })
}

// Modify implements store.Backend: one transaction for the whole set.
func (b *Backend) Modify(_ context.Context, coll string, ids []string, fn func(string, *store.Doc) (*store.Doc, error)) error {
	c, err := b.coll(coll)
	if err != nil {
		return err
	}
	return b.gc.update(func(tx *bbolt.Tx) error {
		data := tx.Bucket(dataBucket(coll))
		wrote := false
		// an error before the first write leaves the transaction clean
		fail := func(err error) error {
			if !wrote {
				return failClean(err)
			}
			var ce cleanErr
			if errors.As(err, &ce) {
				return ce.err
			}
			return err
		}
		for _, id := range ids {
			var old *store.Doc
			if v := data.Get([]byte(id)); v != nil {
				var err error
				if old, err = decodeDoc(id, v); err != nil {
					return fail(err)
				}
			}
			d, err := fn(id, old)
			if err != nil {
				return fail(err)
			}
			switch {
			case d == nil:
			case old == nil:
				err = insertTx(tx, c, d)
			default:
				err = replaceTx(tx, c, old, d)
			}
			if err != nil {
				return fail(err)
			}
			wrote = wrote || d != nil
		}
		return nil
	})
}

// Get implements store.Backend.
func (b *Backend) Get(_ context.Context, coll, id string) (*store.Doc, error) {
	if _, err := b.coll(coll); err != nil {
		return nil, err
	}
	var d *store.Doc
	err := b.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(dataBucket(coll)).Get([]byte(id))
		if v == nil {
			return store.ErrNotFound
		}
		var err error
		d, err = decodeDoc(id, v)
		return err
	})
	return d, err
}

// Replace implements store.Backend.
func (b *Backend) Replace(_ context.Context, coll string, d *store.Doc, expect int64) error {
	c, err := b.coll(coll)
	if err != nil {
		return err
	}
	return b.gc.update(func(tx *bbolt.Tx) error {
		data := tx.Bucket(dataBucket(coll))
		v := data.Get([]byte(d.ID))
		if v == nil {
			return failClean(store.ErrNotFound)
		}
		old, err := decodeDoc(d.ID, v)
		if err != nil {
			return failClean(err)
		}
		if old.Version != expect {
			return failClean(fmt.Errorf("version %d, expected %d: %w", old.Version, expect, store.ErrConflict))
		}
		return replaceTx(tx, c, old, d)
	})
}

// Delete implements store.Backend.
func (b *Backend) Delete(_ context.Context, coll, id string, expect int64) error {
	c, err := b.coll(coll)
	if err != nil {
		return err
	}
	return b.gc.update(func(tx *bbolt.Tx) error {
		data := tx.Bucket(dataBucket(coll))
		v := data.Get([]byte(id))
		if v == nil {
			return failClean(store.ErrNotFound)
		}
		old, err := decodeDoc(id, v)
		if err != nil {
			return failClean(err)
		}
		if expect >= 0 && old.Version != expect {
			return failClean(fmt.Errorf("version %d, expected %d: %w", old.Version, expect, store.ErrConflict))
		}
		if err := removeIndexes(tx, c, old); err != nil {
			return err
		}
		return data.Delete([]byte(id))
	})
}

// bestIndex returns the index with the longest leading run of fields fixed
// by eq, and that run's length (0: no usable index).
func bestIndex(c store.Collection, eq map[string]string) (store.Index, int) {
	var best store.Index
	bestN := 0
	for _, ix := range c.Indexes {
		n := 0
		for _, f := range ix.Fields {
			if _, ok := eq[f]; !ok {
				break
			}
			n++
		}
		if n > bestN {
			best, bestN = ix, n
		}
	}
	return best, bestN
}

// Find implements store.Backend.
func (b *Backend) Find(_ context.Context, coll string, q store.Query) ([]*store.Doc, int, error) {
	c, err := b.coll(coll)
	if err != nil {
		return nil, 0, err
	}
	var (
		page  []*store.Doc
		total int
	)
	err = b.db.View(func(tx *bbolt.Tx) error {
		var docs []rawDoc
		keep := func(id, v []byte) error {
			r, ok := parseRaw(id, v)
			if !ok {
				return fmt.Errorf("%s %s: %w", coll, id, errCorrupt)
			}
			if r.matches(&q) {
				docs = append(docs, r)
			}
			return nil
		}
		if err := scan(tx, c, &q, keep); err != nil {
			return err
		}
		sortRaw(docs, q.Sort, q.Desc)
		total = len(docs)
		lo := min(max(q.Offset, 0), total)
		hi := total
		if q.Limit > 0 && lo+q.Limit < total {
			hi = lo + q.Limit
		}
		page = make([]*store.Doc, 0, hi-lo)
		for _, r := range docs[lo:hi] {
			d, err := decodeDoc(string(r.id), r.raw) // copies: detached from the transaction
			if err != nil {
				return err
			}
			page = append(page, d)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return page, total, nil
}

// Scan calls fn for every matching document in one read transaction.
func (b *Backend) Scan(ctx context.Context, coll string, q store.Query, fn func(*store.Doc) error) error {
	c, err := b.coll(coll)
	if err != nil {
		return err
	}
	return b.db.View(func(tx *bbolt.Tx) error {
		return scan(tx, c, &q, func(id, v []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			r, ok := parseRaw(id, v)
			if !ok {
				return fmt.Errorf("%s %s: %w", coll, id, errCorrupt)
			}
			if !r.matches(&q) {
				return nil
			}
			d, err := decodeDoc(string(r.id), r.raw) // copies: detached from the transaction
			if err != nil {
				return err
			}
			return fn(d)
		})
	})
}

// rawDoc is a document as stored, aliasing the transaction's memory: Find
// filters and sorts on it without allocating a field map per document.
type rawDoc struct {
	id, raw, fields []byte // fields: the encoded (key, value) pairs
	n               uint64
}

func parseRaw(id, b []byte) (rawDoc, bool) {
	_, n := binary.Uvarint(b)
	if n <= 0 {
		return rawDoc{}, false
	}
	cnt, m := binary.Uvarint(b[n:])
	if m <= 0 {
		return rawDoc{}, false
	}
	return rawDoc{id: id, raw: b, fields: b[n+m:], n: cnt}, true
}

// field returns the value of a field (nil if absent).
func (r *rawDoc) field(name string) []byte {
	b := r.fields
	for range r.n {
		kl, n := binary.Uvarint(b)
		if n <= 0 || kl > uint64(len(b)-n) {
			return nil
		}
		k := b[n : n+int(kl)]
		b = b[n+int(kl):]
		vl, n := binary.Uvarint(b)
		if n <= 0 || vl > uint64(len(b)-n) {
			return nil
		}
		v := b[n : n+int(vl)]
		b = b[n+int(vl):]
		if string(k) == name {
			return v
		}
	}
	return nil
}

// matches is store.Matches on the raw form (the conformance suite checks
// that both backends agree).
func (r *rawDoc) matches(q *store.Query) bool {
	if !bytes.HasPrefix(r.id, []byte(q.IDPrefix)) {
		return false
	}
	for k, v := range q.Eq {
		if string(r.field(k)) != v {
			return false
		}
	}
	for k, vs := range q.In {
		f := r.field(k)
		ok := false
		for _, v := range vs {
			if string(f) == v {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if q.Search != "" {
		for _, k := range q.SearchFields {
			if bytes.Contains(r.field(k), []byte(q.Search)) {
				return true
			}
		}
		return false
	}
	return true
}

func sortRaw(docs []rawDoc, field string, desc bool) {
	sort.SliceStable(docs, func(i, j int) bool {
		a, b := docs[i].id, docs[j].id
		if field != "" {
			if fa, fb := docs[i].field(field), docs[j].field(field); !bytes.Equal(fa, fb) {
				a, b = fa, fb
			}
		}
		if desc {
			return bytes.Compare(a, b) > 0
		}
		return bytes.Compare(a, b) < 0
	})
}

// scan calls keep for every document the best index of q selects (all
// documents without a usable index).
func scan(tx *bbolt.Tx, c store.Collection, q *store.Query, keep func(id, v []byte) error) error {
	data := tx.Bucket(dataBucket(c.Name))
	if q.IDPrefix != "" { // a range of the data bucket, in id order
		p := []byte(q.IDPrefix)
		cur := data.Cursor()
		for k, v := cur.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = cur.Next() {
			if err := keep(k, v); err != nil {
				return err
			}
		}
		return nil
	}
	ix, n := bestIndex(c, q.Eq)
	if n == 0 {
		return data.ForEach(keep)
	}
	var prefix []byte
	for i, f := range ix.Fields[:n] {
		if i > 0 {
			prefix = append(prefix, 0)
		}
		prefix = append(prefix, q.Eq[f]...)
	}
	full := n == len(ix.Fields)
	if !full || !ix.Unique {
		prefix = append(prefix, 0)
	}
	cur := tx.Bucket(indexBucket(c.Name, ix.Name)).Cursor()
	for k, v := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Next() {
		if full && ix.Unique && !bytes.Equal(k, prefix) {
			break
		}
		var id []byte
		if ix.Unique {
			id = v
		} else {
			id = k[bytes.LastIndexByte(k, 0)+1:]
		}
		if dv := data.Get(id); dv != nil {
			if err := keep(id, dv); err != nil {
				return err
			}
		}
	}
	return nil
}
