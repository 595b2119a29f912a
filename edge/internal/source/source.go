// Package source is where the edge gets environments from: a snapshot per
// environment, loaded on first use, and a stream of change events that
// keeps the loaded environments current.
//
// Two implementations: Local (in-process, fed by the control plane in
// `make run` through WriteSnapshot and Produce) and Remote (Redis key
// "sy:snap:{envId}" + Kafka topic "<prefix>sy.changes", see remote.go).
//
// Ordering contract: Start positions the change stream before it returns,
// and every snapshot loaded after Start returned is at least as new as that
// position, so no change falls between a snapshot and the stream. Events may
// be delivered again (replays); versions make that harmless.
package source

import (
	"context"
	"errors"
	"sync"

	"github.com/switchyard/switchyard/codec"
)

// ErrNotFound is returned by Snapshot for an environment known not to exist
// (deleted; or, for Local, never written).
var ErrNotFound = errors.New("source: environment not found")

// ErrNoSnapshot is returned by Remote.Snapshot when an environment has no
// snapshot and no tombstone: the snapshot store lost its data (Redis
// restarted empty) or the environment is not published yet. It is not
// ErrNotFound: the edge answers "unavailable" and SDKs retry until control
// has written the snapshot again.
var ErrNoSnapshot = errors.New("source: no snapshot (not published yet, or lost)")

// Source provides environments. Snapshot errors other than ErrNotFound mean
// the source is unavailable (the edge answers 1011 and SDKs retry).
type Source interface {
	Snapshot(ctx context.Context, envID string) (*codec.EnvSnapshot, error)
	// Start positions the change stream, then delivers events to apply in
	// order (per environment) on its own goroutine until Close.
	Start(ctx context.Context, apply func(*codec.ChangeEvent)) error
	Close() error
}

// Local is the embedded source: the control plane writes snapshots and
// produces change events directly into it. The zero value is not usable;
// call NewLocal. Safe for concurrent use.
type Local struct {
	mu     sync.Mutex
	cond   *sync.Cond
	snaps  map[string][]byte // msgp EnvSnapshot, so callers may reuse theirs
	queue  []*codec.ChangeEvent
	apply  func(*codec.ChangeEvent)
	closed bool
	done   chan struct{}
}

// NewLocal returns an empty local source.
func NewLocal() *Local {
	l := &Local{snaps: map[string][]byte{}, done: make(chan struct{})}
	l.cond = sync.NewCond(&l.mu)
	return l
}

// WriteSnapshot stores the whole snapshot of an environment (the
// SnapshotWriter of docs/architecture.md).
func (l *Local) WriteSnapshot(_ context.Context, s *codec.EnvSnapshot) error {
	b, err := s.MarshalMsg(nil)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.snaps[s.EnvID] = b
	l.mu.Unlock()
	return nil
}

// Produce queues a change event for delivery (the ChangeProducer of
// docs/architecture.md). It never blocks on the edge.
func (l *Local) Produce(_ context.Context, ev *codec.ChangeEvent) error {
	b, err := ev.MarshalMsg(nil)
	if err != nil {
		return err
	}
	cp := new(codec.ChangeEvent)
	if _, err := cp.UnmarshalMsg(b); err != nil {
		return err
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return errors.New("source: local source closed")
	}
	l.queue = append(l.queue, cp)
	l.mu.Unlock()
	l.cond.Signal()
	return nil
}

// DeleteSnapshot removes the snapshot of a deleted environment: Snapshot
// returns ErrNotFound for it from now on.
func (l *Local) DeleteSnapshot(_ context.Context, envID string) error {
	l.mu.Lock()
	delete(l.snaps, envID)
	l.mu.Unlock()
	return nil
}

// Missing returns the ids among envIDs that have no snapshot.
func (l *Local) Missing(_ context.Context, envIDs []string) ([]string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, id := range envIDs {
		if _, ok := l.snaps[id]; !ok {
			out = append(out, id)
		}
	}
	return out, nil
}

// Snapshot returns a fresh copy of the stored snapshot.
func (l *Local) Snapshot(_ context.Context, envID string) (*codec.EnvSnapshot, error) {
	l.mu.Lock()
	b, ok := l.snaps[envID]
	l.mu.Unlock()
	if !ok {
		return nil, ErrNotFound
	}
	s := new(codec.EnvSnapshot)
	if _, err := s.UnmarshalMsg(b); err != nil {
		return nil, err
	}
	return s, nil
}

// Start delivers queued and future events to apply.
func (l *Local) Start(_ context.Context, apply func(*codec.ChangeEvent)) error {
	l.mu.Lock()
	if l.apply != nil {
		l.mu.Unlock()
		return errors.New("source: local source already started")
	}
	l.apply = apply
	l.mu.Unlock()
	go l.run()
	return nil
}

func (l *Local) run() {
	defer close(l.done)
	for {
		l.mu.Lock()
		for len(l.queue) == 0 && !l.closed {
			l.cond.Wait()
		}
		if l.closed {
			l.mu.Unlock()
			return
		}
		q := l.queue
		l.queue = nil
		l.mu.Unlock()
		for _, ev := range q {
			l.apply(ev)
		}
	}
}

// Close stops delivery.
func (l *Local) Close() error {
	l.mu.Lock()
	started := l.apply != nil && !l.closed
	l.closed = true
	l.mu.Unlock()
	l.cond.Broadcast()
	if started {
		<-l.done
	}
	return nil
}
