package analytics

import (
	"context"
	"testing"
	"time"

	"github.com/switchyard/switchyard/analytics/internal/store"
	"github.com/switchyard/switchyard/codec"
)

// TestRetentionJob: with Retention set, the job (which runs at Start) deletes
// events older than the retention and keeps newer ones.
func TestRetentionJob(t *testing.T) {
	s, err := New(Config{DataDir: t.TempDir(), Addr: "-", Retention: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	now := time.Now()
	ctx := context.Background()
	b := &codec.InsightBatch{EnvID: "e", Evals: []codec.FlagEval{
		{FlagKey: "f", VariationID: "old", UserKey: "u1", Timestamp: now.Add(-48 * time.Hour).UnixMilli()},
		{FlagKey: "f", VariationID: "new", UserKey: "u2", Timestamp: now.Add(-time.Hour).UnixMilli()},
	}}
	if err := s.Ingest(ctx, b); err != nil {
		t.Fatal(err)
	}
	r := store.Range{EnvID: "e", FlagKey: "f", From: now.Add(-72 * time.Hour), To: now}
	if v, _ := s.store.VariationUsers(ctx, r); len(v) != 2 {
		t.Fatalf("before retention: %+v", v)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		v, err := s.store.VariationUsers(ctx, r)
		if err == nil && len(v) == 1 && v[0].VariationID == "new" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("retention did not delete the old event: %+v %v", v, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
