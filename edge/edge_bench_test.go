package edge_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/codec/secret"
	"github.com/switchyard/switchyard/edge"
	"github.com/switchyard/switchyard/edge/edgetest"
	"github.com/switchyard/switchyard/edge/internal/wsconn"
	"github.com/valyala/fasthttp"
)

// The benchmarks that need many connections or a load generator run the
// clients in a child process (this test binary re-executed with
// SY_EDGE_BENCH_CHILD set) so the edge process is measured alone and stays
// under the 20,000 file descriptor limit.

func TestMain(m *testing.M) {
	if mode := os.Getenv("SY_EDGE_BENCH_CHILD"); mode != "" {
		benchChild(mode)
		return
	}
	os.Exit(m.Run())
}

type child struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func startChild(tb testing.TB, mode string, args ...string) *child {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SY_EDGE_BENCH_CHILD="+mode, "SY_EDGE_BENCH_ARGS="+strings.Join(args, " "))
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	c := &child{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	tb.Cleanup(func() { in.Close(); _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return c
}

func (c *child) line(tb testing.TB) string {
	tb.Helper()
	if !c.out.Scan() {
		tb.Fatalf("child ended: %v", c.out.Err())
	}
	return c.out.Text()
}

func (c *child) send(s string) { fmt.Fprintln(c.in, s) }

func rssBytes() int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n * 1024
		}
	}
	return 0
}

func goMem() (heap, total int64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse), int64(ms.HeapInuse + ms.StackInuse + ms.MSpanInuse + ms.MCacheInuse)
}

func envInt(k string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(k)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkIdleConnMemory holds SY_EDGE_BENCH_CONNS (default 10,000)
// upgraded server-SDK connections, each of which did a data-sync for the
// changes after now (an empty patch; with SY_EDGE_BENCH_SYNC=1 a full
// data-sync), and
// reports the edge process's memory per connection after GC: RSS, Go
// memory in use (heap + stacks + spans) and heap alone.
func BenchmarkIdleConnMemory(b *testing.B) {
	n := envInt("SY_EDGE_BENCH_CONNS", 10000)
	if os.Getenv("SY_EDGE_BENCH_HEAPPROFILE") != "" {
		runtime.MemProfileRate = 64
	}
	e := edgetest.Run(b, edge.Config{BufferSize: envInt("SY_EDGE_BENCH_BUFFER", 0), NodeCap: envInt("SY_EDGE_BENCH_NODECAP", 0)})
	env := e.Env(b)
	heap0, tot0 := goMem()
	rss0 := rssBytes()
	ch := startChild(b, "hold", e.Addr, env.ServerSecret, strconv.Itoa(n))
	if l := ch.line(b); l != "ready" {
		b.Fatalf("child: %s", l)
	}
	deadline := time.Now().Add(time.Minute)
	for e.Server.Connections() < n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := e.Server.Connections(); got < n {
		b.Fatalf("%d of %d connections open", got, n)
	}
	time.Sleep(500 * time.Millisecond)
	heap1, tot1 := goMem()
	rss1 := rssBytes()
	if p := os.Getenv("SY_EDGE_BENCH_HEAPPROFILE"); p != "" {
		f, _ := os.Create(p)
		_ = pprof.Lookup("heap").WriteTo(f, 0)
		f.Close()
	}
	b.ReportMetric(float64(rss1-rss0)/float64(n), "rss-B/conn")
	b.ReportMetric(float64(tot1-tot0)/float64(n), "go-B/conn")
	b.ReportMetric(float64(heap1-heap0)/float64(n), "heap-B/conn")
	b.ReportMetric(float64(runtime.NumGoroutine()), "goroutines")
	// CPU of the edge process while every connection sits idle (the
	// sweeper's share): SY_EDGE_BENCH_IDLE seconds, default 3
	idle := time.Duration(envInt("SY_EDGE_BENCH_IDLE", 3)) * time.Second
	cpu0 := cpuTime()
	time.Sleep(idle)
	b.ReportMetric(100*(cpuTime()-cpu0).Seconds()/idle.Seconds(), "idle-cpu-%")
	for i := 0; i < b.N; i++ {
	}
}

// BenchmarkConnectFullSync measures new server-SDK connections per second,
// each upgrading, sending data-sync and reading the full sync of 100
// flags, then closing (clients in this process, 8 at a time).
func BenchmarkConnectFullSync(b *testing.B) {
	e := edgetest.Run(b)
	snap := bigSnapshotFor(100)
	if err := e.Source.WriteSnapshot(context.Background(), snap); err != nil {
		b.Fatal(err)
	}
	sec := snap.Secrets[0].Value
	b.ReportAllocs()
	b.SetParallelism(4)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c, err := edgetest.DialErr(edgetest.StreamURL(e.Addr, "server", sec))
			if err != nil {
				b.Error(err)
				return
			}
			_ = c.Send(`{"messageType":"data-sync","data":{"timestamp":0}}`)
			if _, p, err := c.Read(10 * time.Second); err != nil || len(p) < 10000 {
				b.Errorf("full sync: %d bytes, %v", len(p), err)
			}
			c.Conn.Close()
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "conns/s")
}

