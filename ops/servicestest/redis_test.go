//go:build integration

package servicestest

import (
	"testing"
	"time"

	"github.com/redis/rueidis"
)

// TestRedis checks SET/GET and RESP3 client-side caching: a cached GET is served from the
// client's cache until another connection writes the key, then the server's invalidation
// makes the next cached GET return the new value.
func TestRedis(t *testing.T) {
	addr := env(t, "SY_TEST_REDIS_ADDR")
	ctx := ctxFor(t, 60*time.Second)

	cached, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}})
	if err != nil {
		t.Fatalf("rueidis client: %v", err)
	}
	defer cached.Close()
	writer, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	if err != nil {
		t.Fatalf("rueidis writer: %v", err)
	}
	defer writer.Close()

	key := "sy:svctest:" + suffix()
	defer writer.Do(ctx, writer.B().Del().Key(key).Build())

	if err := cached.Do(ctx, cached.B().Set().Key(key).Value("v1").Build()).Error(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	if got, err := cached.Do(ctx, cached.B().Get().Key(key).Build()).ToString(); err != nil || got != "v1" {
		t.Fatalf("GET = %q, %v; want v1", got, err)
	}

	get := func() rueidis.RedisResult { return cached.DoCache(ctx, cached.B().Get().Key(key).Cache(), time.Minute) }
	first := get()
	if v, err := first.ToString(); err != nil || v != "v1" {
		t.Fatalf("first DoCache = %q, %v; want v1", v, err)
	}
	second := get()
	if v, err := second.ToString(); err != nil || v != "v1" {
		t.Fatalf("second DoCache = %q, %v; want v1", v, err)
	}
	if !second.IsCacheHit() {
		t.Fatalf("second DoCache was not served from the client-side cache (RESP3 tracking off?)")
	}

	// Another connection writes; the server must invalidate the cached entry (TTL is a minute,
	// so seeing v2 before that proves the invalidation).
	if err := writer.Do(ctx, writer.B().Set().Key(key).Value("v2").Build()).Error(); err != nil {
		t.Fatalf("SET from writer: %v", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := get()
		v, err := r.ToString()
		if err != nil {
			t.Fatalf("DoCache after write: %v", err)
		}
		if v == "v2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cached value still %q after another connection wrote v2: no invalidation", v)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r := get(); !r.IsCacheHit() {
		t.Errorf("value was not cached again after invalidation")
	}
}
