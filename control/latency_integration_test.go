//go:build integration

package control

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws/wsutil"

	"github.com/switchyard/switchyard/control/internal/store"
	"github.com/switchyard/switchyard/edge/edgetest"
)

// addFlags writes n more flags (copies of welcome-banner under new ids and
// keys) into environment env of a server that has not started publishing,
// in one backend call, so that the first publish carries them.
func addFlags(t *testing.T, s *Server, env string, n int) {
	t.Helper()
	ctx := context.Background()
	base, err := s.st.GetFlagByKey(ctx, env, "welcome-banner")
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%06d", base.ID[:24], i)
	}
	err = s.st.Backend().Modify(ctx, store.CollFlags, ids, func(id string, _ *store.Doc) (*store.Doc, error) {
		f := *base
		f.ID, f.Key, f.Name = id, "size-"+id[len(id)-6:], "size "+id[len(id)-6:]
		data, err := json.Marshal(&f)
		return &store.Doc{ID: id, Version: f.Version, Fields: map[string]string{"envId": env, "key": f.Key}, Data: data}, err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// toggleLatencies toggles welcome-banner n times through the API and
// returns, for each, the time from sending the API request to the patch
// carrying that change on a FeatBit server-SDK connection to the edge.
func toggleLatencies(t *testing.T, l *live, env, addr, serverSecret string, n int) (total, api []time.Duration) {
	t.Helper()
	sdk := dialSDK(t, addr, serverSecret)
	if err := wsutil.WriteClientText(sdk.c, []byte(`{"messageType":"data-sync","data":{"timestamp":0}}`)); err != nil {
		t.Fatal(err)
	}
	if full := sdk.next(time.Minute); full.Data.EventType != "full" {
		t.Fatalf("first message %+v", full.Data.EventType)
	}
	url := "/api/v1/envs/" + env + "/flags/welcome-banner"
	var cur struct{ Version int64 }
	l.must(200, l.admin, "GET", url, nil).decode(t, &cur)
	for range n {
		t0 := time.Now()
		var res struct {
			Version   int64
			UpdatedAt int64
		}
		l.must(200, l.admin, "POST", url+"/toggle", map[string]any{"version": cur.Version}).decode(t, &res)
		api = append(api, time.Since(t0))
		cur.Version = res.Version
		for got := false; !got; {
			m := sdk.next(eventWait)
			for _, f := range m.Data.FeatureFlags {
				at, _ := time.Parse(time.RFC3339Nano, f.UpdatedAt)
				got = got || (f.Key == "welcome-banner" && at.UnixMilli() == res.UpdatedAt)
			}
		}
		total = append(total, time.Since(t0))
	}
	return total, api
}

func minus(a, b []time.Duration) []time.Duration {
	out := make([]time.Duration, len(a))
	for i := range a {
		out[i] = a[i] - b[i]
	}
	return out
}

func quantiles(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	r := func(d time.Duration) time.Duration { return d.Round(time.Millisecond / 10) }
	return fmt.Sprintf("p50 %v p90 %v max %v", r(s[len(s)/2]), r(s[len(s)*9/10]), r(s[len(s)-1]))
}

// latencySizes are the environment sizes measured: SY_TEST_LATENCY_SIZES
// (comma-separated) or 10, 1,000 and 10,000; the production path runs up
// to prodMax.
func latencySizes(t *testing.T) []int {
	v := os.Getenv("SY_TEST_LATENCY_SIZES")
	if v == "" {
		return []int{10, 1000, 10000}
	}
	var out []int
	for _, x := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(x))
		if err != nil || n < 4 {
			t.Fatalf("SY_TEST_LATENCY_SIZES: %q", v)
		}
		out = append(out, n)
	}
	return out
}

// prodMax is the largest size the production path runs:
// SY_TEST_LATENCY_PROD_MAX, default 1,000 (10,000 on a FerretDB with
// ops/ferretdb's _id index takes about as long as 1,000 without it).
func prodMax(t *testing.T) int {
	v := os.Getenv("SY_TEST_LATENCY_PROD_MAX")
	if v == "" {
		return 1000
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("SY_TEST_LATENCY_PROD_MAX: %q", v)
	}
	return n
}

// TestIntegrationChangeLatencyBySize measures API change → SDK receipt with
// environments of several sizes, on the all-in-one path (embedded store,
// in-process edge) and the production path (MongoDB wire, Redis, Kafka, a
// real edge process); docs/benchmarks.md quotes it (-v).
func TestIntegrationChangeLatencyBySize(t *testing.T) {
	const toggles = 20
	pt, bin := t, ""
	for _, n := range latencySizes(t) {
		t.Run(fmt.Sprintf("all-in-one/flags=%d", n), func(t *testing.T) {
			e := edgetest.Run(t)
			s, err := New(Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), AdminPassword: "admin-password"},
				WithSnapshotWriter(e.Source), WithChangeProducer(e.Source), WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
			info, err := s.Bootstrap(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			addFlags(t, s, info.Envs[0].ID, n-4)
			if err := s.Start(); err != nil {
				t.Fatal(err)
			}
			l := &live{t: t, s: s, base: "http://" + s.Addr(), info: info}
			l.admin = l.login(info.AdminEmail, "admin-password")
			waitFor(t, "first publish", time.Minute, func() bool { return s.PublishPending(context.Background()) == 0 })
			ds, api := toggleLatencies(t, l, info.Envs[0].ID, e.Addr, info.Envs[0].ServerSecret, toggles)
			t.Logf("all-in-one, %d flags, %d toggles: API request → SDK patch %s; API response %s; response → patch %s", n, toggles, quantiles(ds), quantiles(api), quantiles(minus(ds, api)))
		})
		if n > prodMax(t) {
			// A FerretDB without ops/ferretdb's _id index scans a table on
			// every read by _id: setting up this size takes too long there.
			continue
		}
		t.Run(fmt.Sprintf("production/flags=%d", n), func(t *testing.T) {
			t0 := time.Now()
			l := newLiveWith(t, func(s *Server, info *BootstrapInfo) { addFlags(t, s, info.Envs[0].ID, n-4) })
			env := l.env("dev")
			waitFor(t, "first publish", 5*time.Minute, func() bool {
				e, err := l.s.st.GetEnv(context.Background(), env)
				return err == nil && e.PublishedVersion == e.Version
			})
			t.Logf("setup of %d flags: %v", n, time.Since(t0).Round(time.Second))
			if bin == "" {
				bin = buildEdge(pt) // kept for the later sizes
			}
			addr, _ := runEdge(t, l, bin)
			ds, api := toggleLatencies(t, l, env, addr, l.info.Envs[0].ServerSecret, toggles)
			t.Logf("production, %d flags, %d toggles: API request → SDK patch %s; API response %s; response → patch %s", n, toggles, quantiles(ds), quantiles(api), quantiles(minus(ds, api)))
		})
	}
}