// BenchmarkPushToAll measures the time from producing one flag change to
// every one of SY_EDGE_BENCH_CONNS (default 10,000) server-SDK connections
// (in a child process) having received the patch, in an environment of
// SY_EDGE_BENCH_FLAGS flags (default: the demo's 5). Reports the mean, p50
// and p99 over the changes (one change at a time) and the edge's CPU per
// change and per connection reached.
func BenchmarkPushToAll(b *testing.B) {
	n := envInt("SY_EDGE_BENCH_CONNS", 10000)
	e := edgetest.Run(b)
	env := e.Env(b)
	if nf := envInt("SY_EDGE_BENCH_FLAGS", 0); nf > len(env.Snapshot.Flags) {
		big := bigSnapshotFor(nf)
		big.EnvID, big.Secrets = env.Snapshot.EnvID, env.Snapshot.Secrets
		for i := range big.Flags {
			big.Flags[i].EnvID = big.EnvID
		}
		big.Version = env.Snapshot.Version + 1
		if err := e.Source.WriteSnapshot(context.Background(), big); err != nil {
			b.Fatal(err)
		}
		env.Snapshot = big
	}
	ch := startChild(b, "hold", e.Addr, env.ServerSecret, strconv.Itoa(n))
	if l := ch.line(b); l != "ready" {
		b.Fatalf("child: %s", l)
	}
	f := env.Snapshot.Flags[0]
	var total time.Duration
	times := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		ch.send("expect " + strconv.Itoa((i+1)*n))
		f.Version++
		f.UpdatedAt++
		start := time.Now()
		produceFlag(b, e, env.ID, &f)
		if l := ch.line(b); l != "done" {
			b.Fatalf("child: %s", l)
		}
		d := time.Since(start)
		total += d
		times = append(times, d)
	}
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "edge-cpu-ms/push")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/float64(n), "edge-cpu-ns/conn")
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/push")
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(times[(len(times)*99)/100].Microseconds())/1000, "p99-ms")
	if n, sum := e.Server.Metrics().PushStats(); n > 0 {
		b.ReportMetric(float64(sum.Milliseconds())/float64(n), "server-ms/push")
	}
	b.ReportMetric(float64(n), "conns")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkOFREPSingle measures OFREP single-flag evaluations per second of
// edge CPU time with 64 keep-alive connections from a child process
// (SY_EDGE_BENCH_SECONDS, default 5; SY_EDGE_BENCH_PIPELINE, default 1:
// requests in flight per connection), on the shared streaming port and on
// the HTTP-only listener (Config.HTTPAddr).
func BenchmarkOFREPSingle(b *testing.B) {
	b.Run("port=shared", func(b *testing.B) { benchOFREP(b, false) })
	b.Run("port=http-addr", func(b *testing.B) { benchOFREP(b, true) })
}

