// Package limit holds keyed token-bucket rate limiters (golang.org/x/time/rate)
// with bounded memory, for the edge's per-address, per-secret and
// per-environment limits.
//
// A Keyed limiter keeps one bucket per key in a sharded map. Allow on a key
// that already has a bucket does not allocate and reads no system clock: a
// janitor goroutine refreshes a coarse clock every Tick (buckets refill in
// steps of at most one tick) and evicts buckets unused for Idle, which is at
// least the time a bucket takes to refill, so evicting one never grants more
// than a full bucket would. At most MaxKeys buckets exist; a new key beyond
// that is refused (fail closed) until idle buckets are evicted.
//
// Concurrency: every method is safe for concurrent use. Close stops the
// janitor.
package limit

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Config of a Keyed limiter. Rate <= 0 disables it (Allow always true).
type Config struct {
	Rate    float64       // tokens per second
	Burst   int           // bucket size [max(1, 2 × Rate)]
	MaxKeys int           // buckets kept at most [100,000]
	Idle    time.Duration // evict buckets unused this long [max(1m, refill time)]
	Tick    time.Duration // clock and refill granularity [50ms]
}

const shards = 64

// Keyed is a set of token buckets, one per key.
type Keyed[K comparable] struct {
	cfg    Config
	perMax int
	clock  atomic.Int64 // unix ns, refreshed every Tick
	shards [shards]struct {
		mu sync.Mutex
		m  map[K]*entry
	}
	hash func(K) uint32
	stop chan struct{}
	once sync.Once
}

type entry struct {
	l    *rate.Limiter
	last atomic.Int64 // unix ns of the last Allow
}

// New returns a limiter; hash spreads keys over shards. It starts the
// janitor unless the limiter is disabled.
func New[K comparable](cfg Config, hash func(K) uint32) *Keyed[K] {
	if cfg.Burst <= 0 {
		cfg.Burst = max(1, int(2*cfg.Rate))
	}
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = 100_000
	}
	if cfg.Tick <= 0 {
		cfg.Tick = 50 * time.Millisecond
	}
	if cfg.Rate > 0 {
		refill := time.Duration(float64(cfg.Burst) / cfg.Rate * float64(time.Second))
		cfg.Idle = max(cfg.Idle, time.Minute, refill)
	}
	k := &Keyed[K]{cfg: cfg, perMax: max(1, cfg.MaxKeys/shards), hash: hash, stop: make(chan struct{})}
	k.clock.Store(time.Now().UnixNano())
	if cfg.Rate > 0 {
		go k.janitor()
	}
	return k
}

// Enabled reports whether the limiter limits anything.
func (k *Keyed[K]) Enabled() bool { return k != nil && k.cfg.Rate > 0 }

// Allow takes n tokens of key's bucket and reports whether it could.
// It does not allocate when key has a bucket.
func (k *Keyed[K]) Allow(key K, n int) bool {
	if !k.Enabled() {
		return true
	}
	now := k.clock.Load()
	sh := &k.shards[k.hash(key)%shards]
	sh.mu.Lock()
	e := sh.m[key]
	if e == nil {
		if len(sh.m) >= k.perMax {
			sh.mu.Unlock()
			return false
		}
		if sh.m == nil {
			sh.m = make(map[K]*entry)
		}
		e = &entry{l: rate.NewLimiter(rate.Limit(k.cfg.Rate), k.cfg.Burst)} // starts full
		sh.m[key] = e
	}
	sh.mu.Unlock()
	e.last.Store(now)
	return e.l.AllowN(time.Unix(0, now), n)
}

// RetryAfter is the whole number of seconds (at least 1) after which a
// refused single token is available again.
func (k *Keyed[K]) RetryAfter() int {
	if !k.Enabled() {
		return 1
	}
	return max(1, int(math.Ceil(1/k.cfg.Rate)))
}

// Len returns the number of buckets (tests, metrics).
func (k *Keyed[K]) Len() int {
	n := 0
	for i := range k.shards {
		sh := &k.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// Close stops the janitor.
func (k *Keyed[K]) Close() { k.once.Do(func() { close(k.stop) }) }

func (k *Keyed[K]) janitor() {
	t := time.NewTicker(k.cfg.Tick)
	defer t.Stop()
	lastSweep := time.Now()
	for {
		select {
		case <-k.stop:
			return
		case now := <-t.C:
			k.clock.Store(now.UnixNano())
			if now.Sub(lastSweep) >= k.cfg.Idle/4 {
				lastSweep = now
				k.Evict(now)
			}
		}
	}
}

// Evict drops buckets unused for Idle before now.
func (k *Keyed[K]) Evict(now time.Time) {
	cut := now.Add(-k.cfg.Idle).UnixNano()
	for i := range k.shards {
		sh := &k.shards[i]
		sh.mu.Lock()
		for key, e := range sh.m {
			if e.last.Load() < cut {
				delete(sh.m, key)
			}
		}
		sh.mu.Unlock()
	}
}

// SetClock sets the coarse clock (tests: a limiter whose janitor does not
// run, Rate > 0 with a long Tick).
func (k *Keyed[K]) SetClock(t time.Time) { k.clock.Store(t.UnixNano()) }

// StringHash is FNV-1a over a string key (no allocation).
func StringHash(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

// BytesHash16Key hashes a 16-byte key (an address, wsconn.AddrKey).
func BytesHash16Key[K ~[16]byte](b K) uint32 {
	h := uint32(2166136261)
	for _, c := range b {
		h ^= uint32(c)
		h *= 16777619
	}
	return h
}
