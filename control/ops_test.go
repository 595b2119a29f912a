package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// waitCode polls path on the harness until it answers want (deadline 10 s).
func (h *harness) waitCode(path string, want int) *resp {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := h.do("", "GET", path, nil)
		if r.Code == want {
			return r
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s: still %d (%s), want %d", path, r.Code, r.Body, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// scrape fetches /metrics and parses it strictly.
func (h *harness) scrape() (map[string]*dto.MetricFamily, string) {
	h.t.Helper()
	r := h.must(200, "", "GET", "/metrics", nil)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(r.Body)))
	if err != nil {
		h.t.Fatalf("/metrics does not parse: %v\n%s", err, r.Body)
	}
	return fams, string(r.Body)
}

func TestOpsHealthzIsNotTheUI(t *testing.T) {
	h := newHarness(t)
	r := h.must(200, "", "GET", "/healthz", nil)
	if string(r.Body) != "ok\n" || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("/healthz: %q (%s), want the plain liveness answer", r.Body, r.Header.Get("Content-Type"))
	}
}

func TestOpsReadyzAndMetrics(t *testing.T) {
	h := newHarness(t)
	if err := h.s.Start(); err != nil {
		t.Fatal(err)
	}
	r := h.waitCode("/readyz", 200)
	if !strings.Contains(string(r.Body), `"store":"ok"`) {
		t.Errorf("/readyz body %s: want the store's state", r.Body)
	}
	env := h.env("dev")
	h.must(200, h.admin, "GET", h.flagsURL(env), nil)
	h.must(201, h.admin, "POST", h.flagsURL(env), boolFlagBody("ops-metrics"))
	h.do("", "GET", "/api/v1/no/such/route/"+env, nil)

	fams, text := h.scrape()
	lat := fams["sy_control_http_request_duration_seconds"]
	if lat == nil || lat.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("no latency histogram in\n%s", text)
	}
	routes := map[string]uint64{}
	for _, m := range lat.Metric {
		routes[m.Label[0].GetValue()] = m.Histogram.GetSampleCount()
	}
	if routes["GET /api/v1/envs/{envId}/flags"] == 0 || routes["POST /api/v1/envs/{envId}/flags"] == 0 {
		t.Errorf("latency not keyed by the route pattern: %v", routes)
	}
	if strings.Contains(text, env) {
		t.Errorf("/metrics names a raw path (environment id %s):\n%s", env, text)
	}
	// The store probe's outbox view: the flag created above is undelivered
	// until published (the harness publishes explicitly), then drains.
	for _, name := range []string{"sy_control_ready", "sy_control_publish_failures_total", "sy_control_outbox_depth",
		"sy_control_publish_lag_seconds", "sy_control_publish_lagging_environments", "sy_control_dependency_up"} {
		if fams[name] == nil {
			t.Errorf("no %s in /metrics", name)
		}
	}
	waitGauge(t, h, "sy_control_outbox_depth", func(v float64) bool { return v == 0 })
}

