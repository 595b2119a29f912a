package report

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/loadtest/internal/hist"
)

func sample() *Result {
	var h hist.H
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * 37 * time.Microsecond)
	}
	r := &Result{Scenario: "connect", Started: time.Now(), Duration: 3.2, Params: map[string]any{"conns": 1000},
		Failures: map[string]int64{"dial: timeout": 2}}
	r.Add("connections/s", 9123.4, "1/s").WithGoal("≥ 20000 per edge CPU-s", false)
	r.AddLatency("handshake", h.Snapshot())
	r.Timeline = []Point{{0, 0, 0, 0}, {1, 500, 500, 1}, {2, 1000, 1000, 2}}
	r.Series = []Series{{Name: "time to 100%", XLabel: "change", YLabel: "ms", Points: [][2]float64{{1, 12}, {2, 15}}}}
	r.Check("counts", true, "1000 = 1000")
	r.Check("no failures", false, "2 failures")
	return r
}

func TestTableJSONHTML(t *testing.T) {
	r := sample()
	var sb strings.Builder
	r.WriteTable(&sb)
	out := sb.String()
	for _, want := range []string{"connections/s", "9123", "MISSED", "handshake", "dial: timeout", "FAIL no failures"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	dir := t.TempDir()
	jp, hp, err := r.Save(dir)
	if err != nil {
		t.Fatal(err)
	}
	var back Result
	b, _ := os.ReadFile(jp)
	if err := json.Unmarshal(b, &back); err != nil || back.Latencies[0].Hist.N != 1000 || back.OK() {
		t.Fatalf("json round trip: %v %+v", err, back.Latencies)
	}
	h, _ := os.ReadFile(hp)
	page := string(h)
	if strings.Count(page, "<svg") != 3 || strings.Contains(page, "http://") && !strings.Contains(page, `xmlns="http://www.w3.org/2000/svg"`) {
		t.Fatalf("want 3 inline charts, got %d", strings.Count(page, "<svg"))
	}
	for _, bad := range []string{"<script src", "<link ", "https://"} {
		if strings.Contains(page, bad) {
			t.Fatalf("page references an external asset (%s)", bad)
		}
	}
}
