// Package publish is control's change pipeline: it delivers every stored
// change of an environment to the edges, first into the environment's
// stored state (SnapshotWriter; the Redis hash "sy:env:{envId}" in
// production, one field per item), then as change events (ChangeProducer;
// Kafka topic "<prefix>sy.changes" keyed by env id).
//
// Guarantee: a change the API acknowledged reaches the edges even if Redis or
// Kafka was down when it was written. The store keeps the publish state of
// each environment (Version, PublishedVersion, the outbox of pending change
// entries, each with the item timestamp given in the bump; see
// store.BumpEnv). A Publisher goroutine publishes every "dirty" environment:
// read the environment and the items its outbox names, build one event per
// entry with the item's state at that entry, write those items and the
// version (SnapshotWriter.WriteChanges), produce the events in order, then
// mark the version published. The first publish, a collapsed outbox and a
// stored state found missing (CheckSnapshots, run periodically) write the
// environment whole. Any failure leaves the state dirty and the environment
// is retried with exponential backoff (1 s doubling to 30 s), so delivery is
// at-least-once and in order per environment; edges drop events whose item
// version is not newer than what they hold.
//
// Writers call Notify after a change; it never blocks. Run must be running
// for anything to be published.
package publish

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/store"
)

// SnapshotWriter stores the whole current state of an environment for edges
// that load it (Redis in production, the in-process edge in `make run`).
//
// WriteSnapshot never replaces a newer snapshot with an older one.
// DeleteSnapshot removes the snapshot of a deleted environment and leaves a
// tombstone, so edges tell "deleted" (refuse the SDK) from "snapshot
// missing" (unavailable: the SDK retries). Missing returns the ids, among
// envIDs, that have no snapshot (the store lost its data): the publisher
// writes them again.
//
// WriteChanges applies the change events of one publish (the items they
// carry; deletions remove the item; secrets events replace the secrets) and
// sets the version, atomically, only if the stored environment exists and is
// older; codec.ErrEnvMissing when it does not exist (the publisher then
// writes it whole). Its cost is proportional to the changes, not to the
// environment.
type SnapshotWriter interface {
	WriteSnapshot(ctx context.Context, s *codec.EnvSnapshot) error
	WriteChanges(ctx context.Context, envID string, version int64, evs []*codec.ChangeEvent) error
	DeleteSnapshot(ctx context.Context, envID string) error
	Missing(ctx context.Context, envIDs []string) ([]string, error)
}

// ChangeProducer delivers one change event to every edge (Kafka in
// production). Produce returns only when the event is durably accepted.
type ChangeProducer interface {
	Produce(ctx context.Context, ev *codec.ChangeEvent) error
}

// Backoff bounds of the retry of a failing environment.
const (
	MinBackoff = time.Second
	MaxBackoff = 30 * time.Second
	// Attempt bounds one publish attempt of one environment.
	Attempt = 15 * time.Second
	// Sweep is how often dirty environments are looked for without a Notify.
	Sweep = 2 * time.Second
	// LandWait is how long an outbox entry waits for its item write to land
	// (see store.BumpEnv) before the write is presumed failed.
	LandWait = 10 * time.Second
	// LandWaitPerItem is added to LandWait for each flag of a batch entry:
	// a batch's flags are written one by one after its bump (store/mongo:
	// a few milliseconds each on a loaded MongoDB-wire server), and a batch
	// presumed failed while its writer is still writing would be published
	// without the flags that land later, which then never reach an edge.
	LandWaitPerItem = 50 * time.Millisecond
	// AttemptPerItem is added to Attempt for each flag a batch entry in
	// the outbox names: the publish reads each (FerretDB: one read by _id
	// each, ~1–2 ms on a loaded server), and an attempt cut off before it
	// has read a 10,000-flag batch would back off and retry forever.
	AttemptPerItem = 5 * time.Millisecond
	// notReadyRetry is how soon an environment waiting for a write is
	// tried again.
	notReadyRetry = 50 * time.Millisecond
	// DefaultCheckInterval is how often, by default, the snapshots of all
	// live environments are checked for presence (CheckSnapshots).
	DefaultCheckInterval = 30 * time.Second
	// checkRetry is how soon a failed check is tried again.
	checkRetry = 2 * time.Second
)

