package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/codec/secret"
)

// MaxBatch bounds the flags of one BatchFlags call (the bulk route).
const MaxBatch = 10000

// BatchFlags creates or updates the flags of one environment as one change:
// a flag whose Version is 0 is created (its key must be new), any other
// replaces the stored flag with its key if that flag is at that version. It
// is all-or-nothing as far as checks go: every item is checked against the
// stored flags first (errors are FieldErrors naming "items[i].key" or
// "items[i].version"), then ONE environment compare-and-set records one
// KindBatch outbox entry (one stamp for all items, so the publisher
// produces one change event carrying them all), then the flag documents are
// written with Backend.Modify (store/bolt: one transaction; store/mongo:
// document by document, a failure part way leaves the written ones, which
// the publisher delivers). Items are validated by the caller; ids, EnvID,
// CreatedAt, Version and UpdatedAt are set here.
func (s *Store) BatchFlags(ctx context.Context, envID string, flags []*codec.Flag) error {
	if len(flags) == 0 {
		return Invalid("items", "list at least one flag")
	}
	if len(flags) > MaxBatch {
		return Invalid("items", "at most %d flags per call (got %d)", MaxBatch, len(flags))
	}
	keys := make([]string, len(flags))
	for i, f := range flags {
		keys[i] = f.Key
	}
	byKey, err := s.FlagsByKey(ctx, envID, keys)
	if err != nil {
		return err
	}
	seen := make(map[string]int, len(flags))
	expect := make([]int64, len(flags))
	refs := make([]BatchRef, len(flags))
	ids := make([]string, len(flags))
	item := func(i int, field string) string { return "items[" + strconv.Itoa(i) + "]." + field }
	now := s.Now()
	for i, f := range flags {
		if j, dup := seen[f.Key]; dup {
			return Invalid(item(i, "key"), "key %q is also items[%d]", f.Key, j)
		}
		seen[f.Key] = i
		cur := byKey[f.Key]
		switch {
		case f.Version == 0 && cur != nil:
			return &FieldError{Kind: ErrDuplicate, Field: item(i, "key"), Msg: fmt.Sprintf("flag %q exists (version %d): send its version to update it", f.Key, cur.Version)}
		case f.Version == 0:
			f.ID, f.CreatedAt = secret.NewGUID(), now
		case cur == nil:
			return &FieldError{Kind: ErrNotFound, Field: item(i, "key"), Msg: fmt.Sprintf("no flag %q to update: send version 0 to create it", f.Key)}
		case cur.Version != f.Version:
			return &FieldError{Kind: ErrConflict, Field: item(i, "version"),
				Msg: fmt.Sprintf("version %d of flag %q is stale: the flag is at version %d; reload and retry", f.Version, f.Key, cur.Version)}
		case cur.IsArchived:
			return &FieldError{Kind: ErrConflict, Field: item(i, "key"), Msg: fmt.Sprintf("flag %q is archived; restore it first", f.Key)}
		default:
			f.ID, f.CreatedAt = cur.ID, cur.CreatedAt
		}
		expect[i] = f.Version
		f.EnvID, f.Version = envID, f.Version+1
		refs[i] = BatchRef{ID: f.ID, ItemVersion: f.Version}
		ids[i] = f.ID
	}
	for _, f := range flags {
		if err := s.referSegments(ctx, envID, f.ID, SegmentIDs(f)); err != nil {
			return err
		}
	}
	e, err := s.BumpEnv(ctx, envID, OutboxEntry{Kind: codec.KindBatch, Op: codec.OpUpsert, ID: secret.NewGUID(), Items: refs})
	if err != nil {
		return err
	}
	idx := make(map[string]int, len(flags))
	for i, f := range flags {
		f.UpdatedAt = e.Stamp
		idx[f.ID] = i
	}
	write := func(id string, old *Doc) (*Doc, error) {
		i := idx[id]
		f := flags[i]
		switch {
		case expect[i] == 0 && old != nil:
			return nil, dupKey(ErrDuplicate)
		case expect[i] != 0 && old == nil:
			return nil, fmt.Errorf("flag %q: %w", f.Key, ErrNotFound)
		case expect[i] != 0 && old.Version != expect[i]:
			return nil, staleVersion(old.Version, expect[i])
		}
		return &Doc{ID: id, Version: f.Version, Fields: keyFields(envID, f.Key), Data: encode(f)}, nil
	}
	if _, bulk := s.b.(ManyInserter); bulk {
		// store/mongo: the new flags (fresh ids) with InsertMany, without
		// reading them first; the updates with Modify
		var created []*Doc
		var updated []string
		for i, f := range flags {
			if expect[i] == 0 {
				created = append(created, &Doc{ID: f.ID, Version: f.Version, Fields: keyFields(envID, f.Key), Data: encode(f)})
			} else {
				updated = append(updated, f.ID)
			}
		}
		var dup []string
		if dup, err = s.insertNew(ctx, CollFlags, created); err == nil && len(dup) > 0 {
			err = fmt.Errorf("flag %q: %w", flags[idx[dup[0]]].Key, ErrDuplicate)
		}
		if err == nil {
			err = s.b.Modify(ctx, CollFlags, updated, write)
		}
	} else {
		err = s.b.Modify(ctx, CollFlags, ids, write)
	}
	if err != nil {
		// store/mongo may have written part of the batch: then the entry
		// stays and publishes what landed (the rest is presumed failed
		// after LandWait); when nothing landed it is cancelled.
		if !s.anyLanded(ctx, envID, flags) {
			s.CancelEntry(ctx, envID, e.Version)
		}
		if errors.Is(err, ErrDuplicate) {
			return dupKey(err)
		}
		return fmt.Errorf("cannot write the batch of %d flags: %w", len(flags), err)
	}
	s.recordFlagVersions(ctx, flags)
	return nil
}

// anyLanded reports whether any flag of a failed batch was written (at its
// new version); true when that cannot be read (the safe answer: keeping the
// outbox entry costs a LandWait, dropping it could leave a write unpublished).
// It reads only the batch's flags.
func (s *Store) anyLanded(ctx context.Context, envID string, flags []*codec.Flag) bool {
	want := make(map[string]int64, len(flags))
	ids := make([]string, len(flags))
	for i, f := range flags {
		want[f.ID] = f.Version
		ids[i] = f.ID
	}
	got, err := s.flagsByID(context.WithoutCancel(ctx), envID, ids)
	if err != nil {
		return true
	}
	for _, f := range got {
		if v, ok := want[f.ID]; ok && f.Version == v {
			return true
		}
	}
	return false
}

// recordFlagVersions keeps the new versions of a batch in the flag history
// with one Modify (best effort, as recordFlagVersion).
func (s *Store) recordFlagVersions(ctx context.Context, flags []*codec.Flag) {
	ctx = context.WithoutCancel(ctx)
	docs := make([]*Doc, len(flags))
	for i, f := range flags {
		docs[i] = &Doc{ID: flagVersionID(f.ID, f.Version), Version: 1,
			Fields: map[string]string{"flagId": f.ID, "ver": pad(f.Version), "envId": f.EnvID}, Data: encode(f)}
	}
	_, _ = s.insertNew(ctx, CollFlagVersions, docs) // one that exists is kept
	for _, f := range flags {
		if old := f.Version - FlagHistory; old > 0 {
			_ = s.b.Delete(ctx, CollFlagVersions, flagVersionID(f.ID, old), -1)
		}
	}
}
