package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/switchyard/switchyard/codec"
)

func envDocFields(e *Env) map[string]string {
	dirty := "0"
	if e.Version > e.PublishedVersion || e.Deleted {
		dirty = "1"
	}
	return map[string]string{"projectId": e.ProjectID, "dirty": dirty}
}

// CreateEnv stores a new environment. It starts at Version 1 and
// PublishedVersion 0, so the publisher writes its first snapshot.
func (s *Store) CreateEnv(ctx context.Context, e *Env) error {
	now := s.Now()
	e.Version, e.PublishedVersion, e.Rev, e.CreatedAt, e.UpdatedAt = 1, 0, 1, now, now
	return insertDoc(ctx, s, CollEnvs, e.ID, e.Rev, envDocFields(e), e)
}

// GetEnv returns an environment (ErrNotFound if deleted).
func (s *Store) GetEnv(ctx context.Context, id string) (*Env, error) {
	e, err := s.getEnvAny(ctx, id)
	if err == nil && e.Deleted {
		return nil, fmt.Errorf("environment %s: %w", id, ErrNotFound)
	}
	return e, err
}

// GetEnvMeta returns a live environment without its outbox: Outbox is nil
// and Pending counts its entries. Most reads (the API's scope and access
// checks, audit entries) need only the environment's identity and secrets,
// not the changes in flight.
func (s *Store) GetEnvMeta(ctx context.Context, id string) (*Env, error) {
	e, err := s.GetEnv(ctx, id)
	if err != nil {
		return nil, err
	}
	e.pending, e.Outbox = len(e.Outbox), nil
	return e, nil
}

func (s *Store) getEnvAny(ctx context.Context, id string) (*Env, error) {
	e, rev, err := getDoc[Env](ctx, s, CollEnvs, id)
	if err != nil {
		return nil, err
	}
	e.Rev = rev
	return e, nil
}

// ListEnvs returns the live environments of a project.
func (s *Store) ListEnvs(ctx context.Context, projectID string) ([]*Env, error) {
	es, _, err := findDocs[Env](ctx, s, CollEnvs, Query{Eq: map[string]string{"projectId": projectID}})
	out := es[:0]
	for _, e := range es {
		if !e.Deleted {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].CreatedAt != out[j].CreatedAt {
			return out[i].CreatedAt < out[j].CreatedAt
		}
		return out[i].Name < out[j].Name
	})
	return out, err
}

// DirtyEnvs returns the environments whose publish state is behind (or that
// were deleted and whose deletion is not yet published).
func (s *Store) DirtyEnvs(ctx context.Context) ([]*Env, error) {
	docs, _, err := s.b.Find(ctx, CollEnvs, Query{Eq: map[string]string{"dirty": "1"}})
	if err != nil {
		return nil, fmt.Errorf("cannot list dirty environments: %w", err)
	}
	out := make([]*Env, 0, len(docs))
	for _, d := range docs {
		e := new(Env) // the document Find read: no second read by id
		if decode(d.Data, e) != nil {
			continue // one that does not decode is left out, the others published
		}
		e.Rev = d.Version
		out = append(out, e)
	}
	return out, nil
}

