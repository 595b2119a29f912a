//go:build integration

package analytics

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/switchyard/switchyard/codec"
)

// env is one test's services: a random topic prefix and ClickHouse database.
type itEnv struct {
	brokers []string
	chAddr  string
	prefix  string
	db      string
	prod    *kgo.Client
}

func newITEnv(t *testing.T, partitions int32) *itEnv {
	t.Helper()
	brokers, ch := os.Getenv("SY_TEST_KAFKA_BROKERS"), os.Getenv("SY_TEST_CLICKHOUSE_ADDR")
	if brokers == "" || ch == "" {
		t.Fatal("SY_TEST_KAFKA_BROKERS and SY_TEST_CLICKHOUSE_ADDR must be set (source ops/services/env.sh)")
	}
	id := rand.Uint64()
	e := &itEnv{brokers: strings.Split(brokers, ","), chAddr: ch, prefix: fmt.Sprintf("t%x.", id), db: fmt.Sprintf("sy_it_%x", id)}
	prod, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.ProducerLinger(5*time.Millisecond),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	e.prod = prod
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm := kadm.NewClient(prod)
	topic := InsightTopic(e.prefix)
	if _, err := adm.CreateTopic(ctx, partitions, 1, nil, topic); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		adm.DeleteTopics(ctx, topic)
		adm.DeleteGroup(ctx, e.prefix+ConsumerGroup)
		prod.Close()
	})
	return e
}

