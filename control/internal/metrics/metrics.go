// Package metrics writes control's counters, gauges and histograms in the
// Prometheus text exposition format (version 0.0.4), hand-written: no client
// library (the same small idea as analytics' own, kept separate because
// components do not share internals). A Histogram has fixed bucket bounds
// chosen at construction; a HistogramVec is a capped family of them keyed by
// one label.
//
// Histogram.Observe is safe for concurrent use and does not allocate; the
// Write functions are meant for one scrape at a time per io.Writer.
package metrics

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Histogram counts observations into buckets with upper bounds (inclusive,
// as Prometheus' "le").
type Histogram struct {
	bounds []float64
	counts []atomic.Uint64 // len(bounds)+1: the last is +Inf
	count  atomic.Uint64
	sum    atomic.Uint64 // float64 bits
}

// NewHistogram returns a histogram with the given increasing upper bounds.
func NewHistogram(bounds ...float64) *Histogram {
	for i := 1; i < len(bounds); i++ {
		if !(bounds[i] > bounds[i-1]) {
			panic("BUG: metrics: histogram bounds must increase")
		}
	}
	return &Histogram{bounds: bounds, counts: make([]atomic.Uint64, len(bounds)+1)}
}

// Observe adds one observation.
func (h *Histogram) Observe(v float64) {
	i := 0
	for i < len(h.bounds) && v > h.bounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.count.Add(1)
	for {
		old := h.sum.Load()
		if h.sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// Count is the number of observations.
func (h *Histogram) Count() uint64 { return h.count.Load() }

// Write writes h as the histogram name with help text.
func (h *Histogram) Write(w io.Writer, name, help string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name)
	var cum uint64
	for i, b := range h.bounds {
		cum += h.counts[i].Load()
		fmt.Fprintf(w, "%s_bucket{le=\"%s\"} %d\n", name, formatFloat(b), cum)
	}
	cum += h.counts[len(h.bounds)].Load()
	fmt.Fprintf(w, "%s_bucket{le=\"+Inf\"} %d\n", name, cum)
	fmt.Fprintf(w, "%s_sum %s\n%s_count %d\n", name, formatFloat(math.Float64frombits(h.sum.Load())), name, cum)
}

// Counter writes one counter sample.
func Counter(w io.Writer, name, help string, v uint64) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, help, name, name, v)
}

// Gauge writes one gauge sample.
func Gauge(w io.Writer, name, help string, v float64) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %s\n", name, help, name, name, formatFloat(v))
}

// Header writes the HELP and TYPE lines of a metric family whose samples
// (with labels) follow through Sample.
func Header(w io.Writer, name, typ, help string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

// Sample writes one sample with labels given as name, value pairs; values are
// escaped.
func Sample(w io.Writer, name string, v float64, labels ...string) {
	io.WriteString(w, name)
	for i := 0; i+1 < len(labels); i += 2 {
		sep := ","
		if i == 0 {
			sep = "{"
		}
		fmt.Fprintf(w, "%s%s=\"%s\"", sep, labels[i], labelEscaper.Replace(labels[i+1]))
	}
	if len(labels) > 1 {
		io.WriteString(w, "}")
	}
	fmt.Fprintf(w, " %s\n", formatFloat(v))
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// HistogramVec is a family of histograms sharing bucket bounds, one per
// value of a single label. It holds at most max label values; observations
// of further values go to the overflow value ("other"), so a caller that
// passes unbounded input cannot grow the family without bound.
//
// With is safe for concurrent use; after a value's first observation it
// does not allocate.
type HistogramVec struct {
	bounds []float64
	max    int
	mu     sync.RWMutex
	hs     map[string]*Histogram
}

// Overflow is the label value that collects the observations of values
// beyond a HistogramVec's cap.
const Overflow = "other"

// NewHistogramVec returns a family of at most max (>= 1) label values.
func NewHistogramVec(max int, bounds ...float64) *HistogramVec {
	NewHistogram(bounds...) // validates the bounds
	return &HistogramVec{bounds: bounds, max: max, hs: map[string]*Histogram{}}
}

// With returns the histogram of label value v (Overflow's once the family
// is full).
func (v *HistogramVec) With(val string) *Histogram {
	v.mu.RLock()
	h := v.hs[val]
	v.mu.RUnlock()
	if h != nil {
		return h
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if h = v.hs[val]; h != nil {
		return h
	}
	if len(v.hs) >= v.max {
		val = Overflow
		if h = v.hs[val]; h != nil {
			return h
		}
	}
	h = NewHistogram(v.bounds...)
	v.hs[val] = h
	return h
}

// Write writes the family as histogram name with label (sorted by value).
func (v *HistogramVec) Write(w io.Writer, name, label, help string) {
	v.mu.RLock()
	vals := make([]string, 0, len(v.hs))
	for k := range v.hs {
		vals = append(vals, k)
	}
	v.mu.RUnlock()
	sort.Strings(vals)
	Header(w, name, "histogram", help)
	for _, val := range vals {
		v.mu.RLock()
		h := v.hs[val]
		v.mu.RUnlock()
		lv := label + `="` + labelEscaper.Replace(val) + `"`
		var cum uint64
		for i, b := range h.bounds {
			cum += h.counts[i].Load()
			fmt.Fprintf(w, "%s_bucket{%s,le=\"%s\"} %d\n", name, lv, formatFloat(b), cum)
		}
		cum += h.counts[len(h.bounds)].Load()
		fmt.Fprintf(w, "%s_bucket{%s,le=\"+Inf\"} %d\n", name, lv, cum)
		fmt.Fprintf(w, "%s_sum{%s} %s\n%s_count{%s} %d\n", name, lv, formatFloat(math.Float64frombits(h.sum.Load())), name, lv, cum)
	}
}
