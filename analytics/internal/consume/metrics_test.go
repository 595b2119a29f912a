package consume

import (
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestMetricsLagPerPartition(t *testing.T) {
	// The client connects lazily: nothing is dialled here.
	c, err := New(Config{Brokers: []string{"127.0.0.1:1"}, Topic: "p.sy.insights", Group: "g"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.cl.Close()
	c.parts.fetched(0, 100, 40) // started at 40: 60 behind
	c.parts.fetched(1, 10, -1)  // nothing fetched yet: position unknown, no sample
	c.parts.fetched(2, 500, 0)
	c.parts.committed(2, 450) // committed up to 450: 50 behind
	c.parts.committed(2, 300) // an older commit does not move it back
	c.insertSeconds.Observe(0.02)
	c.batchRows.Observe(1200)

	var b strings.Builder
	c.WriteMetrics(&b)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(b.String()))
	if err != nil {
		t.Fatalf("scrape does not parse: %v\n%s", err, b.String())
	}
	lag := map[string]float64{}
	for _, m := range fams["sy_analytics_kafka_consumer_lag"].GetMetric() {
		var part, topic string
		for _, l := range m.Label {
			switch l.GetName() {
			case "partition":
				part = l.GetValue()
			case "topic":
				topic = l.GetValue()
			}
		}
		if topic != "p.sy.insights" {
			t.Errorf("lag sample topic %q", topic)
		}
		lag[part] = m.GetGauge().GetValue()
	}
	if len(lag) != 2 || lag["0"] != 60 || lag["2"] != 50 {
		t.Errorf("lag %v, want map[0:60 2:50]", lag)
	}
	if n := fams["sy_analytics_insert_duration_seconds"].GetMetric()[0].GetHistogram().GetSampleCount(); n != 1 {
		t.Errorf("insert histogram count %d, want 1", n)
	}
	if n := fams["sy_analytics_insert_batch_rows"].GetMetric()[0].GetHistogram().GetSampleSum(); n != 1200 {
		t.Errorf("batch rows sum %g, want 1200", n)
	}
	for _, name := range []string{"sy_analytics_events_consumed_total", "sy_analytics_events_inserted_total",
		"sy_analytics_insert_failures_total", "sy_analytics_bad_records_total"} {
		if fams[name] == nil {
			t.Errorf("no %s", name)
		}
	}

	c.parts.drop([]int32{0})
	if l := c.Lag(); len(l) != 1 || l[2] != 50 {
		t.Errorf("after revoking partition 0: lag %v", l)
	}
}

func TestMetricsPartitionsCapped(t *testing.T) {
	var ps partitions
	for p := range int32(maxPartitions + 100) {
		ps.fetched(p, 1, 0)
	}
	if len(ps.m) != maxPartitions {
		t.Errorf("%d partitions tracked, want the cap %d", len(ps.m), maxPartitions)
	}
}
