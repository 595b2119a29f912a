//go:build integration

package chstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/switchyard/switchyard/analytics/internal/store"
	"github.com/switchyard/switchyard/analytics/internal/store/storetest"
)

// OpenTest opens a store on a fresh random database of SY_TEST_CLICKHOUSE_ADDR,
// migrated, dropped at cleanup.
func openTest(t testing.TB) *Store {
	addr := os.Getenv("SY_TEST_CLICKHOUSE_ADDR")
	if addr == "" {
		t.Fatal("SY_TEST_CLICKHOUSE_ADDR is not set (source ops/services/env.sh)")
	}
	s, err := Open(addr, fmt.Sprintf("sy_test_%x", rand.Uint64()), "", "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+s.db)
		s.Close()
	})
	return s
}

func TestConformanceClickHouse(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTest(t) })
}

func TestMigrateIdempotent(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	v, err := s.Version(ctx)
	if err != nil || v != SchemaVersion {
		t.Fatalf("version %d %v, want %d", v, err, SchemaVersion)
	}
	var n uint64
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM system.columns WHERE database = ? AND name = 'ingested_at'", s.db).Scan(&n); err != nil || n != 2 {
		t.Fatalf("ingested_at columns: %d %v", n, err)
	}
}