// errNotReady reports an environment whose next change is bumped but not
// yet written; it is not a failure.
var errNotReady = errors.New("a change is not written yet")

// Publisher publishes dirty environments; see the package doc.
type Publisher struct {
	// OnProduced, when set before Run, is told about every change event
	// produced (control's delivery receipts learn the request ids from it).
	OnProduced func(ev *codec.ChangeEvent)

	st   *store.Store
	snap SnapshotWriter
	prod ChangeProducer
	log  *slog.Logger
	kick chan struct{}

	// CheckInterval is how often CheckSnapshots runs in Run (set before
	// Run; 0 means DefaultCheckInterval).
	CheckInterval time.Duration

	mu        sync.Mutex
	retry     map[string]retryState // env id → backoff
	stats     Stats
	nextCheck time.Time // Run: when CheckSnapshots is due
}

type retryState struct {
	next    time.Time
	backoff time.Duration
}

// Stats counts what the publisher did; see Publisher.Stats.
type Stats struct {
	Snapshots int64
	Events    int64
	Failures  int64
	// Repaired counts snapshots found missing and written again.
	Repaired  int64
	LastError string
}

// New returns a Publisher. Nil writers are replaced by ones that discard.
func New(st *store.Store, snap SnapshotWriter, prod ChangeProducer, log *slog.Logger) *Publisher {
	if snap == nil {
		snap = Discard{}
	}
	if prod == nil {
		prod = Discard{}
	}
	if log == nil {
		log = slog.Default()
	}
	return &Publisher{st: st, snap: snap, prod: prod, log: log, kick: make(chan struct{}, 1), retry: map[string]retryState{}}
}

// Notify wakes the publisher after a change of envID; it never blocks. A
// notified environment is tried at once even if it is backing off.
func (p *Publisher) Notify(envID string) {
	p.mu.Lock()
	delete(p.retry, envID)
	p.mu.Unlock()
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// Stats returns a copy of the counters.
func (p *Publisher) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// Run publishes until ctx ends.
func (p *Publisher) Run(ctx context.Context) {
	t := time.NewTimer(Sweep)
	defer t.Stop()
	for {
		p.Sweep(ctx)
		p.mu.Lock()
		due := !time.Now().Before(p.nextCheck)
		p.mu.Unlock()
		if due && ctx.Err() == nil {
			next := time.Now().Add(p.checkInterval())
			if _, err := p.CheckSnapshots(ctx); err != nil {
				next = time.Now().Add(checkRetry)
				if ctx.Err() == nil {
					p.fail("", err)
				}
			}
			p.mu.Lock()
			if p.nextCheck.IsZero() || p.nextCheck.Before(next) {
				p.nextCheck = next
			}
			p.mu.Unlock()
		}
		t.Reset(p.nextWake())
		select {
		case <-ctx.Done():
			return
		case <-p.kick:
		case <-t.C:
		}
	}
}

// nextWake is the delay until the next sweep: Sweep, or sooner when an
// environment's retry is due earlier.
func (p *Publisher) nextWake() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	d := Sweep
	now := time.Now()
	for _, r := range p.retry {
		d = min(d, max(r.next.Sub(now), time.Millisecond))
	}
	return d
}

// batchProbeRetry is how soon an environment whose first pending change
// is a batch still being written is probed again.
const batchProbeRetry = 200 * time.Millisecond

// batchInFlight reports whether e's first pending change is a batch whose
// writer is still writing it: young (within its LandWait) and its last flag
// not yet at the batch's version (store/bolt writes a batch in one
// transaction; store/mongo the new flags 1,000 at a time in item order,
// then the updates, so the last item is among the last written, and when
// it is not — an update before it — the attempt still waits for the
// rest). It only ever delays, and at most until the batch's LandWait,
// after which the attempt judges it. One read by id instead of a publish attempt
// that reads every flag of the batch, finds some missing and waits
// (on FerretDB, 1–2 ms per flag, 50 ms apart, competing with the writer
// for the server). Any doubt (an error, the flag there) answers false and
// the attempt decides, as before.
func (p *Publisher) batchInFlight(ctx context.Context, e *store.Env) bool {
	if e.PublishedVersion == 0 || e.Deleted || len(e.Outbox) == 0 {
		return false
	}
	en := &e.Outbox[0]
	if en.Kind != codec.KindBatch || len(en.Items) == 0 {
		return false
	}
	wait := LandWait + time.Duration(len(en.Items))*LandWaitPerItem
	if time.Now().UnixMilli()-en.At >= wait.Milliseconds() {
		return false
	}
	last := en.Items[len(en.Items)-1]
	f, err := p.st.GetFlag(ctx, e.ID, last.ID)
	if err != nil {
		return errors.Is(err, store.ErrNotFound)
	}
	return f.Version < last.ItemVersion
}

