package mongo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/switchyard/switchyard/control/internal/store"
)

// isDupWrite reports whether a write error is a unique-key violation
// (FerretDB over SQLite may report one as an InternalError).
func isDupWrite(code int, msg string) bool {
	return code == 11000 || code == 11001 || strings.Contains(msg, "UNIQUE constraint failed")
}

// failedWrites returns the indexes of the documents an unordered
// InsertMany did not write and whether each was a duplicate. ok is false
// when err does not say which documents failed (a network error: any of
// them may have landed).
func failedWrites(err error) (failed map[int]bool, ok bool) {
	if err == nil {
		return nil, true
	}
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || bwe.WriteConcernError != nil {
		return nil, false
	}
	failed = make(map[int]bool, len(bwe.WriteErrors))
	for _, we := range bwe.WriteErrors {
		failed[we.Index] = isDupWrite(we.Code, we.Message)
	}
	return failed, true
}

// insertNew inserts new documents (ids the caller read as missing) with
// unordered InsertMany: on FerretDB first their key documents (lookup.go)
// in one InsertMany, then the documents whose keys it wrote in another.
// The ids it could not insert because an id or a key exists are returned
// (lost), for the caller to read again and retry one by one (insertKeyed
// tells a stale key from a live one). Keys written for a document that
// then failed are removed, as insertKeyed does; after an error that does
// not say which writes failed they are left (stale keys are recognised by
// readers and claims).
func (b *Backend) insertNew(ctx context.Context, coll string, docs []*store.Doc) (lost []string, err error) {
	if len(docs) == 0 {
		return nil, nil
	}
	ixs := b.lookups[coll]
	keyed := docs
	if len(ixs) > 0 {
		now := time.Now().UnixMilli()
		keys := make([]any, 0, len(docs)*len(ixs))
		for _, d := range docs {
			for i := range ixs {
				keys = append(keys, bson.D{{Key: "_id", Value: lookupKey(coll, &ixs[i], d.Fields)}, {Key: "id", Value: d.ID}, {Key: "at", Value: now}})
			}
		}
		_, kerr := b.db.Collection(collKeys).InsertMany(ctx, keys, options.InsertMany().SetOrdered(false))
		failed, known := failedWrites(kerr)
		if !known {
			return nil, fmt.Errorf("cannot write lookup keys: %w", mapErr(kerr))
		}
		keyed = make([]*store.Doc, 0, len(docs))
		var hard error
		for j, d := range docs {
			bad, dup := false, true
			for i := range ixs {
				if isDup, f := failed[j*len(ixs)+i]; f {
					bad, dup = true, dup && isDup
				}
			}
			switch {
			case !bad:
				keyed = append(keyed, d)
				continue
			case dup:
				lost = append(lost, d.ID)
			default:
				hard = fmt.Errorf("cannot write the lookup keys of %s %s: %w", coll, d.ID, mapErr(kerr))
			}
			// drop the keys of this document that were written
			for i := range ixs {
				if _, f := failed[j*len(ixs)+i]; !f {
					b.dropKey(ctx, coll, &ixs[i], d.Fields, d.ID)
				}
			}
		}
		if hard != nil {
			for _, d := range keyed {
				b.dropKeys(ctx, coll, ixs, d)
			}
			return nil, hard
		}
	}
	if len(keyed) == 0 {
		return lost, nil
	}
	raw := make([]any, len(keyed))
	for i, d := range keyed {
		raw[i] = toBSON(d)
	}
	_, derr := b.db.Collection(coll).InsertMany(ctx, raw, options.InsertMany().SetOrdered(false))
	failed, known := failedWrites(derr)
	if !known {
		return nil, fmt.Errorf("cannot insert into %s: %w", coll, mapErr(derr))
	}
	var hard error
	for j, isDup := range failed {
		d := keyed[j]
		b.dropKeys(ctx, coll, ixs, d)
		if isDup {
			lost = append(lost, d.ID)
		} else {
			hard = fmt.Errorf("cannot insert %s %s: %w", coll, d.ID, mapErr(derr))
		}
	}
	return lost, hard
}

// dropKeys removes d's key documents that point at it.
func (b *Backend) dropKeys(ctx context.Context, coll string, ixs []store.Index, d *store.Doc) {
	for i := range ixs {
		b.dropKey(ctx, coll, &ixs[i], d.Fields, d.ID)
	}
}

// InsertMany implements store.ManyInserter with insertNew, keyBatch
// documents at a time; a document insertNew could not write because its
// id or a key exists is tried once more alone (Insert takes over a stale
// key) and reported as a duplicate if that fails so.
func (b *Backend) InsertMany(ctx context.Context, coll string, docs []*store.Doc) (dup []string, err error) {
	byID := make(map[string]*store.Doc, len(docs))
	for _, d := range docs {
		byID[d.ID] = d
	}
	for lo := 0; lo < len(docs); lo += keyBatch {
		lost, err := b.insertNew(ctx, coll, docs[lo:min(len(docs), lo+keyBatch)])
		if err != nil {
			return dup, err
		}
		for _, id := range lost {
			err := b.Insert(ctx, coll, byID[id])
			switch {
			case errors.Is(err, store.ErrDuplicate):
				dup = append(dup, id)
			case err != nil:
				return dup, err
			}
		}
	}
	return dup, nil
}
