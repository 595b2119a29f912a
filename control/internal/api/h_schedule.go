package api

import (
	"errors"
	"fmt"
	"time"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/domain"
	"github.com/switchyard/switchyard/control/internal/store"
	"github.com/switchyard/switchyard/control/internal/webhook"
	"github.com/switchyard/switchyard/control/internal/workflow"
)

// ScheduleRequest prepares a flag change: Draft is the whole flag as it
// should become (variations, targeting, rules, default rule, on/off, …),
// applied at At (Unix ms, in the future). BaseVersion is the flag version
// the draft was made from (default: Draft.Version); it must be current when
// the schedule is created. OnConflict decides what happens when the flag
// changed between then and At: "fail" (default: nothing is applied and the
// schedule fails with the reason) or "apply" (the draft replaces the newer
// state; the reason records both versions).
type ScheduleRequest struct {
	At          int64      `json:"at"`
	Draft       codec.Flag `json:"draft"`
	BaseVersion int64      `json:"baseVersion"`
	OnConflict  string     `json:"onConflict"`
}

func (a *API) scheduleRoutes() []Route {
	const p = Prefix
	return []Route{
		{Method: "POST", Path: p + "/envs/{envId}/flags/{key}/schedules", Tag: "schedules", Summary: "Schedule a flag change (a full draft) for a future time", Scope: Env, Action: ActFlagWrite, Status: 201, Body: ScheduleRequest{}, Resp: store.Schedule{}, h: a.createSchedule},
		{Method: "GET", Path: p + "/envs/{envId}/schedules", Tag: "schedules", Summary: "List scheduled changes (status filter: pending, applying, applied, failed, cancelled)", Scope: Env, Action: ActRead, Query: []string{"status", "flag"}, Resp: List[store.Schedule]{}, h: a.listSchedules},
		{Method: "GET", Path: p + "/envs/{envId}/schedules/{id}", Tag: "schedules", Summary: "Get a scheduled change", Scope: Env, Action: ActRead, Resp: store.Schedule{}, h: a.getSchedule},
		{Method: "POST", Path: p + "/envs/{envId}/schedules/{id}/cancel", Tag: "schedules", Summary: "Cancel a pending scheduled change", Scope: Env, Action: ActFlagWrite, Resp: store.Schedule{}, h: a.cancelSchedule},
	}
}

func init() {
	auditSpecs["POST /envs/{envId}/flags/{key}/schedules"] = auditSpec{typ: "schedule", action: "created", self: true}
	auditSpecs["POST /envs/{envId}/schedules/{id}/cancel"] = auditSpec{typ: "schedule", action: "cancelled",
		before: func(c *call, _ []byte) (any, error) { return c.a.st.GetSchedule(c.ctx, c.env.ID, c.path("id")) }}
}

