package analytics

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// fetch serves one GET of path and returns the status and body.
func fetch(h http.Handler, path string) (int, string) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec.Code, rec.Body.String()
}

// waitStatus polls path until it answers want (deadline 10 s).
func waitStatus(t *testing.T, h http.Handler, path string, want int) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := fetch(h, path)
		if code == want {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %d (%s), want %d", path, code, body, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestOpsEndpointsEmbedded(t *testing.T) {
	h := newEmbedded(t).Handler()
	if code, body := fetch(h, "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := fetch(h, "/readyz"); code != 200 || !strings.Contains(body, `"ready":true`) {
		t.Errorf("/readyz (embedded, no dependencies): %d %s", code, body)
	}
	code, body := fetch(h, "/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, body)
	}
	if g := fams["sy_analytics_ready"].GetMetric()[0].GetGauge().GetValue(); g != 1 {
		t.Errorf("sy_analytics_ready %g, want 1", g)
	}
}

// TestReadyzFollowsDependency: a dependency that stops answering turns
// /readyz to 503 naming it, and back to 200 when it answers again.
func TestReadyzFollowsDependency(t *testing.T) {
	s := newEmbedded(t)
	var down atomic.Bool
	p := &probe{name: "clickhouse", check: func(context.Context) error {
		if down.Load() {
			return errors.New("connection refused")
		}
		return nil
	}}
	s.probes = []*probe{p}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	h := s.Handler()
	waitStatus(t, h, "/readyz", 200)
	down.Store(true)
	if body := waitStatus(t, h, "/readyz", 503); !strings.Contains(body, `"clickhouse":"connection refused"`) {
		t.Errorf("/readyz body %s does not name the dependency and its error", body)
	}
	down.Store(false)
	waitStatus(t, h, "/readyz", 200)
}

func TestReadyzStaleProbeIsUnready(t *testing.T) {
	s := newEmbedded(t)
	p := &probe{name: "kafka", check: func(context.Context) error { return nil }}
	p.last.Store(&probeResult{at: time.Now().Add(-3 * time.Second)}) // a prober stuck for 3 s
	s.probes = []*probe{p}
	code, body := fetch(s.Handler(), "/readyz")
	if code != 503 || !strings.Contains(body, "no probe result for") {
		t.Errorf("/readyz with a stale probe: %d %s", code, body)
	}
	p.last.Store(nil)
	if code, body := fetch(s.Handler(), "/readyz"); code != 503 || !strings.Contains(body, "not probed yet") {
		t.Errorf("/readyz before the first probe: %d %s", code, body)
	}
}