// benchOFREP runs the load against the streaming port (served through the
// netpoll event loops) or against Config.HTTPAddr (Go's poller).
func benchOFREP(b *testing.B, direct bool) {
	// the per-address and per-secret limiters run (their cost is measured)
	// but never refuse: the load comes from one address with one secret
	cfg := edge.Config{AddrRate: 1e9, SecretRate: 1e9, MaxUnfinished: 128}
	if direct {
		cfg.HTTPAddr = "127.0.0.1:0"
	}
	e := edgetest.Run(b, cfg)
	env := e.Env(b)
	addr := e.Addr
	if direct {
		addr = e.Server.HTTPAddr()
	}
	secs := envInt("SY_EDGE_BENCH_SECONDS", 5)
	ch := startChild(b, "ofrep", addr, env.ServerSecret, "64", strconv.Itoa(secs), strconv.Itoa(envInt("SY_EDGE_BENCH_PIPELINE", 1)))
	if l := ch.line(b); l != "ready" {
		b.Fatalf("child: %s", l)
	}
	if p := os.Getenv("SY_EDGE_BENCH_CPUPROFILE"); p != "" {
		f, _ := os.Create(p)
		_ = pprof.StartCPUProfile(f)
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	ok, cpu, wall := runRequests(b, ch)
	b.ReportMetric(float64(ok)/cpu.Seconds(), "evals/cpu-s")
	b.ReportMetric(float64(ok)/wall.Seconds(), "evals/s")
	b.ReportMetric(cpu.Seconds()/wall.Seconds(), "edge-cores")
	for i := 0; i < b.N; i++ {
	}
}

// runRequests starts a ready "ofrep" child's load and returns the requests
// answered 200 and this process's CPU and wall time meanwhile; any failed
// request fails the benchmark.
func runRequests(b *testing.B, ch *child) (ok int64, cpu, wall time.Duration) {
	cpu0, t0 := cpuTime(), time.Now()
	ch.send("go")
	l := ch.line(b)
	cpu, wall = cpuTime()-cpu0, time.Since(t0)
	var failed int64
	fmt.Sscanf(l, "%d %d", &ok, &failed)
	if ok == 0 || failed > 0 {
		b.Fatalf("child: %s", l)
	}
	return ok, cpu, wall
}

// BenchmarkHTTPEmptyHandler is BenchmarkOFREPSingle's load against the same
// transport (wsconn on netpoll, fasthttp) with a handler that only writes a
// fixed 200 JSON body: the cost of TCP, the transport and fasthttp alone,
// the ceiling for OFREP on the machine (docs/benchmarks.md).
func BenchmarkHTTPEmptyHandler(b *testing.B) {
	body := []byte(`{"key":"f","value":true,"reason":"DEFAULT","variant":"on","metadata":{}}`)
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBody(body)
	}, NoDefaultServerHeader: true, ReadBufferSize: 8 << 10}
	var addr string
	if os.Getenv("SY_EDGE_BENCH_STDNET") != "" { // for comparison: Go's own poller
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		go srv.Serve(ln)
		b.Cleanup(func() { ln.Close() })
		addr = ln.Addr().String()
	} else {
		ws := wsconn.New(wsconn.Config{}, nil, srv.ServeConn, nil)
		if err := ws.Listen("127.0.0.1:0"); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = ws.Shutdown(context.Background(), 1001, "") })
		addr = ws.Addr().String()
	}
	secs := envInt("SY_EDGE_BENCH_SECONDS", 5)
	ch := startChild(b, "ofrep", addr, "unused", "64", strconv.Itoa(secs), "1")
	if l := ch.line(b); l != "ready" {
		b.Fatalf("child: %s", l)
	}
	ok, cpu, wall := runRequests(b, ch)
	b.ReportMetric(float64(ok)/cpu.Seconds(), "reqs/cpu-s")
	b.ReportMetric(float64(ok)/wall.Seconds(), "reqs/s")
	b.ReportMetric(cpu.Seconds()/wall.Seconds(), "server-cores")
	for i := 0; i < b.N; i++ {
	}
}

