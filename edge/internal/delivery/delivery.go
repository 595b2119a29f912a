// Package delivery sends the edge's delivery reports (codec.DeliveryReport):
// after each change the hub fanned out, which environment version its
// streaming connections now hold, and every Interval a heartbeat with the
// census of every environment's connections. Control aggregates them into
// delivery receipts and the live view of connected SDKs.
//
// Flow control: the hub's callback (Delivered) only appends to a bounded
// queue under a mutex and never blocks; one goroutine sends a batch at most
// every Linger after the first queued change, and a heartbeat every
// Interval. When more than MaxQueued changes wait (the sender is slow or
// Kafka is down), the oldest report of each environment is dropped: a newer
// version of an environment covers the older ones, so a receipt still
// completes; only the request ids of the dropped changes are not reported
// by this edge (control also learns them from its own publisher), and the
// drop is counted. Send is not retried: the next heartbeat states the same
// facts again.
package delivery

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/codec"
)

// Sender delivers one report (Kafka in production, control itself in the
// all-in-one binary). It must not retain r.
type Sender interface {
	Deliveries(ctx context.Context, r *codec.DeliveryReport) error
}

// Config of a Reporter.
type Config struct {
	Interval  time.Duration // heartbeat period (default 5 s)
	Linger    time.Duration // how long change reports are collected before a send (default 20 ms)
	MaxQueued int           // change reports held between sends (default 1024)
	// Census returns the heartbeat's environments (hub.Census).
	Census func() []codec.EnvDelivery
	// Now returns Unix ms (tests); nil: the clock.
	Now func() int64
	// OnError is told about failed sends (may be nil).
	OnError func(error)
}

// Reporter collects change reports and sends them with heartbeats.
type Reporter struct {
	cfg  Config
	send Sender
	id   string

	mu      sync.Mutex
	queued  []codec.EnvDelivery
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	dropped atomic.Int64
	sent    atomic.Int64
}

// New starts a reporter that sends through s.
func New(cfg Config, s Sender) *Reporter {
	if cfg.Interval <= 0 {
		cfg.Interval = 5 * time.Second
	}
	if cfg.Linger <= 0 {
		cfg.Linger = 20 * time.Millisecond
	}
	if cfg.MaxQueued <= 0 {
		cfg.MaxQueued = 1024
	}
	if cfg.Now == nil {
		cfg.Now = func() int64 { return time.Now().UnixMilli() }
	}
	host, _ := os.Hostname()
	r := &Reporter{cfg: cfg, send: s, id: fmt.Sprintf("%s:%d:%d", host, os.Getpid(), cfg.Now()),
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go r.loop()
	return r
}

// ID is the edge instance id the reports carry.
func (r *Reporter) ID() string { return r.id }

// Dropped is the number of change reports dropped because the queue was full.
func (r *Reporter) Dropped() int64 { return r.dropped.Load() }

// Sent is the number of reports sent.
func (r *Reporter) Sent() int64 { return r.sent.Load() }

// Delivered queues a change report (hub.DeliveredFunc). It never blocks.
func (r *Reporter) Delivered(d codec.EnvDelivery) {
	r.mu.Lock()
	if len(r.queued) >= r.cfg.MaxQueued {
		r.dropOldest(d.EnvID)
	}
	r.queued = append(r.queued, d)
	r.mu.Unlock()
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// dropOldest removes the oldest queued report of env (or, if env has none,
// the oldest of all). r.mu is held.
func (r *Reporter) dropOldest(env string) {
	at := 0
	for i := range r.queued {
		if r.queued[i].EnvID == env {
			at = i
			break
		}
	}
	r.queued = append(r.queued[:at], r.queued[at+1:]...)
	r.dropped.Add(1)
}

func (r *Reporter) loop() {
	defer close(r.done)
	hb := time.NewTicker(r.cfg.Interval)
	defer hb.Stop()
	r.heartbeat()
	for {
		select {
		case <-r.stop:
			r.flush()
			return
		case <-hb.C:
			r.flush()
			r.heartbeat()
		case <-r.kick:
			select {
			case <-time.After(r.cfg.Linger):
			case <-r.stop:
			}
			r.flush()
		}
	}
}

// flush sends the queued change reports as one report.
func (r *Reporter) flush() {
	r.mu.Lock()
	q := r.queued
	r.queued = nil
	r.mu.Unlock()
	if len(q) == 0 {
		return
	}
	r.deliver(&codec.DeliveryReport{Edge: r.id, At: r.cfg.Now(), Interval: r.cfg.Interval.Milliseconds(), Envs: q})
}

// heartbeat sends the census (also when empty: control learns the edge is
// alive and has no connections).
func (r *Reporter) heartbeat() {
	var envs []codec.EnvDelivery
	if r.cfg.Census != nil {
		envs = r.cfg.Census()
	}
	r.deliver(&codec.DeliveryReport{Edge: r.id, At: r.cfg.Now(), Interval: r.cfg.Interval.Milliseconds(), Heartbeat: true, Envs: envs})
}

func (r *Reporter) deliver(rep *codec.DeliveryReport) {
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.Interval)
	defer cancel()
	if err := r.send.Deliveries(ctx, rep); err != nil {
		if r.cfg.OnError != nil {
			r.cfg.OnError(err)
		}
		return
	}
	r.sent.Add(1)
}

// Close sends what is queued and stops.
func (r *Reporter) Close() {
	close(r.stop)
	<-r.done
}
