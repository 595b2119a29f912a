// Package mongo is the production store.Backend on MongoDB (tested against
// the MongoDB-wire server FerretDB, so it uses only single-document
// operations: no transactions, change streams, $lookup or TTL indexes).
//
// Each document is stored as {_id, _v: version, _d: body (binary JSON),
// <indexed fields>...}: the indexed fields sit at the top level so that the
// unique and secondary indexes of store.Schema apply to them. Compare-and-set
// is ReplaceOne/DeleteOne filtered on {_id, _v: expected}, which MongoDB
// applies atomically. FerretDB does not: concurrent filtered writes can all
// match (measured: 6 of 6 racing writers "won"). On FerretDB (detected by
// buildInfo) each such write therefore first takes a short lock on the
// document, an insert of {_id: "<collection>/<id>"} into the "locks"
// collection (a unique insert is atomic everywhere), and removes it after;
// a lock older than LockTTL (a writer that died) is broken. Under that lock
// the version is compared in Go and the write filtered on _id alone, and
// reads by a flag's or segment's key go through key documents: FerretDB
// answers only filters of exactly {_id} from an index and reads the whole
// collection for any other (lookup.go). Migrations (index creation first)
// are applied by Open and recorded in the "migrations" collection; each
// runs once per database.
//
// A Backend is safe for concurrent use.
package mongo

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/event"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
	"go.mongodb.org/mongo-driver/x/mongo/driver/topology"

	"github.com/switchyard/switchyard/control/internal/store"
)

// Backend is a store.Backend over a MongoDB database.
type Backend struct {
	client *mongo.Client
	db     *mongo.Database
	locked bool // serialise filtered writes with a lock document (FerretDB)
	// lookups are the schema's Lookup indexes by collection, kept as key
	// documents (FerretDB only; lookup.go)
	lookups map[string][]store.Index
}

// LockTTL is the age after which a document lock is presumed abandoned.
const LockTTL = 10 * time.Second

// Options bound how long an operation waits when the database is down.
type Options struct {
	// SelectTimeout is how long an operation waits for a reachable server
	// before it fails (default 2 s; the driver's own default is 30 s).
	SelectTimeout time.Duration
	// OpTimeout bounds each operation whose context has no deadline (a
	// server that accepts connections but does not answer; default 5 s).
	OpTimeout time.Duration
	// Monitor, when set, sees every command the driver sends (tests list
	// the queries of a write with it).
	Monitor *event.CommandMonitor
}

// Default bounds of Options.
const (
	DefaultSelectTimeout = 2 * time.Second
	DefaultOpTimeout     = 5 * time.Second
)

// Open connects to uri with the default Options, selects database db and
// applies pending migrations.
func Open(ctx context.Context, uri, db string, schema []store.Collection) (*Backend, error) {
	return OpenWith(ctx, uri, db, schema, Options{})
}

// OpenWith is Open with explicit Options (zero fields: the defaults).
func OpenWith(ctx context.Context, uri, db string, schema []store.Collection, o Options) (*Backend, error) {
	if o.SelectTimeout <= 0 {
		o.SelectTimeout = DefaultSelectTimeout
	}
	if o.OpTimeout <= 0 {
		o.OpTimeout = DefaultOpTimeout
	}
	co := options.Client().ApplyURI(uri).SetServerSelectionTimeout(o.SelectTimeout).SetTimeout(o.OpTimeout)
	if o.Monitor != nil {
		co.SetMonitor(o.Monitor)
	}
	client, err := mongo.Connect(ctx, co)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to MongoDB: %w", err)
	}
	if err := client.Ping(ctx, nil); err != nil {
		_ = client.Disconnect(ctx)
		return nil, fmt.Errorf("cannot reach MongoDB: %w", err)
	}
	b := &Backend{client: client, db: client.Database(db)}
	var info bson.M
	if err := client.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err == nil {
		_, b.locked = info["ferretdbVersion"]
	}
	if b.locked {
		b.lookups = lookupIndexes(schema)
	}
	if err := b.migrate(ctx, schema); err != nil {
		_ = client.Disconnect(ctx)
		return nil, err
	}
	return b, nil
}

// Database returns the underlying database (tests drop it).
func (b *Backend) Database() *mongo.Database { return b.db }

