// Package sink is the edge's event output: the EventSink interface
// (insight batches and end-user batches), a batcher that collects end users
// from streaming sessions and flushes them per environment, and the Kafka
// implementation used in production (kafka.go).
package sink

import (
	"context"
	"sync"
	"time"

	"github.com/switchyard/switchyard/codec"
)

// EventSink receives the edge's events. Implementations must be safe for
// concurrent use; the edge does not retain b after the call returns.
type EventSink interface {
	Insights(ctx context.Context, b *codec.InsightBatch) error
	EndUsers(ctx context.Context, b *codec.EndUserBatch) error
}

// Discard is an EventSink that drops everything.
type Discard struct{}

func (Discard) Insights(context.Context, *codec.InsightBatch) error { return nil }
func (Discard) EndUsers(context.Context, *codec.EndUserBatch) error { return nil }

// Users batches end users per environment and flushes them to an
// EventSink every interval or when maxBatch users of one environment are
// waiting. Safe for concurrent use.
type Users struct {
	sink     EventSink
	maxBatch int
	onErr    func(error)
	onSent   func(users int)

	mu      sync.Mutex
	pending map[string]*codec.EndUserBatch
	n       int
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

// NewUsers starts a batcher. onErr and onSent (either may be nil) are told
// about failed batches and the number of users sent.
func NewUsers(s EventSink, interval time.Duration, maxBatch int, onErr func(error), onSent func(int)) *Users {
	if interval <= 0 {
		interval = time.Second
	}
	if maxBatch <= 0 {
		maxBatch = 500
	}
	u := &Users{sink: s, maxBatch: maxBatch, onErr: onErr, onSent: onSent, pending: map[string]*codec.EndUserBatch{},
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go u.run(interval)
	return u
}

// AddUser queues one end user of env (u is copied).
func (u *Users) AddUser(env string, user *codec.EndUser) {
	u.mu.Lock()
	b := u.pending[env]
	if b == nil {
		b = &codec.EndUserBatch{EnvID: env}
		u.pending[env] = b
	}
	b.Users = append(b.Users, *user)
	full := len(b.Users) >= u.maxBatch
	u.mu.Unlock()
	if full {
		select {
		case u.kick <- struct{}{}:
		default:
		}
	}
}

func (u *Users) run(interval time.Duration) {
	defer close(u.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-u.stop:
			u.Flush(context.Background())
			return
		case <-t.C:
		case <-u.kick:
		}
		u.Flush(context.Background())
	}
}

// Flush sends everything queued.
func (u *Users) Flush(ctx context.Context) {
	u.mu.Lock()
	p := u.pending
	u.pending = map[string]*codec.EndUserBatch{}
	u.mu.Unlock()
	for _, b := range p {
		err := u.sink.EndUsers(ctx, b)
		if err != nil && u.onErr != nil {
			u.onErr(err)
		} else if err == nil && u.onSent != nil {
			u.onSent(len(b.Users))
		}
	}
}

// Close flushes and stops the batcher.
func (u *Users) Close() {
	select {
	case <-u.stop:
		return
	default:
	}
	close(u.stop)
	<-u.done
}
