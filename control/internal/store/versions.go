package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/switchyard/switchyard/codec"
)

// CollFlagVersions holds the whole past states of flags, for restoring a
// version (docs/access.md, "Restoring a flag version").
const CollFlagVersions = "flag_versions"

// FlagHistory is how many versions of a flag are kept: storing version v
// deletes version v-FlagHistory.
const FlagHistory = 100

func init() {
	Schema = append(Schema, Collection{Name: CollFlagVersions, Indexes: []Index{
		{Name: "flag_ver", Fields: []string{"flagId", "ver"}},
		{Name: "env", Fields: []string{"envId"}},
	}})
}

func flagVersionID(flagID string, v int64) string { return flagID + ":" + pad(v) }

// recordFlagVersion keeps f's state as version f.Version, after its write
// landed, and forgets version f.Version-FlagHistory. Best effort: the flag
// is written already, so a failure leaves a gap in the history (restoring
// that version answers 404), never a failed write.
func (s *Store) recordFlagVersion(ctx context.Context, f *codec.Flag) {
	ctx = context.WithoutCancel(ctx)
	d := &Doc{ID: flagVersionID(f.ID, f.Version), Version: 1,
		Fields: map[string]string{"flagId": f.ID, "ver": pad(f.Version), "envId": f.EnvID}, Data: encode(f)}
	if err := s.b.Insert(ctx, CollFlagVersions, d); err != nil && !errors.Is(err, ErrDuplicate) {
		return
	}
	if old := f.Version - FlagHistory; old > 0 {
		_ = s.b.Delete(ctx, CollFlagVersions, flagVersionID(f.ID, old), -1)
	}
}

// GetFlagVersion returns version v of a flag of an environment as it was
// stored (ErrNotFound if it is not in the kept history).
func (s *Store) GetFlagVersion(ctx context.Context, envID, flagID string, v int64) (*codec.Flag, error) {
	f, _, err := getDoc[codec.Flag](ctx, s, CollFlagVersions, flagVersionID(flagID, v))
	if err != nil {
		return nil, err
	}
	if f.EnvID != envID || f.ID != flagID {
		return nil, fmt.Errorf("flag version: %w", ErrNotFound)
	}
	return f, nil
}

// FlagVersions returns the kept versions of a flag, newest first.
func (s *Store) FlagVersions(ctx context.Context, envID, flagID string) ([]*codec.Flag, error) {
	fs, _, err := findDocs[codec.Flag](ctx, s, CollFlagVersions, Query{Eq: map[string]string{"flagId": flagID},
		Sort: "ver", Desc: true, Limit: FlagHistory})
	out := fs[:0]
	for _, f := range fs {
		if f.EnvID == envID {
			out = append(out, f)
		}
	}
	return out, err
}

// deleteFlagVersions forgets the history of a deleted flag. Best effort.
func (s *Store) deleteFlagVersions(ctx context.Context, flagID string) {
	ds, _, err := s.b.Find(ctx, CollFlagVersions, Query{Eq: map[string]string{"flagId": flagID}})
	if err != nil {
		return
	}
	for _, d := range ds {
		_ = s.b.Delete(ctx, CollFlagVersions, d.ID, -1)
	}
}
