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
// waiting. Within one batch a user (by keyId) appears once, with its latest
// attributes and the widest FirstSeen/LastSeen. Safe for concurrent use.
type Users struct {
	sink     EventSink
	maxBatch int
	onErr    func(error)
	onSent   func(users int)
	// Admit, when set before the first AddUser, is asked before a user new
	// to its environment's batch is queued (a rate limit per environment);
	// refused users are dropped and OnDropped (may be nil) is told.
	Admit     func(env string) bool
	OnDropped func()

	mu      sync.Mutex
	pending map[string]*pendingUsers
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
	u := &Users{sink: s, maxBatch: maxBatch, onErr: onErr, onSent: onSent, pending: map[string]*pendingUsers{},
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go u.run(interval)
	return u
}

type pendingUsers struct {
	batch codec.EndUserBatch
	index map[string]int // keyId → position in batch.Users
}

// Queued reports whether a user of env with this keyId waits in the
// current batch. It allocates nothing, so a caller that would have to copy
// a user's strings for AddUser can skip users already queued (the batch
// then keeps the attributes the user was first queued with).
func (u *Users) Queued(env, keyID string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	p := u.pending[env]
	if p == nil {
		return false
	}
	_, ok := p.index[keyID]
	return ok
}

// AddUser queues one end user of env (u is copied).
func (u *Users) AddUser(env string, user *codec.EndUser) {
	u.mu.Lock()
	p := u.pending[env]
	if p == nil {
		p = &pendingUsers{batch: codec.EndUserBatch{EnvID: env}, index: map[string]int{}}
		u.pending[env] = p
	}
	if i, ok := p.index[user.KeyID]; ok {
		old := p.batch.Users[i]
		nu := *user
		if old.FirstSeen != 0 && (nu.FirstSeen == 0 || old.FirstSeen < nu.FirstSeen) {
			nu.FirstSeen = old.FirstSeen
		}
		if old.LastSeen > nu.LastSeen {
			nu.LastSeen = old.LastSeen
		}
		p.batch.Users[i] = nu
		u.mu.Unlock()
		return
	}
	if u.Admit != nil && !u.Admit(env) {
		u.mu.Unlock()
		if u.OnDropped != nil {
			u.OnDropped()
		}
		return
	}
	p.index[user.KeyID] = len(p.batch.Users)
	p.batch.Users = append(p.batch.Users, *user)
	full := len(p.batch.Users) >= u.maxBatch
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
	u.pending = map[string]*pendingUsers{}
	u.mu.Unlock()
	for _, pu := range p {
		b := &pu.batch
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
