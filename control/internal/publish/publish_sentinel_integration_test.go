//go:build integration

package publish

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/switchyard/switchyard/codec"
)

// TestRedisSentinelWrites points the snapshot writer at the Sentinel set of
// ops/services/redisha.sh (no failover here: TestOutageRedisSentinelFailover
// does that) and checks the hash lands on the primary the sentinels name.
func TestRedisSentinelWrites(t *testing.T) {
	sentinels, master := os.Getenv("SY_TEST_REDIS_SENTINELS"), os.Getenv("SY_TEST_REDIS_MASTER_SET")
	if sentinels == "" || master == "" {
		t.Fatal("SY_TEST_REDIS_SENTINELS / SY_TEST_REDIS_MASTER_SET are not set (source ops/services/env.sh)")
	}
	r, err := NewRedisSentinel(sentinels, master)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	env := "test-sentinel-" + strings.ReplaceAll(time.Now().Format("150405.000000000"), ".", "")
	t.Cleanup(func() { r.c.Do(context.Background(), r.c.B().Del().Key(SnapshotKey(env)).Build()) })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.WriteSnapshot(ctx, &codec.EnvSnapshot{EnvID: env, Version: 7}); err != nil {
		t.Fatal(err)
	}
	if s := readEnv(t, r, env); s == nil || s.Version != 7 {
		t.Fatalf("read back %+v, want version 7", s)
	}
	// The hash is on the server the sentinels name as primary, read with a
	// client of its own (not through the writer's connection).
	sc, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: strings.Split(sentinels, ","), DisableCache: true, ForceSingleClient: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	addr, err := sc.Do(ctx, sc.B().Arbitrary("SENTINEL", "GET-MASTER-ADDR-BY-NAME").Args(master).Build()).AsStrSlice()
	if err != nil || len(addr) != 2 {
		t.Fatalf("sentinel get-master-addr-by-name: %v %v", addr, err)
	}
	pc, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr[0] + ":" + addr[1]}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	v, err := pc.Do(ctx, pc.B().Hget().Key(SnapshotKey(env)).Field("_v").Build()).ToString()
	if err != nil || v != "7" {
		t.Fatalf("primary %v: _v %q %v, want 7", addr, v, err)
	}
	if r, err := NewRedisSentinel(sentinels, "nosuchset"); err == nil {
		r.Close()
		t.Fatal("a master set the sentinels do not know was accepted")
	}
	if _, err := NewRedisSentinel(sentinels, "no such set"); err == nil {
		t.Fatal("a master set name with a space was accepted")
	}
}