func (a *API) createSchedule(c *call) (any, error) {
	var req ScheduleRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	now := a.st.Now()
	if req.At <= now {
		return nil, store.Invalid("at", "%s is in the past (now is %s); a schedule needs a future time in Unix milliseconds",
			time.UnixMilli(req.At).UTC().Format(time.RFC3339), time.UnixMilli(now).UTC().Format(time.RFC3339))
	}
	switch req.OnConflict {
	case "":
		req.OnConflict = "fail"
	case "fail", "apply":
	default:
		return nil, store.Invalid("onConflict", "must be \"fail\" or \"apply\"")
	}
	cur, err := a.flag(c)
	if err != nil {
		return nil, err
	}
	if cur.IsArchived {
		return nil, store.Errorf(store.ErrConflict, "flag %q is archived; restore it first", cur.Key)
	}
	base := req.BaseVersion
	if base == 0 {
		base = req.Draft.Version
	}
	if base <= 0 {
		return nil, store.Invalid("baseVersion", "required: the version of the flag the draft was made from")
	}
	if base != cur.Version {
		return nil, &store.FieldError{Kind: store.ErrConflict, Field: "baseVersion",
			Msg: fmt.Sprintf("the draft was made from version %d but the flag is at version %d; reload and retry", base, cur.Version)}
	}
	d := req.Draft
	if d.Key != "" && d.Key != cur.Key {
		return nil, store.Invalid("draft.key", "a flag's key cannot change")
	}
	d.ID, d.EnvID, d.Key, d.IsArchived, d.Version = cur.ID, cur.EnvID, cur.Key, false, cur.Version
	d.CreatedAt, d.UpdatedAt = cur.CreatedAt, cur.UpdatedAt
	d.Tags = domain.Dedupe(d.Tags)
	domain.FillIDs(&d)
	if err := c.mayToggle(cur, &d); err != nil {
		return nil, err
	}
	if err := domain.ValidateFlag(&d, a.dom.SegmentExists(c.ctx, c.env.ID)); err != nil {
		var fe *store.FieldError
		if errors.As(err, &fe) {
			return nil, &store.FieldError{Kind: fe.Kind, Field: "draft." + fe.Field, Msg: fe.Msg}
		}
		return nil, err
	}
	x := &store.Schedule{ID: webhook.NewID(), OrgID: c.orgID, EnvID: c.env.ID, FlagID: cur.ID, FlagKey: cur.Key, At: req.At,
		Draft: d, BaseVersion: base, OnConflict: req.OnConflict, Comment: commentOf(c.ctx), CreatedBy: c.actor()}
	if err := a.st.CreateSchedule(c.ctx, x); err != nil {
		return nil, err
	}
	a.wf.Wake() // a schedule due now runs without waiting for the next poll
	extra := []string{"scheduled for " + time.UnixMilli(x.At).UTC().Format(time.RFC3339) + " on flag '" + cur.Key + "':"}
	a.dom.Record(c.ctx, &domain.Change{Actor: c.actor(), ActorName: c.actorName(), OrgID: c.orgID, Type: "schedule", Action: "created",
		Comment: x.Comment, After: x, Extra: append(extra, a.dom.Diff(c.ctx, "flag", cur, &d)...), Data: x})
	return x, nil
}

func (a *API) listSchedules(c *call) (any, error) {
	status := c.r.URL.Query().Get("status")
	switch status {
	case "", store.SchedPending, store.SchedApplying, store.SchedApplied, store.SchedFailed, store.SchedCancelled:
	default:
		return nil, store.Invalid("status", "must be pending, applying, applied, failed or cancelled")
	}
	xs, err := a.st.ListSchedules(c.ctx, c.env.ID, status)
	if err != nil {
		return nil, err
	}
	flag := c.r.URL.Query().Get("flag")
	out := make([]store.Schedule, 0, len(xs))
	for _, x := range xs {
		if flag == "" || x.FlagKey == flag || x.FlagID == flag {
			out = append(out, *x)
		}
	}
	return list(out, len(out)), nil
}

func (a *API) getSchedule(c *call) (any, error) {
	return a.st.GetSchedule(c.ctx, c.env.ID, c.path("id"))
}

func (a *API) cancelSchedule(c *call) (any, error) {
	x, err := a.st.GetSchedule(c.ctx, c.env.ID, c.path("id"))
	if err != nil {
		return nil, err
	}
	if x.Status != store.SchedPending {
		return nil, store.Errorf(store.ErrConflict, "the schedule is %s; only a pending schedule can be cancelled", x.Status)
	}
	// A cancel takes the same claim an instance takes to apply: exactly one
	// of them wins.
	if ok, err := a.st.Claim(c.ctx, store.CollSchedules, workflow.ScheduleClaim(x), "cancel:"+c.actor()); err != nil {
		return nil, err
	} else if !ok {
		return nil, store.Errorf(store.ErrConflict, "the schedule is being applied; it can no longer be cancelled")
	}
	expect := x.Version
	x.Status = store.SchedCancelled
	if err := a.st.SaveSchedule(c.ctx, x, expect); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, store.Errorf(store.ErrConflict, "the schedule changed concurrently (it may be applying now); reload")
		}
		return nil, err
	}
	return x, nil
}