// modifyEnv applies fn to the environment under compare-and-set: through
// Backend.Modify, which store/bolt runs inside its write transaction (so
// concurrent bumps never conflict and share a group commit) and
// store/mongo as read, fn, compare-and-set, retried on a concurrent change
// (on FerretDB: read, fn and write under the document's lock, once).
// fn may be called more than once.
func (s *Store) modifyEnv(ctx context.Context, id string, fn func(e *Env) error) (*Env, error) {
	var out *Env
	err := s.b.Modify(ctx, CollEnvs, []string{id}, func(_ string, old *Doc) (*Doc, error) {
		if old == nil {
			return nil, fmt.Errorf("cannot get %s %s: %w", CollEnvs, id, ErrNotFound)
		}
		e := new(Env)
		if err := decode(old.Data, e); err != nil {
			return nil, fmt.Errorf("cannot decode %s %s: %w", CollEnvs, id, err)
		}
		e.Rev = old.Version
		if err := fn(e); err != nil {
			return nil, err
		}
		e.Rev++
		out = e
		return &Doc{ID: e.ID, Version: e.Rev, Fields: envDocFields(e), Data: encode(e)}, nil
	})
	if err != nil {
		if errors.Is(err, ErrConflict) && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	return out, nil
}

// UpdateEnv renames an environment (name, key, description).
func (s *Store) UpdateEnv(ctx context.Context, id, name, key, description string) (*Env, error) {
	return s.modifyEnv(ctx, id, func(e *Env) error {
		if e.Deleted {
			return fmt.Errorf("environment %s: %w", id, ErrNotFound)
		}
		e.Name, e.Key, e.Description, e.UpdatedAt = name, key, description, s.Now()
		return nil
	})
}

// BumpEnv records changes of an environment before they are written: it
// increments the environment Version once per entry, assigns each entry its
// EnvVersion, appends the entries to the outbox and marks the environment
// dirty, in one single-document compare-and-set. Callers bump FIRST and write
// the item after (intent first), with the entry's ItemVersion set to the
// version the write produces: if the process dies in between, the publisher
// finds the write never landed and, after LandWait, publishes the item's
// current state, which is harmless, whereas the opposite order could leave a
// stored change that nobody publishes. A write that fails after its bump
// calls CancelEntry. It returns the environment after the bump; the entries'
// stamps are Stamps(e, len(entries)).
//
// BumpEnv is also the one gate of protected environments (changes.go):
// every write of a flag or segment bumps first, so in a protected
// environment it fails with ErrChangeRequest unless ctx carries an approved
// change request (WithChangeRequest).
func (s *Store) BumpEnv(ctx context.Context, envID string, entries ...OutboxEntry) (*Env, error) {
	if err := s.Gate(ctx, envID); err != nil {
		return nil, err
	}
	now := s.Now()
	if rid := RequestIDFrom(ctx); rid != "" {
		entries = slices.Clone(entries)
		for i := range entries {
			entries[i].RequestID = rid
		}
	}
	return s.modifyEnv(ctx, envID, func(e *Env) error {
		if e.Deleted {
			return fmt.Errorf("environment %s: %w", envID, ErrNotFound)
		}
		bump(e, now, entries...)
		return nil
	})
}

// bump applies BumpEnv's change to e (inside modifyEnv): each entry gets
// the next EnvVersion and the next Stamp, strictly greater than every stamp
// given before in the environment.
func bump(e *Env, now int64, entries ...OutboxEntry) {
	if e.Stamp == 0 { // environments from before stamps: start after the last change
		e.Stamp = e.UpdatedAt
	}
	for _, en := range entries {
		e.Version++
		e.Stamp = max(now, e.Stamp+1)
		en.EnvVersion, en.Stamp = e.Version, e.Stamp
		if en.At == 0 {
			en.At = now
		}
		if en.encode != nil {
			en.Payload, en.encode = en.encode(en.Stamp), nil
		}
		e.Outbox = append(e.Outbox, en)
	}
	if len(entries) == 0 {
		e.Version++
	}
	if len(e.Outbox) > MaxOutbox {
		e.Outbox = []OutboxEntry{{EnvVersion: e.Version, Kind: codec.KindSnapshot, Op: codec.OpUpsert, ID: e.ID, At: now}}
	}
	e.UpdatedAt = now
}

// Stamps returns the stamps BumpEnv gave its n entries, given the
// environment it returned (consecutive, ending at e.Stamp).
func Stamps(e *Env, n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = e.Stamp - int64(n-1-i)
	}
	return out
}

// CancelEntry removes the outbox entries of an environment bumped at
// envVersion for an item whose write then failed, so the publisher does not
// wait LandWait for it. Best effort: errors are ignored (the wait covers).
func (s *Store) CancelEntry(ctx context.Context, envID string, envVersions ...int64) {
	_, _ = s.modifyEnv(ctx, envID, func(e *Env) error {
		keep := e.Outbox[:0]
		for _, en := range e.Outbox {
			if !slices.Contains(envVersions, en.EnvVersion) {
				keep = append(keep, en)
			}
		}
		e.Outbox = keep
		return nil
	})
}