func benchChild(mode string) {
	args := strings.Fields(os.Getenv("SY_EDGE_BENCH_ARGS"))
	switch mode {
	case "hold":
		childHold(args[0], args[1], atoi(args[2]))
	case "ofrep":
		childOFREP(args[0], args[1], atoi(args[2]), atoi(args[3]), atoi(args[4]))
	}
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// childHold opens n connections (data-sync each), reports "ready", then
// answers "expect K" with "done" once K data messages arrived in total.
func childHold(addr, sec string, n int) {
	var got atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			var conn net.Conn
			var err error
			for try := 0; try < 5; try++ {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				conn, _, _, err = ws.Dial(ctx, edgetest.StreamURL(addr, "server", sec))
				cancel()
				if err == nil {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, "dial:", err)
				os.Exit(1)
			}
			// changes are pushed only to connections that had a data-sync
			// reply: without SY_EDGE_BENCH_SYNC a reconnecting SDK's (a
			// cursor after every item: an empty patch), with it a full sync
			msg := `{"messageType":"data-sync","data":{"timestamp":9999999999999}}`
			if os.Getenv("SY_EDGE_BENCH_SYNC") != "" {
				msg = `{"messageType":"data-sync","data":{"timestamp":0}}`
			}
			_ = wsutil.WriteClientText(conn, []byte(msg))
			if _, err := wsutil.ReadServerText(conn); err != nil {
				fmt.Fprintln(os.Stderr, "pong:", err)
				os.Exit(1)
			}
			<-sem
			go func() {
				for {
					if _, err := wsutil.ReadServerText(conn); err != nil {
						return
					}
					got.Add(1)
				}
			}()
		}()
	}
	wg.Wait()
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var k int64
		if _, err := fmt.Sscanf(in.Text(), "expect %d", &k); err != nil {
			continue
		}
		for got.Load() < k {
			time.Sleep(50 * time.Microsecond)
		}
		fmt.Println("done")
	}
}

// childOFREP runs conc keep-alive connections (a minimal HTTP/1.1 client,
// to keep the load generator cheap) against the single-flag OFREP endpoint
// for secs seconds after "go" and prints "ok failed". depth > 1 pipelines
// that many requests per write (HTTP/1.1 pipelining).
func childOFREP(addr, sec string, conc, secs, depth int) {
	body := `{"context":{"targetingKey":"9c4b1f2e-5d6a-4e8b-9f0c-1a2b3c4d5e6f","country":"FR","plan":"pro"}}`
	req := []byte("POST /ofrep/v1/evaluate/flags/" + edgetest.FlagString + " HTTP/1.1\r\nHost: edge\r\nAuthorization: Bearer " + sec +
		"\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	req = bytes.Repeat(req, depth)
	conns := make([]net.Conn, conc)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		conns[i] = c
	}
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	in.Scan()
	var ok, failed atomic.Int64
	stop := time.Now().Add(time.Duration(secs) * time.Second)
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func(c net.Conn) {
			defer wg.Done()
			br := bufio.NewReaderSize(c, 4096)
			for n := 0; ; n++ {
				if n%64 == 0 && time.Now().After(stop) {
					return
				}
				if _, err := c.Write(req); err != nil {
					failed.Add(1)
					return
				}
				// status line, headers (Content-Length), body
				for k := 0; k < depth; k++ {
					status, err := br.ReadSlice('\n')
					if err != nil {
						failed.Add(1)
						return
					}
					good := len(status) > 12 && string(status[9:12]) == "200"
					clen := 0
					for {
						l, err := br.ReadSlice('\n')
						if err != nil {
							failed.Add(1)
							return
						}
						if len(l) <= 2 {
							break
						}
						if len(l) > 16 && (l[0] == 'C' || l[0] == 'c') && strings.EqualFold(string(l[:15]), "content-length:") {
							clen, _ = strconv.Atoi(strings.TrimSpace(string(l[15:])))
						}
					}
					if _, err := br.Discard(clen); err != nil {
						failed.Add(1)
						return
					}
					if good {
						ok.Add(1)
					} else {
						failed.Add(1)
					}
				}
			}
		}(c)
	}
	wg.Wait()
	fmt.Println(ok.Load(), failed.Load())
}