// attemptFor bounds one publish attempt of e: Attempt, plus AttemptPerItem
// for each flag its outbox's batch entries name.
func attemptFor(e *store.Env) time.Duration {
	n := 0
	for i := range e.Outbox {
		n += len(e.Outbox[i].Items)
	}
	return Attempt + time.Duration(n)*AttemptPerItem
}

// Sweep makes one pass over the dirty environments whose backoff has
// elapsed. It returns the number of environments still dirty.
func (p *Publisher) Sweep(ctx context.Context) int {
	envs, err := p.st.DirtyEnvs(ctx)
	if err != nil {
		if ctx.Err() == nil {
			p.fail("", err)
		}
		return -1
	}
	left := 0
	for _, e := range envs {
		if ctx.Err() != nil {
			return left + 1
		}
		p.mu.Lock()
		r := p.retry[e.ID]
		p.mu.Unlock()
		if time.Now().Before(r.next) {
			left++
			continue
		}
		if p.batchInFlight(ctx, e) {
			left++
			p.mu.Lock()
			p.retry[e.ID] = retryState{next: time.Now().Add(batchProbeRetry), backoff: r.backoff}
			p.mu.Unlock()
			continue
		}
		actx, cancel := context.WithTimeout(ctx, attemptFor(e))
		err := p.PublishEnv(actx, e.ID)
		cancel()
		if err != nil && ctx.Err() != nil {
			return left + 1 // stopping: not a failure of the environment
		}
		p.mu.Lock()
		switch {
		case errors.Is(err, errNotReady):
			left++
			p.retry[e.ID] = retryState{next: time.Now().Add(notReadyRetry), backoff: r.backoff}
		case err != nil:
			left++
			r.backoff = min(max(2*r.backoff, MinBackoff), MaxBackoff)
			r.next = time.Now().Add(r.backoff)
			p.retry[e.ID] = r
		default:
			delete(p.retry, e.ID)
		}
		p.mu.Unlock()
		if err != nil && !errors.Is(err, errNotReady) {
			p.fail(e.ID, err)
		}
	}
	return left
}

func (p *Publisher) checkInterval() time.Duration {
	if p.CheckInterval > 0 {
		return p.CheckInterval
	}
	return DefaultCheckInterval
}

// CheckSnapshots asks the SnapshotWriter which live environments have no
// snapshot (Redis restarted empty, or lost keys) and publishes each of them
// again, dirty or not. It returns how many it rewrote. Run calls it every
// CheckInterval, and at the next pass after a failed publish.
func (p *Publisher) CheckSnapshots(ctx context.Context) (int, error) {
	ids, err := p.st.LiveEnvIDs(ctx)
	if err != nil {
		return 0, err
	}
	// bounded like a publish attempt: Redis clients retry read-only
	// commands while the server is unreachable, and Run must not wait
	// for the outage to end before it sweeps (and reports) again
	mctx, cancel := context.WithTimeout(ctx, Attempt)
	missing, err := p.snap.Missing(mctx, ids)
	cancel()
	if err != nil {
		return 0, fmt.Errorf("cannot check snapshots: %w", err)
	}
	var errs []error
	n := 0
	for _, id := range missing {
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		actx, cancel := context.WithTimeout(ctx, Attempt)
		err := p.publish(actx, id, true)
		cancel()
		if err != nil && !errors.Is(err, errNotReady) {
			errs = append(errs, fmt.Errorf("environment %s: %w", id, err))
			continue
		}
		n++
	}
	if n > 0 {
		p.mu.Lock()
		p.stats.Repaired += int64(n)
		p.mu.Unlock()
		p.log.Warn("snapshots were missing and are written again", "count", n)
	}
	return n, errors.Join(errs...)
}

