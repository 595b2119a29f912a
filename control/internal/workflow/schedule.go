package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/domain"
	"github.com/switchyard/switchyard/control/internal/store"
)

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
func (w *Workflow) ApplyDueSchedules(ctx context.Context) int {
	n, _ := w.applyDue(ctx)
	return n
}

// applyDue is ApplyDueSchedules; it also returns the time (Unix ms) the
// next pending schedule is due, 0 if none is.
func (w *Workflow) applyDue(ctx context.Context) (n int, next int64) {
	now := w.st.Now()
	var due []*store.Schedule
	for _, status := range []string{store.SchedPending, store.SchedApplying} {
		xs, err := w.st.SchedulesByStatus(ctx, status)
		if err != nil {
			if ctx.Err() == nil {
				w.log.Warn("cannot read scheduled changes", "err", err)
			}
			return 0, 0
		}
		for _, x := range xs {
			if (status == store.SchedPending && x.At <= now) || (status == store.SchedApplying && x.LeaseUntil < now) {
				due = append(due, x)
			} else if status == store.SchedPending && (next == 0 || x.At < next) {
				next = x.At
			}
		}
	}
	for _, x := range due {
		if ctx.Err() != nil {
			break
		}
		reclaimed := x.Status == store.SchedApplying
		if ok, err := w.st.Claim(ctx, store.CollSchedules, ScheduleClaim(x), w.instance); err != nil || !ok {
			continue // another instance (or a cancel) claimed it first
		}
		expect := x.Version
		x.Claims++
		x.Status, x.LeaseOwner, x.LeaseUntil = store.SchedApplying, w.instance, w.st.Now()+w.leaseTTL.Milliseconds()
		if err := w.st.SaveSchedule(ctx, x, expect); err != nil {
			w.log.Warn("cannot mark a claimed schedule applying", "schedule", x.ID, "err", err)
			continue // the lease is not recorded; the claim stays ours, nobody applies it until an operator looks
		}
		w.applySchedule(ctx, x, reclaimed)
		n++
	}
	return n, next
}

func (w *Workflow) applySchedule(ctx context.Context, x *store.Schedule, reclaimed bool) {
	ctx = context.WithoutCancel(ctx)
	actor, name := "schedule:"+x.ID, "scheduled change"
	finish := func(status, reason string, applied *codec.Flag) {
		x.Status, x.Reason, x.LeaseOwner, x.LeaseUntil = status, reason, "", 0
		x.AppliedAt, x.AppliedBy = w.st.Now(), w.instance
		if applied != nil {
			x.AppliedVersion = applied.Version
		}
		if err := w.st.SaveSchedule(ctx, x, x.Version); err != nil {
			w.log.Error("cannot record the outcome of a scheduled change", "schedule", x.ID, "status", status, "err", err)
		}
		action, extra := "applied", []string{}
		if status == store.SchedFailed {
			action = "failed"
		}
		if reason != "" {
			extra = append(extra, reason)
		}
		w.dom.Record(ctx, &domain.Change{Actor: actor, ActorName: name, OrgID: x.OrgID, Type: "schedule", Action: action,
			Comment: x.Comment, After: x, Extra: extra, SkipDiff: true})
	}
	cur, err := w.st.GetFlag(ctx, x.EnvID, x.FlagID)
	if errors.Is(err, store.ErrNotFound) {
		finish(store.SchedFailed, "the flag was deleted", nil)
		return
	}
	if err != nil {
		// Leave it claimed; the lease expires and it is retried.
		w.log.Warn("cannot apply a scheduled change now", "schedule", x.ID, "err", err)
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
	if _, err := w.dom.SaveFlag(ctx, f, cur.Version); err != nil {
		var fe *store.FieldError
		if errors.As(err, &fe) || errors.Is(err, store.ErrConflict) {
			finish(store.SchedFailed, "the draft cannot be applied: "+err.Error(), nil)
			return
		}
		w.log.Warn("cannot apply a scheduled change now", "schedule", x.ID, "err", err)
		return
	}
	finish(store.SchedApplied, reason, f)
	extra := []string{"scheduled change " + x.ID + " applied"}
	if reason != "" {
		extra = append(extra, reason)
	}
	w.dom.Record(ctx, &domain.Change{Actor: actor, ActorName: name, OrgID: x.OrgID, Type: "flag", Action: "updated",
		Comment: x.Comment, Before: cur, After: f, Extra: extra})
}

// sameTargeting reports whether two flags serve the same: everything but
// bookkeeping (version, times).
func sameTargeting(a, b *codec.Flag) bool {
	x, y := a.Clone(), b.Clone()
	x.Version, y.Version, x.UpdatedAt, y.UpdatedAt, x.CreatedAt, y.CreatedAt = 0, 0, 0, 0, 0, 0
	bx, _ := json.Marshal(x)
	by, _ := json.Marshal(y)
	return string(bx) == string(by)
}

// ScheduleClaim is the key of the next claim of a schedule (store.Claim): the
// scheduler claims a due schedule with it, and a cancel takes the same claim.
func ScheduleClaim(x *store.Schedule) string { return fmt.Sprintf("%s:%d", x.ID, x.Claims) }
