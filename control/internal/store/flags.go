package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/switchyard/switchyard/codec"
)

// Segment condition properties (FeatBit's names).
const (
	PropInSegment    = "User is in segment"
	PropNotInSegment = "User is not in segment"
)

func keyFields(envID, key string) map[string]string {
	return map[string]string{"envId": envID, "key": key}
}

func msgpFlag(f *codec.Flag) []byte {
	b, err := f.MarshalMsg(nil)
	if err != nil {
		panic("BUG: cannot encode flag: " + err.Error())
	}
	return b
}

func msgpSegment(sg *codec.Segment) []byte {
	b, err := sg.MarshalMsg(nil)
	if err != nil {
		panic("BUG: cannot encode segment: " + err.Error())
	}
	return b
}

func dupKey(err error) error {
	if errors.Is(err, ErrDuplicate) {
		return &FieldError{Kind: ErrDuplicate, Field: "key", Msg: "an item with this key exists in the environment"}
	}
	return err
}

// CreateFlag stores a new flag (Version 1) after recording the change. The
// key must be unique in the environment (ErrDuplicate naming "key").
func (s *Store) CreateFlag(ctx context.Context, f *codec.Flag) error {
	if _, err := s.GetFlagByKey(ctx, f.EnvID, f.Key); err == nil {
		return dupKey(ErrDuplicate)
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	f.Version, f.CreatedAt = 1, s.Now()
	if err := s.referSegments(ctx, f.EnvID, f.ID, SegmentIDs(f)); err != nil {
		return err
	}
	e, err := s.BumpEnv(ctx, f.EnvID, OutboxEntry{Kind: codec.KindFlag, Op: codec.OpUpsert, ID: f.ID, ItemVersion: 1})
	if err != nil {
		return err
	}
	f.UpdatedAt = e.Stamp
	if err := insertDoc(ctx, s, CollFlags, f.ID, 1, keyFields(f.EnvID, f.Key), f); err != nil {
		s.CancelEntry(ctx, f.EnvID, e.Version)
		return dupKey(err)
	}
	s.recordFlagVersion(ctx, f)
	return nil
}

// GetFlag returns a flag of an environment by id.
func (s *Store) GetFlag(ctx context.Context, envID, id string) (*codec.Flag, error) {
	f, _, err := getDoc[codec.Flag](ctx, s, CollFlags, id)
	if err == nil && f.EnvID != envID {
		return nil, fmt.Errorf("flag %s: %w", id, ErrNotFound)
	}
	return f, err
}

// GetFlagByKey returns a flag of an environment by key.
func (s *Store) GetFlagByKey(ctx context.Context, envID, key string) (*codec.Flag, error) {
	fs, _, err := findDocs[codec.Flag](ctx, s, CollFlags, Query{Eq: keyFields(envID, key)})
	if err != nil {
		return nil, err
	}
	if len(fs) == 0 {
		return nil, fmt.Errorf("flag %q: %w", key, ErrNotFound)
	}
	return fs[0], nil
}

// FlagsByKey returns the environment's flags with the given keys (a key
// without a flag is absent from the map), one indexed read per key: the
// cost follows the number of keys, never the size of the environment.
func (s *Store) FlagsByKey(ctx context.Context, envID string, keys []string) (map[string]*codec.Flag, error) {
	out := make(map[string]*codec.Flag, len(keys))
	for _, k := range keys {
		if _, done := out[k]; done {
			continue
		}
		f, err := s.GetFlagByKey(ctx, envID, k)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[k] = f
	}
	return out, nil
}

// UpdateFlag replaces f if its stored version is expect (ErrConflict
// otherwise); f.Version becomes expect+1 and UpdatedAt the stamp given by
// the environment's bump (see Env.Stamp). The key cannot change.
func (s *Store) UpdateFlag(ctx context.Context, f *codec.Flag, expect int64) error {
	cur, err := s.GetFlag(ctx, f.EnvID, f.ID)
	if err != nil {
		return err
	}
	if cur.Version != expect {
		return staleVersion(cur.Version, expect)
	}
	f.Key, f.CreatedAt = cur.Key, cur.CreatedAt
	f.Version = expect + 1
	if err := s.referSegments(ctx, f.EnvID, f.ID, SegmentIDs(f)); err != nil {
		return err
	}
	e, err := s.BumpEnv(ctx, f.EnvID, OutboxEntry{Kind: codec.KindFlag, Op: codec.OpUpsert, ID: f.ID, ItemVersion: f.Version})
	if err != nil {
		return err
	}
	f.UpdatedAt = e.Stamp
	if err := replaceDoc(ctx, s, CollFlags, f.ID, f.Version, expect, keyFields(f.EnvID, f.Key), f); err != nil {
		s.CancelEntry(ctx, f.EnvID, e.Version)
		return err
	}
	s.recordFlagVersion(ctx, f)
	return nil
}

func staleVersion(cur, expect int64) error {
	return &FieldError{Kind: ErrConflict, Field: "version",
		Msg: fmt.Sprintf("version %d is stale: the item is at version %d; reload and retry", expect, cur)}
}

// DeleteFlag deletes an archived flag (ErrConflict if it is not archived or
// its version is not expect; expect < 0 skips the version check) and records
// a delete event carrying its last state.
func (s *Store) DeleteFlag(ctx context.Context, envID, id string, expect int64) error {
	f, err := s.GetFlag(ctx, envID, id)
	if err != nil {
		return err
	}
	if !f.IsArchived {
		return Errorf(ErrConflict, "flag %q is not archived; archive it before deleting", f.Key)
	}
	if expect >= 0 && f.Version != expect {
		return staleVersion(f.Version, expect)
	}
	f.Version++
	e, err := s.BumpEnv(ctx, envID, OutboxEntry{Kind: codec.KindFlag, Op: codec.OpDelete, ID: id, ItemVersion: f.Version,
		encode: func(stamp int64) []byte { f.UpdatedAt = stamp; return msgpFlag(f) }})
	if err != nil {
		return err
	}
	if err := s.b.Delete(ctx, CollFlags, id, f.Version-1); err != nil {
		s.CancelEntry(ctx, envID, e.Version)
		return err
	}
	s.deleteFlagVersions(ctx, id)
	s.unreferSegments(ctx, envID, id, SegmentIDs(f))
	return nil
}

// AllFlags returns every flag of an environment (archived included), by key.
func (s *Store) AllFlags(ctx context.Context, envID string) ([]*codec.Flag, error) {
	fs, _, err := findDocs[codec.Flag](ctx, s, CollFlags, Query{Eq: envFields(envID), Sort: "key"})
	return fs, err
}

// FlagFilter selects flags for ListFlags. Status: "" or "active" (not
// archived), "enabled", "disabled", "archived", "all".
type FlagFilter struct {
	Search string
	Tags   []string
	Status string
	Offset int
	Limit  int
}

// ListFlags returns a page of an environment's flags matching the filter,
// most recently updated first, and the total number of matches.
func (s *Store) ListFlags(ctx context.Context, envID string, ff FlagFilter) ([]*codec.Flag, int, error) {
	all, err := s.AllFlags(ctx, envID)
	if err != nil {
		return nil, 0, err
	}
	q := strings.ToLower(ff.Search)
	out := all[:0]
	for _, f := range all {
		switch ff.Status {
		case "", "active":
			if f.IsArchived {
				continue
			}
		case "enabled":
			if f.IsArchived || !f.IsEnabled {
				continue
			}
		case "disabled":
			if f.IsArchived || f.IsEnabled {
				continue
			}
		case "archived":
			if !f.IsArchived {
				continue
			}
		}
		if q != "" && !strings.Contains(strings.ToLower(f.Key), q) && !strings.Contains(strings.ToLower(f.Name), q) {
			continue
		}
		ok := true
		for _, t := range ff.Tags {
			if !slices.Contains(f.Tags, t) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, f)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].UpdatedAt != out[j].UpdatedAt {
			return out[i].UpdatedAt > out[j].UpdatedAt
		}
		return out[i].Key < out[j].Key
	})
	lo, hi := page(len(out), ff.Offset, ff.Limit)
	return out[lo:hi], len(out), nil
}