// bigSnapshotFor is the demo environment grown to n flags.
func bigSnapshotFor(n int) *codec.EnvSnapshot {
	s := edgetest.DemoSnapshot(secret.NewGUID())
	base := s.Flags
	for i := len(base); i < n; i++ {
		f := base[i%len(base)]
		f.ID = secret.NewGUID()
		f.Key = fmt.Sprintf("%s-%03d-checkout-experience", base[i%len(base)].Key, i)
		s.Flags = append(s.Flags, f)
	}
	return s
}

// TestFullSyncFrameSizes reports the full-sync frame sizes of both
// protocols for 100 flags (docs/edge.md) and checks the binary one is not
// larger.
func TestFullSyncFrameSizes(t *testing.T) {
	e := edgetest.Run(t)
	snap := bigSnapshotFor(100)
	if err := e.Source.WriteSnapshot(context.Background(), snap); err != nil {
		t.Fatal(err)
	}
	sizes := map[string]int{}
	for _, proto := range []string{"", "switchyard.msgpack.v1"} {
		var protos []string
		if proto != "" {
			protos = []string{proto}
		}
		c := edgetest.Dial(t, edgetest.StreamURL(e.Addr, "server", snap.Secrets[0].Value), protos...)
		if proto == "" {
			_ = c.Send(`{"messageType":"data-sync","data":{"timestamp":0}}`)
		} else {
			m := codec.SyncMessage{MessageType: "data-sync"}
			b, _ := m.MarshalMsg(nil)
			_ = c.SendBinary(b)
		}
		_, p, err := c.Read(wait)
		if err != nil {
			t.Fatal(err)
		}
		sizes["server/"+proto] = len(p)
		cc := edgetest.Dial(t, edgetest.StreamURL(e.Addr, "client", snap.Secrets[1].Value), protos...)
		if proto == "" {
			_ = cc.Send(`{"messageType":"data-sync","data":{"timestamp":0,"user":{"keyId":"9c4b1f2e-5d6a-4e8b-9f0c-1a2b3c4d5e6f","name":"n","customizedProperties":[{"name":"country","value":"FR"}]}}}`)
		} else {
			m := codec.SyncMessage{MessageType: "data-sync", Data: codec.SyncData{User: &codec.EndUser{KeyID: "9c4b1f2e-5d6a-4e8b-9f0c-1a2b3c4d5e6f", Name: "n", Props: []codec.UserProp{{Name: "country", Value: "FR"}}}}}
			b, _ := m.MarshalMsg(nil)
			_ = cc.SendBinary(b)
		}
		_, p, err = cc.Read(wait)
		if err != nil {
			t.Fatal(err)
		}
		sizes["client/"+proto] = len(p)
	}
	t.Logf("full sync of 100 flags, payload bytes: server JSON %d, server msgpack %d; client JSON %d, client msgpack %d",
		sizes["server/"], sizes["server/switchyard.msgpack.v1"], sizes["client/"], sizes["client/switchyard.msgpack.v1"])
	if sizes["server/switchyard.msgpack.v1"] > sizes["server/"] || sizes["client/switchyard.msgpack.v1"] > sizes["client/"] {
		t.Errorf("msgpack frames larger than JSON: %v", sizes)
	}
}