func (e *itEnv) start(t *testing.T, batchRows int, flush time.Duration) *Service {
	t.Helper()
	s, err := New(Config{Addr: "-", ClickHouseAddr: e.chAddr, ClickHouseDB: e.db, KafkaBrokers: e.brokers,
		TopicPrefix: e.prefix, BatchRows: batchRows, FlushInterval: flush,
		kafkaOpts: []kgo.Opt{kgo.HeartbeatInterval(300 * time.Millisecond)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		if sk, err := New(Config{Addr: "-", ClickHouseAddr: e.chAddr, ClickHouseDB: e.db}); err == nil {
			sk.ch.Conn().Exec(ctx, "DROP DATABASE IF EXISTS "+e.db)
			sk.Shutdown(ctx)
		}
	})
	return s
}

// batch builds one insight record: nEval evaluations and nMetric metric
// events of env, with distinct users.
func batch(env string, seq, nEval, nMetric int) *codec.InsightBatch {
	b := &codec.InsightBatch{EnvID: env}
	now := time.Now().UnixMilli()
	for i := 0; i < nEval; i++ {
		b.Evals = append(b.Evals, codec.FlagEval{FlagKey: fmt.Sprintf("flag-%d", i%5), VariationID: fmt.Sprintf("v%d", i%2),
			Value: "true", UserKey: fmt.Sprintf("user-%d-%d", seq, i), UserName: "n", SendToExperiment: i%3 == 0, Timestamp: now})
	}
	for i := 0; i < nMetric; i++ {
		b.Metrics = append(b.Metrics, codec.MetricEvent{EventName: "buy", UserKey: fmt.Sprintf("user-%d-%d", seq, i),
			NumericValue: float64(i), Timestamp: now, Type: "CustomEvent"})
	}
	return b
}

func (e *itEnv) produce(t testing.TB, recs []*kgo.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := e.prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

func (e *itEnv) record(b *codec.InsightBatch) *kgo.Record {
	v, _ := b.MarshalMsg(nil)
	return &kgo.Record{Topic: InsightTopic(e.prefix), Key: []byte(b.EnvID), Value: v}
}

// counts is (raw rows, distinct event ids) of a table; distinct ids are the
// events as sent, raw rows include not-yet-merged duplicates.
func counts(t *testing.T, s *Service, table string) (raw, distinct uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.ch.Conn().QueryRow(ctx, fmt.Sprintf("SELECT count(), uniqExact(eid) FROM %s.%s", s.ch.DB(), table)).Scan(&raw, &distinct)
	if err != nil {
		return 0, 0 // ClickHouse down: the caller keeps waiting
	}
	return raw, distinct
}

func waitCounts(t *testing.T, s *Service, wantEvals, wantMetrics uint64, within time.Duration) (rawE, rawM uint64) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		re, de := counts(t, s, "flag_events")
		rm, dm := counts(t, s, "metric_events")
		if de == wantEvals && dm == wantMetrics {
			return re, rm
		}
		if de > wantEvals || dm > wantMetrics {
			t.Fatalf("more distinct events than sent: evals %d/%d metrics %d/%d", de, wantEvals, dm, wantMetrics)
		}
		if time.Now().After(deadline) {
			t.Fatalf("timeout: distinct evals %d/%d metrics %d/%d, stats %+v", de, wantEvals, dm, wantMetrics, s.IngestStats())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitCommitted waits until the group's committed offsets reach the end of
// every partition (offsets are committed only after the insert).
func (e *itEnv) waitCommitted(t *testing.T) {
	t.Helper()
	adm := kadm.NewClient(e.prod)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ends, err1 := adm.ListEndOffsets(ctx, InsightTopic(e.prefix))
		comm, err2 := adm.FetchOffsets(ctx, e.prefix+ConsumerGroup)
		cancel()
		ok := err1 == nil && err2 == nil
		if ok {
			ends.Each(func(o kadm.ListedOffset) {
				c, found := comm.Lookup(o.Topic, o.Partition)
				if !found || c.At != o.Offset {
					ok = false
				}
			})
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("committed offsets did not reach the end offsets: %v %v", err1, err2)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestKafkaToClickHouseExact(t *testing.T) {
	e := newITEnv(t, 3)
	s := e.start(t, 1000, 200*time.Millisecond)
	var recs []*kgo.Record
	var wantE, wantM uint64
	for i := 0; i < 600; i++ {
		b := batch(fmt.Sprintf("env-%d", i%4), i, 1+i%20, i%3)
		wantE += uint64(len(b.Evals))
		wantM += uint64(len(b.Metrics))
		recs = append(recs, e.record(b))
		if i == 300 { // one undecodable record in the middle of the stream
			recs = append(recs, &kgo.Record{Topic: InsightTopic(e.prefix), Value: []byte("\xdd\xff\xff\xff\xffgarbage")})
		}
	}
	e.produce(t, recs)
	rawE, rawM := waitCounts(t, s, wantE, wantM, 90*time.Second)
	if rawE != wantE || rawM != wantM {
		t.Errorf("raw rows %d/%d, want exactly %d/%d (no failure happened, so no duplicates)", rawE, rawM, wantE, wantM)
	}
	e.waitCommitted(t)
	st := s.IngestStats()
	if st.BadRecords != 1 || st.Records != uint64(len(recs)) {
		t.Errorf("stats %+v: want 1 bad record of %d", st, len(recs))
	}
	// the query API sees the events
	r, err := s.store.VariationUsers(context.Background(), rangeFor("env-0", "flag-0"))
	if err != nil || len(r) == 0 {
		t.Errorf("VariationUsers: %v %v", r, err)
	}
	t.Logf("sent %d evaluations + %d metric events in %d records; stats %+v", wantE, wantM, len(recs), st)
}

func clickhouse(t *testing.T, op string) {
	t.Helper()
	out, err := exec.Command("bash", "../ops/services/clickhouse.sh", op).CombinedOutput()
	if err != nil {
		t.Fatalf("clickhouse.sh %s: %v\n%s", op, err, out)
	}
}

// TestOutageClickHouse stops ClickHouse mid-stream while producing, restarts
// it, and checks every event arrives: distinct event ids equal exactly what
// was sent. Raw rows may exceed it by re-sent batches (same event ids; they
// collapse on merge) and the test reports how many.
func TestOutageClickHouse(t *testing.T) {
	e := newITEnv(t, 2)
	s := e.start(t, 2000, 100*time.Millisecond)
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			exec.Command("bash", "../ops/services/clickhouse.sh", "start").Run()
		}
	})
	var wantE, wantM atomic.Uint64
	seq := 0
	send := func(n int) {
		var recs []*kgo.Record
		for i := 0; i < n; i++ {
			b := batch("env-outage", seq, 10, 2)
			seq++
			wantE.Add(uint64(len(b.Evals)))
			wantM.Add(uint64(len(b.Metrics)))
			recs = append(recs, e.record(b))
		}
		e.produce(t, recs)
	}
	for i := 0; i < 20; i++ {
		send(50)
		time.Sleep(20 * time.Millisecond)
	}
	waitCounts(t, s, wantE.Load(), wantM.Load(), 60*time.Second)
	send(200) // in flight when ClickHouse goes away
	clickhouse(t, "stop")
	for i := 0; i < 30; i++ { // keep producing while it is down
		send(50)
		time.Sleep(50 * time.Millisecond)
	}
	// the consumer must notice and hold (no commit past what ClickHouse has)
	deadline := time.Now().Add(30 * time.Second)
	for s.IngestStats().FlushErrors == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no failed flush during the outage")
		}
		time.Sleep(100 * time.Millisecond)
	}
	clickhouse(t, "start")
	restarted = true
	for i := 0; i < 10; i++ {
		send(50)
	}
	rawE, rawM := waitCounts(t, s, wantE.Load(), wantM.Load(), 120*time.Second)
	e.waitCommitted(t)
	st := s.IngestStats()
	t.Logf("outage: sent %d evaluations + %d metric events; raw rows %d + %d (duplicates %d + %d, collapse on merge); stats %+v",
		wantE.Load(), wantM.Load(), rawE, rawM, rawE-wantE.Load(), rawM-wantM.Load(), st)
	if rawE < wantE.Load() || rawM < wantM.Load() {
		t.Fatal("fewer raw rows than distinct events")
	}
	// after a forced merge the duplicates are gone
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, tb := range []string{"flag_events", "metric_events"} {
		if err := s.ch.Conn().Exec(ctx, fmt.Sprintf("OPTIMIZE TABLE %s.%s FINAL", e.db, tb)); err != nil {
			t.Fatal(err)
		}
	}
	re, de := counts(t, s, "flag_events")
	rm, dm := counts(t, s, "metric_events")
	if re != wantE.Load() || de != wantE.Load() || rm != wantM.Load() || dm != wantM.Load() {
		t.Errorf("after OPTIMIZE FINAL: evals %d/%d metrics %d/%d, want exactly %d/%d", re, de, rm, dm, wantE.Load(), wantM.Load())
	}
}

