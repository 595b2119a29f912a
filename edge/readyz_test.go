package edge_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/switchyard/switchyard/edge"
	"github.com/switchyard/switchyard/edge/edgetest"
)

// flakySource is a LocalSource with one readiness check the test turns off
// and on (a Redis that dies and comes back).
type flakySource struct {
	*edge.LocalSource
	down  atomic.Bool
	calls atomic.Int64
}

func (f *flakySource) Checks() []edge.ReadyCheck {
	return []edge.ReadyCheck{{Name: "redis", Probe: func(context.Context) error {
		f.calls.Add(1)
		if f.down.Load() {
			return errors.New("connection refused")
		}
		return nil
	}}}
}

type readyzBody struct {
	Ready  bool              `json:"ready"`
	Checks map[string]string `json:"checks"`
}

func getReadyz(t *testing.T, url string) (int, readyzBody) {
	t.Helper()
	code, body, h := do(t, "GET", url+"/readyz", "", "")
	var r readyzBody
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("/readyz %d: not JSON: %q", code, body)
	}
	if h.Get("Cache-Control") != "no-store" {
		t.Errorf("/readyz Cache-Control %q", h.Get("Cache-Control"))
	}
	return code, r
}

func waitReadyz(t *testing.T, url string, want int) readyzBody {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second) // issue 17's bound
	for {
		code, r := getReadyz(t, url)
		if code == want {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d %+v after 2 s, want %d", code, r, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// scrape fetches /metrics and parses it with Prometheus's own text parser.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	code, body, h := do(t, "GET", url+"/metrics", "", "")
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics %d %s", code, h.Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, body)
	}
	return fams
}

func gauge(t *testing.T, fams map[string]*dto.MetricFamily, name, label, value string) float64 {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("no family %s", name)
	}
	for _, m := range f.GetMetric() {
		if label == "" {
			return m.GetGauge().GetValue()
		}
		for _, l := range m.GetLabel() {
			if l.GetName() == label && l.GetValue() == value {
				return m.GetGauge().GetValue()
			}
		}
	}
	t.Fatalf("%s{%s=%q} missing", name, label, value)
	return 0
}

// TestHealthzAndReadyz: /healthz answers while the process serves;
// /readyz follows the cached probe of the source's dependency (unready
// within the 2 s bound of it dying, ready again after), names it, never
// calls the dependency per request, and the gauges follow.
func TestHealthzAndReadyz(t *testing.T) {
	src := &flakySource{LocalSource: edge.NewLocalSource()}
	s, err := edge.New(edge.Config{Addr: "127.0.0.1:0", DrainWindow: -1, ProbeInterval: 100 * time.Millisecond, ProbeTimeout: 200 * time.Millisecond},
		edge.WithSource(src), edge.WithEventSink(&edgetest.Sink{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	url := "http://" + s.Addr()
	if code, body, _ := do(t, "GET", url+"/healthz", "", ""); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz %d %q", code, body)
	}
	r := waitReadyz(t, url, 200)
	if !r.Ready || r.Checks["redis"] != "ok" || r.Checks["server"] != "ok" {
		t.Fatalf("ready body %+v", r)
	}
	if v := gauge(t, scrape(t, url), "sy_edge_dependency_up", "dependency", "redis"); v != 1 {
		t.Errorf("dependency_up %v while up", v)
	}

	// a storm of probes does not reach the dependency
	before := src.calls.Load()
	for range 200 {
		getReadyz(t, url)
	}
	if n := src.calls.Load() - before; n > 20 {
		t.Errorf("200 /readyz requests made %d dependency probes: want only the background ones", n)
	}

	src.down.Store(true)
	r = waitReadyz(t, url, 503)
	if r.Ready || !strings.Contains(r.Checks["redis"], "connection refused") {
		t.Fatalf("unready body %+v: want redis named", r)
	}
	fams := scrape(t, url)
	if gauge(t, fams, "sy_edge_ready", "", "") != 0 || gauge(t, fams, "sy_edge_dependency_up", "dependency", "redis") != 0 {
		t.Error("gauges still up while the dependency is down")
	}
	// liveness and the process-level readiness stay up: the edge serves
	// its cached environments
	if code, _, _ := do(t, "GET", url+"/health/readiness", "", ""); code != 200 {
		t.Errorf("/health/readiness %d while a dependency is down: want 200 (process-level)", code)
	}
	src.down.Store(false)
	waitReadyz(t, url, 200)
}

// TestReadyzWithoutDependencies: the embedded source has nothing to probe;
// the edge is ready once started.
func TestReadyzWithoutDependencies(t *testing.T) {
	e := edgetest.Run(t)
	r := waitReadyz(t, e.URL(), 200)
	if len(r.Checks) != 1 || r.Checks["server"] != "ok" {
		t.Fatalf("checks %+v: want only the server", r.Checks)
	}
}

// TestMetricsParseWithExpfmt: a scrape of /metrics parses with
// Prometheus's text parser and has every family docs/edge.md promises,
// with its type.
func TestMetricsParseWithExpfmt(t *testing.T) {
	e := edgetest.Run(t)
	env := e.Env(t)
	c := edgetest.Dial(t, edgetest.StreamURL(e.Addr, "server", env.ServerSecret))
	_ = c.Send(`{"messageType":"ping","data":null}`)
	if _, err := c.ReadJSON(wait); err != nil {
		t.Fatal(err)
	}
	bad := edgetest.Dial(t, edgetest.StreamURL(e.Addr, "server", env.ClientSecret))
	_, _ = bad.ExpectClose(wait)
	waitReadyz(t, e.URL(), 200)
	fams := scrape(t, e.URL())
	want := map[string]dto.MetricType{
		"sy_edge_connections":          dto.MetricType_GAUGE,
		"sy_edge_messages_in_total":    dto.MetricType_COUNTER,
		"sy_edge_messages_out_total":   dto.MetricType_COUNTER,
		"sy_edge_pushes_total":         dto.MetricType_COUNTER,
		"sy_edge_changes_total":        dto.MetricType_COUNTER,
		"sy_edge_push_seconds":         dto.MetricType_HISTOGRAM,
		"sy_edge_evaluations_total":    dto.MetricType_COUNTER,
		"sy_edge_insight_events_total": dto.MetricType_COUNTER,
		"sy_edge_end_users_total":      dto.MetricType_COUNTER,
		"sy_edge_http_requests_total":  dto.MetricType_COUNTER,
		"sy_edge_errors_total":         dto.MetricType_COUNTER,
		"sy_edge_ready":                dto.MetricType_GAUGE,
	} // sy_edge_dependency_up has no samples without dependencies: TestHealthzAndReadyz
	for name, typ := range want {
		f := fams[name]
		if f == nil {
			t.Errorf("family %s missing", name)
			continue
		}
		if f.GetType() != typ {
			t.Errorf("%s is %v, want %v", name, f.GetType(), typ)
		}
	}
	if h := fams["sy_edge_push_seconds"].GetMetric()[0].GetHistogram(); len(h.GetBucket()) == 0 {
		t.Error("push histogram without buckets")
	}
	if gauge(t, fams, "sy_edge_connections", "type", "server") != 1 {
		t.Error("sy_edge_connections{type=server} is not 1")
	}
	if gauge(t, fams, "sy_edge_ready", "", "") != 1 {
		t.Error("sy_edge_ready is not 1")
	}
}