// MarkPublished records that the snapshot and change events up to version
// were delivered: PublishedVersion becomes version (if larger) and the outbox
// entries up to it are dropped.
func (s *Store) MarkPublished(ctx context.Context, envID string, version int64) error {
	_, err := s.modifyEnv(ctx, envID, func(e *Env) error {
		if version > e.PublishedVersion {
			e.PublishedVersion = version
		}
		keep := e.Outbox[:0]
		for _, en := range e.Outbox {
			if en.EnvVersion > version {
				keep = append(keep, en)
			}
		}
		e.Outbox = keep
		return nil
	})
	return err
}

// MaxSecretsPerType bounds the secrets of one type an environment holds
// (the current one and rotated-out ones not yet expired).
const MaxSecretsPerType = 4

// RotateSecret adds value as the current secret of type typ (first in
// Secrets) and gives the previous ones of that type the expiry expiresAt
// (Unix ms; at or before now: they are removed at once; one that already
// expires earlier keeps its expiry). Expired secrets are dropped. More than
// MaxSecretsPerType of one type is ErrConflict. The change is recorded
// (KindSecrets) in one compare-and-set of the environment.
func (s *Store) RotateSecret(ctx context.Context, envID, typ, value string, expiresAt int64) (*Env, error) {
	now := s.Now()
	return s.modifyEnv(ctx, envID, func(e *Env) error {
		if e.Deleted {
			return fmt.Errorf("environment %s: %w", envID, ErrNotFound)
		}
		keep := []codec.EnvSecret{{EnvID: envID, Type: typ, Value: value}}
		n := 1
		for _, sc := range e.Secrets {
			if sc.ExpiresAt != 0 && sc.ExpiresAt <= now {
				continue // expired
			}
			if sc.Type == typ {
				if expiresAt <= now {
					continue
				}
				if sc.ExpiresAt == 0 || sc.ExpiresAt > expiresAt {
					sc.ExpiresAt = expiresAt
				}
				n++
			}
			keep = append(keep, sc)
		}
		if n > MaxSecretsPerType {
			return Errorf(ErrConflict, "an environment holds at most %d %s secrets (the current one and rotated-out ones not yet expired); rotate with expiresIn \"now\" to end the old ones at once", MaxSecretsPerType, typ)
		}
		e.Secrets = keep
		bump(e, now, OutboxEntry{Kind: codec.KindSecrets, Op: codec.OpUpsert, ID: envID, RequestID: RequestIDFrom(ctx)})
		return nil
	})
}

// DeleteEnv marks an environment deleted and records a KindEnv delete event
// (one compare-and-set); the publisher produces it and then calls PurgeEnv.
func (s *Store) DeleteEnv(ctx context.Context, envID string) error {
	now := s.Now()
	_, err := s.modifyEnv(ctx, envID, func(e *Env) error {
		if e.Deleted {
			return fmt.Errorf("environment %s: %w", envID, ErrNotFound)
		}
		bump(e, now, OutboxEntry{Kind: codec.KindEnv, Op: codec.OpDelete, ID: envID, RequestID: RequestIDFrom(ctx)})
		e.Deleted = true
		return nil
	})
	return err
}

// PurgeEnv removes a deleted environment and everything in it.
func (s *Store) PurgeEnv(ctx context.Context, envID string) error {
	for _, coll := range []string{CollFlags, CollFlagVersions, CollSegments, CollSegmentRefs, CollMetrics, CollExperiments, CollEndUsers} {
		docs, _, err := s.b.Find(ctx, coll, Query{Eq: envFields(envID)})
		if err != nil {
			return fmt.Errorf("cannot purge environment %s: %w", envID, err)
		}
		for _, d := range docs {
			if err := s.b.Delete(ctx, coll, d.ID, -1); err != nil && !errors.Is(err, ErrNotFound) {
				return fmt.Errorf("cannot purge environment %s: %w", envID, err)
			}
		}
	}
	return s.b.Delete(ctx, CollEnvs, envID, -1)
}

