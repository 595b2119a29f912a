package store

import (
	"context"
	"sync"
)

// A request memo keeps what one API request has read of an environment's
// settings, so the checks of one request (the API's protection gate, the
// comment requirement, the store's gate in BumpEnv) read them once: three
// MongoDB round trips become one. It lives only as long as the request's
// context; a settings write through the same context drops the entry.
// The checks of one request thus see the settings as of its first read,
// as if the request had run a few milliseconds earlier; schedules,
// triggers and copies outside a request read them every time.
type requestMemo struct {
	mu       sync.Mutex
	settings map[string]EnvSettings
}

type memoKey struct{}

// WithRequestMemo returns ctx with an empty request memo.
func WithRequestMemo(ctx context.Context) context.Context {
	return context.WithValue(ctx, memoKey{}, &requestMemo{settings: map[string]EnvSettings{}})
}

func memoOf(ctx context.Context) *requestMemo {
	m, _ := ctx.Value(memoKey{}).(*requestMemo)
	return m
}

func (m *requestMemo) getSettings(envID string) (*EnvSettings, bool) {
	if m == nil {
		return nil, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	es, ok := m.settings[envID]
	if !ok {
		return nil, false
	}
	es.Approvers = append([]string(nil), es.Approvers...)
	return &es, true
}

func (m *requestMemo) putSettings(es *EnvSettings) {
	if m == nil {
		return
	}
	m.mu.Lock()
	c := *es
	c.Approvers = append([]string(nil), es.Approvers...)
	m.settings[es.EnvID] = c
	m.mu.Unlock()
}

func (m *requestMemo) forgetSettings(envID string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	delete(m.settings, envID)
	m.mu.Unlock()
}
