//go:build integration

package source

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/switchyard/switchyard/codec"
)

// TestRemoteSentinelSnapshot reads an environment hash through the Sentinel
// set of ops/services/redisha.sh (no failover here:
// TestOutageRedisSentinelFailover does that).
func TestRemoteSentinelSnapshot(t *testing.T) {
	sentinels, master := os.Getenv("SY_TEST_REDIS_SENTINELS"), os.Getenv("SY_TEST_REDIS_MASTER_SET")
	if sentinels == "" || master == "" {
		t.Fatal("SY_TEST_REDIS_SENTINELS / SY_TEST_REDIS_MASTER_SET are not set (source ops/services/env.sh)")
	}
	env := "test-sentinel-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	w, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: strings.Split(sentinels, ","),
		Sentinel: rueidis.SentinelOption{MasterSet: master}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	defer w.Do(context.Background(), w.B().Del().Key(SnapshotKey(env)).Build())
	kv, err := codec.AppendEnvFields(nil, &codec.EnvSnapshot{EnvID: env, Version: 42})
	if err != nil {
		t.Fatal(err)
	}
	hset := w.B().Hset().Key(SnapshotKey(env)).FieldValue()
	for i := 0; i+1 < len(kv); i += 2 {
		hset = hset.FieldValue(kv[i], kv[i+1])
	}
	if err := w.Do(ctx, hset.Build()).Error(); err != nil {
		t.Fatal(err)
	}

	r, err := NewRemote(RemoteConfig{RedisAddr: sentinels, RedisSentinelMaster: master, Brokers: []string{"127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s, err := r.Snapshot(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	if s.EnvID != env || s.Version != 42 {
		t.Fatalf("got %s v%d, want %s v42", s.EnvID, s.Version, env)
	}
	if _, err := NewRemote(RemoteConfig{RedisAddr: "nohost", RedisSentinelMaster: master}); err == nil || !strings.Contains(err.Error(), "sentinel") {
		t.Fatalf("a sentinel address without a port: %v", err)
	}
}
