package api

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/store"
	"github.com/switchyard/switchyard/control/internal/webhook"
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
	d.Tags = dedupe(d.Tags)
	fillIDs(&d)
	if err := c.mayToggle(cur, &d); err != nil {
		return nil, err
	}
	if err := ValidateFlag(&d, a.segExists(c.ctx, c.env.ID)); err != nil {
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
	a.wakeScheduler() // a schedule due now runs without waiting for the next poll
	extra := []string{"scheduled for " + time.UnixMilli(x.At).UTC().Format(time.RFC3339) + " on flag '" + cur.Key + "':"}
	a.record(c.ctx, &change{actor: c.actor(), actorName: c.actorName(), orgID: c.orgID, typ: "schedule", action: "created",
		comment: x.Comment, after: x, extra: append(extra, a.diff(c.ctx, "flag", cur, &d)...), data: x})
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
	if ok, err := a.st.Claim(c.ctx, store.CollSchedules, scheduleClaim(x), "cancel:"+c.actor()); err != nil {
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

// ApplyDueSchedules claims and applies every due schedule once; it returns
// how many this instance applied or failed. A due schedule is first
// claimed (store.Claim: the insert of "claim:<id>:<n>", atomic on every
// backend; a cancel takes the same claim), then marked applying with this
// instance as lease owner, so with several instances on one database
// exactly one applies it. (A compare-and-set alone is not enough on
// FerretDB, whose filtered ReplaceOne lets concurrent writers all match.)
// A claim whose lease expired (its instance died) is taken over with the
// next claim number: if the flag already holds the draft (the change landed
// before the crash), the schedule is only marked applied.
func (a *API) ApplyDueSchedules(ctx context.Context) int {
	now := a.st.Now()
	var due []*store.Schedule
	for _, status := range []string{store.SchedPending, store.SchedApplying} {
		xs, err := a.st.SchedulesByStatus(ctx, status)
		if err != nil {
			if ctx.Err() == nil {
				a.cfg.Log.Warn("cannot read scheduled changes", "err", err)
			}
			return 0
		}
		for _, x := range xs {
			if (status == store.SchedPending && x.At <= now) || (status == store.SchedApplying && x.LeaseUntil < now) {
				due = append(due, x)
			}
		}
	}
	n := 0
	for _, x := range due {
		if ctx.Err() != nil {
			break
		}
		reclaimed := x.Status == store.SchedApplying
		if ok, err := a.st.Claim(ctx, store.CollSchedules, scheduleClaim(x), a.wf.instance); err != nil || !ok {
			continue // another instance (or a cancel) claimed it first
		}
		expect := x.Version
		x.Claims++
		x.Status, x.LeaseOwner, x.LeaseUntil = store.SchedApplying, a.wf.instance, a.st.Now()+a.wf.leaseTTL.Milliseconds()
		if err := a.st.SaveSchedule(ctx, x, expect); err != nil {
			a.cfg.Log.Warn("cannot mark a claimed schedule applying", "schedule", x.ID, "err", err)
			continue // the lease is not recorded; the claim stays ours, nobody applies it until an operator looks
		}
		a.applySchedule(ctx, x, reclaimed)
		n++
	}
	return n
}

func (a *API) applySchedule(ctx context.Context, x *store.Schedule, reclaimed bool) {
	ctx = context.WithoutCancel(ctx)
	actor, name := "schedule:"+x.ID, "scheduled change"
	finish := func(status, reason string, applied *codec.Flag) {
		x.Status, x.Reason, x.LeaseOwner, x.LeaseUntil = status, reason, "", 0
		x.AppliedAt, x.AppliedBy = a.st.Now(), a.wf.instance
		if applied != nil {
			x.AppliedVersion = applied.Version
		}
		if err := a.st.SaveSchedule(ctx, x, x.Version); err != nil {
			a.cfg.Log.Error("cannot record the outcome of a scheduled change", "schedule", x.ID, "status", status, "err", err)
		}
		action, extra := "applied", []string{}
		if status == store.SchedFailed {
			action = "failed"
		}
		if reason != "" {
			extra = append(extra, reason)
		}
		a.record(ctx, &change{actor: actor, actorName: name, orgID: x.OrgID, typ: "schedule", action: action,
			comment: x.Comment, after: x, extra: extra, skipDiff: true})
	}
	cur, err := a.st.GetFlag(ctx, x.EnvID, x.FlagID)
	if errors.Is(err, store.ErrNotFound) {
		finish(store.SchedFailed, "the flag was deleted", nil)
		return
	}
	if err != nil {
		// Leave it claimed; the lease expires and it is retried.
		a.cfg.Log.Warn("cannot apply a scheduled change now", "schedule", x.ID, "err", err)
		return
	}
	d := x.Draft
	if reclaimed && cur.Version > x.BaseVersion && sameTargeting(cur, &d) {
		finish(store.SchedApplied, "applied before an instance restart", cur)
		return
	}
	reason := ""
	if cur.Version != x.BaseVersion {
		if x.OnConflict != "apply" {
			finish(store.SchedFailed, fmt.Sprintf("the flag changed since the draft was made (version %d, now %d); nothing applied", x.BaseVersion, cur.Version), nil)
			return
		}
		reason = fmt.Sprintf("applied over version %d (the draft was made from version %d)", cur.Version, x.BaseVersion)
	}
	if cur.IsArchived {
		finish(store.SchedFailed, "the flag is archived; nothing applied", nil)
		return
	}
	f := d.Clone()
	f.ID, f.EnvID, f.Key, f.IsArchived = cur.ID, cur.EnvID, cur.Key, false
	if _, err := a.saveFlag(ctx, f, cur.Version); err != nil {
		var fe *store.FieldError
		if errors.As(err, &fe) || errors.Is(err, store.ErrConflict) {
			finish(store.SchedFailed, "the draft cannot be applied: "+err.Error(), nil)
			return
		}
		a.cfg.Log.Warn("cannot apply a scheduled change now", "schedule", x.ID, "err", err)
		return
	}
	finish(store.SchedApplied, reason, f)
	extra := []string{"scheduled change " + x.ID + " applied"}
	if reason != "" {
		extra = append(extra, reason)
	}
	a.record(ctx, &change{actor: actor, actorName: name, orgID: x.OrgID, typ: "flag", action: "updated",
		comment: x.Comment, before: cur, after: f, extra: extra})
}

// sameTargeting reports whether two flags serve the same: everything but
// bookkeeping (version, times).
func sameTargeting(a, b *codec.Flag) bool {
	x, y := a.Clone(), b.Clone()
	x.Version, y.Version, x.UpdatedAt, y.UpdatedAt, x.CreatedAt, y.CreatedAt = 0, 0, 0, 0, 0, 0
	bx, _ := jsonBytes(x)
	by, _ := jsonBytes(y)
	return string(bx) == string(by)
}

// scheduleClaim is the key of the next claim of a schedule.
func scheduleClaim(x *store.Schedule) string { return fmt.Sprintf("%s:%d", x.ID, x.Claims) }