func (p *Publisher) fail(envID string, err error) {
	p.mu.Lock()
	p.nextCheck = time.Now() // a sink failed: it may have lost data
	p.stats.Failures++
	p.stats.LastError = err.Error()
	p.mu.Unlock()
	p.log.Warn("publish failed; will retry", "env", envID, "err", err)
}

// PublishEnv publishes one environment now (snapshot, then its pending
// events, then the publish mark). It is safe to call concurrently with Run;
// duplicate deliveries are harmless. When a change is recorded but its write
// has not landed yet, it publishes up to the change before it and returns
// errNotReady.
//
// Timestamps: item timestamps increase with EnvVersion (store.Env.Stamp),
// and an SDK that reconnects asks for the items stamped after the newest it
// holds. So nothing stamped later than a change may reach an edge before
// that change: an event carries the item's state at its own entry (an entry
// whose item has moved on to a later entry's write is skipped, that entry
// carries it), and a snapshot is not written while it holds an item stamped
// after a change still in flight (errNotReady; the in-flight write lands in
// milliseconds, or is presumed failed after LandWait).
func (p *Publisher) PublishEnv(ctx context.Context, envID string) error {
	return p.publish(ctx, envID, false)
}

// publish publishes envID incrementally (only the items its outbox names)
// or whole (every item; full, the first publish, a collapsed outbox, a
// deleted environment, or a snapshot store that lost the environment).
func (p *Publisher) publish(ctx context.Context, envID string, full bool) error {
	var (
		snap *codec.EnvSnapshot
		e    *store.Env
		err  error
	)
	if !full {
		snap, e, err = p.st.ChangedItems(ctx, envID)
		full = err == nil && (e.PublishedVersion == 0 || e.Deleted || hasSnapshotEntry(e.Outbox))
	}
	if full {
		snap, e, err = p.st.Snapshot(ctx, envID)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	// Which entries can go: stop before the first whose write is in flight
	// (incremental: or whose item was not read).
	target, now := e.Version, time.Now().UnixMilli()
	if !full {
		target = min(target, snap.Version)
	}
	var send []int
	ix := indexOf(snap)
	for i := range e.Outbox {
		en := &e.Outbox[i]
		if en.EnvVersion > target {
			break
		}
		st := landed(ix, e.Outbox[i+1:], en, now)
		if st == pending {
			target = en.EnvVersion - 1
			// A whole snapshot holds every item as it is now, so it must
			// not hold one stamped after this change (an incremental write
			// holds only the states of the entries before it).
			if full && en.Stamp > 0 && ahead(snap, en.Stamp) {
				return errNotReady
			}
			break
		}
		if st == ok {
			send = append(send, i)
		}
	}
	snap.Version = target
	evs := make([]*codec.ChangeEvent, 0, len(send))
	for _, i := range send {
		en := &e.Outbox[i]
		ev, err := event(snap, ix, en, e.Outbox[i+1:])
		if err != nil {
			return err
		}
		if ev != nil {
			evs = append(evs, ev)
		}
	}
	if !e.Deleted {
		if full {
			err = p.snap.WriteSnapshot(ctx, snap)
		} else {
			err = p.snap.WriteChanges(ctx, envID, target, evs)
			if errors.Is(err, codec.ErrEnvMissing) {
				return p.publish(ctx, envID, true)
			}
		}
		if err != nil {
			return fmt.Errorf("cannot write snapshot of %s v%d: %w", envID, target, err)
		}
		p.mu.Lock()
		p.stats.Snapshots++
		p.mu.Unlock()
	}
	for _, ev := range evs {
		if err := p.prod.Produce(ctx, ev); err != nil {
			return fmt.Errorf("cannot produce %s %s of %s v%d: %w", ev.Kind, ev.Op, envID, ev.EnvVersion, err)
		}
		p.mu.Lock()
		p.stats.Events++
		p.mu.Unlock()
		if p.OnProduced != nil {
			p.OnProduced(ev)
		}
		p.log.Info("change produced", "request_id", ev.RequestID, "env", envID, "kind", ev.Kind, "op", ev.Op,
			"id", ev.ID, "env_version", ev.EnvVersion)
	}
	if e.Deleted && target == e.Version {
		if err := p.snap.DeleteSnapshot(ctx, envID); err != nil {
			return fmt.Errorf("cannot delete snapshot of %s: %w", envID, err)
		}
		return p.st.PurgeEnv(ctx, envID)
	}
	if err := p.st.MarkPublished(ctx, envID, target); err != nil {
		return err
	}
	if target < e.Version {
		return errNotReady
	}
	return nil
}

func hasSnapshotEntry(out []store.OutboxEntry) bool {
	for i := range out {
		if out[i].Kind == codec.KindSnapshot {
			return true
		}
	}
	return false
}

type landing int

const (
	ok      landing = iota // produce the entry
	skip                   // nothing to produce (superseded or failed write)
	pending                // the write is in flight: wait
)

// landed tells whether the write an outbox entry announced is visible in the
// snapshot. later are the entries after it.
func landed(ix *index, later []store.OutboxEntry, en *store.OutboxEntry, now int64) landing {
	young := now-en.At < LandWait.Milliseconds()
	if en.Kind == codec.KindBatch {
		young = now-en.At < (LandWait + time.Duration(len(en.Items))*LandWaitPerItem).Milliseconds()
		// every flag of the batch must have landed (or be presumed failed)
		for _, r := range en.Items {
			var it item
			if f := ix.flags[r.ID]; f != nil {
				it = item{f.Version, f.UpdatedAt, true}
			}
			if landedUpsert(it, young, r.ItemVersion, codec.KindFlag, r.ID, later) == pending {
				return pending
			}
		}
		return ok
	}
	if en.ItemVersion == 0 || (en.Kind != codec.KindFlag && en.Kind != codec.KindSegment) {
		return ok
	}
	var it item
	if en.Kind == codec.KindFlag {
		if f := ix.flags[en.ID]; f != nil {
			it = item{f.Version, f.UpdatedAt, true}
		}
	} else if sg := ix.segs[en.ID]; sg != nil {
		it = item{sg.Version, sg.UpdatedAt, true}
	}
	if en.Op == codec.OpDelete {
		switch {
		case !it.exists:
			return ok
		case young:
			return pending
		}
		return skip // the delete failed: the item stays
	}
	return landedUpsert(it, young, en.ItemVersion, en.Kind, en.ID, later)
}

// item is the stored state of an outbox entry's item: its version and
// updatedAt (exists: the item was read).
type item struct {
	version, updatedAt int64
	exists             bool
}

// landedUpsert is landed for the upsert of one item to itemVersion, given
// its stored state. A state at itemVersion stamped before the entry is an
// earlier entry's write that won over this one's: it is produced again
// (a duplicate, harmless: an SDK has it already), never skipped, since a
// write path that stamped differently must not lose its event.
func landedUpsert(it item, young bool, itemVersion int64, kind, id string, later []store.OutboxEntry) landing {
	switch {
	case it.exists && it.version >= itemVersion:
		return ok
	case it.exists && !young:
		return ok // the write failed: its current state is harmless
	case !it.exists:
		for i := range later {
			if later[i].Kind == kind && later[i].ID == id && later[i].Op == codec.OpDelete {
				return skip // deleted since: its tombstone follows
			}
		}
		if !young {
			return skip
		}
	}
	return pending
}

// ahead reports whether the snapshot holds an item stamped at or after
// stamp.
func ahead(snap *codec.EnvSnapshot, stamp int64) bool {
	for i := range snap.Flags {
		if snap.Flags[i].UpdatedAt >= stamp {
			return true
		}
	}
	for i := range snap.Segments {
		if snap.Segments[i].UpdatedAt >= stamp {
			return true
		}
	}
	return false
}

// superseded reports whether an upsert entry's item was since written by a
// later entry (its state is beyond en.ItemVersion and a later entry of the
// same item follows, which will carry that state at its own place).
func superseded(it item, en *store.OutboxEntry, later []store.OutboxEntry) bool {
	return supersededItem(it, en.ItemVersion, en.Stamp, en.Kind, en.ID, later)
}

// supersededItem is superseded for one item (of an entry or of a batch,
// stamped stamp). The state is a later entry's when its version is beyond
// itemVersion, or when it is itemVersion stamped after this entry: two
// writers held the same version and the later entry's write won.
func supersededItem(it item, itemVersion, stamp int64, kind, id string, later []store.OutboxEntry) bool {
	if it.version < itemVersion || (it.version == itemVersion && (stamp == 0 || it.updatedAt <= stamp)) {
		return false
	}
	for i := range later {
		if later[i].Kind == kind && later[i].ID == id {
			return true
		}
		if kind == codec.KindFlag {
			for _, r := range later[i].Items {
				if r.ID == id {
					return true
				}
			}
		}
	}
	return false
}

// event builds the change event of an outbox entry from the snapshot; nil
// when the item no longer exists (it was deleted later, whose own entry
// carries the tombstone, or its write never happened) or when a later entry
// carries its state (superseded). later are the entries after en.
func event(snap *codec.EnvSnapshot, ix *index, en *store.OutboxEntry, later []store.OutboxEntry) (*codec.ChangeEvent, error) {
	ev := &codec.ChangeEvent{EnvID: snap.EnvID, Kind: en.Kind, Op: en.Op, ID: en.ID,
		EnvVersion: en.EnvVersion, At: en.At, AffectedFlags: en.AffectedFlags, RequestID: en.RequestID}
	var err error
	switch {
	case en.Op == codec.OpDelete && en.Kind != codec.KindEnv:
		ev.Payload = en.Payload
		switch en.Kind {
		case codec.KindFlag:
			var f codec.Flag
			if _, err := f.UnmarshalMsg(en.Payload); err == nil {
				ev.Version = f.Version
			}
		case codec.KindSegment:
			var sg codec.Segment
			if _, err := sg.UnmarshalMsg(en.Payload); err == nil {
				ev.Version = sg.Version
			}
		}
	case en.Kind == codec.KindBatch:
		// one event carrying every flag of the batch that still exists and
		// that no later entry carries
		b := &codec.EnvSnapshot{EnvID: snap.EnvID, Version: en.EnvVersion, Flags: make([]codec.Flag, 0, len(en.Items))}
		for _, r := range en.Items {
			f := ix.flags[r.ID]
			if f == nil {
				continue
			}
			if supersededItem(item{f.Version, f.UpdatedAt, true}, r.ItemVersion, en.Stamp, codec.KindFlag, r.ID, later) {
				continue
			}
			b.Flags = append(b.Flags, *f)
		}
		if len(b.Flags) == 0 {
			return nil, nil
		}
		ev.Version = en.EnvVersion
		ev.Payload, err = b.MarshalMsg(nil)
	case en.Kind == codec.KindFlag:
		f := ix.flags[en.ID]
		if f == nil || superseded(item{f.Version, f.UpdatedAt, true}, en, later) {
			return nil, nil
		}
		ev.Version = f.Version
		ev.Payload, err = f.MarshalMsg(nil)
	case en.Kind == codec.KindSegment:
		sg := ix.segs[en.ID]
		if sg == nil || superseded(item{sg.Version, sg.UpdatedAt, true}, en, later) {
			return nil, nil
		}
		ev.Version = sg.Version
		ev.Payload, err = sg.MarshalMsg(nil)
	case en.Kind == codec.KindSecrets:
		ev.Version = snap.Version
		ev.Payload, err = (&codec.EnvSnapshot{EnvID: snap.EnvID, Version: snap.Version, Secrets: snap.Secrets}).MarshalMsg(nil)
	case en.Kind == codec.KindSnapshot:
		ev.Version = snap.Version
		ev.Payload, err = snap.MarshalMsg(nil)
	case en.Kind == codec.KindEnv:
		ev.Version = en.EnvVersion
	default:
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("BUG: cannot encode %s payload: %w", en.Kind, err)
	}
	return ev, nil
}

// index finds the items of a snapshot by id (a publish looks up every
// outbox item: a map keeps that linear in the items, not quadratic).
type index struct {
	flags map[string]*codec.Flag
	segs  map[string]*codec.Segment
}

func indexOf(s *codec.EnvSnapshot) *index {
	ix := &index{flags: make(map[string]*codec.Flag, len(s.Flags)), segs: make(map[string]*codec.Segment, len(s.Segments))}
	for i := range s.Flags {
		ix.flags[s.Flags[i].ID] = &s.Flags[i]
	}
	for i := range s.Segments {
		ix.segs[s.Segments[i].ID] = &s.Segments[i]
	}
	return ix
}
