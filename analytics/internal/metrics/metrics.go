// Package metrics writes analytics' counters, gauges and histograms in the
// Prometheus text exposition format (version 0.0.4), hand-written: no client
// library. A Histogram has fixed bucket bounds chosen at construction.
//
// Histogram.Observe is safe for concurrent use and does not allocate; the
// Write functions are meant for one scrape at a time per io.Writer.
package metrics

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
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
