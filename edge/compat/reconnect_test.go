//go:build integration && !fakeedge

package compat

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/switchyard/switchyard/internal/proctest"
)

// TestCompatReconnectNeverStale is issue 15's reconnect test with FeatBit's
// own Node server SDK: control (the real binary) on the MongoDB-wire store,
// a Redis of the test's own (so it can be restarted empty), the shared Kafka,
// and an edge binary that the SDKs reach at one fixed address.
//
//  1. Eight writers toggle eight flags at once through the API, so their
//     writes contend for the environment's compare-and-set; the edge is
//     killed (SIGKILL) mid-burst and a new edge starts on the same address.
//     The SDKs reconnect asking only for items newer than the newest they
//     hold (the FeatBit protocol): every SDK must end with every
//     acknowledged value.
//  2. Redis restarts empty (no persistence) and the edge is replaced by a
//     cold one that never loaded the environment. With no flag change,
//     control rewrites the lost data, the SDKs reconnect and are served
//     (never refused with 4003, which FeatBit SDKs do not retry), still
//     evaluate every acknowledged value, and a new SDK initializes.
func TestCompatReconnectNeverStale(t *testing.T) {
	brokers, prefix := kafkaBrokers(t), topicPrefix()
	createTopics(t, brokers, prefix)
	mongoURI := os.Getenv("SY_TEST_MONGO_URI")
	if mongoURI == "" {
		t.Fatal("SY_TEST_MONGO_URI is not set: source ops/services/env.sh")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	bin := proctest.Build(t, root, "control", "edge")
	rds := startRedis(t)

	password := fmt.Sprintf("reconnect-admin-%d", rand.Uint64())
	ctlAddr := proctest.LowAddr(t)
	db := fmt.Sprintf("sy_compat_reconnect_%d", rand.Uint64())
	t.Cleanup(func() { dropDatabase(mongoURI, db) })
	ctlOut, _ := proctest.Start(t, filepath.Join(bin, "control"), "-addr", ctlAddr, "-mongo-uri", mongoURI, "-mongo-db", db,
		"-admin-password", password, "-redis-addr", rds.addr, "-kafka-brokers", strings.Join(brokers, ","), "-topic-prefix", prefix,
		"-snapshot-check", "1s")
	envID, secret := proctest.Banner(t, ctlOut, "dev")
	api := &controlAPI{t: t, base: "http://" + ctlAddr}
	api.login(password)

	const writers, rounds, sdks = 8, 10, 3
	flagsURL := "/api/v1/envs/" + envID + "/flags"
	keys := make([]string, writers)
	versions := make([]int64, writers)
	for w := range writers {
		keys[w] = fmt.Sprintf("burst-%d", w)
		var f struct{ Version int64 }
		if code, b := api.do("POST", flagsURL, "", map[string]any{"key": keys[w], "variationType": "boolean"}, &f); code != 201 {
			t.Fatalf("create %s: %d %s", keys[w], code, b)
		}
		versions[w] = f.Version
	}

	edgeAddr := proctest.LowAddr(t)
	// startEdge returns once the edge listens (it positions its change
	// stream first, which can take a while on a loaded Kafka cluster).
	startEdge := func() *os.Process {
		_, p := proctest.Start(t, filepath.Join(bin, "edge"), "-addr", edgeAddr, "-redis", rds.addr, "-kafka", strings.Join(brokers, ","),
			"-topic-prefix", prefix, "-drain-window", "-1s")
		waitUntil(t, 2*time.Minute, "the edge to listen", func() bool {
			c, err := net.DialTimeout("tcp", edgeAddr, time.Second)
			if err == nil {
				c.Close()
			}
			return err == nil
		})
		return p
	}
	edge := startEdge()

	dir, argv := nodeServerSDK.start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*sdkRunTimeout)
	defer cancel()
	startOne := func(name string) *sdkProc {
		p := startSDK(t, ctx, name, dir, append([]string{
			"COMPAT_SECRET=" + secret,
			"COMPAT_STREAMING_URL=ws://" + edgeAddr,
			"COMPAT_EVENTS_URL=http://" + edgeAddr,
		}, nodeServerSDK.env...), argv...)
		p.waitEvent("ready", readyTimeout)
		return p
	}
	procs := make([]*sdkProc, sdks)
	for i := range procs {
		procs[i] = startOne(fmt.Sprintf("node-server-sdk-%d", i+1))
	}

	// The burst. A write the API did not acknowledge (a conflict under
	// contention) is re-read and retried; the acknowledged state of each
	// flag is the answer to its last acknowledged toggle.
	var (
		mu    sync.Mutex
		acked = make(map[string]bool, writers)
		done  atomic.Int64
		wg    sync.WaitGroup
	)
	for w := range writers {
		wg.Go(func() {
			v := versions[w]
			on := false
			for range rounds {
				var f struct {
					Version   int64 `json:"version"`
					IsEnabled bool  `json:"isEnabled"`
				}
				code, _ := api.do("POST", flagsURL+"/"+keys[w]+"/toggle", "", map[string]any{"isEnabled": !on, "version": v}, &f)
				if code != 200 {
					var cur struct {
						Version   int64 `json:"version"`
						IsEnabled bool  `json:"isEnabled"`
					}
					if c, _ := api.do("GET", flagsURL+"/"+keys[w], "", nil, &cur); c == 200 {
						v, on = cur.Version, cur.IsEnabled
					}
					continue
				}
				v, on = f.Version, f.IsEnabled
				mu.Lock()
				acked[keys[w]] = f.IsEnabled
				mu.Unlock()
				done.Add(1)
			}
		})
	}
	waitUntil(t, 3*time.Minute, "half of the burst", func() bool { return done.Load() >= writers*rounds/2 })
	if err := edge.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = edge.Wait()
	edge = startEdge()
	wg.Wait()
	if len(acked) != writers {
		t.Fatalf("only %d of %d flags had an acknowledged toggle", len(acked), writers)
	}
	t.Logf("burst: %d toggles acknowledged, edge killed after %d", done.Load(), writers*rounds/2)

	user := map[string]any{"key": "reconnect-user"}
	stale := func(p *sdkProc) []string {
		var out []string
		for _, k := range keys {
			got := string(p.call(map[string]any{"cmd": "eval", "flag": k, "type": "bool", "user": user, "default": nil}).Value)
			if want := fmt.Sprint(acked[k]); got != want {
				out = append(out, fmt.Sprintf("%s=%s (acknowledged %s)", k, got, want))
			}
		}
		return out
	}
	converge := func(phase string) {
		t.Helper()
		for i, p := range procs {
			var last []string
			deadline := time.Now().Add(90 * time.Second)
			for {
				if last = stale(p); len(last) == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: SDK %d is stale on %d of %d flags: %s", phase, i+1, len(last), writers, strings.Join(last, ", "))
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
	}
	converge("after the burst and the edge kill")

	// Redis loses everything; a cold edge replaces the warm one.
	connects := make([]int, sdks)
	for i, p := range procs {
		connects[i] = p.call(map[string]any{"cmd": "stats"}).Connects
	}
	rds.restartEmpty(t)
	if err := edge.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = edge.Wait()
	startEdge()
	for i, p := range procs {
		waitUntil(t, 2*time.Minute, fmt.Sprintf("SDK %d to reconnect to the cold edge", i+1), func() bool {
			return p.call(map[string]any{"cmd": "stats"}).Connects > connects[i]
		})
	}
	fresh := startOne("node-server-sdk-new") // must initialize: 4003 would fail waitForInitialization
	procs = append(procs, fresh)
	converge("after Redis restarted empty")
	for i, p := range procs {
		st := p.call(map[string]any{"cmd": "stats"})
		for _, c := range st.CloseCodes {
			if c != nil && *c == 4003 {
				t.Fatalf("SDK %d was refused with 4003 (close codes %v): FeatBit SDKs never retry that", i+1, st.CloseCodes)
			}
		}
	}
}

// testRedis is a redis-server of the test's own, without persistence, so
// that a restart loses every key.
type testRedis struct {
	addr, port string
	cmd        *exec.Cmd
}

func startRedis(t *testing.T) *testRedis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server is not installed: make services-up installs it")
	}
	addr := proctest.LowAddr(t)
	r := &testRedis{addr: addr, port: addr[strings.LastIndexByte(addr, ':')+1:]}
	r.start(t)
	t.Cleanup(func() { r.stop() })
	return r
}

