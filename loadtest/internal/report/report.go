// Package report holds a scenario's result and renders it three ways: a
// plain-text summary table, a JSON document, and a self-contained HTML page
// whose charts (latency histograms, connections over time, per-change
// delivery times) are inline SVG drawn here, with no network assets.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/switchyard/switchyard/loadtest/internal/hist"
)

// Metric is one figure of the summary table.
type Metric struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	Goal  string  `json:"goal,omitempty"` // e.g. "≤ 3.5 KB"
	Met   *bool   `json:"met,omitempty"`
	Note  string  `json:"note,omitempty"`
}

// Latency is a named histogram.
type Latency struct {
	Name    string       `json:"name"`
	Summary hist.Summary `json:"summary"`
	Hist    hist.Snap    `json:"hist"`
}

// Point is one sample of the connections-over-time chart.
type Point struct {
	T      float64 `json:"t"` // seconds since the start
	Open   int64   `json:"open"`
	Synced int64   `json:"synced"`
	Failed int64   `json:"failed"`
}

// Check is a consistency check; a run whose checks fail is reported as failed.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Series is an extra x/y chart (e.g. time to 100 % per change).
type Series struct {
	Name   string       `json:"name"`
	XLabel string       `json:"xLabel"`
	YLabel string       `json:"yLabel"`
	Points [][2]float64 `json:"points"`
}

// Result is everything one scenario run produced.
type Result struct {
	Scenario  string           `json:"scenario"`
	Started   time.Time        `json:"started"`
	Duration  float64          `json:"durationSec"`
	Params    map[string]any   `json:"params"`
	Metrics   []Metric         `json:"metrics"`
	Latencies []Latency        `json:"latencies"`
	Timeline  []Point          `json:"timeline,omitempty"`
	Series    []Series         `json:"series,omitempty"`
	Failures  map[string]int64 `json:"failures"`
	Checks    []Check          `json:"checks"`
	Notes     []string         `json:"notes,omitempty"`
	Extra     map[string]any   `json:"extra,omitempty"`
}

// Add appends a metric.
func (r *Result) Add(name string, v float64, unit string) *Metric {
	r.Metrics = append(r.Metrics, Metric{Name: name, Value: v, Unit: unit})
	return &r.Metrics[len(r.Metrics)-1]
}

// Goal sets the goal text and whether the value meets it.
func (m *Metric) WithGoal(goal string, met bool) *Metric {
	m.Goal = goal
	m.Met = &met
	return m
}

// AddLatency appends a histogram.
func (r *Result) AddLatency(name string, s hist.Snap) {
	r.Latencies = append(r.Latencies, Latency{Name: name, Summary: s.Summarize(), Hist: s})
}

// Check appends a consistency check.
func (r *Result) Check(name string, ok bool, format string, args ...any) {
	r.Checks = append(r.Checks, Check{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
}

// OK reports whether every check passed.
func (r *Result) OK() bool {
	for _, c := range r.Checks {
		if !c.OK {
			return false
		}
	}
	return true
}

// Metric returns the metric named name (nil if absent).
func (r *Result) Metric(name string) *Metric {
	for i := range r.Metrics {
		if r.Metrics[i].Name == name {
			return &r.Metrics[i]
		}
	}
	return nil
}

func fmtVal(v float64) string {
	switch {
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return fmt.Sprintf("%d", int64(v))
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

// WriteTable prints the human summary.
func (r *Result) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "\n== %s (%.1f s) ==\n", r.Scenario, r.Duration)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "metric\tvalue\tunit\tgoal\tnote\t")
	for _, m := range r.Metrics {
		goal := m.Goal
		if m.Met != nil {
			if *m.Met {
				goal += " (met)"
			} else {
				goal += " (MISSED)"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", m.Name, fmtVal(m.Value), m.Unit, goal, m.Note)
	}
	tw.Flush()
	if len(r.Latencies) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "latency (ms)\tn\tmean\tp50\tp90\tp99\tp99.9\tmax\t")
		for _, l := range r.Latencies {
			s := l.Summary
			fmt.Fprintf(tw, "%s\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t\n", l.Name, s.N, s.Mean, s.P50, s.P90, s.P99, s.P999, s.Max)
		}
		tw.Flush()
	}
	if len(r.Failures) > 0 {
		fmt.Fprintln(w, "\nfailures by cause:")
		for _, k := range sortedKeys(r.Failures) {
			fmt.Fprintf(w, "  %8d  %s\n", r.Failures[k], k)
		}
	}
	fmt.Fprintln(w, "\nchecks:")
	for _, c := range r.Checks {
		st := "ok  "
		if !c.OK {
			st = "FAIL"
		}
		fmt.Fprintf(w, "  %s %s: %s\n", st, c.Name, c.Detail)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}

func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || (m[keys[i]] == m[keys[j]] && keys[i] < keys[j]) })
	return keys
}

// Save writes <dir>/<scenario>.json and <dir>/<scenario>.html and returns their paths.
func (r *Result) Save(dir string) (jsonPath, htmlPath string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	jsonPath = filepath.Join(dir, r.Scenario+".json")
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", "", err
	}
	if err := os.WriteFile(jsonPath, b, 0o644); err != nil {
		return "", "", err
	}
	htmlPath = filepath.Join(dir, r.Scenario+".html")
	var sb strings.Builder
	r.WriteHTML(&sb)
	return jsonPath, htmlPath, os.WriteFile(htmlPath, []byte(sb.String()), 0o644)
}
