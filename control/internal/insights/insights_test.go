package insights_test

import (
	"context"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/switchyard/switchyard/analytics"
	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/insights"
)

// TestClientAgainstAnalytics runs the client against analytics' real query
// API (embedded store) and compares with the service's own answer.
func TestClientAgainstAnalytics(t *testing.T) {
	an, err := analytics.New(analytics.Config{Addr: "-", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := an.Start(); err != nil {
		t.Fatal(err)
	}
	defer an.Shutdown(context.Background())
	now := time.Now()
	ts := now.Add(-time.Hour).UnixMilli()
	b := &codec.InsightBatch{EnvID: "env-1", Evals: []codec.FlagEval{
		{EnvID: "env-1", FlagKey: "checkout", VariationID: "on", UserKey: "u1", Timestamp: ts},
		{EnvID: "env-1", FlagKey: "checkout", VariationID: "on", UserKey: "u2", Timestamp: ts},
		{EnvID: "env-1", FlagKey: "checkout", VariationID: "off", UserKey: "u3", Timestamp: ts},
		{EnvID: "env-1", FlagKey: "other", VariationID: "on", UserKey: "u1", Timestamp: ts},
	}}
	if err := an.Ingest(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(an.Handler())
	defer srv.Close()
	c := insights.New(srv.URL)
	ctx := context.Background()
	from, to := now.Add(-24*time.Hour), now.Add(time.Minute)
	got, err := c.EnvFlagVariations(ctx, "env-1", from, to)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]int64{"checkout": {"on": 2, "off": 1}, "other": {"on": 1}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("client: %v, want %v", got, want)
	}
	direct, err := an.EnvFlagVariations(ctx, "env-1", from, to)
	if err != nil || !reflect.DeepEqual(direct, want) {
		t.Fatalf("service: %v %v, want %v", direct, err, want)
	}
	if got, err := c.EnvFlagVariations(ctx, "env-2", from, to); err != nil || len(got) != 0 {
		t.Fatalf("another environment: %v %v, want nothing", got, err)
	}
	if err := c.DeleteUser(ctx, "env-1", "u1"); err != nil {
		t.Fatal(err)
	}
	got, _ = c.EnvFlagVariations(ctx, "env-1", from, to)
	if !reflect.DeepEqual(got, map[string]map[string]int64{"checkout": {"on": 1, "off": 1}}) {
		t.Fatalf("after erasing u1: %v", got)
	}
	// Analytics unreachable: a clear error, not a panic or a zero answer.
	bad := insights.New("http://127.0.0.1:1")
	if _, err := bad.EnvFlagVariations(ctx, "env-1", from, to); err == nil {
		t.Fatal("unreachable analytics: want an error")
	}
}
