package auth

import (
	"sync"
	"time"
)

// Limiter throttles login attempts per key (account + client IP). After
// Free failed attempts in a row, each further failure locks the key for
// Base·2^(n-Free) (capped at Max); a success clears the key. Entries idle for
// longer than Max are forgotten.
type Limiter struct {
	Free int
	Base time.Duration
	Max  time.Duration
	Now  func() time.Time

	mu   sync.Mutex
	keys map[string]*attempts
}

type attempts struct {
	failures int
	until    time.Time
	last     time.Time
}

// NewLimiter returns a Limiter with 5 free failures, 1 s base and 15 min cap.
func NewLimiter() *Limiter {
	return &Limiter{Free: 5, Base: time.Second, Max: 15 * time.Minute, Now: time.Now, keys: map[string]*attempts{}}
}

// Allow reports whether an attempt for key may proceed now; if not, it
// returns how long to wait.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a := l.keys[key]
	if a == nil {
		return true, 0
	}
	if wait := a.until.Sub(l.Now()); wait > 0 {
		return false, wait
	}
	return true, 0
}

// Fail records a failed attempt and returns the lockout it caused (0 while
// failures are free).
func (l *Limiter) Fail(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.Now()
	l.gc(now)
	a := l.keys[key]
	if a == nil {
		a = &attempts{}
		l.keys[key] = a
	}
	a.failures++
	a.last = now
	if a.failures < l.Free {
		return 0
	}
	d := l.Base << min(a.failures-l.Free, 20)
	if d > l.Max || d <= 0 {
		d = l.Max
	}
	a.until = now.Add(d)
	return d
}

// Succeed clears the key.
func (l *Limiter) Succeed(key string) {
	l.mu.Lock()
	delete(l.keys, key)
	l.mu.Unlock()
}

func (l *Limiter) gc(now time.Time) {
	if len(l.keys) < 10000 {
		return
	}
	for k, a := range l.keys {
		if now.Sub(a.last) > l.Max && now.After(a.until) {
			delete(l.keys, k)
		}
	}
}