// Close disconnects.
func (b *Backend) Close(ctx context.Context) error { return b.client.Disconnect(ctx) }

// migration is one schema step, applied once per database.
type migration struct {
	id  string
	run func(ctx context.Context, b *Backend, schema []store.Collection) error
}

var migrations = []migration{
	// Indexes are created by createIndexes at every start (before the
	// migrations); 0001 stays recorded for databases that ran it.
	{id: "0001-indexes", run: func(context.Context, *Backend, []store.Collection) error { return nil }},
	// Key documents of the Lookup indexes (FerretDB; lookup.go) for the
	// documents written before they existed.
	{id: "0002-lookup-keys", run: func(ctx context.Context, b *Backend, _ []store.Collection) error { return b.backfillLookups(ctx) }},
}

// createIndexes creates the schema's indexes that the database lacks. It
// runs at every start (a collection added to the schema in a later release
// gets its indexes on an existing database) and creates only missing ones:
// FerretDB drops the connection when asked to create an index that exists.
func createIndexes(ctx context.Context, b *Backend, schema []store.Collection) error {
	for _, c := range schema {
		if len(c.Indexes) == 0 {
			continue
		}
		have, err := indexNames(ctx, b.db.Collection(c.Name))
		if err != nil {
			return fmt.Errorf("cannot list indexes of %s: %w", c.Name, err)
		}
		models := make([]mongo.IndexModel, 0, len(c.Indexes))
		for _, ix := range c.Indexes {
			if have[ix.Name] {
				continue
			}
			keys := bson.D{}
			for _, f := range ix.Fields {
				keys = append(keys, bson.E{Key: f, Value: 1})
			}
			models = append(models, mongo.IndexModel{Keys: keys,
				Options: options.Index().SetName(ix.Name).SetUnique(ix.Unique)})
		}
		if len(models) == 0 {
			continue
		}
		if _, err := b.db.Collection(c.Name).Indexes().CreateMany(ctx, models); err != nil {
			return fmt.Errorf("cannot create indexes of %s: %w", c.Name, err)
		}
	}
	return nil
}

