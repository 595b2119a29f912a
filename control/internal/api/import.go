package api

import (
	"context"
	"log/slog"
	"reflect"
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

// ImportActor is the audit actor of changes made by an import command.
const ImportActor = "cli:import"

// RecordImport stores the audit entry of an item an import created (before
// nil) or updated: typ is "flag" or "segment", actorName says which import
// ("FeatBit import"). Failures are logged, as for API writes; imports send
// no webhook events.
func RecordImport(ctx context.Context, st *store.Store, log *slog.Logger, typ, actorName string, before, after any) {
	if log == nil {
		log = slog.Default()
	}
	a := &API{st: st, cfg: Config{Log: log}}
	action := "updated"
	if before == nil || reflect.ValueOf(before).IsNil() {
		action, before = "created", nil
	}
	a.record(ctx, &change{actor: ImportActor, actorName: actorName, typ: typ, action: action, before: before, after: after})
}
