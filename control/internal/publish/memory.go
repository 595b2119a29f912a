package publish

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/switchyard/switchyard/codec"
)

// Discard is a SnapshotWriter and ChangeProducer that drops everything.
type Discard struct{}

// WriteSnapshot implements SnapshotWriter.
func (Discard) WriteSnapshot(context.Context, *codec.EnvSnapshot) error { return nil }

// WriteChanges implements SnapshotWriter.
func (Discard) WriteChanges(context.Context, string, int64, []*codec.ChangeEvent) error { return nil }

// DeleteSnapshot implements SnapshotWriter.
func (Discard) DeleteSnapshot(context.Context, string) error { return nil }

// Missing implements SnapshotWriter: nothing is ever kept, nothing is
// reported missing.
func (Discard) Missing(context.Context, []string) ([]string, error) { return nil, nil }

// Produce implements ChangeProducer.
func (Discard) Produce(context.Context, *codec.ChangeEvent) error { return nil }

// ErrDown is returned by a Memory sink that is set down.
var ErrDown = errors.New("sink is down")

// Memory is an in-memory SnapshotWriter and ChangeProducer for tests: it
// keeps the last snapshot per environment and every event, and can be set
// "down" to simulate an outage. Safe for concurrent use.
type Memory struct {
	mu     sync.Mutex
	snaps  map[string]*codec.EnvSnapshot
	gone   map[string]bool
	events []*codec.ChangeEvent
	down   bool
}

// NewMemory returns an empty Memory sink.
func NewMemory() *Memory {
	return &Memory{snaps: map[string]*codec.EnvSnapshot{}, gone: map[string]bool{}}
}

// SetDown makes writes fail (true) or succeed again (false).
func (m *Memory) SetDown(down bool) { m.mu.Lock(); m.down = down; m.mu.Unlock() }

// WriteSnapshot implements SnapshotWriter (it stores a deep copy).
func (m *Memory) WriteSnapshot(_ context.Context, s *codec.EnvSnapshot) error {
	b, err := s.MarshalMsg(nil)
	if err != nil {
		return err
	}
	var c codec.EnvSnapshot
	if _, err := c.UnmarshalMsg(b); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return ErrDown
	}
	if old := m.snaps[s.EnvID]; m.gone[s.EnvID] || (old != nil && old.Version > s.Version) {
		return nil
	}
	m.snaps[s.EnvID] = &c
	return nil
}

// WriteChanges implements SnapshotWriter on the stored snapshot.
func (m *Memory) WriteChanges(_ context.Context, envID string, version int64, evs []*codec.ChangeEvent) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return ErrDown
	}
	s := m.snaps[envID]
	switch {
	case m.gone[envID]:
		return nil
	case s == nil:
		return codec.ErrEnvMissing
	case s.Version >= version:
		return nil
	}
	evs, err := codec.Flatten(evs)
	if err != nil {
		return err
	}
	c := *s // copy-on-write: snapshots handed out stay as they were
	c.Flags = append([]codec.Flag(nil), s.Flags...)
	c.Segments = append([]codec.Segment(nil), s.Segments...)
	for _, ev := range evs {
		if err := applyEvent(&c, ev); err != nil {
			return err
		}
	}
	c.Version = version
	m.snaps[envID] = &c
	return nil
}

// applyEvent applies one change event to a snapshot.
func applyEvent(s *codec.EnvSnapshot, ev *codec.ChangeEvent) error {
	switch ev.Kind {
	case codec.KindFlag:
		i := slices.IndexFunc(s.Flags, func(f codec.Flag) bool { return f.ID == ev.ID })
		if ev.Op == codec.OpDelete {
			if i >= 0 {
				s.Flags = slices.Delete(s.Flags, i, i+1)
			}
			return nil
		}
		var f codec.Flag
		if _, err := f.UnmarshalMsg(ev.Payload); err != nil {
			return err
		}
		if i >= 0 {
			s.Flags[i] = f
		} else {
			s.Flags = append(s.Flags, f)
		}
	case codec.KindSegment:
		i := slices.IndexFunc(s.Segments, func(sg codec.Segment) bool { return sg.ID == ev.ID })
		if ev.Op == codec.OpDelete {
			if i >= 0 {
				s.Segments = slices.Delete(s.Segments, i, i+1)
			}
			return nil
		}
		var sg codec.Segment
		if _, err := sg.UnmarshalMsg(ev.Payload); err != nil {
			return err
		}
		if i >= 0 {
			s.Segments[i] = sg
		} else {
			s.Segments = append(s.Segments, sg)
		}
	case codec.KindSecrets:
		var sec codec.EnvSnapshot
		if _, err := sec.UnmarshalMsg(ev.Payload); err != nil {
			return err
		}
		s.Secrets = sec.Secrets
	}
	return nil
}

// DeleteSnapshot implements SnapshotWriter.
func (m *Memory) DeleteSnapshot(_ context.Context, envID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return ErrDown
	}
	delete(m.snaps, envID)
	m.gone[envID] = true
	return nil
}

// Missing implements SnapshotWriter.
func (m *Memory) Missing(_ context.Context, envIDs []string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return nil, ErrDown
	}
	var out []string
	for _, id := range envIDs {
		if m.snaps[id] == nil {
			out = append(out, id)
		}
	}
	return out, nil
}

// Lose drops the snapshot of envID without a tombstone, as a store that
// lost its data (tests of CheckSnapshots).
func (m *Memory) Lose(envID string) {
	m.mu.Lock()
	delete(m.snaps, envID)
	m.mu.Unlock()
}

// Produce implements ChangeProducer.
func (m *Memory) Produce(_ context.Context, ev *codec.ChangeEvent) error {
	c := *ev
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return ErrDown
	}
	m.events = append(m.events, &c)
	return nil
}

// Snapshot returns the last snapshot written for envID (nil if none).
func (m *Memory) Snapshot(envID string) *codec.EnvSnapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.snaps[envID]
}

// Events returns the events produced so far.
func (m *Memory) Events() []*codec.ChangeEvent {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*codec.ChangeEvent(nil), m.events...)
}
