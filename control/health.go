package control

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/control/internal/metrics"
	"github.com/switchyard/switchyard/control/internal/publish"
	"github.com/switchyard/switchyard/control/internal/store"
)

// Readiness probing, as in analytics: each dependency (the store always;
// Redis and Kafka when configured) is probed in the background every
// probeInterval with a probeTimeout bound, and /readyz and /metrics read the
// cached results, so a scrape or a probe storm never reaches a dependency.
// A result older than probeStale counts as failed (a stuck prober turns the
// instance unready too). A dependency that dies is reported within
// probeInterval + probeTimeout (1.5 s).
const (
	probeInterval = 500 * time.Millisecond
	probeTimeout  = time.Second
	probeStale    = 2 * time.Second
)

// probe is one dependency's cached reachability.
type probe struct {
	name  string
	check func(context.Context) error
	last  atomic.Pointer[probeResult]
}

type probeResult struct {
	at  time.Time
	err error
}

// run probes until ctx is done.
func (p *probe) run(ctx context.Context) {
	t := time.NewTicker(probeInterval)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		err := p.check(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		p.last.Store(&probeResult{at: time.Now(), err: err})
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// state is "ok" or why the dependency counts as unreachable.
func (p *probe) state(now time.Time) string {
	r := p.last.Load()
	switch {
	case r == nil:
		return "not probed yet"
	case now.Sub(r.at) > probeStale:
		return "no probe result for " + now.Sub(r.at).Truncate(time.Millisecond).String()
	case r.err != nil:
		return r.err.Error()
	}
	return "ok"
}

// outboxState is what the store probe saw of the change pipeline: the
// changes recorded but not yet delivered to Redis and Kafka.
type outboxState struct {
	envs, entries int     // dirty environments, undelivered outbox entries
	oldest        float64 // age in seconds of the oldest undelivered change
	over          [len(lagThresholds)]int
}

// lagThresholds are the ages (seconds) for which /metrics counts the
// environments whose oldest undelivered change is older: a per-environment
// lag view whose cardinality does not grow with the environments.
var lagThresholds = [...]float64{1, 10, 60, 600}

var lagLabels = [...]string{"1", "10", "60", "600"}

// ops is the Server's operations state: probes, outbox view, request
// latency.
type ops struct {
	probes  []*probe
	outbox  atomic.Pointer[outboxState]
	latency *metrics.HistogramVec // by route pattern
	errors5 atomic.Uint64
}

// maxRoutes caps the latency family (the route table has ~200 patterns;
// anything beyond would be a bug, folded into "other").
const maxRoutes = 512

var latencyBounds = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

func newOps() *ops { return &ops{latency: metrics.NewHistogramVec(maxRoutes, latencyBounds...)} }

// startProbes starts one prober per dependency: the store (listing the
// dirty environments, which also gives the outbox view), and Redis and Kafka
// when they are the configured writers.
func (s *Server) startProbes(ctx context.Context) {
	o := s.ops
	o.probes = append(o.probes, &probe{name: "store", check: s.probeStore})
	if r, ok := s.snap.(*publish.Redis); ok {
		o.probes = append(o.probes, &probe{name: "redis", check: func(ctx context.Context) error {
			_, err := r.Missing(ctx, []string{"readyz-probe"})
			return err
		}})
	}
	if k, ok := s.prod.(*publish.Kafka); ok {
		o.probes = append(o.probes, &probe{name: "kafka", check: k.Ping})
	}
	for _, p := range o.probes {
		s.wg.Go(func() { p.run(ctx) })
	}
}

func (s *Server) probeStore(ctx context.Context) error {
	envs, err := s.st.DirtyEnvs(ctx)
	if err != nil {
		return err
	}
	now := time.Now().UnixMilli()
	st := &outboxState{envs: len(envs)}
	for _, e := range envs {
		st.entries += len(e.Outbox)
		if len(e.Outbox) == 0 || e.Outbox[0].At == 0 {
			continue
		}
		age := float64(now-e.Outbox[0].At) / 1000
		st.oldest = max(st.oldest, age)
		for i, th := range lagThresholds {
			if age > th {
				st.over[i]++
			}
		}
	}
	s.ops.outbox.Store(st)
	return nil
}

// readiness reports whether every dependency is reachable, and each one's
// state.
func (s *Server) readiness() (bool, map[string]string) {
	now := time.Now()
	ready, checks := true, make(map[string]string, len(s.ops.probes))
	for _, p := range s.ops.probes {
		st := p.state(now)
		checks[p.name] = st
		ready = ready && st == "ok"
	}
	return ready, checks
}

// healthz answers 200 while the process serves HTTP (liveness).
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok\n")
}

// readyz answers 200 when the store, and Redis and Kafka when configured,
// answered their last probe, else 503; the body names each one's state.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	ready, checks := s.readiness()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(map[string]any{"ready": ready, "checks": checks})
}

