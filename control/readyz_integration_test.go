//go:build integration

package control

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/switchyard/switchyard/internal/tcpproxy"
)

// withKafkaDialer routes the change producer's broker connections through
// dial (the test cuts them to see /readyz follow).
func withKafkaDialer(dial func(ctx context.Context, network, host string) (net.Conn, error)) Option {
	return func(s *Server) { s.kafkaDial = dial }
}

// readyBound is the documented bound (docs/operations.md): /readyz turns
// unready within 2 s of a dependency dying and ready within 2 s of its
// return (probes every 0.5 s with a 1 s limit).
const readyBound = 2 * time.Second

// TestLiveReadyzFollowsRedisAndKafka puts Redis and every Kafka broker
// behind proxies the test cuts (the shared services are never stopped):
// /readyz names the dead dependency within the bound, stays ready on the
// others, and is ready again within the bound of its return, while the API
// keeps answering.
func TestLiveReadyzFollowsRedisAndKafka(t *testing.T) {
	redisAddr := need(t, "SY_TEST_REDIS_ADDR")
	brokers := strings.Split(need(t, "SY_TEST_KAFKA_BROKERS"), ",")
	admc, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer admc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	meta, err := kadm.NewClient(admc).BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kproxies := map[string]*tcpproxy.Proxy{}
	for _, b := range meta.Brokers {
		a := net.JoinHostPort(b.Host, fmt.Sprint(b.Port))
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
	cfg := Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), RedisAddr: rproxy.Addr(), KafkaBrokers: brokers,
		TopicPrefix: "t" + randName() + ".", AdminPassword: "admin-password"}
	s, err := New(cfg, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))), withKafkaDialer(dial))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, p := range kproxies {
			p.Resume(t)
		}
		rproxy.Resume(t)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	if _, err := s.Bootstrap(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	type body struct {
		Ready  bool              `json:"ready"`
		Checks map[string]string `json:"checks"`
	}
	get := func(path string) (int, body) {
		res, err := http.Get("http://" + s.Addr() + path)
		if err != nil {
			t.Fatalf("GET %s: %v (control must keep answering)", path, err)
		}
		defer res.Body.Close()
		var b body
		_ = json.NewDecoder(res.Body).Decode(&b)
		return res.StatusCode, b
	}
	waitFor := func(what string, bound time.Duration, ok func(int, body) bool) time.Duration {
		t.Helper()
		start := time.Now()
		for {
			code, b := get("/readyz")
			if ok(code, b) {
				return time.Since(start)
			}
			if time.Since(start) > bound {
				t.Fatalf("%s: /readyz %d %+v after %v", what, code, b, bound)
			}
			time.Sleep(25 * time.Millisecond)
		}
	}
	allOK := func(code int, b body) bool {
		return code == 200 && b.Checks["store"] == "ok" && b.Checks["redis"] == "ok" && b.Checks["kafka"] == "ok"
	}
	waitFor("ready at start", 30*time.Second, allOK) // a fresh client's first probes are not the bound
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
		down := waitFor(c.dep+" cut: unready naming it", readyBound, func(code int, b body) bool {
			return code == http.StatusServiceUnavailable && b.Checks[c.dep] != "ok" && b.Checks["store"] == "ok"
		})
		if code, _ := get("/healthz"); code != 200 {
			t.Errorf("%s cut: /healthz %d, want 200 (alive)", c.dep, code)
		}
		c.restore()
		// after a restore the client reconnects with backoff: not the bound
		up := waitFor(c.dep+" restored: ready", 30*time.Second, allOK)
		t.Logf("%s: unready %v after the cut, ready %v after the restore", c.dep, down.Round(time.Millisecond), up.Round(time.Millisecond))
	}
}
