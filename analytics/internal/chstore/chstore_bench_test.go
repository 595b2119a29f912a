//go:build integration

package chstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/switchyard/switchyard/codec"
)

// fill puts n flag-evaluation rows into c: with realistic key sizes (36-char
// env, user and variation GUIDs) or, small, with short keys.
func fill(c *Columns, n int, base uint64, small bool) {
	env, user, variation := "0f4a3c2e-7d41-4b7e-9a43-5c1d2e3f4a5b", "7a1e5a2c-3b4d-4e5f-8a9b-%012d", "5c1d2e3f-7d41-4b7e-9a43-00000000000%d"
	if small {
		env, user, variation = "env1", "u%d", "v%d"
	}
	b := &codec.InsightBatch{EnvID: env}
	now := time.Now().UnixMilli()
	for i := 0; i < 100; i++ {
		b.Evals = append(b.Evals, codec.FlagEval{FlagKey: fmt.Sprintf("flag-%02d", i%20), VariationID: fmt.Sprintf(variation, i%3),
			Value: "true", UserKey: fmt.Sprintf(user, i), UserName: "user", SendToExperiment: i%2 == 0, Timestamp: now + int64(i)})
	}
	for done := 0; done < n; done += len(b.Evals) {
		off := base + uint64(done)
		c.Add(b, now, func(i int) uint64 { return off + uint64(i) })
	}
}

// BenchmarkColumnarInsert inserts batches of 100,000 and 1,000,000
// flag-evaluation rows (10 columns; 36-character GUID keys or short keys) through PrepareBatch/Column(i).Append/Send; rows/s is the
// figure in docs/analytics.md.
func BenchmarkColumnarInsert(b *testing.B) {
	for _, rows := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("guids/%d", rows), func(b *testing.B) { benchInsert(b, rows, false) })
		b.Run(fmt.Sprintf("small/%d", rows), func(b *testing.B) { benchInsert(b, rows, true) })
	}
	b.Run("unique-users/100000", func(b *testing.B) {
		s := openTest(b)
		var c Columns
		fill(&c, 100_000, 0, false)
		for i := range c.fUser { // every row a different user, as in TestIngestThroughput
			c.fUser[i] = fmt.Sprintf("7a1e5a2c-3b4d-4e5f-8a9b-%012d", i)
		}
		runInsert(b, s, &c)
	})
}

func benchInsert(b *testing.B, rows int, small bool) {
	s := openTest(b)
	var c Columns
	fill(&c, rows, 0, small)
	runInsert(b, s, &c)
}

func runInsert(b *testing.B, s *Store, c *Columns) {
	rows := c.Rows()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.flagsSent = false
		if err := s.Write(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// TestDuplicateBatchCollapses re-sends one batch (as after an insert that timed
// out although ClickHouse stored it): raw rows double, distinct event ids do
// not, and a merge (OPTIMIZE … FINAL) removes the copies.
func TestDuplicateBatchCollapses(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	var c Columns
	fill(&c, 1000, 1, false)
	for i := 0; i < 2; i++ {
		c.flagsSent = false
		if err := s.Write(ctx, &c); err != nil {
			t.Fatal(err)
		}
	}
	q := fmt.Sprintf("SELECT count(), uniqExact(eid) FROM %s.flag_events", s.db)
	var raw, distinct uint64
	if err := s.conn.QueryRow(ctx, q).Scan(&raw, &distinct); err != nil || raw != 2000 || distinct != 1000 {
		t.Fatalf("before merge: raw %d distinct %d (%v), want 2000 1000", raw, distinct, err)
	}
	var final uint64
	if err := s.conn.QueryRow(ctx, fmt.Sprintf("SELECT count() FROM %s.flag_events FINAL", s.db)).Scan(&final); err != nil || final != 1000 {
		t.Fatalf("FINAL count %d (%v), want 1000", final, err)
	}
	if err := s.conn.Exec(ctx, fmt.Sprintf("OPTIMIZE TABLE %s.flag_events FINAL", s.db)); err != nil {
		t.Fatal(err)
	}
	if err := s.conn.QueryRow(ctx, q).Scan(&raw, &distinct); err != nil || raw != 1000 {
		t.Fatalf("after merge: raw %d (%v), want 1000", raw, err)
	}
}
