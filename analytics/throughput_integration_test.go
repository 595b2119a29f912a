//go:build integration

package analytics

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/switchyard/switchyard/codec"
)

// TestIngestThroughput measures Kafka → ClickHouse: a backlog of
// SY_TEST_E2E_EVENTS (default 200,000) evaluations in records of 100 is
// produced first, then the service drains it (events/s); then events are
// produced at a steady rate for 5 s and the consumer's lag (record timestamp
// → batch committed) is sampled. Counts must be exact; the figures are logged
// (docs/analytics.md quotes them).
func TestIngestThroughput(t *testing.T) {
	n := 200_000
	if v, err := strconv.Atoi(os.Getenv("SY_TEST_E2E_EVENTS")); err == nil && v > 0 {
		n = v
	}
	const perRecord = 100
	e := newITEnv(t, 4)
	now := time.Now().UnixMilli()
	mk := func(seq int) *kgo.Record {
		b := &codec.InsightBatch{EnvID: "0f4a3c2e-7d41-4b7e-9a43-5c1d2e3f4a5b"}
		for i := 0; i < perRecord; i++ {
			b.Evals = append(b.Evals, codec.FlagEval{FlagKey: fmt.Sprintf("flag-%02d", i%20), VariationID: fmt.Sprintf("var-%d", i%3),
				Value: "true", UserKey: fmt.Sprintf("7a1e5a2c-3b4d-4e5f-8a9b-%012d", seq*perRecord+i), UserName: "user",
				SendToExperiment: i%2 == 0, Timestamp: now})
		}
		return e.record(b)
	}
	recs := make([]*kgo.Record, 0, n/perRecord)
	for i := 0; i < n/perRecord; i++ {
		recs = append(recs, mk(i))
	}
	pstart := time.Now()
	e.produce(t, recs)
	t.Logf("produced %d events in %d records in %v", n, len(recs), time.Since(pstart))

	t0 := time.Now()
	s := e.start(t, 100_000, 500*time.Millisecond)
	for s.IngestStats().Records == 0 { // group join and first fetch
		if time.Since(t0) > time.Minute {
			t.Fatal("nothing consumed within a minute")
		}
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	for s.IngestStats().Events < uint64(n) { // inserted and committed; no ClickHouse queries meanwhile
		if time.Since(start) > 5*time.Minute {
			t.Fatalf("drain timeout: %+v", s.IngestStats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	d := time.Since(start)
	waitCounts(t, s, uint64(n), 0, time.Minute) // and exactly n distinct events are there
	t.Logf("group join + first fetch %v; backlog drain: %d events in %v = %.0f events/s (stats %+v)",
		start.Sub(t0), n, d, float64(n)/d.Seconds(), s.IngestStats())

	// steady stream: 20 records (2,000 events) every 100 ms ≈ 20,000 events/s for 5 s
	var lags []int64
	seq := len(recs)
	sent := uint64(n)
	flushes := s.IngestStats().Flushes
	for tick := 0; tick < 50; tick++ {
		batch := make([]*kgo.Record, 0, 20)
		for i := 0; i < 20; i++ {
			batch = append(batch, mk(seq))
			seq++
		}
		e.produce(t, batch)
		sent += 20 * perRecord
		if st := s.IngestStats(); st.Flushes != flushes {
			flushes = st.Flushes
			if tick >= 10 { // the first second still drains the backlog's tail
				lags = append(lags, st.LagMs)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	waitCounts(t, s, sent, 0, 2*time.Minute)
	sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
	if len(lags) == 0 {
		t.Fatal("no flush observed during the steady stream")
	}
	t.Logf("steady ~20,000 events/s, flush interval 500ms: lag record→committed median %d ms, max %d ms over %d flushes",
		lags[len(lags)/2], lags[len(lags)-1], len(lags))
}
