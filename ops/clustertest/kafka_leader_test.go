//go:build integration

package clustertest

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// stallBound is the longest time from the SIGKILL of the partition leader to the first record
// produced after it reaching a consumer (docs/operations.md, "Kafka: losing a broker"). The
// cluster fences a dead broker after broker.session.timeout.ms (9 s, Kafka's default) and only
// then elects a new leader; the rest is client retry/metadata refresh and a loaded 2-core machine.
const stallBound = 45 * time.Second

// TestOutageKafkaLeaderKill kills (SIGKILL) the leader of a 1-partition, rf-3, min-ISR-2 topic
// while records flow, for the two kinds of streams the product has:
//   - changes: control's change publisher (control/internal/publish/publish_kafka.go): one
//     synchronous record at a time, acks=all, idempotence off, retried by the caller on error;
//     duplicates are allowed (edges apply a change only if its version is newer), gaps are not;
//   - events: the edge's insight sink (edge/internal/sink/kafka.go): asynchronous, batched
//     (linger 5 ms), acks=all and idempotent (franz-go's defaults), RecordRetries(20); neither
//     loss nor duplicates are allowed.
//
// It counts every record, measures the stall and restarts the killed broker, waiting until it
// is back in the ISR.
func TestOutageKafkaLeaderKill(t *testing.T) {
	brokers := kafkaBrokers(t)
	kafkaScript(t, "start") // every node up (no-op when they are)

	t.Run("changes", func(t *testing.T) {
		leaderKill(t, brokers, "changes", true, func(t *testing.T, cl *kgo.Client, seq uint64) error {
			// control's settings; Publisher retries a failed Produce after a backoff
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			return cl.ProduceSync(ctx, record(seq)).FirstErr()
		},
			kgo.ProducerLinger(0), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DisableIdempotentWrite(),
			kgo.MaxProduceRequestsInflightPerBroker(1), kgo.RecordDeliveryTimeout(15*time.Second),
			kgo.ProduceRequestTimeout(5*time.Second), kgo.RetryBackoffFn(func(tries int) time.Duration {
				return min(25*time.Millisecond<<min(tries, 4), 250*time.Millisecond)
			}))
	})
	t.Run("events", func(t *testing.T) {
		leaderKill(t, brokers, "events", false, nil, kgo.ProducerLinger(5*time.Millisecond), kgo.RecordRetries(20))
	})
}

// produceFn produces record seq synchronously; nil means asynchronous Produce.
type produceFn func(t *testing.T, cl *kgo.Client, seq uint64) error

func record(seq uint64) *kgo.Record {
	v := make([]byte, 8)
	binary.BigEndian.PutUint64(v, seq)
	return &kgo.Record{Key: []byte("env-1"), Value: v}
}

