//go:build integration

package edge_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/codec/secret"
	"github.com/switchyard/switchyard/edge"
	"github.com/switchyard/switchyard/edge/edgetest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func services(t *testing.T) (redisAddr string, brokers []string) {
	t.Helper()
	redisAddr = os.Getenv("SY_TEST_REDIS_ADDR")
	b := os.Getenv("SY_TEST_KAFKA_BROKERS")
	if redisAddr == "" || b == "" {
		t.Fatal("SY_TEST_REDIS_ADDR and SY_TEST_KAFKA_BROKERS must be set (source ops/services/env.sh)")
	}
	return redisAddr, strings.Split(b, ",")
}

type cluster struct {
	t      *testing.T
	prefix string
	redis  rueidis.Client
	kafka  *kgo.Client
	admin  *kadm.Client
}

func newCluster(t *testing.T) *cluster {
	redisAddr, brokers := services(t)
	rc, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{redisAddr}, DisableCache: true})
	if err != nil {
		t.Fatalf("redis: %v", err)
	}
	kc, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatalf("kafka: %v", err)
	}
	c := &cluster{t: t, prefix: fmt.Sprintf("edgetest%08x.", rand.Uint32()), redis: rc, kafka: kc, admin: kadm.NewClient(kc)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, topic := range []string{"sy.changes", "sy.insights", "sy.endusers"} {
		if _, err := c.admin.CreateTopic(ctx, 3, 1, nil, c.prefix+topic); err != nil {
			t.Fatalf("create topic %s: %v", c.prefix+topic, err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = c.admin.DeleteTopics(ctx, c.prefix+"sy.changes", c.prefix+"sy.insights", c.prefix+"sy.endusers")
		kc.Close()
		rc.Close()
	})
	return c
}

// writeSnapshot writes s whole, as control does (the hash of
// codec/envhash.go).
func (c *cluster) writeSnapshot(s *codec.EnvSnapshot) {
	kv, err := codec.AppendEnvFields(nil, s)
	if err != nil {
		c.t.Fatal(err)
	}
	ctx := context.Background()
	key := codec.EnvKey(s.EnvID)
	for _, res := range c.redis.DoMulti(ctx, c.redis.B().Del().Key(key).Build(),
		c.redis.B().Arbitrary("HSET").Keys(key).Args(kv...).Build()) {
		if err := res.Error(); err != nil {
			c.t.Fatalf("redis write %s: %v", key, err)
		}
	}
	c.t.Cleanup(func() { c.redis.Do(context.Background(), c.redis.B().Del().Key(key).Build()) })
}

// publishFlag does what control does: snapshot to Redis first, then the
// change event to Kafka.
func (c *cluster) publishFlag(s *codec.EnvSnapshot, i int, f codec.Flag) {
	s.Flags[i] = f
	s.Version++
	c.writeSnapshot(s)
	p, _ := f.MarshalMsg(nil)
	ev := codec.ChangeEvent{EnvID: s.EnvID, Kind: codec.KindFlag, Op: codec.OpUpsert, ID: f.ID, Version: f.Version, EnvVersion: s.Version, At: time.Now().UnixMilli(), Payload: p}
	v, _ := ev.MarshalMsg(nil)
	if err := c.kafka.ProduceSync(context.Background(), &kgo.Record{Topic: c.prefix + "sy.changes", Key: []byte(s.EnvID), Value: v}).FirstErr(); err != nil {
		c.t.Fatalf("produce change: %v", err)
	}
}

func (c *cluster) edge(t *testing.T, cfg ...edge.Config) *edge.Server {
	redisAddr, brokers := services(t)
	var ec edge.Config
	if len(cfg) > 0 {
		ec = cfg[0]
	}
	ec.Addr, ec.RedisAddr, ec.KafkaBrokers, ec.TopicPrefix = "127.0.0.1:0", redisAddr, brokers, c.prefix
	s, err := edge.New(ec)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return s
}

func TestIntegrationSnapshotAndChanges(t *testing.T) {
	cl := newCluster(t)
	a := edgetest.DemoSnapshot(secret.NewGUID())
	b := edgetest.DemoSnapshot(secret.NewGUID())
	cl.writeSnapshot(a)
	cl.writeSnapshot(b)
	s := cl.edge(t)

	sa := edgetest.Dial(t, edgetest.StreamURL(s.Addr(), "server", a.Secrets[0].Value))
	sb := edgetest.Dial(t, edgetest.StreamURL(s.Addr(), "server", b.Secrets[0].Value))
	for i, c := range []*edgetest.Client{sa, sb} {
		_ = c.Send(`{"messageType":"data-sync","data":{"timestamp":0}}`)
		if s := readServerSync(t, c); s.EventType != "full" || len(s.FeatureFlags) != 5 {
			t.Fatalf("conn %d full sync: %+v", i, s)
		}
	}
	fr := edgetest.Dial(t, edgetest.StreamURL(s.Addr(), "client", a.Secrets[1].Value))
	de := edgetest.Dial(t, edgetest.StreamURL(s.Addr(), "client", a.Secrets[1].Value))
	_ = fr.Send(`{"messageType":"data-sync","data":{"timestamp":0,"user":{"keyId":"u-fr","name":"","customizedProperties":[{"name":"country","value":"FR"}]}}}`)
	_ = de.Send(`{"messageType":"data-sync","data":{"timestamp":0,"user":{"keyId":"u-de","name":"","customizedProperties":[{"name":"country","value":"DE"}]}}}`)
	readClientSync(t, fr)
	readClientSync(t, de)

	// ping/pong
	_ = sa.Send(`{"messageType":"ping","data":null}`)
	if m, err := sa.ReadJSON(wait); err != nil || m.MessageType != "pong" {
		t.Fatalf("pong: %+v %v", m, err)
	}

	// the France rule serves "default": a Kafka change reaches env a's server
	// connection and only the French client; env b sees nothing
	f := a.Flags[1]
	f.Rules = append([]codec.Rule(nil), f.Rules...)
	f.Rules[0].Variations = []codec.RolloutVariation{{ID: f.Variations[0].ID, Rollout: [2]float64{0, 1}, ExptRollout: 1}}
	f.Version++
	f.UpdatedAt = time.Now().UnixMilli()
	cl.publishFlag(a, 1, f)
	if p := readServerSync(t, sa); p.EventType != "patch" || len(p.FeatureFlags) != 1 || flagKey(t, p.FeatureFlags[0]) != f.Key {
		t.Fatalf("server patch: %+v", p)
	}
	if p := readClientSync(t, fr); p.EventType != "patch" || len(p.FeatureFlags) != 1 || *p.FeatureFlags[0].Variation != "default" {
		t.Fatalf("client patch: %+v", p)
	}
	for _, c := range []*edgetest.Client{sb, de} {
		_ = c.Send(`{"messageType":"ping","data":null}`)
		if m, err := c.ReadJSON(wait); err != nil || m.MessageType != "pong" {
			t.Fatalf("expected only a pong, got %+v %v", m, err)
		}
	}

	// bad requests close with 4003
	now := time.Now().UnixMilli()
	for name, url := range map[string]string{
		"bad token":                  "ws://" + s.Addr() + "/streaming?type=server&token=nope",
		"expired token":              "ws://" + s.Addr() + "/streaming?type=server&token=" + secret.EncodeToken(a.Secrets[0].Value, now-60_000, 4),
		"client secret, type=server": edgetest.StreamURL(s.Addr(), "server", a.Secrets[1].Value),
	} {
		c := edgetest.Dial(t, url)
		if code, err := c.ExpectClose(wait); err != nil || code != 4003 {
			t.Fatalf("%s: close %d %v", name, code, err)
		}
	}
}

func TestIntegrationRedisUnavailable(t *testing.T) {
	_, brokers := services(t)
	s, err := edge.New(edge.Config{Addr: "127.0.0.1:0", RedisAddr: "127.0.0.1:1", KafkaBrokers: brokers, TopicPrefix: fmt.Sprintf("edgetest%08x.", rand.Uint32())})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	sec, _ := secret.New(secret.NewGUID())
	c := edgetest.Dial(t, edgetest.StreamURL(s.Addr(), "server", sec))
	if code, err := c.ExpectClose(wait); err != nil || code != 1011 {
		t.Fatalf("close %d %v, want 1011", code, err)
	}
}

func TestIntegrationTrackEventsReachKafka(t *testing.T) {
	cl := newCluster(t)
	snap := edgetest.DemoSnapshot(secret.NewGUID())
	cl.writeSnapshot(snap)
	s := cl.edge(t)
	const requests, perRequest = 40, 25
	for r := 0; r < requests; r++ {
		var items []string
		for i := 0; i < perRequest; i++ {
			items = append(items, fmt.Sprintf(`{"user":{"keyId":"u-%d","name":"n","customizedProperties":[]},"variations":[{"featureFlagKey":"demo-bool","variation":{"id":"v","value":"true"},"timestamp":%d,"sendToExperiment":false}]}`, i, 1700000000000+r*100+i))
		}
		code, body, _ := do(t, "POST", "http://"+s.Addr()+"/api/public/insight/track", snap.Secrets[1].Value, "["+strings.Join(items, ",")+"]")
		if code != 200 {
			t.Fatalf("track %d %q", code, body)
		}
	}
	_, brokers := services(t)
	consumer, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(cl.prefix+"sy.insights", cl.prefix+"sy.endusers"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	evals, users := 0, map[string]bool{}
	deadline := time.Now().Add(30 * time.Second)
	for (evals < requests*perRequest || len(users) < perRequest) && time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		fs := consumer.PollFetches(ctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) {
			if string(r.Key) != snap.EnvID {
				t.Errorf("record key %q, want env id", r.Key)
			}
			if r.Topic == cl.prefix+"sy.insights" {
				var b codec.InsightBatch
				if _, err := b.UnmarshalMsg(r.Value); err != nil {
					t.Fatal(err)
				}
				evals += len(b.Evals)
			} else {
				var b codec.EndUserBatch
				if _, err := b.UnmarshalMsg(r.Value); err != nil {
					t.Fatal(err)
				}
				for _, u := range b.Users {
					users[u.KeyID] = true
				}
			}
		})
	}
	if evals != requests*perRequest {
		t.Fatalf("%d flag events on Kafka, want %d", evals, requests*perRequest)
	}
	if len(users) != perRequest {
		t.Fatalf("%d end users on Kafka, want %d", len(users), perRequest)
	}
	// metrics count them too
	code, body, _ := do(t, "GET", "http://"+s.Addr()+"/metrics", "", "")
	if code != 200 || !strings.Contains(body, fmt.Sprintf("sy_edge_insight_events_total %d", requests*perRequest)) {
		t.Fatalf("metrics: %d\n%s", code, body)
	}
}

