// Package metrics counts what the edge does with atomic counters and
// writes them in the Prometheus text exposition format (hand-written, no
// client library): connections by type, messages in and out, pushes, a push
// latency histogram, evaluations, events produced and errors by cause.
//
// All methods are safe for concurrent use and do not allocate, except the
// first use of a new error cause (causes are a small fixed vocabulary).
package metrics

import (
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Connection types.
const (
	ConnServer = iota
	ConnClient
	connKinds
)

var connNames = [connKinds]string{"server", "client"}

// pushBuckets are the upper bounds (seconds) of the push latency histogram.
var pushBuckets = [...]float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

// M is the edge's set of metrics.
type M struct {
	Conns       [connKinds]atomic.Int64
	MsgIn       atomic.Int64
	MsgOut      atomic.Int64
	Pushes      atomic.Int64 // frames written by change fan-out
	Changes     atomic.Int64 // change events applied
	Evaluations atomic.Int64
	Insights    atomic.Int64 // insight events produced
	EndUsers    atomic.Int64 // end users produced
	HTTP        atomic.Int64 // HTTP requests served
	// RelayForwarded counts events a relay's upstream accepted.
	RelayForwarded atomic.Int64

	pushCount atomic.Int64
	pushSumNs atomic.Int64
	pushHist  [len(pushBuckets) + 1]atomic.Int64

	errMu sync.RWMutex
	errs  map[string]*atomic.Int64
}

// New returns an empty set.
func New() *M { return &M{errs: map[string]*atomic.Int64{}} }

// Error counts one error of cause.
func (m *M) Error(cause string) {
	m.errMu.RLock()
	c := m.errs[cause]
	m.errMu.RUnlock()
	if c == nil {
		m.errMu.Lock()
		if c = m.errs[cause]; c == nil {
			c = new(atomic.Int64)
			m.errs[cause] = c
		}
		m.errMu.Unlock()
	}
	c.Add(1)
}

// ErrorAdd counts n errors of cause (n events lost at once).
func (m *M) ErrorAdd(cause string, n int) {
	m.Error(cause) // creates the counter
	if n > 1 {
		m.errMu.RLock()
		m.errs[cause].Add(int64(n - 1))
		m.errMu.RUnlock()
	}
}

// Errors returns the count of cause.
func (m *M) Errors(cause string) int64 {
	m.errMu.RLock()
	defer m.errMu.RUnlock()
	if c := m.errs[cause]; c != nil {
		return c.Load()
	}
	return 0
}

// ObservePush records the time from receiving a change to having written
// it to every connection.
func (m *M) ObservePush(d time.Duration) {
	m.pushCount.Add(1)
	m.pushSumNs.Add(int64(d))
	s := d.Seconds()
	i := 0
	for i < len(pushBuckets) && s > pushBuckets[i] {
		i++
	}
	m.pushHist[i].Add(1)
}

// WriteTo writes the exposition text.
func (m *M) WriteTo(w io.Writer) (int64, error) {
	var n int64
	p := func(format string, a ...any) {
		k, _ := fmt.Fprintf(w, format, a...)
		n += int64(k)
	}
	p("# HELP sy_edge_connections Open streaming connections by SDK type.\n# TYPE sy_edge_connections gauge\n")
	for i, name := range connNames {
		p("sy_edge_connections{type=%q} %d\n", name, m.Conns[i].Load())
	}
	counter := func(name, help string, v int64) {
		p("# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, help, name, name, v)
	}
	counter("sy_edge_messages_in_total", "Streaming messages received.", m.MsgIn.Load())
	counter("sy_edge_messages_out_total", "Streaming messages sent (replies and pushes).", m.MsgOut.Load())
	counter("sy_edge_pushes_total", "Frames written by change fan-out.", m.Pushes.Load())
	counter("sy_edge_changes_total", "Change events applied.", m.Changes.Load())
	counter("sy_edge_evaluations_total", "Flag evaluations.", m.Evaluations.Load())
	counter("sy_edge_insight_events_total", "Insight events produced.", m.Insights.Load())
	counter("sy_edge_end_users_total", "End users produced.", m.EndUsers.Load())
	counter("sy_edge_http_requests_total", "HTTP requests served.", m.HTTP.Load())
	counter("sy_edge_relay_forwarded_events_total", "Events (evaluations, custom events, end users) a relay's upstream accepted (0 unless relaying).", m.RelayForwarded.Load())
	p("# HELP sy_edge_push_seconds Time from receiving a change to writing it to every connection.\n# TYPE sy_edge_push_seconds histogram\n")
	var cum int64
	for i, b := range pushBuckets {
		cum += m.pushHist[i].Load()
		p("sy_edge_push_seconds_bucket{le=\"%g\"} %d\n", b, cum)
	}
	cum += m.pushHist[len(pushBuckets)].Load()
	p("sy_edge_push_seconds_bucket{le=\"+Inf\"} %d\n", cum)
	p("sy_edge_push_seconds_sum %g\nsy_edge_push_seconds_count %d\n", float64(m.pushSumNs.Load())/1e9, m.pushCount.Load())
	p("# HELP sy_edge_errors_total Errors by cause.\n# TYPE sy_edge_errors_total counter\n")
	m.errMu.RLock()
	causes := make([]string, 0, len(m.errs))
	for c := range m.errs {
		causes = append(causes, c)
	}
	sort.Strings(causes)
	for _, c := range causes {
		p("sy_edge_errors_total{cause=%q} %d\n", c, m.errs[c].Load())
	}
	m.errMu.RUnlock()
	return n, nil
}

// PushStats returns the number of observed pushes and their total time.
func (m *M) PushStats() (count int64, total time.Duration) {
	return m.pushCount.Load(), time.Duration(m.pushSumNs.Load())
}
