// Package workflow is control's background work: the scheduler that applies
// scheduled flag changes at their time (schedule.go), the guarded
// rollouts' guardrail checks (rollout.go), the webhook dispatcher's
// delivery loop, and the hourly housekeeping (audit
// retention, login throttle records, unfinished single sign-ons).
// control.Server starts it (Run) after the API is mounted and stops it by
// cancelling Run's context on Shutdown; Run returns when every goroutine it
// started has ended.
//
// Scheduled changes are written through the domain package, so they are
// validated, published, audited and announced to webhooks like any other
// write. Several instances may share one database: a schedule is claimed
// (store.Claim) before it is applied, so exactly one instance applies it.
//
// A Workflow is safe for concurrent use. It may import the domain, store,
// webhook and auth packages, never the API (deps_test.go).
package workflow

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/control/internal/auth"
	"github.com/switchyard/switchyard/control/internal/domain"
	"github.com/switchyard/switchyard/control/internal/store"
	"github.com/switchyard/switchyard/control/internal/webhook"
)

// Config tunes a Workflow.
type Config struct {
	// AuditRetention deletes audit entries older than this, checked at
	// start and hourly (0: keep them forever).
	AuditRetention time.Duration
	// LoginThrottle is the login throttle's rule: records idle for longer
	// than its longest lock (Max) are pruned (default auth.DefaultThrottle).
	LoginThrottle auth.Throttle
	Log           *slog.Logger
}

// Workflow runs the scheduler, webhook deliveries and housekeeping.
type Workflow struct {
	st        *store.Store
	dom       *domain.Service
	hooks     *webhook.Dispatcher
	cfg       Config
	log       *slog.Logger
	instance  string                     // this instance's id: the owner of schedule leases
	schedPoll time.Duration              // how often due schedules are looked for (default 1 s)
	leaseTTL  time.Duration              // how long a claimed schedule is reserved (default 30 s)
	wake      chan struct{}              // Wake: look for due schedules now
	guard     atomic.Pointer[Guardrails] // analytics for the guarded rollouts' checks (rollout.go)
}

// New returns a Workflow that writes through dom and delivers webhook
// events with hooks (the dispatcher dom queues them in).
func New(st *store.Store, dom *domain.Service, hooks *webhook.Dispatcher, cfg Config) *Workflow {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.LoginThrottle.Max <= 0 {
		cfg.LoginThrottle = auth.DefaultThrottle()
	}
	return &Workflow{st: st, dom: dom, hooks: hooks, cfg: cfg, log: cfg.Log, instance: webhook.NewID(),
		schedPoll: time.Second, leaseTTL: 30 * time.Second, wake: make(chan struct{}, 1)}
}

// Webhooks returns the webhook dispatcher.
func (w *Workflow) Webhooks() *webhook.Dispatcher { return w.hooks }

// Instance returns this instance's id (the owner of schedule and delivery
// leases).
func (w *Workflow) Instance() string { return w.instance }

// SetSchedulePoll changes how often due schedules are looked for; call it
// before Run.
func (w *Workflow) SetSchedulePoll(d time.Duration) { w.schedPoll = d }

// Wake makes the scheduler look at the schedules now rather than at its
// next poll: the API calls it when a schedule is created, so a schedule due
// before the next poll runs at its time. It never blocks.
func (w *Workflow) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run runs the webhook sender, the scheduler and the hourly housekeeping
// until ctx ends, and returns when all of them have stopped.
func (w *Workflow) Run(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.hooks.Run(ctx)
	}()
	housekept := make(chan struct{})
	go func() {
		defer close(housekept)
		w.runHousekeeping(ctx, time.Hour)
	}()
	defer func() { <-housekept }()
	t := time.NewTimer(w.schedPoll)
	defer t.Stop()
	for {
		_, next := w.applyDue(ctx)
		w.AdvanceRollouts(ctx) // guarded rollouts (rollout.go)
		t.Reset(w.untilNext(next))
		select {
		case <-ctx.Done():
			<-done
			return
		case <-t.C:
		case <-w.wake:
		}
	}
}

// untilNext is how long the scheduler waits before it looks again: the
// poll interval, or less when the next pending schedule (Unix ms, 0: none)
// is due sooner. Polling still matters: other instances create schedules
// this one is not woken for.
func (w *Workflow) untilNext(next int64) time.Duration {
	d := w.schedPoll
	if next > 0 {
		if due := time.Duration(next-w.st.Now()) * time.Millisecond; due < d {
			d = max(due, time.Millisecond)
		}
	}
	return d
}

// runHousekeeping prunes, now and every period until ctx ends, the audit
// entries older than Config.AuditRetention, the login throttle's records
// idle for longer than its longest lock and the expired sign-ins.
func (w *Workflow) runHousekeeping(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		w.PruneAudit(ctx)
		w.PruneLoginAttempts(ctx)
		w.pruneSSOFlows(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// PruneAudit deletes the audit entries older than Config.AuditRetention (a
// no-op without one) and returns how many it deleted; failures are logged.
func (w *Workflow) PruneAudit(ctx context.Context) int {
	if w.cfg.AuditRetention <= 0 {
		return 0
	}
	before := time.Now().Add(-w.cfg.AuditRetention).UnixMilli()
	n, err := w.st.PruneAudit(ctx, before)
	if err != nil && ctx.Err() == nil {
		w.log.Error("audit retention: cannot prune", "deleted", n, "err", err)
	} else if n > 0 {
		w.log.Info("audit retention: pruned", "deleted", n, "olderThan", w.cfg.AuditRetention.String())
	}
	return n
}

// PruneLoginAttempts deletes the login throttle's records whose last failure
// is older than the throttle's longest lock and returns how many.
func (w *Workflow) PruneLoginAttempts(ctx context.Context) int {
	n, err := w.st.PruneLoginAttempts(ctx, time.Now().Add(-w.cfg.LoginThrottle.Max).UnixMilli())
	if err != nil && ctx.Err() == nil {
		w.log.Error("login throttle: cannot prune", "deleted", n, "err", err)
	}
	return n
}

// pruneSSOFlows deletes the single sign-ons that were never finished or
// collected (expired).
func (w *Workflow) pruneSSOFlows(ctx context.Context) {
	if n, err := w.st.PruneSSOFlows(ctx, time.Now().UnixMilli()); err != nil && ctx.Err() == nil {
		w.log.Error("sso: cannot prune expired sign-ins", "deleted", n, "err", err)
	}
}