// ---- segments ----

// SegmentIDs returns the segment ids a flag's rules refer to.
func SegmentIDs(f *codec.Flag) []string {
	var ids []string
	for _, r := range f.Rules {
		for _, c := range r.Conditions {
			if c.Property != PropInSegment && c.Property != PropNotInSegment {
				continue
			}
			var v []string
			if json.Unmarshal([]byte(c.Value), &v) == nil {
				for _, id := range v {
					if !slices.Contains(ids, id) {
						ids = append(ids, id)
					}
				}
			}
		}
	}
	return ids
}

// CreateSegment stores a new segment.
func (s *Store) CreateSegment(ctx context.Context, sg *codec.Segment) error {
	if _, err := s.getSegmentByKey(ctx, sg.EnvID, segKey(sg)); err == nil {
		return dupKey(ErrDuplicate)
	}
	sg.Version, sg.CreatedAt = 1, s.Now()
	e, err := s.BumpEnv(ctx, sg.EnvID, OutboxEntry{Kind: codec.KindSegment, Op: codec.OpUpsert, ID: sg.ID, ItemVersion: 1})
	if err != nil {
		return err
	}
	sg.UpdatedAt = e.Stamp
	if err := insertDoc(ctx, s, CollSegments, sg.ID, 1, keyFields(sg.EnvID, segKey(sg)), sg); err != nil {
		s.CancelEntry(ctx, sg.EnvID, e.Version)
		return dupKey(err)
	}
	// No flag refers to a new segment yet: its list is complete and empty
	// (best effort: without it, SegmentUsedBy reads the environment once).
	_ = putSegmentRefs(ctx, s, sg.EnvID, sg.ID, &segmentRefs{Complete: true}, 0)
	return nil
}

