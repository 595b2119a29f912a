package store

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/switchyard/switchyard/codec"
)

// ManyGetter is implemented by a Backend that reads many documents by id
// in fewer round trips than one Get each (store/bolt: one read
// transaction; store/mongo: `_id $in`, or one read by _id each on
// FerretDB, which scans the collection for any other filter). GetMany
// returns the documents that exist, in no particular order; a missing id is
// left out.
type ManyGetter interface {
	GetMany(ctx context.Context, coll string, ids []string) ([]*Doc, error)
}

// getMany reads the documents with the given ids (missing ones left out)
// with the backend's GetMany, or one Get each.
func (s *Store) getMany(ctx context.Context, coll string, ids []string) ([]*Doc, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if g, ok := s.b.(ManyGetter); ok {
		return g.GetMany(ctx, coll, ids)
	}
	out := make([]*Doc, 0, len(ids))
	for _, id := range ids {
		d, err := s.b.Get(ctx, coll, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// flagsByID returns the flags of environment envID with the given ids (a
// missing one, or one of another environment, is left out), in no
// particular order: reads proportional to len(ids), never to the size of
// the environment.
func (s *Store) flagsByID(ctx context.Context, envID string, ids []string) ([]*codec.Flag, error) {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	docs, err := s.getMany(ctx, CollFlags, ids)
	if err != nil {
		return nil, err
	}
	out := make([]*codec.Flag, 0, len(docs))
	for _, d := range docs {
		f := new(codec.Flag)
		if err := decode(d.Data, f); err != nil {
			return nil, fmt.Errorf("flag %s: %w", d.ID, err)
		}
		if f.EnvID == envID {
			out = append(out, f)
		}
	}
	return out, nil
}

// ManyInserter is implemented by a Backend that inserts many new documents
// in fewer round trips than one Insert each (store/mongo: unordered
// InsertMany, keyBatch at a time). InsertMany writes every document whose
// id and unique keys are free and returns the ids of those it did not
// write because one exists (dup); any other error is returned (documents
// before it may be written).
type ManyInserter interface {
	InsertMany(ctx context.Context, coll string, docs []*Doc) (dup []string, err error)
}

// insertNew inserts documents the caller created (fresh ids): with the
// backend's InsertMany, or one Modify (store/bolt: one transaction) that
// writes each whose id is free. It returns the ids that exist (not
// written).
func (s *Store) insertNew(ctx context.Context, coll string, docs []*Doc) ([]string, error) {
	if len(docs) == 0 {
		return nil, nil
	}
	if m, ok := s.b.(ManyInserter); ok {
		return m.InsertMany(ctx, coll, docs)
	}
	byID := make(map[string]*Doc, len(docs))
	ids := make([]string, len(docs))
	for i, d := range docs {
		byID[d.ID], ids[i] = d, d.ID
	}
	var dup []string
	err := s.b.Modify(ctx, coll, ids, func(id string, old *Doc) (*Doc, error) {
		if old != nil {
			dup = append(dup, id)
			return nil, nil
		}
		return byID[id], nil
	})
	return dup, err
}
