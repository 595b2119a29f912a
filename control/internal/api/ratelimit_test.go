package api

import (
	"strconv"
	"testing"
	"time"
)

// TestSecurityRateLimiterMemoryBounded: an attacker rotating through
// addresses or tokens cannot grow the limiter's map beyond its cap.
func TestSecurityRateLimiterMemoryBounded(t *testing.T) {
	k := newKeyedLimiter(1, 2, 1000)
	now := time.Unix(1_700_000_000, 0)
	for range 2 {
		k.allow("victim", now)
	}
	if ok, wait := k.allow("victim", now); ok || wait <= 0 {
		t.Fatalf("third request within the burst of 2 allowed (wait %s)", wait)
	}
	for i := range 200_000 {
		k.allow("k"+strconv.Itoa(i), now)
		if n := k.size(); n > 1000 {
			t.Fatalf("%d keys tracked, cap 1000", n)
		}
	}
	if newKeyedLimiter(-1, 10, 10).allowAll(now) != true {
		t.Fatal("a negative rate must mean no limit")
	}
}

// allowAll reports whether many requests on one key all pass.
func (k *keyedLimiter) allowAll(now time.Time) bool {
	for range 1000 {
		if ok, _ := k.allow("x", now); !ok {
			return false
		}
	}
	return true
}
