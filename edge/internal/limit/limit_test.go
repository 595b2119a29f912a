package limit

import (
	"testing"
	"time"
)

func newTest(cfg Config) *Keyed[string] {
	cfg.Tick = time.Hour // no janitor ticks: the test drives the clock
	k := New(cfg, StringHash)
	return k
}

func TestBurstThenRefill(t *testing.T) {
	k := newTest(Config{Rate: 10, Burst: 5})
	defer k.Close()
	t0 := time.Unix(1_000_000, 0)
	k.SetClock(t0)
	for i := 0; i < 5; i++ {
		if !k.Allow("a", 1) {
			t.Fatalf("request %d of the burst refused", i)
		}
	}
	if k.Allow("a", 1) {
		t.Fatal("6th request within the burst allowed")
	}
	if !k.Allow("b", 1) {
		t.Fatal("another key is limited by a's bucket")
	}
	k.SetClock(t0.Add(200 * time.Millisecond)) // 2 tokens
	if !k.Allow("a", 2) || k.Allow("a", 1) {
		t.Fatal("refill is not rate × elapsed")
	}
	if k.RetryAfter() != 1 {
		t.Fatalf("RetryAfter %d", k.RetryAfter())
	}
}

func TestIdleKeysAreEvictedAndKeysAreBounded(t *testing.T) {
	k := newTest(Config{Rate: 1, Burst: 1, MaxKeys: shards, Idle: time.Minute})
	defer k.Close()
	t0 := time.Unix(1_000_000, 0)
	k.SetClock(t0)
	refused := 0
	for i := 0; i < 10*shards; i++ {
		if !k.Allow(string(rune('a'+i%26))+string(rune(i)), 1) {
			refused++
		}
	}
	if k.Len() > shards || refused == 0 {
		t.Fatalf("%d buckets, %d refused: MaxKeys not enforced", k.Len(), refused)
	}
	k.Evict(t0.Add(2 * time.Minute))
	if k.Len() != 0 {
		t.Fatalf("%d buckets left after eviction", k.Len())
	}
}

func TestAllowOnExistingKeyIsAllocationFree(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation budgets are not checked under the race detector")
	}
	k := newTest(Config{Rate: 1e9, Burst: 1e9})
	defer k.Close()
	k.SetClock(time.Unix(1_000_000, 0))
	key := "0123456789012345678901234567890123456789abcd"
	k.Allow(key, 1)
	if n := testing.AllocsPerRun(1000, func() { k.Allow(key, 1) }); n != 0 {
		t.Fatalf("%v allocations per Allow", n)
	}
}

func TestDisabledAllowsEverything(t *testing.T) {
	var k *Keyed[string]
	if !k.Allow("x", 1000) {
		t.Fatal("nil limiter refused")
	}
	k = New(Config{}, StringHash)
	if !k.Allow("x", 1000) || k.Len() != 0 {
		t.Fatal("zero-rate limiter limits")
	}
}