// TestIntegrationNewPartitionIsConsumed: a partition added to the change
// topic after the edge started is found and read from its first record.
func TestIntegrationNewPartitionIsConsumed(t *testing.T) {
	cl := newCluster(t)
	a := edgetest.DemoSnapshot(secret.NewGUID())
	cl.writeSnapshot(a)
	s := cl.edge(t, edge.Config{PartitionCheck: 200 * time.Millisecond})
	c := edgetest.Dial(t, edgetest.StreamURL(s.Addr(), "server", a.Secrets[0].Value))
	_ = c.Send(`{"messageType":"data-sync","data":{"timestamp":0}}`)
	if p := readServerSync(t, c); p.EventType != "full" {
		t.Fatalf("full sync: %+v", p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	topic := cl.prefix + "sy.changes"
	if _, err := cl.admin.CreatePartitions(ctx, 1, topic); err != nil {
		t.Fatalf("add a partition: %v", err)
	}
	// produce straight into the new partition (3: the topic had 0..2)
	_, brokers := services(t)
	pc, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	f := a.Flags[0]
	f.Version++
	f.UpdatedAt = time.Now().UnixMilli()
	f.Name = "changed in the new partition"
	a.Flags[0] = f
	a.Version++
	cl.writeSnapshot(a)
	pl, _ := f.MarshalMsg(nil)
	ev := codec.ChangeEvent{EnvID: a.EnvID, Kind: codec.KindFlag, Op: codec.OpUpsert, ID: f.ID, Version: f.Version, EnvVersion: a.Version, At: time.Now().UnixMilli(), Payload: pl}
	v, _ := ev.MarshalMsg(nil)
	for { // the new partition's metadata reaches the producer after a moment
		err := pc.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 3, Key: []byte(a.EnvID), Value: v}).FirstErr()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("produce to partition 3: %v", err)
		}
		// on a cluster the brokers learn of the partition one by one: ask
		// again rather than wait for the client's metadata to age
		pc.ForceMetadataRefresh()
		time.Sleep(200 * time.Millisecond)
	}
	t0 := time.Now()
	// the edge learns of the partition at its next check and metadata refresh
	// (every broker of the cluster must know it first): on a loaded machine
	// that can take longer than one read's usual wait
	if p := readServerSyncWithin(t, c, time.Minute); p.EventType != "patch" || len(p.FeatureFlags) != 1 || flagKey(t, p.FeatureFlags[0]) != f.Key {
		t.Fatalf("patch from the new partition: %+v", p)
	}
	t.Logf("patch from the new partition after %v", time.Since(t0))
}