// metricsHandler writes the Prometheus text exposition.
func (s *Server) metricsHandler(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	ready, _ := s.readiness()
	metrics.Gauge(w, "sy_control_ready", "1 if every dependency answered its last probe.", b2f(ready))
	now := time.Now()
	metrics.Header(w, "sy_control_dependency_up", "gauge", "1 if the dependency answered its last probe.")
	for _, p := range s.ops.probes {
		metrics.Sample(w, "sy_control_dependency_up", b2f(p.state(now) == "ok"), "dependency", p.name)
	}
	s.ops.latency.Write(w, "sy_control_http_request_duration_seconds", "route",
		"API request latency by route pattern of the route table (\"other\": beyond the cap; \"unmatched\": no route).")
	metrics.Counter(w, "sy_control_http_server_errors_total", "Responses with a 5xx status.", s.ops.errors5.Load())
	ps := s.pub.Stats()
	metrics.Counter(w, "sy_control_publish_failures_total", "Failed publish attempts (each is retried with backoff).", uint64(ps.Failures))
	metrics.Counter(w, "sy_control_published_snapshots_total", "Snapshot writes (whole or incremental) to the snapshot store.", uint64(ps.Snapshots))
	metrics.Counter(w, "sy_control_published_events_total", "Change events produced.", uint64(ps.Events))
	metrics.Counter(w, "sy_control_snapshots_repaired_total", "Snapshots found missing in the snapshot store and written again.", uint64(ps.Repaired))
	if ob := s.ops.outbox.Load(); ob != nil {
		metrics.Gauge(w, "sy_control_outbox_depth", "Changes recorded but not yet delivered (all environments).", float64(ob.entries))
		metrics.Gauge(w, "sy_control_dirty_environments", "Environments with undelivered changes.", float64(ob.envs))
		metrics.Gauge(w, "sy_control_publish_lag_seconds", "Age of the oldest undelivered change (0: none).", ob.oldest)
		metrics.Header(w, "sy_control_publish_lagging_environments", "gauge", "Environments whose oldest undelivered change is older than the given seconds.")
		for i, l := range lagLabels {
			metrics.Sample(w, "sy_control_publish_lagging_environments", float64(ob.over[i]), "over", l)
		}
	}
	dc, dh := s.deliv.Reports()
	metrics.Header(w, "sy_control_delivery_reports_total", "counter", "Delivery reports read from the edges (kind change: change reports; heartbeat: connection census).")
	metrics.Sample(w, "sy_control_delivery_reports_total", float64(dc), "kind", "change")
	metrics.Sample(w, "sy_control_delivery_reports_total", float64(dh), "kind", "heartbeat")
	metrics.Gauge(w, "sy_control_goroutines", "Goroutines in the process.", float64(runtime.NumGoroutine()))
}

// instrument gives every request an id (the caller's X-Request-Id when it
// is a plausible one, else a new one; echoed in the response and carried by
// the context into the store's outbox, so the change events and the edges'
// push logs name it), records its latency under the pattern the mux matched
// (never the raw path, so the family is bounded by the route table), counts
// 5xx responses and logs it: writes at info, reads at debug.
func (s *Server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := requestID(r.Header.Get("X-Request-Id"))
		w.Header().Set("X-Request-Id", id)
		r = r.WithContext(store.WithRequestID(r.Context(), id))
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		p := r.Pattern
		if p == "" {
			p = "unmatched"
		}
		took := time.Since(start)
		s.ops.latency.With(p).Observe(took.Seconds())
		if rec.code >= 500 {
			s.ops.errors5.Add(1)
		}
		level := slog.LevelDebug
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			level = slog.LevelInfo
		}
		if s.log.Enabled(r.Context(), level) {
			s.log.Log(r.Context(), level, "api request", "request_id", id, "method", r.Method, "route", p,
				"status", rec.code, "ms", took.Milliseconds())
		}
	})
}

// maxRequestID caps an id taken from X-Request-Id.
const maxRequestID = 64

// requestID returns h when it is 1 to 64 characters of [A-Za-z0-9._:-]
// (anything else could forge log fields or bloat every outbox entry), else a
// new random id.
func requestID(h string) string {
	ok := len(h) > 0 && len(h) <= maxRequestID
	for i := 0; ok && i < len(h); i++ {
		c := h[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-'
	}
	if ok {
		return h
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// statusRecorder remembers the status code; Unwrap keeps
// http.ResponseController (deadlines, flushing) working through it.
type statusRecorder struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.code, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
