package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/switchyard/switchyard/codec"
)

// CollSegmentRefs holds, per segment, the ids of the flags whose rules refer
// to it, so that a segment change reads only those flags rather than every
// flag of the environment (SegmentUsedBy).
//
// The list is a superset: a flag is added BEFORE a write that makes it
// refer to the segment, and removed only when the flag is deleted, so a
// flag that stopped referring stays listed (SegmentUsedBy reads it and
// leaves it out). Complete is false for a list that a flag write created
// for a segment made before these lists existed: SegmentUsedBy then reads
// the environment's flags once, merges and marks the list complete (with
// compare-and-set: a flag added meanwhile makes it read again next time).
const CollSegmentRefs = "segment_refs"

func init() {
	Schema = append(Schema, Collection{Name: CollSegmentRefs, Indexes: []Index{
		{Name: "env", Fields: []string{"envId"}},
	}})
}

// segmentRefs is the body of a CollSegmentRefs document (id: the segment's).
type segmentRefs struct {
	Flags    []string `json:"flags"`
	Complete bool     `json:"complete"`
}

func getSegmentRefs(ctx context.Context, s *Store, segID string) (*segmentRefs, int64, error) {
	r, v, err := getDoc[segmentRefs](ctx, s, CollSegmentRefs, segID)
	if errors.Is(err, ErrNotFound) {
		return nil, 0, nil
	}
	return r, v, err
}

// putSegmentRefs stores r as version expect+1 of the list (expect 0: a new
// list); ErrConflict or ErrDuplicate when it changed meanwhile.
func putSegmentRefs(ctx context.Context, s *Store, envID, segID string, r *segmentRefs, expect int64) error {
	f := envFields(envID)
	if expect == 0 {
		return insertDoc(ctx, s, CollSegmentRefs, segID, 1, f, r)
	}
	return replaceDoc(ctx, s, CollSegmentRefs, segID, expect+1, expect, f, r)
}

// referSegments lists flag flagID under each of the segments it refers to
// (before the write that makes it refer to them). One read by id per
// segment; a write only for a segment that does not list it yet.
func (s *Store) referSegments(ctx context.Context, envID, flagID string, segIDs []string) error {
	for _, sid := range segIDs {
		for attempt := 0; ; attempt++ {
			if attempt == 50 {
				return Errorf(ErrConflict, "the flag list of segment %s changed concurrently too often", sid)
			}
			r, v, err := getSegmentRefs(ctx, s, sid)
			if err != nil {
				return err
			}
			if r == nil {
				r = &segmentRefs{}
			} else if slices.Contains(r.Flags, flagID) {
				break
			}
			r.Flags = append(r.Flags, flagID)
			err = putSegmentRefs(ctx, s, envID, sid, r, v)
			if errors.Is(err, ErrConflict) || errors.Is(err, ErrDuplicate) || errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			break
		}
	}
	return nil
}

// unreferSegments removes a deleted flag from the lists of its segments.
// Best effort: a flag left listed is read and left out.
func (s *Store) unreferSegments(ctx context.Context, envID, flagID string, segIDs []string) {
	ctx = context.WithoutCancel(ctx)
	for _, sid := range segIDs {
		for range 10 {
			r, v, err := getSegmentRefs(ctx, s, sid)
			if err != nil || r == nil || !slices.Contains(r.Flags, flagID) {
				break
			}
			r.Flags = slices.DeleteFunc(r.Flags, func(id string) bool { return id == flagID })
			if err := putSegmentRefs(ctx, s, envID, sid, r, v); !errors.Is(err, ErrConflict) {
				break
			}
		}
	}
}

// SegmentUsedBy returns the flags of the environment whose rules refer to the
// segment, by key. It reads the flags the segment's list names (one read by
// id each); a segment without a complete list (made before the lists
// existed) is looked up in all the environment's flags once, and its list
// completed.
func (s *Store) SegmentUsedBy(ctx context.Context, envID, segID string) ([]*codec.Flag, error) {
	r, v, err := getSegmentRefs(ctx, s, segID)
	if err != nil {
		return nil, err
	}
	var out []*codec.Flag
	if r != nil && r.Complete {
		for _, id := range r.Flags {
			f, err := s.GetFlag(ctx, envID, id)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			if slices.Contains(SegmentIDs(f), segID) {
				out = append(out, f)
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
		return out, nil
	}
	all, err := s.AllFlags(ctx, envID)
	if err != nil {
		return nil, err
	}
	merged := &segmentRefs{Complete: true}
	if r != nil {
		merged.Flags = r.Flags
	}
	for _, f := range all {
		if slices.Contains(SegmentIDs(f), segID) {
			out = append(out, f)
			if !slices.Contains(merged.Flags, f.ID) {
				merged.Flags = append(merged.Flags, f.ID)
			}
		}
	}
	// Only a segment that exists gets a list (the id may be anything).
	if _, err := s.GetSegment(ctx, envID, segID); err == nil {
		if err := putSegmentRefs(ctx, s, envID, segID, merged, v); err != nil &&
			!errors.Is(err, ErrConflict) && !errors.Is(err, ErrDuplicate) && !errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("cannot store the flags of segment %s: %w", segID, err)
		}
	}
	return out, nil
}