// segKey is the unique key of a segment: its name, case-insensitively.
func segKey(sg *codec.Segment) string { return strings.ToLower(strings.TrimSpace(sg.Name)) }

func (s *Store) getSegmentByKey(ctx context.Context, envID, key string) (*codec.Segment, error) {
	ss, _, err := findDocs[codec.Segment](ctx, s, CollSegments, Query{Eq: keyFields(envID, key)})
	if err != nil {
		return nil, err
	}
	if len(ss) == 0 {
		return nil, ErrNotFound
	}
	return ss[0], nil
}

// GetSegment returns a segment of an environment.
func (s *Store) GetSegment(ctx context.Context, envID, id string) (*codec.Segment, error) {
	sg, _, err := getDoc[codec.Segment](ctx, s, CollSegments, id)
	if err == nil && sg.EnvID != envID {
		return nil, fmt.Errorf("segment %s: %w", id, ErrNotFound)
	}
	return sg, err
}

// AllSegments returns every segment of an environment (archived included).
func (s *Store) AllSegments(ctx context.Context, envID string) ([]*codec.Segment, error) {
	ss, _, err := findDocs[codec.Segment](ctx, s, CollSegments, Query{Eq: envFields(envID), Sort: "key"})
	return ss, err
}

// UpdateSegment replaces sg if its stored version is expect, then bumps
// (Version+1, UpdatedAt) every flag that uses it so that caches keyed by flag
// version see the change; the segment's change event lists them in
// AffectedFlags, and each bumped flag gets its own change event.
func (s *Store) UpdateSegment(ctx context.Context, sg *codec.Segment, expect int64) error {
	cur, err := s.GetSegment(ctx, sg.EnvID, sg.ID)
	if err != nil {
		return err
	}
	if cur.Version != expect {
		return staleVersion(cur.Version, expect)
	}
	if k := segKey(sg); k != segKey(cur) {
		if _, err := s.getSegmentByKey(ctx, sg.EnvID, k); err == nil {
			return &FieldError{Kind: ErrDuplicate, Field: "name", Msg: "a segment with this name exists in the environment"}
		}
	}
	users, err := s.SegmentUsedBy(ctx, sg.EnvID, sg.ID)
	if err != nil {
		return err
	}
	sg.CreatedAt = cur.CreatedAt
	sg.Version = expect + 1
	ids := make([]string, len(users))
	entries := []OutboxEntry{{Kind: codec.KindSegment, Op: codec.OpUpsert, ID: sg.ID, ItemVersion: sg.Version}}
	for i, f := range users {
		ids[i] = f.ID
		// The flag's version only grows, so Version+1 is reached by the
		// touch below (or by any later write).
		entries = append(entries, OutboxEntry{Kind: codec.KindFlag, Op: codec.OpUpsert, ID: f.ID, ItemVersion: f.Version + 1})
	}
	entries[0].AffectedFlags = ids
	e, err := s.BumpEnv(ctx, sg.EnvID, entries...)
	if err != nil {
		return err
	}
	stamps := Stamps(e, len(entries))
	sg.UpdatedAt = stamps[0]
	if err := replaceDoc(ctx, s, CollSegments, sg.ID, sg.Version, expect, keyFields(sg.EnvID, segKey(sg)), sg); err != nil {
		vs := make([]int64, len(entries))
		for i := range vs {
			vs[i] = e.Version - int64(len(entries)-1-i)
		}
		s.CancelEntry(ctx, sg.EnvID, vs...)
		return dupKey(err)
	}
	for i, f := range users {
		if err := s.touchFlag(ctx, sg.EnvID, f.ID, stamps[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// touchFlag increments a flag's version and sets UpdatedAt to the stamp of
// its outbox entry, without other change.
func (s *Store) touchFlag(ctx context.Context, envID, id string, stamp int64) error {
	for range 50 {
		f, err := s.GetFlag(ctx, envID, id)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		expect := f.Version
		f.Version, f.UpdatedAt = expect+1, max(stamp, f.UpdatedAt)
		err = replaceDoc(ctx, s, CollFlags, f.ID, f.Version, expect, keyFields(envID, f.Key), f)
		if err == nil {
			s.recordFlagVersion(ctx, f)
		}
		if !errors.Is(err, ErrConflict) {
			return err
		}
	}
	return Errorf(ErrConflict, "flag %s changed concurrently too often", id)
}

// DeleteSegment deletes a segment no flag uses (ErrConflict naming the flags
// otherwise).
func (s *Store) DeleteSegment(ctx context.Context, envID, id string, expect int64) error {
	sg, err := s.GetSegment(ctx, envID, id)
	if err != nil {
		return err
	}
	if expect >= 0 && sg.Version != expect {
		return staleVersion(sg.Version, expect)
	}
	users, err := s.SegmentUsedBy(ctx, envID, id)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		keys := make([]string, len(users))
		for i, f := range users {
			keys[i] = f.Key
		}
		return Errorf(ErrConflict, "segment is used by flags %s", strings.Join(keys, ", "))
	}
	sg.Version++
	e, err := s.BumpEnv(ctx, envID, OutboxEntry{Kind: codec.KindSegment, Op: codec.OpDelete, ID: id, ItemVersion: sg.Version,
		encode: func(stamp int64) []byte { sg.UpdatedAt = stamp; return msgpSegment(sg) }})
	if err != nil {
		return err
	}
	if err := s.b.Delete(ctx, CollSegments, id, sg.Version-1); err != nil {
		s.CancelEntry(ctx, envID, e.Version)
		return err
	}
	_ = s.b.Delete(context.WithoutCancel(ctx), CollSegmentRefs, id, -1)
	return nil
}
