package chartcheck

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

const dashboardFile = repoRoot + "/ops/deploy/grafana/switchyard.json"

// metricName matches a Switchyard metric name, in Go source (the string
// literals the /metrics handlers write) and in PromQL.
var metricName = regexp.MustCompile(`\bsy_(?:edge|control|analytics)_[a-z0-9_]+`)

// exposedMetrics collects the metric names the three services write: every
// sy_edge_*, sy_control_* and sy_analytics_* name in their non-test Go
// source (the handlers write literal names: edge/internal/metrics,
// control/health.go, analytics/health.go, analytics/internal/consume).
func exposedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	for _, dir := range []string{"edge", "control", "analytics"} {
		err := filepath.WalkDir(filepath.Join(repoRoot, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && (d.Name() == "node_modules" || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, n := range metricName.FindAllString(string(b), -1) {
				names[n] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"sy_edge_connections", "sy_control_outbox_depth", "sy_analytics_kafka_consumer_lag"} {
		if !names[want] {
			t.Fatalf("the source scan did not find %s (scan broken?): %v", want, names)
		}
	}
	return names
}

// unknownMetrics returns the metric names of a PromQL expression the
// services do not expose; a histogram's _bucket, _sum and _count series
// count when the histogram's name is exposed.
func unknownMetrics(expr string, exposed map[string]bool) []string {
	var bad []string
	for _, n := range metricName.FindAllString(expr, -1) {
		if exposed[n] {
			continue
		}
		base := n
		for _, s := range []string{"_bucket", "_sum", "_count"} {
			base = strings.TrimSuffix(base, s)
		}
		if base != n && exposed[base] {
			continue
		}
		bad = append(bad, n)
	}
	return bad
}

// exprs collects every "expr" string of the dashboard (panels, rows'
// nested panels, targets) with its panel title.
func exprs(v any, title string, out map[string]string) {
	switch v := v.(type) {
	case map[string]any:
		if s, ok := v["title"].(string); ok {
			title = s
		}
		for k, x := range v {
			if s, ok := x.(string); ok && k == "expr" {
				out[s] = title
			} else {
				exprs(x, title, out)
			}
		}
	case []any:
		for _, x := range v {
			exprs(x, title, out)
		}
	}
}

// TestGrafanaDashboardMetrics parses ops/deploy/grafana/switchyard.json and
// checks that every metric its queries use is one a service writes (a
// renamed metric fails here), that every panel has a query and a unique id,
// and that the dashboard uses metrics of all three services.
func TestGrafanaDashboardMetrics(t *testing.T) {
	exposed := exposedMetrics(t)
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID    string           `json:"uid"`
		Title  string           `json:"title"`
		Panels []map[string]any `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.UID == "" || d.Title == "" || len(d.Panels) == 0 {
		t.Fatalf("dashboard needs uid, title and panels")
	}
	ids := map[float64]bool{}
	for _, p := range d.Panels {
		id, _ := p["id"].(float64)
		if id == 0 || ids[id] {
			t.Errorf("panel %q: missing or duplicate id %v", p["title"], p["id"])
		}
		ids[id] = true
		if p["type"] == "row" {
			continue
		}
		if ts, _ := p["targets"].([]any); len(ts) == 0 {
			t.Errorf("panel %q has no query", p["title"])
		}
	}
	all := map[string]string{}
	exprs(map[string]any{"panels": anySlice(d.Panels)}, "", all)
	used := map[string]bool{}
	for e, title := range all {
		if bad := unknownMetrics(e, exposed); len(bad) > 0 {
			t.Errorf("panel %q: %v are not written by any service (renamed?): %s", title, bad, e)
		}
		for _, n := range metricName.FindAllString(e, -1) {
			used[strings.SplitN(n, "_", 3)[1]] = true
		}
	}
	for _, svc := range []string{"edge", "control", "analytics"} {
		if !used[svc] {
			t.Errorf("no panel uses a sy_%s_* metric", svc)
		}
	}
	// The check itself can fail: a renamed metric and a typo are caught.
	if bad := unknownMetrics("sum(rate(sy_edge_push_total[5m])) + sy_edge_push_seconds_bucket + sy_control_outbox_dept", exposed); len(bad) != 2 {
		t.Errorf("unknownMetrics missed a name: %v", bad)
	}
	names := make([]string, 0, len(used))
	for n := range used {
		names = append(names, n)
	}
	sort.Strings(names)
	t.Logf("%d queries over %s", len(all), strings.Join(names, ", "))
}

func anySlice(ps []map[string]any) []any {
	out := make([]any, len(ps))
	for i, p := range ps {
		out[i] = p
	}
	return out
}
