//go:build integration

package analytics

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kgo"
)

// tcpProxy forwards a loopback port to target; stop closes the listener and
// every forwarded connection (the dependency "dies"), restart listens on the
// same port again.
type tcpProxy struct {
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]struct{}
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	p := &tcpProxy{target: target, addr: "127.0.0.1:0", conns: map[net.Conn]struct{}{}}
	p.restart(t)
	t.Cleanup(p.stop)
	return p
}

func (p *tcpProxy) restart(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.forward(c)
		}
	}()
}

func (p *tcpProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *tcpProxy) forward(c net.Conn) {
	u, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(c) || !p.track(u) {
		c.Close()
		u.Close()
		return
	}
	go func() { io.Copy(u, c); u.Close() }()
	io.Copy(c, u)
	c.Close()
}

func (p *tcpProxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// TestReadyzClickHouseOutage: with ClickHouse behind a proxy this test
// controls, /readyz is 200, turns 503 naming ClickHouse when the proxy stops
// (the shared service keeps running), and 200 again when it is back.
func TestReadyzClickHouseOutage(t *testing.T) {
	e := newITEnv(t, 1)
	px := newTCPProxy(t, e.chAddr)
	e.chAddr = px.addr
	s := e.start(t, 1000, 100*time.Millisecond)
	h := s.Handler()

	body := waitStatus(t, h, "/readyz", 200)
	if !strings.Contains(body, `"clickhouse":"ok"`) || !strings.Contains(body, `"kafka":"ok"`) {
		t.Errorf("/readyz %s: want both dependencies ok", body)
	}
	px.stop()
	body = waitStatus(t, h, "/readyz", 503)
	if strings.Contains(body, `"clickhouse":"ok"`) || !strings.Contains(body, `"kafka":"ok"`) {
		t.Errorf("/readyz %s: want clickhouse failing, kafka ok", body)
	}
	px.restart(t)
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
