package embedded

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchyard/switchyard/analytics/internal/store"
	"github.com/switchyard/switchyard/analytics/internal/store/storetest"
	"github.com/switchyard/switchyard/codec"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(t.TempDir(), 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestPersistence(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range storetest.Fixture("e", "o") {
		if err := s.Insert(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteUser(ctx, "e", "u2"); err != nil {
		t.Fatal(err)
	}
	for _, b := range storetest.Fixture("e2", "o2")[:1] { // appended after the rewrite
		if err := s.Insert(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	r := store.Range{EnvID: "e", FlagKey: "f1", From: storetest.T0, To: storetest.T0.Add(24 * time.Hour)}
	r2 := r
	r2.EnvID = "e2"
	want, _ := s.VariationUsers(ctx, r)
	want2, _ := s.VariationUsers(ctx, r2)
	s.Close()

	// a torn record at the end (crash mid-write) is cut off at reopen
	f, err := os.OpenFile(filepath.Join(dir, logName), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0, 0, 1, 0, 1, 2, 3})
	f.Close()

	s, err = Open(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, _ := s.VariationUsers(ctx, r)
	got2, _ := s.VariationUsers(ctx, r2)
	if len(want) != 2 || len(want2) != 2 || !equal(got, want) || !equal(got2, want2) {
		t.Fatalf("after reopen: %+v %+v, want %+v %+v", got, got2, want, want2)
	}
	// still appendable after the cut
	if err := s.Insert(ctx, storetest.Fixture("e3", "o3")[0]); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, _ = Open(dir, 0)
	r3 := r
	r3.EnvID = "e3"
	got3, _ := s.VariationUsers(ctx, r3)
	if len(got3) != 2 {
		t.Fatalf("e3 after second reopen: %+v", got3)
	}
}

func equal(a, b []store.VariationUsers) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestMaxEventsTrimsOldest(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir, 100)
	if err != nil {
		t.Fatal(err)
	}
	t0 := storetest.T0.UnixMilli()
	for i := 0; i < 150; i++ { // one event per batch, timestamps t0+i
		b := &codec.InsightBatch{EnvID: "e", Evals: []codec.FlagEval{{FlagKey: "f", VariationID: "v", UserKey: fmt.Sprint("u", i), Timestamp: t0 + int64(i)}}}
		if err := s.Insert(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	r := store.Range{EnvID: "e", FlagKey: "f", From: storetest.T0, To: storetest.T0.Add(time.Hour)}
	v, _ := s.VariationUsers(ctx, r)
	// trimmed to 90 whenever it reaches 101 (inserts 101, 112, 123, 134, 145), then 5 more: the newest 95
	if len(v) != 1 || v[0].Evaluations != 95 {
		t.Fatalf("after 150 inserts with cap 100: %+v", v)
	}
	u, _ := s.Users(ctx, store.UsersQuery{Range: r, Limit: 1000})
	for _, x := range u {
		if x.LastSeen < t0+55 {
			t.Fatalf("an old event survived: %+v", x)
		}
	}
	s.Close()
	// the cap also applies at reopen (log replayed: 95 > 50 → 45 kept)
	s, err = Open(dir, 50)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, _ := s.VariationUsers(ctx, r); len(v) != 1 || v[0].Evaluations != 45 {
		t.Fatalf("after reopen: %+v", v)
	}
}

// TestSecurityEventLogPrivate: another local account must not read the
// events (user keys, attributes): the directory is 0700 and events.log 0600,
// also after a rewrite (GDPR erasure) and when an older, world-readable log
// is reopened.
func TestSecurityEventLogPrivate(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "analytics")
	s, err := Open(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range storetest.Fixture("e", "o") {
		if err := s.Insert(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string) {
		t.Helper()
		for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, logName): 0o600} {
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got&^want != 0 {
				t.Errorf("%s: %s is %o, want at most %o", when, path, got, want)
			}
		}
	}
	check("created")
	if err := s.DeleteUser(ctx, "e", "u2"); err != nil {
		t.Fatal(err)
	}
	check("rewritten")
	s.Close()
	if err := os.Chmod(filepath.Join(dir, logName), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	check("reopened")
}
