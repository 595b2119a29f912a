// Package ready is the edge's readiness: the dependencies its source and
// sink name (Check), each probed on its own goroutine every Interval with a
// Timeout bound, and the cached results that /readyz and /metrics read, so
// neither a probe storm nor a scrape ever reaches Redis or Kafka.
//
// A result older than Stale counts as failed (a prober stuck beyond its
// bound turns the edge unready too). A dependency that dies is reported
// within Interval + Timeout. Safe for concurrent use.
package ready

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"
)

// Check is one dependency, probed for readiness: Probe returns nil while it
// is reachable and must honour ctx's deadline.
type Check struct {
	Name  string
	Probe func(ctx context.Context) error
}

// Checker is implemented by sources and sinks that depend on something
// outside the process. A component without it is always ready.
type Checker interface {
	Checks() []Check
}

// Of returns the checks of every component that has some (others are
// skipped).
func Of(components ...any) []Check {
	var out []Check
	for _, c := range components {
		if ch, ok := c.(Checker); ok {
			out = append(out, ch.Checks()...)
		}
	}
	return out
}

// maxReason caps the text of a failed check in /readyz (an error of a
// client library can be long; the full error is in the log of the
// component).
const maxReason = 200

// Prober probes a fixed set of checks.
type Prober struct {
	interval, timeout, stale time.Duration
	probes                   []*probe
	wg                       sync.WaitGroup
	cancel                   context.CancelFunc
}

type probe struct {
	Check
	last atomic.Pointer[result]
}

type result struct {
	at  time.Time
	err error
}

// New returns a prober of checks (not yet running): each probed every
// interval with a timeout bound; a result older than 2·interval + timeout
// is stale.
func New(checks []Check, interval, timeout time.Duration) *Prober {
	p := &Prober{interval: interval, timeout: timeout, stale: 2*interval + timeout}
	for _, c := range checks {
		p.probes = append(p.probes, &probe{Check: c})
	}
	return p
}

// Start runs one goroutine per check until Stop.
func (p *Prober) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	for _, pr := range p.probes {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.run(ctx, pr)
		}()
	}
}

// Stop ends the probers and waits for them.
func (p *Prober) Stop() {
	if p.cancel != nil {
		p.cancel()
		p.wg.Wait()
	}
}

func (p *Prober) run(ctx context.Context, pr *probe) {
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, p.timeout)
		err := pr.Probe(pctx)
		if err == nil && pctx.Err() != nil {
			err = pctx.Err() // a probe that ignored its bound
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
		pr.last.Store(&result{at: time.Now(), err: err})
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (p *Prober) state(pr *probe, now time.Time) string {
	r := pr.last.Load()
	switch {
	case r == nil:
		return "not probed yet"
	case now.Sub(r.at) > p.stale:
		return "no probe result for " + now.Sub(r.at).Truncate(time.Millisecond).String()
	case r.err != nil:
		s := r.err.Error()
		if len(s) > maxReason {
			s = s[:maxReason] + "…"
		}
		return s
	}
	return "ok"
}

// State reports whether every check answered its last probe, and calls
// each(name, up) per check in order (each may be nil).
func (p *Prober) State(each func(name string, up bool)) bool {
	now := time.Now()
	ok := true
	for _, pr := range p.probes {
		up := p.state(pr, now) == "ok"
		ok = ok && up
		if each != nil {
			each(pr.Name, up)
		}
	}
	return ok
}

// Report is the /readyz body: {"ready":…,"checks":{name: "ok" or why not}}.
// extra names further states (e.g. "server": "shutting down") that count
// as failed unless "ok".
func (p *Prober) Report(extra map[string]string) (bool, []byte) {
	now := time.Now()
	ok := true
	checks := make(map[string]string, len(p.probes)+len(extra))
	for k, v := range extra {
		checks[k] = v
		ok = ok && v == "ok"
	}
	for _, pr := range p.probes {
		st := p.state(pr, now)
		checks[pr.Name] = st
		ok = ok && st == "ok"
	}
	b, _ := json.Marshal(struct {
		Ready  bool              `json:"ready"`
		Checks map[string]string `json:"checks"`
	}{ok, checks})
	return ok, append(b, '\n')
}
