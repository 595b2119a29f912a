package consume

import (
	"context"
	"io"
	"slices"
	"strconv"
	"sync"

	"github.com/switchyard/switchyard/analytics/internal/metrics"
)

// insertBuckets are the upper bounds (seconds) of the insert latency
// histogram; batchBuckets those (rows) of the batch size histogram.
var (
	insertBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}
	batchBuckets  = []float64{1, 10, 100, 1000, 5000, 10_000, 25_000, 50_000, 100_000, 250_000}
)

// maxPartitions caps the partitions tracked for the lag gauge (event ids
// already assume partition numbers below 4096).
const maxPartitions = 4096

// partitions tracks, per partition this consumer owns, the high watermark
// of the last fetch and the committed offset (the next offset to read after
// a restart). Lag is their difference.
type partitions struct {
	mu sync.Mutex
	m  map[int32]*partState
}

type partState struct {
	hwm, committed int64 // committed: -1 until known
}

func (ps *partitions) get(p int32) *partState {
	if ps.m == nil {
		ps.m = map[int32]*partState{}
	}
	st := ps.m[p]
	if st == nil && len(ps.m) < maxPartitions {
		st = &partState{committed: -1}
		ps.m[p] = st
	}
	return st
}

// fetched records a fetch of p: its high watermark and the offset of its
// first record (-1: none), which is the committed position when nothing was
// committed by this consumer yet.
func (ps *partitions) fetched(p int32, hwm, first int64) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if st := ps.get(p); st != nil {
		st.hwm = hwm
		if st.committed < 0 && first >= 0 {
			st.committed = first
		}
	}
}

// committed records a successful commit of p up to next.
func (ps *partitions) committed(p int32, next int64) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if st := ps.get(p); st != nil && next > st.committed {
		st.committed = next
	}
}

// drop forgets partitions this consumer no longer owns.
func (ps *partitions) drop(parts []int32) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for _, p := range parts {
		delete(ps.m, p)
	}
}

// Lag returns, per owned partition, the records between the committed offset
// and the high watermark of the last fetch.
func (c *Consumer) Lag() map[int32]int64 {
	c.parts.mu.Lock()
	defer c.parts.mu.Unlock()
	out := make(map[int32]int64, len(c.parts.m))
	for p, st := range c.parts.m {
		if st.committed >= 0 {
			out[p] = max(0, st.hwm-st.committed)
		}
	}
	return out
}

// WriteMetrics writes the consumer's metrics in the Prometheus text format.
func (c *Consumer) WriteMetrics(w io.Writer) {
	st := c.Stats()
	metrics.Counter(w, "sy_analytics_kafka_records_total", "Kafka records consumed.", st.Records)
	metrics.Counter(w, "sy_analytics_events_consumed_total", "Events decoded from Kafka records.", st.Consumed)
	metrics.Counter(w, "sy_analytics_events_inserted_total", "Events written to ClickHouse.", st.Events)
	metrics.Counter(w, "sy_analytics_bad_records_total", "Undecodable Kafka records skipped.", st.BadRecords)
	metrics.Counter(w, "sy_analytics_inserts_total", "Successful ClickHouse inserts.", st.Flushes)
	metrics.Counter(w, "sy_analytics_insert_failures_total", "Failed ClickHouse insert attempts (each is retried).", st.FlushErrors)
	metrics.Counter(w, "sy_analytics_commit_failures_total", "Failed Kafka offset commits (records are re-delivered).", st.CommitErrors)
	metrics.Gauge(w, "sy_analytics_ingest_delay_seconds", "Kafka record time to inserted, of the newest record of the last insert.", float64(st.LagMs)/1000)
	c.insertSeconds.Write(w, "sy_analytics_insert_duration_seconds", "Duration of successful ClickHouse inserts.")
	c.batchRows.Write(w, "sy_analytics_insert_batch_rows", "Rows (events) per successful ClickHouse insert.")
	lag := c.Lag()
	parts := make([]int32, 0, len(lag))
	for p := range lag {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	metrics.Header(w, "sy_analytics_kafka_consumer_lag", "gauge", "Records between the committed offset and the high watermark, per partition this instance owns.")
	for _, p := range parts {
		metrics.Sample(w, "sy_analytics_kafka_consumer_lag", float64(lag[p]), "topic", c.cfg.Topic, "partition", strconv.Itoa(int(p)))
	}
}

// Ping reports whether a Kafka broker answers (an ApiVersions request).
func (c *Consumer) Ping(ctx context.Context) error { return c.cl.Ping(ctx) }
