package domain

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/codec/secret"
	"github.com/switchyard/switchyard/control/internal/store"
	"github.com/switchyard/switchyard/control/internal/webhook"
)

// Notifier is told about every environment that changed (the publisher).
type Notifier interface{ Notify(envID string) }

// Events queues webhook events (the webhook dispatcher).
type Events interface {
	Enqueue(ctx context.Context, ev *webhook.Event) error
}

// Options wires a Service; every field may be nil.
type Options struct {
	// Notifier is told after each write of an environment's flags,
	// segments or secrets; nil: the caller notifies (the importer).
	Notifier Notifier
	// Events receives the webhook event of every recorded change; nil:
	// changes are audited only.
	Events Events
	Log    *slog.Logger
}

// Service performs domain operations on a store.
type Service struct {
	st     *store.Store
	pub    Notifier
	events Events
	log    *slog.Logger
}

// New returns a Service over st.
func New(st *store.Store, o Options) *Service {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return &Service{st: st, pub: o.Notifier, events: o.Events, log: o.Log}
}

// Notify tells the publisher that environment envID changed.
func (s *Service) Notify(envID string) {
	if s.pub != nil {
		s.pub.Notify(envID)
	}
}

// CreateOrg creates an organization owned by userID.
func (s *Service) CreateOrg(ctx context.Context, name, key, userID string) (*store.Org, error) {
	o := &store.Org{ID: secret.NewGUID(), Name: name, Key: key}
	if err := s.st.CreateOrg(ctx, o); err != nil {
		return nil, err
	}
	if _, err := s.st.PutMember(ctx, o.ID, userID, store.RoleOwner); err != nil {
		return nil, err
	}
	return o, nil
}

// CreateEnv creates an environment of a project with fresh server and client
// secrets in FeatBit's format.
func (s *Service) CreateEnv(ctx context.Context, p *store.Project, name, key, desc string) (*store.Env, error) {
	id := secret.NewGUID()
	e := &store.Env{ID: id, OrgID: p.OrgID, ProjectID: p.ID, Name: name, Key: key, Description: desc}
	for _, typ := range []string{codec.SecretServer, codec.SecretClient} {
		v, err := secret.New(id)
		if err != nil {
			return nil, fmt.Errorf("cannot create %s secret: %w", typ, err)
		}
		e.Secrets = append(e.Secrets, codec.EnvSecret{EnvID: id, Type: typ, Value: v})
	}
	if err := s.st.CreateEnv(ctx, e); err != nil {
		return nil, err
	}
	s.Notify(e.ID)
	return e, nil
}

// SegmentExists returns a check of whether a segment id names a live (not
// archived) segment of environment envID, for ValidateFlag; it reads the
// segments once, on first use.
func (s *Service) SegmentExists(ctx context.Context, envID string) func(string) bool {
	var ids map[string]bool
	return func(id string) bool {
		if ids == nil {
			ids = map[string]bool{}
			segs, err := s.st.AllSegments(ctx, envID)
			if err == nil {
				for _, sg := range segs {
					ids[sg.ID] = !sg.IsArchived // archived segments cannot be newly referenced
				}
			}
		}
		return ids[id]
	}
}

// CreateFlag fills defaults, validates and stores f as a new, live flag of
// environment envID under a new id.
func (s *Service) CreateFlag(ctx context.Context, envID string, f *codec.Flag) (*codec.Flag, error) {
	f.ID, f.EnvID, f.Version, f.IsArchived = secret.NewGUID(), envID, 0, false
	f.Tags = Dedupe(f.Tags)
	FlagDefaults(f)
	if err := ValidateFlag(f, s.SegmentExists(ctx, envID)); err != nil {
		return nil, err
	}
	if err := s.st.CreateFlag(ctx, f); err != nil {
		return nil, err
	}
	s.Notify(envID)
	return f, nil
}

// SaveFlag validates and stores f, an existing flag of f.EnvID (by f.ID),
// if its stored version is expect.
func (s *Service) SaveFlag(ctx context.Context, f *codec.Flag, expect int64) (*codec.Flag, error) {
	if err := ValidateFlag(f, s.SegmentExists(ctx, f.EnvID)); err != nil {
		return nil, err
	}
	if err := s.st.UpdateFlag(ctx, f, expect); err != nil {
		return nil, err
	}
	s.Notify(f.EnvID)
	return f, nil
}

// UpdateFlag fills rule and condition ids, drops repeated tags and saves f
// (SaveFlag). Archived flags may be written archived or not (the importer
// mirrors the source's state).
func (s *Service) UpdateFlag(ctx context.Context, f *codec.Flag, expect int64) (*codec.Flag, error) {
	f.Tags = Dedupe(f.Tags)
	FillIDs(f)
	return s.SaveFlag(ctx, f, expect)
}

// CreateSegment fills defaults, validates and stores sg as a new segment
// of environment envID under a new id (sg.ID is replaced).
func (s *Service) CreateSegment(ctx context.Context, envID string, sg *codec.Segment) (*codec.Segment, error) {
	sg.ID, sg.EnvID, sg.IsArchived = secret.NewGUID(), envID, false
	sg.Name = strings.TrimSpace(sg.Name)
	SegmentDefaults(sg)
	if err := ValidateSegment(sg); err != nil {
		return nil, err
	}
	if err := s.st.CreateSegment(ctx, sg); err != nil {
		return nil, SegmentNameError(err)
	}
	s.Notify(envID)
	return sg, nil
}

// SaveSegment validates and stores sg, an existing segment (by sg.ID), if
// its stored version is expect; flags using it are touched by the store.
func (s *Service) SaveSegment(ctx context.Context, sg *codec.Segment, expect int64) (*codec.Segment, error) {
	sg.Name = strings.TrimSpace(sg.Name)
	SegmentDefaults(sg)
	if err := ValidateSegment(sg); err != nil {
		return nil, err
	}
	if err := s.st.UpdateSegment(ctx, sg, expect); err != nil {
		return nil, SegmentNameError(err)
	}
	s.Notify(sg.EnvID)
	return sg, nil
}

// SegmentNameError reports a store error about a segment's key (a name
// clash in the environment) on the field users edit, "name".
func SegmentNameError(err error) error {
	if fe, ok := err.(*store.FieldError); ok && fe.Field == "key" {
		return &store.FieldError{Kind: fe.Kind, Field: "name", Msg: "a segment with this name exists in the environment"}
	}
	return err
}