// waitGauge polls /metrics until the gauge name satisfies ok (deadline 10 s).
func waitGauge(t *testing.T, h *harness, name string, ok func(float64) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		fams, text := h.scrape()
		if f := fams[name]; f != nil && ok(f.Metric[0].GetGauge().GetValue()) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never reached the expected value:\n%s", name, text)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSecondInstanceOnDataDirNamesThePid: a second instance on the same
// data directory fails at once with the first one's pid, not a timeout.
func TestSecondInstanceOnDataDirNamesThePid(t *testing.T) {
	dir := t.TempDir()
	s, err := New(Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(Config{DataDir: dir})
	want := fmt.Sprintf("in use by pid %d", os.Getpid())
	if !errors.Is(err, ErrDataDirInUse) || !strings.Contains(err.Error(), want) {
		t.Fatalf("second instance: %v, want ErrDataDirInUse naming %q", err, want)
	}
	s.Shutdown(context.Background())
	s2, err := New(Config{DataDir: dir})
	if err != nil {
		t.Fatalf("after the first instance stopped: %v", err)
	}
	s2.Shutdown(context.Background())
}

func TestResetPasswordEndsSessions(t *testing.T) {
	h := newHarness(t)
	h.must(200, h.admin, "GET", "/api/v1/auth/me", nil)
	pw, err := h.s.ResetPassword(context.Background(), h.info.AdminEmail, "")
	if err != nil || len(pw) < 8 {
		t.Fatalf("ResetPassword: %q, %v", pw, err)
	}
	h.must(401, h.admin, "GET", "/api/v1/auth/me", nil)
	h.login(h.info.AdminEmail, pw)
	if _, err := h.s.ResetPassword(context.Background(), h.info.AdminEmail, "short"); err == nil {
		t.Error("a 5-character password was accepted")
	}
}

// TestRequestIDFollowsTheChange: the id of the API request that changed a
// flag (the caller's X-Request-Id) is echoed and carried by the change
// event the publisher produces.
func TestRequestIDFollowsTheChange(t *testing.T) {
	h := newHarness(t)
	env := h.env("dev")
	h.publish()
	before := len(h.sink.Events())
	body, _ := json.Marshal(boolFlagBody("traced-flag"))
	req := httptest.NewRequest("POST", h.flagsURL(env), bytes.NewReader(body))
	req.RemoteAddr = "192.0.2.1:1234"
	req.Header.Set("Authorization", "Bearer "+h.admin)
	req.Header.Set("X-Request-Id", "trace-4f2a.9")
	w := httptest.NewRecorder()
	h.s.Handler().ServeHTTP(w, req)
	if w.Code != 201 || w.Header().Get("X-Request-Id") != "trace-4f2a.9" {
		t.Fatalf("create: %d, X-Request-Id %q: %s", w.Code, w.Header().Get("X-Request-Id"), w.Body)
	}
	h.publish()
	evs := h.sink.Events()[before:]
	if len(evs) == 0 {
		t.Fatal("no change event produced")
	}
	for _, ev := range evs {
		if ev.RequestID != "trace-4f2a.9" {
			t.Errorf("event %s %s %s: request id %q, want the API request's", ev.Kind, ev.Op, ev.ID, ev.RequestID)
		}
	}
}

// TestSecurityRequestIDIsSanitised: an X-Request-Id that could forge log
// fields or bloat every outbox entry is replaced by a fresh id.
func TestSecurityRequestIDIsSanitised(t *testing.T) {
	h := newHarness(t)
	fresh := regexp.MustCompile(`^[0-9a-f]{16}$`)
	for _, bad := range []string{"a b", "x\" level=ERROR msg=forged", strings.Repeat("a", 65), "ü", "id\x00"} {
		req := httptest.NewRequest("GET", "/healthz", nil)
		req.Header.Set("X-Request-Id", bad)
		w := httptest.NewRecorder()
		h.s.Handler().ServeHTTP(w, req)
		if got := w.Header().Get("X-Request-Id"); !fresh.MatchString(got) {
			t.Errorf("X-Request-Id %q: answered %q, want a fresh id", bad, got)
		}
	}
	w := httptest.NewRecorder()
	h.s.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/healthz", nil))
	if !fresh.MatchString(w.Header().Get("X-Request-Id")) {
		t.Errorf("no X-Request-Id: answered %q, want a fresh id", w.Header().Get("X-Request-Id"))
	}
}

// FuzzRequestID: whatever a caller sends as X-Request-Id, the id control
// logs and stores is 1 to 64 characters of [A-Za-z0-9._:-].
func FuzzRequestID(f *testing.F) {
	for _, s := range []string{"", "trace-1", "a b", "x\n", strings.Repeat("z", 65), "ü"} {
		f.Add(s)
	}
	valid := regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)
	f.Fuzz(func(t *testing.T, h string) {
		id := requestID(h)
		if !valid.MatchString(id) {
			t.Fatalf("requestID(%q) = %q", h, id)
		}
		if valid.MatchString(h) && id != h {
			t.Fatalf("requestID(%q) = %q, want the caller's valid id kept", h, id)
		}
	})
}
