//go:build integration

package publish

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/codec"
)

func TestRedisNeverGoesBack(t *testing.T) {
	addr := os.Getenv("SY_TEST_REDIS_ADDR")
	if addr == "" {
		t.Fatal("SY_TEST_REDIS_ADDR is not set")
	}
	r, err := NewRedis(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	env := "test-" + hex.EncodeToString(rnd[:]) + strings.Repeat("x", 20) // 36 characters like a GUID
	ctx := context.Background()
	defer r.c.Do(ctx, r.c.B().Del().Key(SnapshotKey(env)).Build())
	read := func() int64 {
		b, err := r.c.Do(ctx, r.c.B().Get().Key(SnapshotKey(env)).Build()).AsBytes()
		if err != nil {
			t.Fatal(err)
		}
		var s codec.EnvSnapshot
		if _, err := s.UnmarshalMsg(b); err != nil {
			t.Fatal(err)
		}
		return s.Version
	}
	// Versions across every msgp integer width: the stored one is always
	// the highest written so far.
	maxV := int64(0)
	for _, v := range []int64{5, 3, 127, 100, 128, 120, 40000, 32767, 70000, 69999, 1 << 40, 1<<40 - 1, 1<<40 + 1} {
		if err := r.WriteSnapshot(ctx, &codec.EnvSnapshot{EnvID: env, Version: v}); err != nil {
			t.Fatal(err)
		}
		maxV = max(maxV, v)
		if got := read(); got != maxV {
			t.Fatalf("after writing %d: stored version %d, want %d", v, got, maxV)
		}
	}
	// Same version rewrites (republish after a crash); older does not.
	if err := r.WriteSnapshot(ctx, &codec.EnvSnapshot{EnvID: env, Version: 1<<40 + 1, Flags: []codec.Flag{{Key: "x"}}}); err != nil {
		t.Fatal(err)
	}
	b, _ := r.c.Do(ctx, r.c.B().Get().Key(SnapshotKey(env)).Build()).AsBytes()
	var s codec.EnvSnapshot
	if _, err := s.UnmarshalMsg(b); err != nil || len(s.Flags) != 1 {
		t.Fatalf("same-version rewrite: %v %d", err, len(s.Flags))
	}
	// Garbage is overwritten.
	r.c.Do(ctx, r.c.B().Set().Key(SnapshotKey(env)).Value("garbage").Build())
	if err := r.WriteSnapshot(ctx, &codec.EnvSnapshot{EnvID: env, Version: 2}); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != 2 {
		t.Fatalf("after garbage: %d", got)
	}
}
