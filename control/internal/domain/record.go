package domain

import (
	"context"
	"reflect"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/codec/secret"
	"github.com/switchyard/switchyard/control/internal/audit"
	"github.com/switchyard/switchyard/control/internal/store"
	"github.com/switchyard/switchyard/control/internal/webhook"
)

// Change is one write to record.
type Change struct {
	Actor, ActorName, OrgID string
	Type, Action, Comment   string
	Before, After           any
	Extra                   []string // changes described by the caller, first
	Data                    any      // webhook payload (default After)
	SkipDiff                bool     // Extra says it all
	// Env is the environment the caller already read, if any: when the
	// entry is about it, its organization and project come from here
	// instead of another read.
	Env *store.Env
}

// Described is a resource (an API view) that fills the resource fields of
// its audit entry itself.
type Described interface {
	DescribeAudit(e *store.AuditEntry)
}

// Record stores the audit entry of a change and queues its webhook event.
// The write already happened: failures are logged, not returned. Nothing
// secret leaves through here: the before/after states, the caller's
// change descriptions, the comment and the webhook payload all go through
// audit.Redact / audit.Scrub.
func (s *Service) Record(ctx context.Context, ch *Change) {
	ctx = context.WithoutCancel(ctx)
	e := &store.AuditEntry{ID: secret.NewGUID(), OrgID: ch.OrgID, At: s.st.Now(), Actor: ch.Actor, ActorName: ch.ActorName,
		Action: ch.Action, ResourceType: ch.Type, Comment: audit.Scrub(ch.Comment)}
	cur := ch.After
	if cur == nil {
		cur = ch.Before
	}
	describe(e, cur)
	e.Changes = make([]string, 0, len(ch.Extra))
	for _, x := range ch.Extra {
		e.Changes = append(e.Changes, audit.Scrub(x))
	}
	if !ch.SkipDiff {
		for _, x := range s.Diff(ctx, ch.Type, ch.Before, ch.After) {
			e.Changes = append(e.Changes, audit.Scrub(x))
		}
	}
	if e.EnvID != "" && (e.OrgID == "" || e.ProjectID == "") {
		env := ch.Env
		if env == nil || env.ID != e.EnvID {
			env, _ = s.st.GetEnvMeta(ctx, e.EnvID)
		}
		if env != nil {
			e.OrgID, e.ProjectID = env.OrgID, env.ProjectID
		}
	}
	if err := s.st.AddAudit(ctx, e); err != nil {
		s.log.Error("cannot record an audit entry", "type", e.ResourceType, "id", e.ResourceID, "err", err)
	}
	if s.events == nil {
		return
	}
	data := ch.Data
	if data == nil {
		data = ch.After
	}
	kind := EventKind(ch.Type, ch.Action)
	if ch.Type == "flag" && ch.Action == "copied" && ch.Before == nil {
		kind = "flag.created"
	}
	evt := &webhook.Event{ID: e.ID, Kind: kind, At: e.At, OrgID: e.OrgID, ProjectID: e.ProjectID,
		EnvID: e.EnvID, Actor: e.Actor, Resource: &webhook.Resource{Type: e.ResourceType, ID: e.ResourceID, Key: e.ResourceKey},
		Comment: e.Comment, Changes: e.Changes, Data: audit.Redact(data)}
	if err := s.events.Enqueue(ctx, evt); err != nil {
		s.log.Error("cannot queue webhook deliveries", "event", evt.Kind, "err", err)
	}
}

// EventKind names the webhook event of a change.
func EventKind(typ, action string) string {
	switch {
	case typ == "secret":
		return "environment.secret_rotated"
	case typ == "flag" && action == "copied":
		return "flag.updated"
	}
	return typ + "." + action
}

