// Package source is where the edge gets environments from: a snapshot per
// environment, loaded on first use, and a stream of change events that
// keeps the loaded environments current.
//
// Two implementations: Local (in-process, fed by the control plane in
// `make run` through WriteSnapshot and Produce) and Remote (Redis key
// hash "sy:env:{envId}" + Kafka topic "<prefix>sy.changes", see remote.go).
//
// Ordering contract: Start positions the change stream before it returns,
// and every snapshot loaded after Start returned is at least as new as that
// position, so no change falls between a snapshot and the stream. Events may
// be delivered again (replays); versions make that harmless.
package source

import (
	"context"
	"errors"
	"strconv"
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
//
// Each environment is kept as control keeps it in Redis (codec/envhash.go):
// one msgp value per item, so WriteChanges costs the size of the change and
// Snapshot decodes the environment once per load.
type Local struct {
	mu     sync.Mutex
	cond   *sync.Cond
	envs   map[string]*localEnv
	queue  []*codec.ChangeEvent
	apply  func(*codec.ChangeEvent)
	closed bool
	done   chan struct{}
}

type localEnv struct {
	version int64
	fields  map[string]string // codec/envhash.go fields, "_v" excepted
}

// NewLocal returns an empty local source.
func NewLocal() *Local {
	l := &Local{envs: map[string]*localEnv{}, done: make(chan struct{})}
	l.cond = sync.NewCond(&l.mu)
	return l
}

// WriteSnapshot stores the whole snapshot of an environment (the
// SnapshotWriter of docs/architecture.md), replacing what was stored unless
// that is newer. It keeps nothing of s.
func (l *Local) WriteSnapshot(_ context.Context, s *codec.EnvSnapshot) error {
	kv, err := codec.AppendEnvFields(nil, s)
	if err != nil {
		return err
	}
	le := &localEnv{version: s.Version, fields: make(map[string]string, len(kv)/2)}
	for i := 0; i < len(kv); i += 2 {
		if kv[i] != codec.FieldVersion {
			le.fields[kv[i]] = kv[i+1]
		}
	}
	l.mu.Lock()
	if old := l.envs[s.EnvID]; old == nil || old.version <= s.Version {
		l.envs[s.EnvID] = le
	}
	l.mu.Unlock()
	return nil
}

// WriteChanges applies the items of evs to a stored environment older than
// version (codec.ErrEnvMissing if none is stored).
func (l *Local) WriteChanges(_ context.Context, envID string, version int64, evs []*codec.ChangeEvent) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	le := l.envs[envID]
	if le == nil {
		return codec.ErrEnvMissing
	}
	if le.version >= version {
		return nil
	}
	evs, err := codec.Flatten(evs)
	if err != nil {
		return err
	}
	for _, ev := range evs {
		var field string
		switch ev.Kind {
		case codec.KindFlag:
			field = codec.FlagField(ev.ID)
		case codec.KindSegment:
			field = codec.SegmentField(ev.ID)
		case codec.KindSecrets:
			field = codec.FieldSecrets
		default:
			continue
		}
		if ev.Op == codec.OpDelete {
			delete(le.fields, field)
		} else {
			le.fields[field] = string(ev.Payload)
		}
	}
	le.version = version
	return nil
}

// Produce queues a change event for delivery (the ChangeProducer of
// docs/architecture.md). It never blocks on the edge. It takes ev over
// without a copy: the caller must not modify ev or its Payload afterwards.
func (l *Local) Produce(_ context.Context, ev *codec.ChangeEvent) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return errors.New("source: local source closed")
	}
	l.queue = append(l.queue, ev)
	l.mu.Unlock()
	l.cond.Signal()
	return nil
}

// DeleteSnapshot removes the snapshot of a deleted environment: Snapshot
// returns ErrNotFound for it from now on.
func (l *Local) DeleteSnapshot(_ context.Context, envID string) error {
	l.mu.Lock()
	delete(l.envs, envID)
	l.mu.Unlock()
	return nil
}

// Missing returns the ids among envIDs that have no snapshot.
func (l *Local) Missing(_ context.Context, envIDs []string) ([]string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, id := range envIDs {
		if l.envs[id] == nil {
			out = append(out, id)
		}
	}
	return out, nil
}

// Snapshot assembles a fresh snapshot of the stored environment (the
// in-process store never loses data: an environment it does not hold is
// unknown).
func (l *Local) Snapshot(_ context.Context, envID string) (*codec.EnvSnapshot, error) {
	l.mu.Lock()
	le := l.envs[envID]
	var fields map[string]string
	if le != nil {
		fields = make(map[string]string, len(le.fields)+1)
		for k, v := range le.fields {
			fields[k] = v
		}
		fields[codec.FieldVersion] = strconv.FormatInt(le.version, 10)
	}
	l.mu.Unlock()
	if le == nil {
		return nil, ErrNotFound
	}
	return codec.EnvFromFields(envID, fields)
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