// Snapshot reads the current state of an environment: all flags (archived
// included) and segments, THEN the environment (secrets, Version, outbox).
// Every item write is bumped before it is written, so each item state read
// has its outbox entry (or was published already): the publisher sees which
// entries up to Version have landed in the items read, and which item states
// are ahead of an entry still in flight (see publish.PublishEnv).
func (s *Store) Snapshot(ctx context.Context, envID string) (*codec.EnvSnapshot, *Env, error) {
	flags, err := s.AllFlags(ctx, envID)
	if err != nil {
		return nil, nil, err
	}
	segs, err := s.AllSegments(ctx, envID)
	if err != nil {
		return nil, nil, err
	}
	e, err := s.getEnvAny(ctx, envID)
	if err != nil {
		return nil, nil, err
	}
	snap := &codec.EnvSnapshot{EnvID: envID, Version: e.Version, Secrets: e.Secrets,
		Flags: make([]codec.Flag, len(flags)), Segments: make([]codec.Segment, len(segs))}
	for i, f := range flags {
		snap.Flags[i] = *f
	}
	for i, sg := range segs {
		snap.Segments[i] = *sg
	}
	return snap, e, nil
}

// LiveEnvIDs returns the ids of every environment that is not deleted.
func (s *Store) LiveEnvIDs(ctx context.Context) ([]string, error) {
	es, _, err := findDocs[Env](ctx, s, CollEnvs, Query{})
	if err != nil {
		return nil, fmt.Errorf("cannot list environments: %w", err)
	}
	ids := make([]string, 0, len(es))
	for _, e := range es {
		if !e.Deleted {
			ids = append(ids, e.ID)
		}
	}
	return ids, nil
}

// ChangedItems reads what an incremental publish needs: the environment,
// then the flags and segments its outbox names (one read each, so the cost
// is proportional to the pending changes, at most MaxOutbox), then the
// environment again. The returned snapshot holds only those items (and the
// secrets), and its Version is the first read's: only entries up to it had
// their items read. The returned environment is the second read, whose
// outbox includes every entry of the first, so an item written by a change
// bumped in between is seen with that change's entry (see Snapshot).
func (s *Store) ChangedItems(ctx context.Context, envID string) (*codec.EnvSnapshot, *Env, error) {
	e, err := s.getEnvAny(ctx, envID)
	if err != nil {
		return nil, nil, err
	}
	snap := &codec.EnvSnapshot{EnvID: envID}
	seen := map[string]bool{}
	// A batch names many flags: read those (by id, one backend call), never
	// the rest of the environment.
	var batch []string
	for _, en := range e.Outbox {
		for _, r := range en.Items {
			batch = append(batch, r.ID)
		}
	}
	if len(batch) > 0 {
		fs, err := s.flagsByID(ctx, envID, batch)
		if err != nil {
			return nil, nil, err
		}
		for _, f := range fs {
			seen[codec.KindFlag+"/"+f.ID] = true
			snap.Flags = append(snap.Flags, *f)
		}
	}
	for _, en := range e.Outbox {
		if (en.Kind != codec.KindFlag && en.Kind != codec.KindSegment) || seen[en.Kind+"/"+en.ID] {
			continue
		}
		seen[en.Kind+"/"+en.ID] = true
		if en.Kind == codec.KindFlag {
			f, err := s.GetFlag(ctx, envID, en.ID)
			switch {
			case err == nil:
				snap.Flags = append(snap.Flags, *f)
			case !errors.Is(err, ErrNotFound):
				return nil, nil, err
			}
			continue
		}
		sg, err := s.GetSegment(ctx, envID, en.ID)
		switch {
		case err == nil:
			snap.Segments = append(snap.Segments, *sg)
		case !errors.Is(err, ErrNotFound):
			return nil, nil, err
		}
	}
	first := e.Version
	if e, err = s.getEnvAny(ctx, envID); err != nil {
		return nil, nil, err
	}
	snap.Version, snap.Secrets = first, e.Secrets
	return snap, e, nil
}
