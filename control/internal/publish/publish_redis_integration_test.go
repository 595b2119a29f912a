//go:build integration

package publish

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/codec"
)

func newTestRedis(t *testing.T) (*Redis, string) {
	t.Helper()
	addr := os.Getenv("SY_TEST_REDIS_ADDR")
	if addr == "" {
		t.Fatal("SY_TEST_REDIS_ADDR is not set")
	}
	r, err := NewRedis(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	env := "test-" + hex.EncodeToString(rnd[:]) + strings.Repeat("x", 19) // 36 characters like a GUID
	t.Cleanup(func() {
		r.c.Do(context.Background(), r.c.B().Del().Key(SnapshotKey(env)).Build())
		r.c.Do(context.Background(), r.c.B().Del().Key(TombstoneKey(env)).Build())
	})
	return r, env
}

func readEnv(t *testing.T, r *Redis, env string) *codec.EnvSnapshot {
	t.Helper()
	fields, err := r.c.Do(context.Background(), r.c.B().Hgetall().Key(SnapshotKey(env)).Build()).AsStrMap()
	if err != nil {
		t.Fatal(err)
	}
	if len(fields) == 0 {
		return nil
	}
	s, err := codec.EnvFromFields(env, fields)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRedisNeverGoesBack(t *testing.T) {
	r, env := newTestRedis(t)
	ctx := context.Background()
	maxV := int64(0)
	for _, v := range []int64{5, 3, 127, 100, 128, 120, 40000, 32767, 70000, 69999, 1 << 40, 1<<40 - 1, 1<<40 + 1} {
		if err := r.WriteSnapshot(ctx, &codec.EnvSnapshot{EnvID: env, Version: v}); err != nil {
			t.Fatal(err)
		}
		maxV = max(maxV, v)
		if got := readEnv(t, r, env).Version; got != maxV {
			t.Fatalf("after writing %d: stored version %d, want %d", v, got, maxV)
		}
	}
	// Same version rewrites (republish after a crash); older does not.
	if err := r.WriteSnapshot(ctx, &codec.EnvSnapshot{EnvID: env, Version: 1<<40 + 1, Flags: []codec.Flag{{ID: "x", Key: "x"}}}); err != nil {
		t.Fatal(err)
	}
	if s := readEnv(t, r, env); len(s.Flags) != 1 {
		t.Fatalf("same-version rewrite: %d flags", len(s.Flags))
	}
	// A key of another type is replaced.
	r.c.Do(ctx, r.c.B().Del().Key(SnapshotKey(env)).Build())
	r.c.Do(ctx, r.c.B().Set().Key(SnapshotKey(env)).Value("garbage").Build())
	if err := r.WriteSnapshot(ctx, &codec.EnvSnapshot{EnvID: env, Version: 2}); err != nil {
		t.Fatal(err)
	}
	if got := readEnv(t, r, env).Version; got != 2 {
		t.Fatalf("after garbage: %d", got)
	}
}

// TestRedisChangesTouchOnlyTheirItems: a change rewrites its item's field
// and the version, leaves the others alone, never applies an older batch,
// is refused (ErrEnvMissing) when the hash is gone — so a partial hash is
// never created — and nothing is written after the tombstone.
func TestRedisChangesTouchOnlyTheirItems(t *testing.T) {
	r, env := newTestRedis(t)
	ctx := context.Background()
	if err := r.WriteChanges(ctx, env, 2, nil); !errors.Is(err, codec.ErrEnvMissing) {
		t.Fatalf("changes to a missing hash: %v", err)
	}
	if readEnv(t, r, env) != nil {
		t.Fatal("a change created a partial hash")
	}
	a, b := codec.Flag{ID: "a", Key: "a", Version: 1}, codec.Flag{ID: "b", Key: "b", Version: 1}
	if err := r.WriteSnapshot(ctx, &codec.EnvSnapshot{EnvID: env, Version: 3, Flags: []codec.Flag{a, b},
		Secrets: []codec.EnvSecret{{Type: "server", Value: "s1"}}}); err != nil {
		t.Fatal(err)
	}
	ev := func(f codec.Flag, op string) *codec.ChangeEvent {
		p, _ := f.MarshalMsg(nil)
		return &codec.ChangeEvent{EnvID: env, Kind: codec.KindFlag, Op: op, ID: f.ID, Version: f.Version, Payload: p}
	}
	a.Version, a.IsEnabled = 2, true
	if err := r.WriteChanges(ctx, env, 4, []*codec.ChangeEvent{ev(a, codec.OpUpsert)}); err != nil {
		t.Fatal(err)
	}
	old := a
	old.Version, old.IsEnabled = 1, false
	if err := r.WriteChanges(ctx, env, 4, []*codec.ChangeEvent{ev(old, codec.OpUpsert)}); err != nil {
		t.Fatal(err)
	}
	s := readEnv(t, r, env)
	if s.Version != 4 || len(s.Flags) != 2 || s.Flags[0].Version != 2 || !s.Flags[0].IsEnabled || s.Flags[1].Version != 1 || len(s.Secrets) != 1 {
		t.Fatalf("after changes: %+v", s)
	}
	if err := r.WriteChanges(ctx, env, 5, []*codec.ChangeEvent{ev(b, codec.OpDelete)}); err != nil {
		t.Fatal(err)
	}
	if s := readEnv(t, r, env); s.Version != 5 || len(s.Flags) != 1 || s.Flags[0].ID != "a" {
		t.Fatalf("after a delete: %+v", s)
	}
	if m, err := r.Missing(ctx, []string{env, env + "-none"}); err != nil || len(m) != 1 || m[0] != env+"-none" {
		t.Fatalf("missing %v %v", m, err)
	}
	if err := r.DeleteSnapshot(ctx, env); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteSnapshot(ctx, &codec.EnvSnapshot{EnvID: env, Version: 9}); err != nil {
		t.Fatal(err)
	}
	if readEnv(t, r, env) != nil {
		t.Fatal("a deleted environment was written again")
	}
}

// TestRedisBatchWritesEveryItem: a batch event writes one hash field per
// flag it carries (and the version), leaving the other items.
func TestRedisBatchWritesEveryItem(t *testing.T) {
	r, env := newTestRedis(t)
	ctx := context.Background()
	keep := codec.Flag{ID: "keep", Key: "keep", Version: 1}
	if err := r.WriteSnapshot(ctx, &codec.EnvSnapshot{EnvID: env, Version: 3, Flags: []codec.Flag{keep}}); err != nil {
		t.Fatal(err)
	}
	b := &codec.EnvSnapshot{EnvID: env, Version: 4}
	for i := range 1000 {
		b.Flags = append(b.Flags, codec.Flag{ID: fmt.Sprintf("f%04d", i), Key: fmt.Sprintf("k%04d", i), Version: 1})
	}
	p, err := b.MarshalMsg(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.WriteChanges(ctx, env, 4, []*codec.ChangeEvent{{EnvID: env, Kind: codec.KindBatch, Op: codec.OpUpsert, ID: "b", Version: 4, EnvVersion: 4, Payload: p}}); err != nil {
		t.Fatal(err)
	}
	s := readEnv(t, r, env)
	if s.Version != 4 || len(s.Flags) != 1001 {
		t.Fatalf("hash at version %d with %d flags, want 4 and 1001", s.Version, len(s.Flags))
	}
}