// TestIntegrationMissingSnapshotIsUnavailable: an environment whose
// snapshot is missing from Redis (Redis restarted empty, or not published
// yet) is "unavailable" — WebSocket close 1011 and HTTP 503, which SDKs
// retry — never "unknown" (4003 / 401, which FeatBit SDKs give up on), and
// it serves as soon as the snapshot is back, without a change. Only a
// tombstone (sy:gone:{envId}, set by control when it deletes an
// environment) makes a missing snapshot unknown.
func TestIntegrationMissingSnapshotIsUnavailable(t *testing.T) {
	cl := newCluster(t)
	lost := edgetest.DemoSnapshot(secret.NewGUID())
	gone := edgetest.DemoSnapshot(secret.NewGUID())
	ctx := context.Background()
	tomb := codec.TombstoneKey(gone.EnvID)
	if err := cl.redis.Do(ctx, cl.redis.B().Set().Key(tomb).Value("1").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.redis.Do(context.Background(), cl.redis.B().Del().Key(tomb).Build()) })
	s := cl.edge(t)
	poll := "http://" + s.Addr() + "/api/public/sdk/server/latest-all"

	c := edgetest.Dial(t, edgetest.StreamURL(s.Addr(), "server", lost.Secrets[0].Value))
	if code, err := c.ExpectClose(wait); err != nil || code != 1011 {
		t.Fatalf("missing snapshot: close %d %v, want 1011", code, err)
	}
	if code, body, _ := do(t, "GET", poll, lost.Secrets[0].Value, ""); code != 503 {
		t.Fatalf("missing snapshot: polling %d %q, want 503", code, body)
	}
	c = edgetest.Dial(t, edgetest.StreamURL(s.Addr(), "server", gone.Secrets[0].Value))
	if code, err := c.ExpectClose(wait); err != nil || code != 4003 {
		t.Fatalf("deleted environment: close %d %v, want 4003", code, err)
	}
	if code, body, _ := do(t, "GET", poll, gone.Secrets[0].Value, ""); code != 401 {
		t.Fatalf("deleted environment: polling %d %q, want 401", code, body)
	}

	cl.writeSnapshot(lost) // control rewrote it
	c = edgetest.Dial(t, edgetest.StreamURL(s.Addr(), "server", lost.Secrets[0].Value))
	_ = c.Send(`{"messageType":"data-sync","data":{"timestamp":0}}`)
	if m := readServerSync(t, c); m.EventType != "full" || len(m.FeatureFlags) != len(lost.Flags) {
		t.Fatalf("after the snapshot is back: %+v", m)
	}
}
