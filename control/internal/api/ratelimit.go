package api

import (
	"net/http"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/switchyard/switchyard/control/internal/store"
)

// Rate limits. Authenticated requests are limited per session or access
// token; public routes (login, trigger runs, and anything else without
// authentication) and requests whose credentials are refused are limited
// per client address (IPv6: per /64). Over the limit the answer is 429 with
// Retry-After. The login throttle (per account) is separate.

func (c *Config) rateDefaults() {
	if c.RateLimit == 0 {
		c.RateLimit = 50
	}
	if c.RateBurst <= 0 {
		c.RateBurst = 200
	}
	if c.PublicRateLimit == 0 {
		c.PublicRateLimit = 2
	}
	if c.PublicRateBurst <= 0 {
		c.PublicRateBurst = 20
	}
	if c.RateLimitKeys <= 0 {
		c.RateLimitKeys = 100_000
	}
}

// keyedLimiter is a token bucket per key with bounded memory: at most max
// keys are tracked; when full, keys idle long enough to have a full bucket
// again are dropped (forgetting them changes nothing), then, if still full,
// arbitrary ones (which at worst get a fresh burst).
type keyedLimiter struct {
	limit rate.Limit
	burst int
	max   int

	mu sync.Mutex
	m  map[string]*keyedEntry
}

type keyedEntry struct {
	lim  *rate.Limiter
	last time.Time
}

func newKeyedLimiter(perSecond float64, burst, max int) *keyedLimiter {
	if perSecond <= 0 {
		return nil // no limit
	}
	return &keyedLimiter{limit: rate.Limit(perSecond), burst: max1(burst), max: max1(max), m: map[string]*keyedEntry{}}
}

func max1(n int) int { return max(n, 1) }

// allow takes one token for key; if none is left it returns the wait until
// one is.
func (k *keyedLimiter) allow(key string, now time.Time) (bool, time.Duration) {
	if k == nil {
		return true, 0
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	e := k.m[key]
	if e == nil {
		if len(k.m) >= k.max {
			k.evict(now)
		}
		e = &keyedEntry{lim: rate.NewLimiter(k.limit, k.burst)}
		k.m[key] = e
	}
	e.last = now
	r := e.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// evict makes room: it drops the keys idle long enough to have a full
// bucket again and then, if still full, a tenth of the keys (arbitrary
// ones), so the sweep's cost is shared by the next max/10 new keys. Caller
// holds mu.
func (k *keyedLimiter) evict(now time.Time) {
	refill := time.Duration(float64(k.burst) / float64(k.limit) * float64(time.Second))
	for key, e := range k.m {
		if now.Sub(e.last) > refill {
			delete(k.m, key)
		}
	}
	drop := len(k.m) - k.max + max(k.max/10, 1)
	for key := range k.m {
		if drop <= 0 {
			return
		}
		delete(k.m, key)
		drop--
	}
}

// size returns the number of tracked keys.
func (k *keyedLimiter) size() int {
	if k == nil {
		return 0
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.m)
}

// addrKey is the rate-limit key of a request's client address.
func addrKey(r *http.Request) string {
	ip, err := netip.ParseAddr(clientIP(r))
	if err != nil {
		return clientIP(r)
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

func tooMany(wait time.Duration, what string) error {
	return &retryAfter{wait: max(wait, time.Second), err: store.Errorf(store.ErrTooMany, "too many requests %s; retry later", what)}
}

// limitAddr charges the client address of a request.
func (a *API) limitAddr(r *http.Request) error {
	if ok, wait := a.ipLim.allow(addrKey(r), time.Now()); !ok {
		return tooMany(wait, "from this address")
	}
	return nil
}

// limitPrincipal charges an authenticated caller's session or token.
func (a *API) limitPrincipal(p *principal) error {
	key := "s:" + p.session
	if p.token != nil {
		key = "t:" + p.token.ID
	}
	if ok, wait := a.authLim.allow(key, time.Now()); !ok {
		return tooMany(wait, "with this credential")
	}
	return nil
}
