package api

import (
	"context"
	"strings"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/codec/secret"
	"github.com/switchyard/switchyard/control/internal/store"
)

// The functions below are the API's domain operations for tools that write
// without an HTTP request (control/internal/featbit's importer): the same
// defaults, validation and store calls as the handlers. The caller notifies
// the publisher.

// UpdateFlag validates and stores f, an existing flag of f.EnvID (by f.ID),
// if its stored version is expect. Archived flags may be written archived or
// not (the importer mirrors the source's state).
func UpdateFlag(ctx context.Context, st *store.Store, f *codec.Flag, expect int64) error {
	a := &API{st: st}
	f.Tags = dedupe(f.Tags)
	fillIDs(f)
	_, err := a.saveFlag(ctx, f, expect)
	return err
}

// CreateSegment fills defaults, validates and stores a new segment of
// sg.EnvID under a new id (sg.ID is replaced).
func CreateSegment(ctx context.Context, st *store.Store, sg *codec.Segment) error {
	sg.ID, sg.IsArchived = secret.NewGUID(), false
	sg.Name = strings.TrimSpace(sg.Name)
	segmentDefaults(sg)
	if err := ValidateSegment(sg); err != nil {
		return err
	}
	return errNameField(st.CreateSegment(ctx, sg))
}

// UpdateSegment validates and stores sg, an existing segment (by sg.ID), if
// its stored version is expect; flags using it are touched by the store.
func UpdateSegment(ctx context.Context, st *store.Store, sg *codec.Segment, expect int64) error {
	sg.Name = strings.TrimSpace(sg.Name)
	segmentDefaults(sg)
	if err := ValidateSegment(sg); err != nil {
		return err
	}
	return errNameField(st.UpdateSegment(ctx, sg, expect))
}
