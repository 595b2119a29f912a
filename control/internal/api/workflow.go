package api

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/switchyard/switchyard/control/internal/webhook"
)

// workflow is the state of the audit log, webhooks, triggers and scheduled
// changes (issue "workflow and governance"): the webhook dispatcher, this
// instance's id (schedule leases) and the scheduler's timings.
type workflow struct {
	hooks     *webhook.Dispatcher
	instance  string
	schedPoll time.Duration // how often due schedules are looked for (default 1 s)
	leaseTTL  time.Duration // how long a claimed schedule is reserved (default 30 s)
	wake      chan struct{}
}

func newWorkflow(a *API) *workflow {
	hooks := webhook.New(a.st, a.cfg.Log)
	hooks.SetAllow(a.cfg.WebhookAllow)
	return &workflow{hooks: hooks, instance: webhook.NewID(),
		schedPoll: time.Second, leaseTTL: 30 * time.Second, wake: make(chan struct{}, 1)}
}

// Webhooks returns the webhook dispatcher (tests shorten its backoff).
func (a *API) Webhooks() *webhook.Dispatcher { return a.wf.hooks }

// Instance returns this API instance's id (the owner of schedule leases).
func (a *API) Instance() string { return a.wf.instance }

// SetSchedulePoll changes how often due schedules are looked for.
func (a *API) SetSchedulePoll(d time.Duration) { a.wf.schedPoll = d }

// RunWorkflow runs the webhook sender, the scheduler and the hourly
// housekeeping (audit retention, login throttle records) until ctx ends.
func (a *API) RunWorkflow(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.wf.hooks.Run(ctx)
	}()
	housekept := make(chan struct{})
	go func() {
		defer close(housekept)
		a.runHousekeeping(ctx, time.Hour)
	}()
	defer func() { <-housekept }()
	t := time.NewTicker(a.wf.schedPoll)
	defer t.Stop()
	for {
		a.ApplyDueSchedules(ctx)
		a.AdvanceRollouts(ctx)
		select {
		case <-ctx.Done():
			<-done
			return
		case <-t.C:
		case <-a.wf.wake:
		}
	}
}

// runHousekeeping prunes, now and every period until ctx ends, the audit
// entries older than Config.AuditRetention and the login throttle's records
// idle for longer than its longest lock.
func (a *API) runHousekeeping(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		a.PruneAudit(ctx)
		a.PruneLoginAttempts(ctx)
		a.pruneSSOFlows(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// PruneAudit deletes the audit entries older than Config.AuditRetention (a
// no-op without one) and returns how many it deleted; failures are logged.
func (a *API) PruneAudit(ctx context.Context) int {
	if a.cfg.AuditRetention <= 0 {
		return 0
	}
	before := time.Now().Add(-a.cfg.AuditRetention).UnixMilli()
	n, err := a.st.PruneAudit(ctx, before)
	if err != nil && ctx.Err() == nil {
		a.cfg.Log.Error("audit retention: cannot prune", "deleted", n, "err", err)
	} else if n > 0 {
		a.cfg.Log.Info("audit retention: pruned", "deleted", n, "olderThan", a.cfg.AuditRetention.String())
	}
	return n
}

// PruneLoginAttempts deletes the login throttle's records whose last failure
// is older than the throttle's longest lock and returns how many.
func (a *API) PruneLoginAttempts(ctx context.Context) int {
	n, err := a.st.PruneLoginAttempts(ctx, time.Now().Add(-a.lim.Max).UnixMilli())
	if err != nil && ctx.Err() == nil {
		a.cfg.Log.Error("login throttle: cannot prune", "deleted", n, "err", err)
	}
	return n
}

// pruneSSOFlows deletes the single sign-ons that were never finished or
// collected (expired).
func (a *API) pruneSSOFlows(ctx context.Context) {
	if n, err := a.st.PruneSSOFlows(ctx, time.Now().UnixMilli()); err != nil && ctx.Err() == nil {
		a.cfg.Log.Error("sso: cannot prune expired sign-ins", "deleted", n, "err", err)
	}
}

func (a *API) wakeScheduler() {
	select {
	case a.wf.wake <- struct{}{}:
	default:
	}
}

// workflowRoutes are the audit log, settings, webhooks, triggers,
// schedules and environment compare/copy routes.
func (a *API) workflowRoutes() []Route {
	return slices.Concat(a.auditRoutes(), a.webhookRoutes(), a.triggerRoutes(), a.scheduleRoutes(), a.compareRoutes(), a.exptRoutes())
}

func jsonBytes(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("cannot encode: %w", err)
	}
	return b, nil
}

func sortStrings(xs []string) { slices.Sort(xs) }