func (r *testRedis) start(t *testing.T) {
	t.Helper()
	r.cmd = exec.Command("redis-server", "--bind", "127.0.0.1", "--port", r.port, "--save", "", "--appendonly", "no",
		"--dir", t.TempDir())
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "redis-server to answer", func() bool {
		out, err := exec.Command("redis-cli", "-p", r.port, "ping").Output()
		return err == nil && strings.TrimSpace(string(out)) == "PONG"
	})
}

func (r *testRedis) stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
	}
}

// restartEmpty kills the server and starts a new one on the same port.
func (r *testRedis) restartEmpty(t *testing.T) {
	t.Helper()
	// a key of the test's own proves the data is gone: control may write
	// the snapshots again between the start and any check of the key count
	const marker = "sy:test:before-restart"
	if out, err := exec.Command("redis-cli", "-p", r.port, "set", marker, "1").Output(); err != nil || strings.TrimSpace(string(out)) != "OK" {
		t.Fatalf("cannot set %s: %q %v", marker, out, err)
	}
	r.stop()
	r.start(t)
	out, err := exec.Command("redis-cli", "-p", r.port, "exists", marker).Output()
	if err != nil || strings.TrimSpace(string(out)) != "0" {
		t.Fatalf("restarted Redis kept its data (%s exists: %q %v)", marker, out, err)
	}
}

// dropDatabase removes the test's database from the shared server.
func dropDatabase(uri, db string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := mongo.Connect(ctx, options.Client().ApplyURI(uri))
	if err != nil {
		return
	}
	defer c.Disconnect(ctx)
	_ = c.Database(db).Drop(ctx)
}
