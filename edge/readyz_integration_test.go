//go:build integration

package edge

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/switchyard/switchyard/internal/tcpproxy"
)

// TestReadyzFollowsRedisAndKafka: an edge on the real Redis and Kafka, each
// reached through a proxy the test cuts (Kafka: every broker's address is
// dialled through its own proxy, so the metadata's broker addresses are
// cut too). /readyz turns 503 within 2 s of the cut, naming the dependency,
// and 200 within 2 s of its return; the edge keeps answering meanwhile.
func TestReadyzFollowsRedisAndKafka(t *testing.T) {
	redisAddr, b := os.Getenv("SY_TEST_REDIS_ADDR"), os.Getenv("SY_TEST_KAFKA_BROKERS")
	if redisAddr == "" || b == "" {
		t.Fatal("SY_TEST_REDIS_ADDR and SY_TEST_KAFKA_BROKERS must be set (source ops/services/env.sh)")
	}
	brokers := strings.Split(b, ",")
	prefix := fmt.Sprintf("readyz%08x.", rand.Uint32())
	admc, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(admc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, prefix+"sy.changes"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = adm.DeleteTopics(ctx, prefix+"sy.changes", prefix+"sy.insights", prefix+"sy.endusers")
		admc.Close()
	})
	// every broker the metadata names, each through its own proxy
	meta, err := adm.BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kproxies := map[string]*tcpproxy.Proxy{}
	for _, br := range meta.Brokers {
		a := net.JoinHostPort(br.Host, fmt.Sprint(br.Port))
		kproxies[a] = tcpproxy.New(t, a)
	}
	for _, a := range brokers {
		if kproxies[a] == nil {
			kproxies[a] = tcpproxy.New(t, a)
		}
	}
	dial := func(ctx context.Context, network, host string) (net.Conn, error) {
		p := kproxies[host]
		if p == nil {
			return nil, fmt.Errorf("test dialer: no proxy for broker %s", host)
		}
		var d net.Dialer
		return d.DialContext(ctx, network, p.Addr())
	}
	rproxy := tcpproxy.New(t, redisAddr)

	s, err := New(Config{Addr: "127.0.0.1:0", RedisAddr: rproxy.Addr(), KafkaBrokers: brokers, TopicPrefix: prefix, DrainWindow: -1},
		withKafkaDialer(dial))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	url := "http://" + s.Addr() + "/readyz"
	type body struct {
		Ready  bool              `json:"ready"`
		Checks map[string]string `json:"checks"`
	}
	get := func() (int, body) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatalf("/readyz: %v (the edge must keep answering)", err)
		}
		defer resp.Body.Close()
		var r body
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			t.Fatalf("/readyz body: %v", err)
		}
		return resp.StatusCode, r
	}
	waitFor := func(what string, bound time.Duration, want int, cond func(body) bool) time.Duration {
		t.Helper()
		start := time.Now()
		for {
			code, r := get()
			if code == want && cond(r) {
				return time.Since(start)
			}
			if time.Since(start) > bound {
				t.Fatalf("%s: /readyz %d %+v after %s", what, code, r, bound)
			}
			time.Sleep(25 * time.Millisecond)
		}
	}
	all := func(r body) bool { return r.Ready }
	// the first probes of a fresh client may take a moment: not the bound
	waitFor("ready at start", 20*time.Second, 200, all)
	for _, c := range []struct {
		dep          string
		cut, restore func()
	}{
		{"redis", rproxy.Cut, func() { rproxy.Resume(t) }},
		{"kafka", func() {
			for _, p := range kproxies {
				p.Cut()
			}
		}, func() {
			for _, p := range kproxies {
				p.Resume(t)
			}
		}},
	} {
		c.cut()
		d := waitFor(c.dep+" cut", 2*time.Second, 503, func(r body) bool { return r.Checks[c.dep] != "ok" && r.Checks[c.dep] != "" })
		t.Logf("%s cut: unready after %s", c.dep, d.Truncate(time.Millisecond))
		c.restore()
		d = waitFor(c.dep+" restored", 2*time.Second, 200, all)
		t.Logf("%s back: ready after %s", c.dep, d.Truncate(time.Millisecond))
	}
}

// withKafkaDialer routes the production source's and sink's Kafka
// connections through dial (tests cut a proxy there).
func withKafkaDialer(dial func(ctx context.Context, network, host string) (net.Conn, error)) Option {
	return func(s *Server) { s.kafkaDial = dial }
}