func indexNames(ctx context.Context, c *mongo.Collection) (map[string]bool, error) {
	cur, err := c.Indexes().List(ctx)
	if err != nil {
		return nil, err
	}
	var rows []struct {
		Name string `bson:"name"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(rows))
	for _, r := range rows {
		out[r.Name] = true
	}
	return out, nil
}

func (b *Backend) migrate(ctx context.Context, schema []store.Collection) error {
	if err := createIndexes(ctx, b, schema); err != nil {
		return err
	}
	mc := b.db.Collection("migrations")
	for _, m := range migrations {
		n, err := mc.CountDocuments(ctx, bson.D{{Key: "_id", Value: m.id}})
		if err != nil {
			return fmt.Errorf("cannot read migrations: %w", err)
		}
		if n > 0 {
			continue
		}
		if err := m.run(ctx, b, schema); err != nil {
			return fmt.Errorf("migration %s: %w", m.id, err)
		}
		_, err = mc.InsertOne(ctx, bson.D{{Key: "_id", Value: m.id}, {Key: "appliedAt", Value: time.Now().UnixMilli()}})
		if err != nil && !mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("cannot record migration %s: %w", m.id, err)
		}
	}
	return nil
}

// Applied returns the ids of the applied migrations.
func (b *Backend) Applied(ctx context.Context) ([]string, error) {
	cur, err := b.db.Collection("migrations").Find(ctx, bson.D{})
	if err != nil {
		return nil, err
	}
	var rows []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, err
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.ID
	}
	return out, nil
}

func toBSON(d *store.Doc) bson.D {
	out := bson.D{{Key: "_id", Value: d.ID}, {Key: "_v", Value: d.Version}}
	for k, v := range d.Fields {
		out = append(out, bson.E{Key: k, Value: v})
	}
	return append(out, bson.E{Key: "_d", Value: d.Data})
}

func fromBSON(raw bson.Raw) (*store.Doc, error) {
	d := &store.Doc{Fields: map[string]string{}}
	elems, err := raw.Elements()
	if err != nil {
		return nil, err
	}
	for _, e := range elems {
		k, v := e.Key(), e.Value()
		switch k {
		case "_id":
			d.ID, _ = v.StringValueOK()
		case "_v":
			d.Version, _ = v.AsInt64OK()
		case "_d":
			_, data, ok := v.BinaryOK()
			if !ok {
				return nil, fmt.Errorf("document %s: _d is not binary", d.ID)
			}
			d.Data = append([]byte(nil), data...)
		default:
			if s, ok := v.StringValueOK(); ok {
				d.Fields[k] = s
			}
		}
	}
	return d, nil
}

func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case mongo.IsDuplicateKeyError(err),
		// FerretDB (SQLite backend) reports a unique violation on update as
		// an InternalError rather than code 11000.
		strings.Contains(err.Error(), "UNIQUE constraint failed"):
		return fmt.Errorf("%v: %w", err, store.ErrDuplicate)
	case errors.Is(err, mongo.ErrNoDocuments):
		return store.ErrNotFound
	case mongo.IsNetworkError(err), mongo.IsTimeout(err), errors.As(err, new(topology.ServerSelectionError)):
		return fmt.Errorf("%v: %w", err, store.ErrUnavailable)
	}
	return err
}

// Insert implements store.Backend.
func (b *Backend) Insert(ctx context.Context, coll string, d *store.Doc) error {
	if ixs := b.lookups[coll]; len(ixs) > 0 {
		return b.insertKeyed(ctx, coll, d, ixs)
	}
	_, err := b.db.Collection(coll).InsertOne(ctx, toBSON(d))
	return mapErr(err)
}

// Get implements store.Backend.
func (b *Backend) Get(ctx context.Context, coll, id string) (*store.Doc, error) {
	raw, err := b.db.Collection(coll).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
	if err != nil {
		return nil, mapErr(err)
	}
	return fromBSON(raw)
}

// missOrConflict tells a missing document from a version mismatch after a
// filtered write matched nothing.
func (b *Backend) missOrConflict(ctx context.Context, coll, id string) error {
	n, err := b.db.Collection(coll).CountDocuments(ctx, bson.D{{Key: "_id", Value: id}})
	if err != nil {
		return mapErr(err)
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return fmt.Errorf("stale version: %w", store.ErrConflict)
}

// Serialized reports whether filtered writes take a document lock (the
// server is FerretDB).
func (b *Backend) Serialized() bool { return b.locked }

// lock takes the write lock of a document when the server needs it; the
// returned function releases it.
func (b *Backend) lock(ctx context.Context, coll, id string) (func(), error) {
	if !b.locked {
		return func() {}, nil
	}
	locks := b.db.Collection("locks")
	key := coll + "/" + id
	for attempt := 0; ; attempt++ {
		now := time.Now().UnixMilli()
		_, err := locks.InsertOne(ctx, bson.D{{Key: "_id", Value: key}, {Key: "at", Value: now}})
		if err == nil {
			return func() {
				_, _ = locks.DeleteOne(context.WithoutCancel(ctx), bson.D{{Key: "_id", Value: key}, {Key: "at", Value: now}})
			}, nil
		}
		if !mongo.IsDuplicateKeyError(err) && !strings.Contains(err.Error(), "UNIQUE constraint failed") {
			return nil, fmt.Errorf("cannot lock %s: %w", key, mapErr(err))
		}
		var held struct {
			At int64 `bson:"at"`
		}
		if err := locks.FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&held); err == nil && now-held.At > LockTTL.Milliseconds() {
			_, _ = locks.DeleteOne(ctx, bson.D{{Key: "_id", Value: key}, {Key: "at", Value: held.At}})
			continue
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the lock of %s: %w", key, ctx.Err())
		case <-time.After(time.Duration(1+min(attempt, 20)) * time.Millisecond):
		}
	}
}

// Replace implements store.Backend.
func (b *Backend) Replace(ctx context.Context, coll string, d *store.Doc, expect int64) error {
	if b.locked {
		return b.replaceLocked(ctx, coll, d, expect)
	}
	unlock, err := b.lock(ctx, coll, d.ID)
	if err != nil {
		return err
	}
	defer unlock()
	res, err := b.db.Collection(coll).ReplaceOne(ctx,
		bson.D{{Key: "_id", Value: d.ID}, {Key: "_v", Value: expect}}, toBSON(d))
	if err != nil {
		return mapErr(err)
	}
	if res.MatchedCount == 0 {
		return b.missOrConflict(ctx, coll, d.ID)
	}
	return nil
}

// Delete implements store.Backend.
func (b *Backend) Delete(ctx context.Context, coll, id string, expect int64) error {
	if b.locked {
		return b.deleteLocked(ctx, coll, id, expect)
	}
	filter := bson.D{{Key: "_id", Value: id}}
	if expect >= 0 {
		filter = append(filter, bson.E{Key: "_v", Value: expect})
	}
	unlock, err := b.lock(ctx, coll, id)
	if err != nil {
		return err
	}
	defer unlock()
	res, err := b.db.Collection(coll).DeleteOne(ctx, filter)
	if err != nil {
		return mapErr(err)
	}
	if res.DeletedCount == 0 {
		return b.missOrConflict(ctx, coll, id)
	}
	return nil
}

// Modify implements store.Backend. The current documents are read with
// GetMany (one `_id $in` query; on FerretDB one read by _id each, as it
// scans the whole collection for `$in`); the new documents fn returns are
// inserted keyBatch at a time with unordered InsertMany (insertNew), the
// replaced ones one by one with compare-and-set. A document that changed
// concurrently (a replace that lost, an insert that found the id taken) is
// read again and fn called again.
func (b *Backend) Modify(ctx context.Context, coll string, ids []string, fn func(string, *store.Doc) (*store.Doc, error)) error {
	if len(ids) == 0 {
		return nil
	}
	if b.locked && len(ids) == 1 {
		return b.modifyLocked(ctx, coll, ids[0], fn)
	}
	docs, err := b.GetMany(ctx, coll, ids)
	if err != nil {
		return fmt.Errorf("cannot read %s: %w", coll, err)
	}
	known := make(map[string]*store.Doc, len(docs))
	for _, d := range docs {
		known[d.ID] = d
	}
	var (
		fresh []*store.Doc // new documents to insert together
		retry []string     // ids to modify again, one by one
	)
	flush := func() error {
		lost, err := b.insertNew(ctx, coll, fresh)
		fresh = fresh[:0]
		retry = append(retry, lost...)
		return err
	}
	for _, id := range ids {
		old := known[id]
		d, err := fn(id, old)
		if err != nil {
			return err
		}
		switch {
		case d == nil:
		case old == nil && d.ID == id:
			if fresh = append(fresh, d); len(fresh) == keyBatch {
				if err := flush(); err != nil {
					return err
				}
			}
		default:
			if err := b.modifyOne(ctx, coll, id, old, d, fn); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	for _, id := range retry {
		if err := b.modifyOne(ctx, coll, id, nil, nil, fn); err != nil {
			return err
		}
	}
	return nil
}

// modifyOne writes d (fn's answer for old) and, while that loses to a
// concurrent change, reads the document again and asks fn again. d nil:
// start by reading the document.
func (b *Backend) modifyOne(ctx context.Context, coll, id string, old, d *store.Doc, fn func(string, *store.Doc) (*store.Doc, error)) error {
	for attempt := 0; ; attempt++ {
		if attempt == 50 {
			return fmt.Errorf("%s %s changed concurrently too often: %w", coll, id, store.ErrConflict)
		}
		if attempt > 0 || d == nil {
			var err error
			old, err = b.Get(ctx, coll, id)
			if errors.Is(err, store.ErrNotFound) {
				old, err = nil, nil
			}
			if err != nil {
				return err
			}
			if d, err = fn(id, old); err != nil {
				return err
			}
		}
		var err error
		switch {
		case d == nil:
			return nil
		case old == nil:
			err = b.Insert(ctx, coll, d)
			if errors.Is(err, store.ErrDuplicate) && d.ID == id {
				if _, gerr := b.Get(ctx, coll, id); gerr == nil {
					continue // inserted concurrently: merge again
				}
			}
		default:
			err = b.Replace(ctx, coll, d, old.Version)
			if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
				continue
			}
		}
		return err
	}
}

// GetMany implements store.ManyGetter: one `_id $in` query per keyBatch
// ids; on FerretDB, which answers only an exact {_id} filter from an index
// and reads the whole collection for any other (measured: 4.5–7 s for
// 1,000 ids among 10,000–40,000 documents, against ~1 ms per read by
// _id), one read by _id each.
func (b *Backend) GetMany(ctx context.Context, coll string, ids []string) ([]*store.Doc, error) {
	out := make([]*store.Doc, 0, len(ids))
	if b.locked {
		for _, id := range ids {
			d, err := b.Get(ctx, coll, id)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			out = append(out, d)
		}
		return out, nil
	}
	for lo := 0; lo < len(ids); lo += keyBatch {
		part := ids[lo:min(len(ids), lo+keyBatch)]
		cur, err := b.db.Collection(coll).Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: part}}}})
		if err != nil {
			return nil, mapErr(err)
		}
		for cur.Next(ctx) {
			d, err := fromBSON(cur.Current)
			if err != nil {
				cur.Close(ctx)
				return nil, err
			}
			out = append(out, d)
		}
		err = cur.Err()
		cur.Close(ctx)
		if err != nil {
			return nil, mapErr(err)
		}
	}
	return out, nil
}

// queryFilter is the filter of q's Eq, In and Search.
func queryFilter(q store.Query) bson.D {
	filter := bson.D{}
	if q.IDPrefix != "" {
		filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$regex", Value: "^" + regexp.QuoteMeta(q.IDPrefix)}}})
	}
	for k, v := range q.Eq {
		filter = append(filter, bson.E{Key: k, Value: v})
	}
	for k, vs := range q.In {
		filter = append(filter, bson.E{Key: k, Value: bson.D{{Key: "$in", Value: vs}}})
	}
	if q.Search != "" {
		or := bson.A{}
		for _, f := range q.SearchFields {
			or = append(or, bson.D{{Key: f, Value: bson.D{{Key: "$regex", Value: regexp.QuoteMeta(q.Search)}}}})
		}
		filter = append(filter, bson.E{Key: "$or", Value: or})
	}
	return filter
}

// scanBatch is how many documents Scan's cursor fetches at a time.
const scanBatch = 1000

// Scan iterates a cursor over the matching documents.
func (b *Backend) Scan(ctx context.Context, coll string, q store.Query, fn func(*store.Doc) error) error {
	cur, err := b.db.Collection(coll).Find(ctx, queryFilter(q), options.Find().SetBatchSize(scanBatch))
	if err != nil {
		return fmt.Errorf("cannot scan %s: %w", coll, mapErr(err))
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		d, err := fromBSON(cur.Current)
		if err != nil {
			return err
		}
		if err := fn(d); err != nil {
			return err
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("cannot scan %s: %w", coll, mapErr(err))
	}
	return nil
}

// Find implements store.Backend.
func (b *Backend) Find(ctx context.Context, coll string, q store.Query) ([]*store.Doc, int, error) {
	if ix := b.lookupFor(coll, &q); ix != nil {
		return b.findByKey(ctx, coll, ix, &q)
	}
	filter := queryFilter(q)
	c := b.db.Collection(coll)
	// Without a page, or when the caller does not use the total, the
	// total is the number read: no count (one round trip less; a FerretDB
	// count of a filter not on _id reads the whole collection).
	whole := q.Limit == 0 && q.Offset == 0 || q.NoTotal
	total := int64(0)
	if !whole {
		var err error
		if total, err = c.CountDocuments(ctx, filter); err != nil {
			return nil, 0, fmt.Errorf("cannot count %s: %w", coll, mapErr(err))
		}
	}
	dir := 1
	if q.Desc {
		dir = -1
	}
	sortD := bson.D{}
	if q.Sort != "" {
		sortD = append(sortD, bson.E{Key: q.Sort, Value: dir})
	}
	sortD = append(sortD, bson.E{Key: "_id", Value: dir})
	opts := options.Find().SetSort(sortD)
	if q.Offset > 0 {
		opts.SetSkip(int64(q.Offset))
	}
	if q.Limit > 0 {
		opts.SetLimit(int64(q.Limit))
	}
	cur, err := c.Find(ctx, filter, opts)
	if err != nil {
		return nil, 0, fmt.Errorf("cannot find in %s: %w", coll, mapErr(err))
	}
	defer cur.Close(ctx)
	var out []*store.Doc
	for cur.Next(ctx) {
		d, err := fromBSON(cur.Current)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, d)
	}
	if err := cur.Err(); err != nil {
		return nil, 0, err
	}
	if whole {
		total = int64(q.Offset + len(out))
	}
	return out, int(total), nil
}