func leaderKill(t *testing.T, brokers []string, kind string, dupsOK bool, produceSync produceFn, opts ...kgo.Opt) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	topic := fmt.Sprintf("sy.clustertest.%s.%d_%08x", kind, time.Now().Unix(), rand.Uint32())
	adm := admin(t, brokers)
	minISR := "2"
	if _, err := adm.CreateTopic(ctx, 1, 3, map[string]*string{"min.insync.replicas": &minISR}, topic); err != nil {
		t.Fatalf("create topic %s (1 partition, rf 3): %v", topic, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := adm.DeleteTopics(ctx, topic); err != nil {
			t.Logf("delete topic %s: %v", topic, err)
		}
	})
	waitISR(t, ctx, adm, topic, 3)

	// consumer: remembers when each sequence number first arrived
	var mu sync.Mutex
	seen := map[uint64]time.Time{}
	dups := 0
	cons, err := kgo.NewClient(kgo.SeedBrokers(brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	consDone := make(chan struct{})
	go func() {
		defer close(consDone)
		for ctx.Err() == nil {
			fs := cons.PollFetches(ctx)
			now := time.Now()
			mu.Lock()
			fs.EachRecord(func(r *kgo.Record) {
				s := binary.BigEndian.Uint64(r.Value)
				if _, ok := seen[s]; ok {
					dups++
				} else {
					seen[s] = now
				}
			})
			mu.Unlock()
		}
	}()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(seen) }

	prod, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	var (
		next     atomic.Uint64 // next sequence number to produce
		killSeq  atomic.Uint64 // first sequence number produced after the kill (0: no kill yet)
		firstAck atomic.Int64  // unix nanos of the first acknowledgement of a record >= killSeq
		failed   atomic.Int64  // records whose produce failed for good (asynchronous stream)
		retried  atomic.Int64  // synchronous produces that failed and were retried
		errMu    sync.Mutex
		lastErr  error
	)
	acked := func(seq uint64) {
		if k := killSeq.Load(); k != 0 && seq >= k {
			firstAck.CompareAndSwap(0, time.Now().UnixNano())
		}
	}
	stop := make(chan struct{})
	prodDone := make(chan struct{})
	go func() {
		defer close(prodDone)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			seq := next.Load()
			if produceSync == nil {
				prod.Produce(ctx, record(seq), func(_ *kgo.Record, err error) {
					if err != nil {
						failed.Add(1)
						errMu.Lock()
						lastErr = err
						errMu.Unlock()
						return
					}
					acked(seq)
				})
			} else {
				for {
					err := produceSync(t, prod, seq)
					if err == nil {
						break
					}
					if ctx.Err() != nil {
						return
					}
					retried.Add(1)
					errMu.Lock()
					lastErr = err
					errMu.Unlock()
					time.Sleep(100 * time.Millisecond) // the Publisher's backoff, shortened
				}
				acked(seq)
			}
			next.Add(1)
		}
	}()

	// some traffic before the kill
	waitFor(t, ctx, "200 records before the kill", func() bool { return count() >= 200 })
	leader := partitionLeader(t, ctx, adm, topic)
	// killAt is taken before the script runs and killSeq after it returned (the broker's process
	// is gone by then): the measured stall includes the script's run time, never less
	killAt := time.Now()
	kafkaScript(t, "kill", fmt.Sprint(leader))
	killSeq.Store(next.Load() + 1)
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			kafkaScript(t, "start", fmt.Sprint(leader))
		}
	})
	t.Logf("%s: killed broker %d (leader of %s/0) at seq %d", kind, leader, topic, killSeq.Load())

	// the stall: kill -> first record produced after the kill seen by the consumer
	var stall time.Duration
	waitFor(t, ctx, "first record produced after the kill", func() bool {
		mu.Lock()
		defer mu.Unlock()
		k := killSeq.Load()
		for s, at := range seen {
			if s >= k {
				if stall == 0 || at.Sub(killAt) < stall {
					stall = at.Sub(killAt)
				}
			}
		}
		return stall > 0
	})
	ackStall := time.Duration(0)
	if a := firstAck.Load(); a != 0 {
		ackStall = time.Unix(0, a).Sub(killAt)
	}
	newLeader := leader
	waitFor(t, ctx, "a new leader in the metadata", func() bool {
		newLeader = partitionLeader(t, ctx, adm, topic)
		return newLeader != leader
	})
	t.Logf("%s: STALL %v from SIGKILL to the first post-kill record consumed (first post-kill ack after %v); new leader %d",
		kind, stall.Round(time.Millisecond), ackStall.Round(time.Millisecond), newLeader)
	if stall > stallBound {
		t.Errorf("%s: delivery resumed %v after the leader was killed; documented bound %v", kind, stall, stallBound)
	}

	// keep producing on the degraded (2-replica) partition, then bring the broker back
	k0 := next.Load()
	waitFor(t, ctx, "200 more records on 2 replicas", func() bool { return next.Load() >= k0+200 })
	kafkaScript(t, "start", fmt.Sprint(leader))
	restarted = true
	waitISR(t, ctx, adm, topic, 3)
	k1 := next.Load()
	waitFor(t, ctx, "100 more records after the restart", func() bool { return next.Load() >= k1+100 })
	close(stop)
	<-prodDone
	if err := prod.Flush(ctx); err != nil {
		t.Fatalf("%s: flush: %v", kind, err)
	}
	total := next.Load()
	waitFor(t, ctx, fmt.Sprintf("all %d records consumed", total), func() bool { return uint64(count()) >= total })
	cancel()
	<-consDone

	mu.Lock()
	defer mu.Unlock()
	var missing []uint64
	for s := uint64(0); s < total; s++ {
		if _, ok := seen[s]; !ok {
			missing = append(missing, s)
		}
	}
	errMu.Lock()
	le := lastErr
	errMu.Unlock()
	t.Logf("%s: %d records produced, %d distinct consumed, %d duplicates, %d failed, %d produce retries (last error: %v)",
		kind, total, len(seen), dups, failed.Load(), retried.Load(), le)
	if len(missing) > 0 || failed.Load() > 0 {
		t.Errorf("%s: %d records lost (first %v), %d produces failed for good", kind, len(missing), missing[:min(len(missing), 10)], failed.Load())
	}
	if uint64(len(seen)) != total {
		t.Errorf("%s: consumed %d distinct sequence numbers, produced %d", kind, len(seen), total)
	}
	if !dupsOK && dups > 0 {
		t.Errorf("%s: %d duplicates from an idempotent producer", kind, dups)
	}
}

