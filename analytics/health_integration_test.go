//go:build integration

package analytics

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/switchyard/switchyard/internal/tcpproxy"
)

// TestReadyzClickHouseOutage: with ClickHouse behind a proxy this test
// controls, /readyz is 200, turns 503 naming ClickHouse when the proxy stops
// (the shared service keeps running), and 200 again when it is back.
func TestReadyzClickHouseOutage(t *testing.T) {
	e := newITEnv(t, 1)
	px := tcpproxy.New(t, e.chAddr)
	e.chAddr = px.Addr()
	s := e.start(t, 1000, 100*time.Millisecond)
	h := s.Handler()

	body := waitStatus(t, h, "/readyz", 200)
	if !strings.Contains(body, `"clickhouse":"ok"`) || !strings.Contains(body, `"kafka":"ok"`) {
		t.Errorf("/readyz %s: want both dependencies ok", body)
	}
	px.Stop()
	body = waitStatus(t, h, "/readyz", 503)
	if strings.Contains(body, `"clickhouse":"ok"`) || !strings.Contains(body, `"kafka":"ok"`) {
		t.Errorf("/readyz %s: want clickhouse failing, kafka ok", body)
	}
	px.Resume(t)
	waitStatus(t, h, "/readyz", 200)
}

// TestMetricsAfterIngest: after events flow Kafka → ClickHouse, a scrape
// parses and shows them counted, an insert in the latency and batch-size
// histograms and the partitions' lag.
func TestMetricsAfterIngest(t *testing.T) {
	e := newITEnv(t, 2)
	s := e.start(t, 1000, 100*time.Millisecond)
	var recs []*kgo.Record
	for i := range 10 {
		recs = append(recs, e.record(batch("env-m", i, 3, 1)))
	}
	e.produce(t, recs)
	deadline := time.Now().Add(60 * time.Second)
	for s.IngestStats().Events < 40 {
		if time.Now().After(deadline) {
			t.Fatalf("events not inserted: %+v", s.IngestStats())
		}
		time.Sleep(50 * time.Millisecond)
	}
	code, text := fetch(s.Handler(), "/metrics")
	if code != 200 {
		t.Fatalf("/metrics %d", code)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, text)
	}
	if v := fams["sy_analytics_events_inserted_total"].GetMetric()[0].GetCounter().GetValue(); v != 40 {
		t.Errorf("events inserted %g, want 40", v)
	}
	if v := fams["sy_analytics_events_consumed_total"].GetMetric()[0].GetCounter().GetValue(); v != 40 {
		t.Errorf("events consumed %g, want 40", v)
	}
	if n := fams["sy_analytics_insert_duration_seconds"].GetMetric()[0].GetHistogram().GetSampleCount(); n == 0 {
		t.Error("no insert in the latency histogram")
	}
	if v := fams["sy_analytics_insert_batch_rows"].GetMetric()[0].GetHistogram().GetSampleSum(); v != 40 {
		t.Errorf("batch rows sum %g, want 40", v)
	}
	// Offsets are committed right after the insert: poll until both partitions show lag 0.
	for {
		lag := s.cons.Lag()
		if len(lag) == 2 && lag[0] == 0 && lag[1] == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lag %v, want both partitions at 0", lag)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReadyzKafkaOutage: every Kafka broker behind a proxy the test stops
// (the shared brokers keep running): /readyz turns unready naming kafka
// within 2 s (probes every 0.5 s, 1 s limit) while ClickHouse stays ok, and
// is ready again once the brokers are back.
func TestReadyzKafkaOutage(t *testing.T) {
	e := newITEnv(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	meta, err := kadm.NewClient(e.prod).BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	proxies := map[string]*tcpproxy.Proxy{}
	for _, b := range meta.Brokers {
		a := net.JoinHostPort(b.Host, fmt.Sprint(b.Port))
		proxies[a] = tcpproxy.New(t, a)
	}
	for _, a := range e.brokers {
		if proxies[a] == nil {
			proxies[a] = tcpproxy.New(t, a)
		}
	}
	dial := func(ctx context.Context, network, host string) (net.Conn, error) {
		p := proxies[host]
		if p == nil {
			return nil, fmt.Errorf("test dialer: no proxy for broker %s", host)
		}
		var d net.Dialer
		return d.DialContext(ctx, network, p.Addr())
	}
	s, err := New(Config{Addr: "-", ClickHouseAddr: e.chAddr, ClickHouseDB: e.db, KafkaBrokers: e.brokers,
		TopicPrefix: e.prefix, BatchRows: 1000, FlushInterval: 100 * time.Millisecond,
		kafkaOpts: []kgo.Opt{kgo.HeartbeatInterval(300 * time.Millisecond), kgo.Dialer(dial)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	h := s.Handler()
	waitStatus(t, h, "/readyz", 200)
	for _, p := range proxies {
		p.Stop()
	}
	start := time.Now()
	for {
		code, body := fetch(h, "/readyz")
		if code == 503 && !strings.Contains(body, `"kafka":"ok"`) && strings.Contains(body, `"clickhouse":"ok"`) {
			break
		}
		if time.Since(start) > 2*time.Second {
			t.Fatalf("brokers stopped: /readyz %d %s after 2 s; want 503 naming kafka, clickhouse ok", code, body)
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Logf("kafka: unready %v after the brokers stopped", time.Since(start).Round(time.Millisecond))
	for _, p := range proxies {
		p.Resume(t)
	}
	waitStatus(t, h, "/readyz", 200)
}