// describe fills the resource fields of an entry from the resource.
func describe(e *store.AuditEntry, v any) {
	switch x := v.(type) {
	case Described:
		x.DescribeAudit(e)
	case *codec.Flag:
		e.EnvID, e.ResourceID, e.ResourceKey = x.EnvID, x.ID, x.Key
	case *codec.Segment:
		e.EnvID, e.ResourceID, e.ResourceKey = x.EnvID, x.ID, x.Name
	case *store.Org:
		e.OrgID, e.ResourceID, e.ResourceKey = x.ID, x.ID, x.Key
	case *store.Project:
		e.OrgID, e.ProjectID, e.ResourceID, e.ResourceKey = x.OrgID, x.ID, x.ID, x.Key
	case *store.AccessToken:
		e.ResourceID, e.ResourceKey = x.ID, x.Name
	case *store.Metric:
		e.EnvID, e.ResourceID, e.ResourceKey = x.EnvID, x.ID, x.Name
	case *store.Experiment:
		e.EnvID, e.ResourceID = x.EnvID, x.ID
	case *store.EnvSettings:
		e.EnvID, e.ResourceID = x.EnvID, x.EnvID
	case *store.Group:
		e.ResourceID, e.ResourceKey = x.ID, x.Name
	case *store.Policy:
		e.ResourceID, e.ResourceKey = x.ID, x.Name
	case *store.Trigger:
		e.EnvID, e.ResourceID, e.ResourceKey = x.EnvID, x.ID, x.FlagKey
	case *store.Schedule:
		e.EnvID, e.ResourceID, e.ResourceKey = x.EnvID, x.ID, x.FlagKey
	case *store.ChangeRequest:
		e.EnvID, e.ResourceID, e.ResourceKey = x.EnvID, x.ID, x.ItemKey
	}
}

// Diff describes a change in words: flags and segments rule by rule, other
// resources field by field (redacted).
func (s *Service) Diff(ctx context.Context, typ string, before, after any) []string {
	switch typ {
	case "flag":
		b, _ := before.(*codec.Flag)
		f, _ := after.(*codec.Flag)
		envID := ""
		if f != nil {
			envID = f.EnvID
		} else if b != nil {
			envID = b.EnvID
		}
		return audit.Flag(b, f, s.SegmentNamer(ctx, envID))
	case "segment":
		b, _ := before.(*codec.Segment)
		sg, _ := after.(*codec.Segment)
		return audit.Segment(b, sg)
	case "schedule":
		// The draft is a whole flag: the writer lists its flag diff
		// ("description 'a' → 'b'"); the JSON of it would only repeat that.
		return audit.Generic(audit.Redact(before), audit.Redact(after), "createdAt", "draft", "claims")
	}
	return audit.Generic(audit.Redact(before), audit.Redact(after), "createdAt", "publishedVersion", "pendingEvents", "count", "lastTriggeredAt", "prefix")
}

// SegmentNamer names the segments of an environment (for rule diffs); it
// reads them once, on first use.
func (s *Service) SegmentNamer(ctx context.Context, envID string) audit.SegmentNamer {
	var names map[string]string
	return func(id string) string {
		if names == nil {
			names = map[string]string{}
			if segs, err := s.st.AllSegments(ctx, envID); err == nil {
				for _, sg := range segs {
					names[sg.ID] = sg.Name
				}
			}
		}
		return names[id]
	}
}

// ImportActor is the audit actor of changes made by an import command.
const ImportActor = "cli:import"

// RecordImport stores the audit entry of an item an import created (before
// nil) or updated: typ is "flag" or "segment", actorName says which import
// ("FeatBit import"). Failures are logged, as for API writes; imports send
// no webhook events.
func (s *Service) RecordImport(ctx context.Context, typ, actorName string, before, after any) {
	action := "updated"
	if before == nil || reflect.ValueOf(before).IsNil() {
		action, before = "created", nil
	}
	quiet := *s // imports send no webhook events
	quiet.events = nil
	quiet.Record(ctx, &Change{Actor: ImportActor, ActorName: actorName, Type: typ, Action: action, Before: before, After: after})
}