// kafkaBrokers returns SY_TEST_KAFKA_BROKERS, failing unless it names a cluster of 3 or more.
func kafkaBrokers(t *testing.T) []string {
	t.Helper()
	v := os.Getenv("SY_TEST_KAFKA_BROKERS")
	if v == "" {
		t.Fatal("SY_TEST_KAFKA_BROKERS is not set: start the services (make services-up) and source ops/services/env.sh")
	}
	b := strings.Split(v, ",")
	if len(b) < 3 {
		t.Fatalf("SY_TEST_KAFKA_BROKERS=%s: the leader-kill test needs the 3-broker cluster (SY_KAFKA_BROKERS_N=3, the default of ops/services/kafka.sh)", v)
	}
	return b
}

// kafkaScript runs ops/services/kafka.sh with args and fails the test if it fails.
func kafkaScript(t *testing.T, args ...string) {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(root, "ops", "services", "kafka.sh")
	t0 := time.Now()
	out, err := exec.Command("bash", append([]string{script}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("kafka.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("kafka.sh %s (%v): %s", strings.Join(args, " "), time.Since(t0).Round(time.Millisecond), strings.TrimSpace(string(out)))
}

func admin(t *testing.T, brokers []string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// partitionLeader returns the leader of partition 0 of topic (polling while there is none).
func partitionLeader(t *testing.T, ctx context.Context, adm *kadm.Client, topic string) int32 {
	t.Helper()
	var leader int32 = -1
	waitFor(t, ctx, "a leader of "+topic+"/0", func() bool {
		td, err := adm.ListTopics(ctx, topic)
		if err != nil {
			return false
		}
		p, ok := td[topic].Partitions[0]
		if !ok || p.Err != nil || p.Leader < 0 {
			return false
		}
		leader = p.Leader
		return true
	})
	return leader
}

// waitISR waits until partition 0 of topic has n in-sync replicas.
func waitISR(t *testing.T, ctx context.Context, adm *kadm.Client, topic string, n int) {
	t.Helper()
	var last string
	waitFor(t, ctx, fmt.Sprintf("%d in-sync replicas of %s/0", n, topic), func() bool {
		td, err := adm.ListTopics(ctx, topic)
		if err != nil {
			last = err.Error()
			return false
		}
		p, ok := td[topic].Partitions[0]
		if !ok {
			last = "no partition 0 yet"
			return false
		}
		last = fmt.Sprintf("leader %d isr %v", p.Leader, p.ISR)
		return p.Err == nil && len(p.ISR) == n
	})
	t.Logf("%s/0: %s", topic, last)
}

// waitFor polls cond every 50 ms until it holds, failing the test when ctx ends first.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s: %v", what, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
