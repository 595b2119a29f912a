package analytics

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/analytics/internal/metrics"
)

// Readiness probing: each dependency is probed in the background every
// probeInterval with a probeTimeout bound, and /readyz reads the cached
// results (a scrape or a probe storm never reaches ClickHouse or Kafka). A
// result older than probeStale counts as failed, so a stuck prober also turns
// the instance unready. A dependency that dies is reported within
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

// startProbes starts one prober per external dependency (none in embedded
// mode).
func (s *Service) startProbes() {
	if s.ch != nil {
		s.probes = append(s.probes, &probe{name: "clickhouse", check: s.ch.Ping})
	}
	if s.cons != nil {
		s.probes = append(s.probes, &probe{name: "kafka", check: s.cons.Ping})
	}
	for _, p := range s.probes {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			p.run(s.ctx)
		}()
	}
}

// readiness reports whether every dependency is reachable, and each one's
// state.
func (s *Service) readiness() (bool, map[string]string) {
	now := time.Now()
	ready, checks := true, make(map[string]string, len(s.probes))
	for _, p := range s.probes {
		st := p.state(now)
		checks[p.name] = st
		ready = ready && st == "ok"
	}
	return ready, checks
}

// healthz answers 200 while the process serves HTTP (liveness).
func (s *Service) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok\n")
}

// readyz answers 200 when ClickHouse and Kafka (those configured) answered
// their last probe, else 503; the body names each dependency's state.
func (s *Service) readyz(w http.ResponseWriter, _ *http.Request) {
	ready, checks := s.readiness()
	w.Header().Set("Content-Type", "application/json")
	if !ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(map[string]any{"ready": ready, "checks": checks})
}

// metricsHandler writes the Prometheus text exposition.
func (s *Service) metricsHandler(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	ready, _ := s.readiness()
	metrics.Gauge(w, "sy_analytics_ready", "1 if every dependency answered its last probe.", b2f(ready))
	now := time.Now()
	metrics.Header(w, "sy_analytics_dependency_up", "gauge", "1 if the dependency answered its last probe.")
	for _, p := range s.probes {
		metrics.Sample(w, "sy_analytics_dependency_up", b2f(p.state(now) == "ok"), "dependency", p.name)
	}
	metrics.Gauge(w, "sy_analytics_goroutines", "Goroutines in the process.", float64(runtime.NumGoroutine()))
	if s.cons != nil {
		s.cons.WriteMetrics(w)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
