package metrics

import (
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// parse parses a text exposition strictly, failing the test on any error.
func parse(t *testing.T, text string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("exposition does not parse: %v\n%s", err, text)
	}
	return fams
}

func TestHistogramBucketsAreCumulative(t *testing.T) {
	h := NewHistogram(1, 10, 100)
	for _, v := range []float64{0.5, 1, 5, 50, 500, 5000} {
		h.Observe(v)
	}
	var b strings.Builder
	h.Write(&b, "x_seconds", "test.")
	fam := parse(t, b.String())["x_seconds"]
	if fam == nil || fam.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("no histogram in\n%s", b.String())
	}
	hist := fam.Metric[0].Histogram
	want := []uint64{2, 3, 4, 6} // le=1 holds 0.5 and 1 (inclusive); the last is +Inf
	if len(hist.Bucket) != len(want) {
		t.Fatalf("%d buckets, want %d", len(hist.Bucket), len(want))
	}
	for i, bk := range hist.Bucket {
		if bk.GetCumulativeCount() != want[i] {
			t.Errorf("bucket le=%g: %d, want %d", bk.GetUpperBound(), bk.GetCumulativeCount(), want[i])
		}
	}
	if hist.GetSampleCount() != 6 || hist.GetSampleSum() != 5556.5 {
		t.Errorf("count %d sum %g, want 6 and 5556.5", hist.GetSampleCount(), hist.GetSampleSum())
	}
}

func TestSampleEscapesLabels(t *testing.T) {
	var b strings.Builder
	Header(&b, "x", "gauge", "test.")
	Sample(&b, "x", 1, "a", "q\"uote\\back\nline", "b", "ü")
	m := parse(t, b.String())["x"].Metric[0]
	if got := m.Label[0].GetValue(); got != "q\"uote\\back\nline" {
		t.Errorf("label a = %q", got)
	}
	if got := m.Label[1].GetValue(); got != "ü" {
		t.Errorf("label b = %q", got)
	}
}

func TestObserveIsAllocationFree(t *testing.T) {
	h := NewHistogram(1, 10, 100)
	if n := testing.AllocsPerRun(100, func() { h.Observe(7) }); n != 0 {
		t.Errorf("Observe: %v allocations, want 0", n)
	}
}

func TestHistogramVecCapsLabelValues(t *testing.T) {
	v := NewHistogramVec(2, 1, 10)
	for _, route := range []string{"GET /a", "GET /b", "GET /c/{id}", "GET /d"} {
		v.With(route).Observe(5)
	}
	v.With("GET /a").Observe(0.5)
	var b strings.Builder
	v.Write(&b, "req_seconds", "route", "test.")
	fam := parse(t, b.String())["req_seconds"]
	if fam == nil {
		t.Fatalf("no family in\n%s", b.String())
	}
	got := map[string]uint64{}
	for _, m := range fam.Metric {
		got[m.Label[0].GetValue()] = m.Histogram.GetSampleCount()
	}
	want := map[string]uint64{"GET /a": 2, "GET /b": 1, Overflow: 2}
	if len(got) != len(want) {
		t.Fatalf("label values %v, want %v", got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: %d observations, want %d (all: %v)", k, got[k], n, got)
		}
	}
}

func TestHistogramVecObserveIsAllocationFree(t *testing.T) {
	v := NewHistogramVec(8, 1, 10)
	v.With("GET /a").Observe(1)
	if n := testing.AllocsPerRun(100, func() { v.With("GET /a").Observe(2) }); n != 0 {
		t.Errorf("With+Observe of a known value: %v allocations, want 0", n)
	}
}