// TestExperimentClickHouse runs the experiment scenario of
// TestExperimentEndToEnd through the API on the ClickHouse store.
func TestExperimentClickHouse(t *testing.T) { checkExperiment(t, newClickHouseService(t)) }

// TestExperimentStatsClickHouse runs the CUPED, sequential, direction,
// guardrail and page-view scenarios on the ClickHouse store (each on its own
// database).
func TestExperimentStatsClickHouse(t *testing.T) {
	checkCUPEDSequential(t, newClickHouseService(t))
	checkDirectionAndGuardrail(t, newClickHouseService(t))
	checkPageView(t, newClickHouseService(t))
}

// newClickHouseService starts a service on a fresh ClickHouse database,
// dropped at the end of the test.
func newClickHouseService(t *testing.T) *Service {
	t.Helper()
	ch := os.Getenv("SY_TEST_CLICKHOUSE_ADDR")
	if ch == "" {
		t.Fatal("SY_TEST_CLICKHOUSE_ADDR must be set (source ops/services/env.sh)")
	}
	db := fmt.Sprintf("sy_it_%x", rand.Uint64())
	s, err := New(Config{Addr: "-", ClickHouseAddr: ch, ClickHouseDB: db})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.ch.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS "+db)
		s.Shutdown(context.Background())
	})
	return s
}

// TestRebalanceSecondConsumer starts a second service in the same group while
// events flow: partitions move from the first to the second member, every
// event arrives exactly once by id, and thanks to the flush-and-commit on
// revocation the raw rows normally equal them too (duplicates, if any, are
// logged: they would collapse on merge).
func TestRebalanceSecondConsumer(t *testing.T) {
	e := newITEnv(t, 4)
	a := e.start(t, 500, 300*time.Millisecond)
	var wantE, wantM uint64
	seq := 0
	send := func(n int) {
		var recs []*kgo.Record
		for i := 0; i < n; i++ {
			b := batch("env-rebalance", seq, 5, 1)
			seq++
			wantE += uint64(len(b.Evals))
			wantM += uint64(len(b.Metrics))
			recs = append(recs, e.record(b))
		}
		e.produce(t, recs)
	}
	for i := 0; i < 10; i++ {
		send(40)
		time.Sleep(30 * time.Millisecond)
	}
	b := e.start(t, 500, 300*time.Millisecond) // joins: the group rebalances
	for i := 0; i < 30; i++ {
		send(40)
		time.Sleep(30 * time.Millisecond)
	}
	rawE, rawM := waitCounts(t, a, wantE, wantM, 90*time.Second)
	e.waitCommitted(t)
	sa, sb := a.IngestStats(), b.IngestStats()
	if sb.Records == 0 {
		t.Errorf("the second member consumed nothing: %+v", sb)
	}
	t.Logf("rebalance: sent %d + %d events; raw rows %d + %d (duplicates %d + %d); member A %+v; member B %+v",
		wantE, wantM, rawE, rawM, rawE-wantE, rawM-wantM, sa, sb)
}
