// Package loadtest is the Switchyard load harness: it drives an edge with
// FeatBit streaming connections and HTTP load, measures it, and writes a
// summary table, a JSON result and a self-contained HTML report per
// scenario (connect, hold, push, evaluate, events; see
// loadtest/internal/scenario).
//
// Usage (the binary is loadtest/cmd/loadtest; docs/benchmarks.md has the
// measured runs):
//
//	loadtest [flags] connect|hold|push|evaluate|events|scale|writes ...
//
// Every flag can also be set with an SY_LOADTEST_<NAME> environment
// variable (dashes become underscores: SY_LOADTEST_PUSH_RATE=5) or a line of
// the -config file (internal/config; `loadtest -h` lists them).
//
// The harness can launch the edge itself (-edge-bin): -edge-procs processes
// of the edge binary sharing one port with SO_REUSEPORT (the edge's
// -reuseport flag), so a single machine holds more connections than one
// process's open-files limit allows. Streaming load runs in worker
// processes (this binary re-executed with the argument "worker"), each
// holding up to its open-files limit and binding its own 127.0.x.y source
// address.
//
// Lifetime: New, Run, then Shutdown, which stops every process the harness
// started (workers stop when their stdin closes; edge processes get
// SIGTERM, then SIGKILL after a grace period).
package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/switchyard/switchyard/internal/config"
	"github.com/switchyard/switchyard/loadtest/internal/change"
	"github.com/switchyard/switchyard/loadtest/internal/edgenode"
	"github.com/switchyard/switchyard/loadtest/internal/machine"
	"github.com/switchyard/switchyard/loadtest/internal/report"
	"github.com/switchyard/switchyard/loadtest/internal/scenario"
	"github.com/switchyard/switchyard/loadtest/internal/worker"
)

// Config is the harness configuration (flags + SY_LOADTEST_* env).
type Config struct {
	Scenarios []string
	Scenario  scenario.Config
	OutDir    string

	RedisAddr    string
	KafkaBrokers []string
	TopicPrefix  string
	ServerSecret string
	ClientSecret string

	ControlURL      string // control API base URL: changes go through PUT /api/v1/envs/{env}/flags/lt-push
	ControlToken    string
	ControlEmail    string
	ControlPassword string
	ControlEnv      string

	EdgeNodes       int           // in-binary edge processes (package edge + LocalSource, changes over pipes)
	EdgeIdleTimeout time.Duration // edge nodes' idle timeout (0: the edge's default, 5m)
	EdgeBin         string
	EdgeProcs       int
	EdgeArgs        []string
	EdgeWait        time.Duration
	ScaleSizes      []int // scale: environment sizes (flags)
	ScaleBatch      int   // scale: flags per bulk request
	ControlPids     []int // scale: control processes for CPU per change
	PlanOnly        bool  // print the plan for -conns (workers, memory, refusal) and start nothing
	Writes          scenario.WritesConfig
	WriteTokens     int // writes: access tokens the writes are spread over (0: the login's session)

	FullSyncShare float64 // scale: fraction of connections that full-sync cold (the rest reconnect with a timestamp)
	ScaleMembers  []int   // scale: segment member-list sizes measured after the flag sizes
	ColdEdgeCmd   string  // scale: command line starting a fresh edge on {addr}, timed to its first full sync at each size

	// EdgeNodeExe and EdgeNodeArgs start an edge node (default: this
	// executable with "edge-node"; the address is appended).
	EdgeNodeExe  string
	EdgeNodeArgs []string
}

// Scenarios the harness knows, in the order "all" runs them.
var Scenarios = []string{"connect", "hold", "push", "evaluate", "events"}

// OtherScenarios are run only by name (not by "all").
var OtherScenarios = []string{"scale", "writes"}

// ParseArgs parses command-line arguments (flags, then scenario names).
func ParseArgs(args []string, stderr io.Writer) (Config, error) {
	return parseArgs(args, os.Getenv, stderr)
}

// parseArgs is ParseArgs with the environment given; -h prints to out.
func parseArgs(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	var c Config
	s := &c.Scenario
	fs := config.New("loadtest", "SY_LOADTEST_")
	fs.SetUsage(fmt.Sprintf("usage: loadtest [flags] %s|all ...", strings.Join(append(Scenarios, OtherScenarios...), "|")))
	var dsts, edgePids, edgeArgs, scaleSizes, controlPids, scaleMembers string
	fs.String(&scaleSizes, "scale-sizes", scenario.DefaultScaleSizes, "scale: environment sizes in flags, increasing (the environment grows from one to the next)")
	fs.Int(&c.ScaleBatch, "scale-batch", change.MaxBatchItems, "scale: flags per bulk request (POST …/flags/batch), 1..1000")
	fs.Float(&c.FullSyncShare, "full-sync-share", 1, "scale: fraction of connections that do a cold full sync, 0..1; the rest connect as reconnecting SDKs sending the newest item's timestamp (read from one full sync) and get only what is newer")
	fs.String(&scaleMembers, "scale-members", "", "scale: segment sizes (included keys, increasing, at most 100000) measured after the flag sizes: a flag's rule uses the segment, each change replaces one key, timed to every server connection (with -control-url, control's -max-body must hold the list: ~22 bytes per key)")
	fs.String(&c.ColdEdgeCmd, "cold-edge-cmd", "", "scale: command line (no shell) starting a fresh edge listening on {addr}, e.g. \"bin/edge -addr {addr} -redis-addr … -kafka-brokers … -topic-prefix …\"; at each size it is started, timed from start to its first full sync of the environment, and killed")
	fs.String(&controlPids, "control-pid", "", "scale: comma-separated control pids for CPU per change (default: the process listening on -control-url's port)")
	fs.Float(&c.Writes.Rate, "write-rate", 1000, "writes: flag writes per second through the control API, all writers together")
	fs.Duration(&c.Writes.Duration, "write-duration", 30*time.Second, "writes: how long writes are made")
	fs.Int(&c.Writes.Writers, "writers", 64, "writes: concurrent HTTP clients (requests in flight)")
	fs.Int(&c.Writes.Flags, "write-flags", 100, "writes: distinct flags written, round robin (lt-write-0 …, created if missing)")
	fs.Int(&c.Writes.SDKs, "write-sdks", 2, "writes: FeatBit server SDK connections to -target that check every flag state arrives in order")
	fs.Duration(&c.Writes.Reconnect, "write-reconnect", 0, "writes: every SDK connection reconnects this often during the writes, asking only for what changed after the newest updatedAt it holds, as FeatBit SDKs do (0: never; else 100ms..1h)")
	fs.Int(&c.WriteTokens, "write-tokens", 32, "writes: access tokens created for the run (revoked after) the writes are spread over, since control limits each credential to its -rate-limit (50/s); 0: the login's session")
	fs.Duration(&s.SyncTimeout, "sync-timeout", 15*time.Second, "a connection's wait for its full sync before it counts as failed (raise it for environments of many MB)")
	fs.String(&s.Target, "target", "127.0.0.1:5100", "edge address host:port (streaming and HTTP)")
	fs.String(&s.HTTPTarget, "http-target", "", "address for the HTTP scenarios (evaluate, events) if not -target, e.g. the edge's -http-addr")
	fs.String(&dsts, "dsts", "", "comma-separated destination addresses to spread connections over (edge listening on a wildcard address); default -target")
	fs.Int(&s.Conns, "conns", 1000, "streaming connections")
	fs.Float(&s.Rate, "rate", 5000, "new connections per second, all workers together (0: unlimited)")
	fs.Int(&s.Concurrency, "concurrency", 128, "in-flight connects per worker")
	fs.Float(&s.ClientShare, "client-share", 0.2, "fraction of type=client connections (JS-SDK style users)")
	fs.Int(&s.PerWorker, "per-worker", 0, "connections per worker process (0: the open-files limit minus a reserve)")
	fs.Bool(&s.Msgpack, "msgpack", false, "speak the msgpack variant (Sec-WebSocket-Protocol switchyard.msgpack.v1)")
	fs.Int(&s.Flags, "flags", 20, "generated flags in the load-test environment (plus the push flag)")
	fs.Duration(&s.PingInterval, "ping", 18*time.Second, "FeatBit ping interval per connection (0: none; Node/JS SDKs use 18s, others 10s)")
	fs.Duration(&s.HoldFor, "hold", 10*time.Second, "hold: idle time measured")
	fs.Duration(&s.Settle, "settle", 3*time.Second, "hold: wait after connecting before memory is read")
	fs.Int(&s.Pushes, "pushes", 10, "push: changes to make")
	fs.Bool(&s.HoldFirst, "push-hold", false, "push: measure hold figures (memory, idle CPU) first, on the same connections")
	fs.Float(&s.PushRate, "push-rate", 2, "push: changes per second (0: sequential, each change once every connection has the previous one)")
	fs.Duration(&s.PushTimeout, "push-timeout", 30*time.Second, "push: wait for the last deliveries")
	fs.Int(&s.HTTPConcurrency, "http-concurrency", 64, "evaluate/events: keep-alive connections")
	fs.Duration(&s.HTTPDuration, "duration", 10*time.Second, "evaluate/events: load duration")
	fs.String(&s.EvalMix, "mix", "ofrep", "evaluate: ofrep, server-poll, client-poll or mix")
	fs.Int(&s.EventsPerReq, "events-per-request", 50, "events: insight objects per track request (SDKs send up to 50)")
	fs.String(&s.ClickHouseHTTP, "clickhouse-http", "", "events: ClickHouse HTTP address; waits until every accepted event is there")
	fs.String(&s.ClickHouseDB, "clickhouse-db", "default", "events: ClickHouse database of flag_events/metric_events")
	fs.String(&s.Engine, "engine", "netpoll", "client engine: netpoll (netpoll connections + gobwas/ws handshake) or epoll (raw sockets, one epoll loop per worker, ~0.8 KiB per connection)")
	fs.Bool(&s.SmallBuffers, "small-buffers", true, "workers use 256-byte netpoll buffers (less client memory)")
	var minMem int64
	fs.Int64(&minMem, "min-mem", 1024, "abort a streaming run (closing every connection) when MemAvailable falls below this many MiB (0: never)")
	fs.String(&edgePids, "edge-pids", "", "comma-separated edge pids for CPU/memory figures (default: the processes listening on -target's port)")
	fs.String(&c.OutDir, "out", "loadtest-results", "directory for <scenario>.json and <scenario>.html")
	fs.String(&c.RedisAddr, "redis-addr", "", "Redis address: the environment is written to the hash sy:env:{envId}").Alias("redis")
	fs.List(&c.KafkaBrokers, "kafka-brokers", "", "Kafka brokers (comma-separated): changes go to <prefix>sy.changes").Alias("kafka")
	fs.String(&c.TopicPrefix, "topic-prefix", "", "Kafka topic prefix (the edge's -topic-prefix)")
	fs.String(&c.ControlURL, "control-url", "", "control API base URL (http://host:8080): the environment -control-env and its changes come from control").Alias("control")
	fs.String(&c.ControlToken, "control-token", "", "control API bearer token (or -control-email/-control-password)")
	fs.String(&c.ControlEmail, "control-email", "", "control login email")
	fs.String(&c.ControlPassword, "control-password", "", "control login password")
	fs.String(&c.ControlEnv, "control-env", "", "environment id in control")
	fs.String(&c.ServerSecret, "server-secret", "", "use an existing environment's server secret instead of generating one (no push)")
	fs.String(&c.ClientSecret, "client-secret", "", "the existing environment's client secret")
	fs.Int(&c.EdgeNodes, "edge-nodes", 0, "launch this many edge processes from this binary (package edge, SO_REUSEPORT on -target, changes over pipes; no Redis/Kafka)")
	fs.Duration(&c.EdgeIdleTimeout, "edge-idle-timeout", 0, "idle timeout of -edge-nodes edges (0: the edge's default); raise it for long runs with -ping 0")
	fs.String(&c.EdgeBin, "edge-bin", "", "launch the edge binary (with -reuseport) instead of using a running edge")
	fs.Int(&c.EdgeProcs, "edge-procs", 0, "edge processes to launch on -target's port (0: as many as the fd limit needs for -conns)")
	fs.String(&edgeArgs, "edge-args", "", "extra arguments for launched edge processes (space-separated)")
	fs.Bool(&c.PlanOnly, "plan", false, "only print how -conns would be spread over processes and whether the machine can hold them")
	fs.Duration(&c.EdgeWait, "edge-wait", 30*time.Second, "wait this long for launched edges to listen")
	if err := fs.Parse(args, getenv, out); err != nil {
		return c, err
	}
	for _, a := range fs.Args() {
		if a == "all" {
			c.Scenarios = append(c.Scenarios, Scenarios...)
			continue
		}
		if !contains(Scenarios, a) && !contains(OtherScenarios, a) {
			return c, fmt.Errorf("unknown scenario %q (want %s or all)", a, strings.Join(append(Scenarios, OtherScenarios...), ", "))
		}
		c.Scenarios = append(c.Scenarios, a)
	}
	if len(c.Scenarios) == 0 {
		return c, fmt.Errorf("no scenario given (want %s or all; loadtest -h lists the flags)", strings.Join(Scenarios, ", "))
	}
	s.MinMemAvailable = minMem << 20
	if s.SyncTimeout <= 0 || s.SyncTimeout > time.Hour {
		return c, fmt.Errorf("-sync-timeout: %s is not in (0, 1h]", s.SyncTimeout)
	}
	if contains(c.Scenarios, "scale") {
		sizes, err := scenario.ParseSizes(scaleSizes)
		if err != nil {
			return c, err
		}
		c.ScaleSizes = sizes
		if c.ScaleMembers, err = scenario.ParseMembers(scaleMembers); err != nil {
			return c, err
		}
		if c.ColdEdgeCmd != "" {
			if _, err := scenario.ColdEdgeCommand(c.ColdEdgeCmd); err != nil {
				return c, err
			}
		}
		if !(c.FullSyncShare >= 0 && c.FullSyncShare <= 1) {
			return c, fmt.Errorf("-full-sync-share: %v is not in 0..1", c.FullSyncShare)
		}
		if c.ScaleBatch < 1 || c.ScaleBatch > change.MaxBatchItems {
			return c, fmt.Errorf("-scale-batch: %d is not in 1..%d", c.ScaleBatch, change.MaxBatchItems)
		}
	}
	if contains(c.Scenarios, "writes") {
		if err := c.Writes.Validate(); err != nil {
			return c, err
		}
		if c.WriteTokens < 0 || c.WriteTokens > change.MaxTokens {
			return c, fmt.Errorf("-write-tokens: %d is not in 0..%d", c.WriteTokens, change.MaxTokens)
		}
		if c.ControlURL == "" {
			return c, errors.New("writes needs -control-url, -control-env and a login (-control-email/-control-password or -control-token)")
		}
	}
	for _, p := range split(controlPids) {
		pid, err := strconv.Atoi(p)
		if err != nil || pid <= 0 {
			return c, fmt.Errorf("-control-pid: %q is not a pid", p)
		}
		c.ControlPids = append(c.ControlPids, pid)
	}
	if s.PingInterval == 0 {
		s.PingInterval = -1 // scenario.Config: negative means no pings
	}
	s.Dsts = split(dsts)
	c.EdgeArgs = strings.Fields(edgeArgs)
	for _, p := range split(edgePids) {
		pid, err := strconv.Atoi(p)
		if err != nil {
			return c, fmt.Errorf("-edge-pids: %q is not a pid", p)
		}
		s.EdgePids = append(s.EdgePids, pid)
	}
	if (c.RedisAddr == "") != (len(c.KafkaBrokers) == 0) {
		return c, errors.New("-redis-addr and -kafka-brokers go together (the edge's production source)")
	}
	if c.EdgeNodes > 0 && (c.EdgeBin != "" || c.RedisAddr != "" || c.ServerSecret != "") {
		return c, errors.New("-edge-nodes runs its own edges fed by the harness: no -edge-bin, -redis-addr/-kafka-brokers or -server-secret")
	}
	if c.ControlURL != "" && (c.ControlEnv == "" || c.RedisAddr != "" || c.ServerSecret != "" || c.EdgeNodes > 0) {
		return c, errors.New("-control-url needs -control-env and replaces -redis-addr/-kafka-brokers, -server-secret and -edge-nodes")
	}
	if c.ServerSecret != "" && c.RedisAddr != "" {
		return c, errors.New("-server-secret uses an existing environment; -redis-addr/-kafka-brokers publish a generated one: pick one")
	}
	return c, nil
}

func split(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// Harness runs the configured scenarios.
type Harness struct {
	cfg    Config
	out    io.Writer
	remote *change.Remote
	ctl    *change.Control
	nodes  *edgenode.Nodes
	edges  []*exec.Cmd
}

// New builds a harness; results are printed to out.
func New(cfg Config, out io.Writer) (*Harness, error) {
	h := &Harness{cfg: cfg, out: out}
	if cfg.EdgeNodeArgs == nil {
		h.cfg.EdgeNodeArgs = []string{"edge-node"}
	}
	cfg = h.cfg
	sc := &h.cfg.Scenario
	if cfg.RedisAddr != "" {
		r, err := change.NewRemote(cfg.RedisAddr, cfg.KafkaBrokers, cfg.TopicPrefix)
		if err != nil {
			return nil, err
		}
		h.remote = r
		sc.Source = r
	}
	if cfg.ControlURL != "" {
		ctl, env, err := change.NewControl(context.Background(), cfg.ControlURL, cfg.ControlToken, cfg.ControlEmail, cfg.ControlPassword, cfg.ControlEnv)
		if err != nil {
			return nil, err
		}
		h.ctl = ctl
		sc.Env = env
		sc.Pusher = ctl.Push
		sc.Receipts = ctl.Receipt
		sc.DeliveryReports = ctl.DeliveryReports
		sc.Flags = 0
	}
	if cfg.ServerSecret != "" {
		sc.Env = &change.Env{ID: "existing", ServerSecret: cfg.ServerSecret, ClientSecret: cfg.ClientSecret}
		if cfg.ClientSecret == "" {
			sc.ClientShare = 0
		}
	}
	if cfg.EdgeNodes > 0 && !cfg.PlanOnly {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		if cfg.EdgeNodeExe != "" {
			exe = cfg.EdgeNodeExe
		}
		fmt.Fprintf(out, "launching %d edge nodes on %s (SO_REUSEPORT)\n", cfg.EdgeNodes, sc.Target)
		ns, err := edgenode.Launch(cfg.EdgeNodes, sc.Target, cfg.EdgeIdleTimeout, exe, cfg.EdgeNodeArgs...)
		if err != nil {
			return nil, err
		}
		h.nodes = ns
		sc.Source = ns
		sc.EdgePids = ns.Pids()
		sc.EdgeGC = ns.GC
	}
	if cfg.PlanOnly {
		return h, nil
	}
	if sc.Source == nil && sc.Env == nil {
		h.Shutdown(context.Background())
		return nil, errors.New("no environment: give -redis-addr and -kafka-brokers (the harness publishes its own environment) or -server-secret/-client-secret of an existing one")
	}
	return h, nil
}

// Run launches edges if asked and runs every scenario; it returns an error
// wrapping scenario.ErrChecks when a consistency check failed.
func (h *Harness) Run(ctx context.Context) error {
	if h.cfg.PlanOnly {
		b := machine.DefaultBudget
		if h.cfg.Scenario.Engine == "epoll" {
			b.ClientBytes = machine.EpollClientBytes
		}
		p, err := machine.MakePlan(h.cfg.Scenario.Conns, h.cfg.Scenario.PerWorker, b)
		fmt.Fprintf(h.out, "plan: %d connections over %d worker processes (≤ %d each; open-files limit %d), %d edge processes needed for the fd limit if the edge runs here\n",
			p.Conns, p.Workers, p.PerWorker, p.FDLimit, p.EdgeProcs)
		fmt.Fprintf(h.out, "file handles: %d needed, fs.file-max %d, %d in use\n", int64(p.Conns)*2, p.FileMax, p.FilesUsed)
		fmt.Fprintf(h.out, "memory: ~%d MiB needed (client %d + kernel %d + edge %d bytes per connection, 24 MiB per worker), %d MiB available\n",
			p.MemNeed>>20, b.ClientBytes, b.KernelBytes, b.EdgeBytes, p.MemAvail>>20)
		if err != nil {
			return err
		}
		fmt.Fprintln(h.out, "ok: the machine can hold them")
		return nil
	}
	if h.cfg.EdgeBin != "" {
		if err := h.launchEdges(ctx); err != nil {
			return err
		}
	}
	var failed []string
	for _, name := range h.cfg.Scenarios {
		sc := h.cfg.Scenario
		if (name == "push" || name == "scale") && sc.Source == nil && sc.Pusher == nil {
			fmt.Fprintln(h.out, name+": skipped (needs -edge-nodes, -redis-addr and -kafka-brokers, or -control-url to make changes)")
			continue
		}
		var r *report.Result
		var err error
		switch name {
		case "connect":
			r, err = scenario.Connect(ctx, sc)
		case "hold":
			r, err = scenario.Hold(ctx, sc)
		case "push":
			r, err = scenario.Push(ctx, sc)
		case "evaluate":
			r, err = scenario.Evaluate(ctx, sc)
		case "events":
			r, err = scenario.Events(ctx, sc)
		case "scale":
			r, err = scenario.Scale(ctx, sc, h.scaleConfig())
		case "writes":
			r, err = h.writes(ctx, sc)
		}
		if r != nil {
			if len(h.edges) > 0 && name != "writes" {
				r.Params["edgeProcs"] = len(h.edges)
			}
			r.WriteTable(h.out)
			jp, hp, serr := r.Save(h.cfg.OutDir)
			if serr != nil {
				return serr
			}
			fmt.Fprintf(h.out, "wrote %s and %s\n", jp, hp)
		}
		if err != nil {
			if !errors.Is(err, scenario.ErrChecks) {
				return fmt.Errorf("%s: %w", name, err)
			}
			failed = append(failed, name)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%s: %w", strings.Join(failed, ", "), scenario.ErrChecks)
	}
	return nil
}

// launchEdges starts EdgeProcs edge processes with -reuseport on the
// target address and waits until the port accepts connections.
func (h *Harness) launchEdges(ctx context.Context) error {
	sc := &h.cfg.Scenario
	n := h.cfg.EdgeProcs
	if n <= 0 {
		_, hard := machine.NoFile()
		per := int(hard) - 500
		n = max(1, (sc.Conns+per-1)/per)
	}
	_, port, err := net.SplitHostPort(sc.Target)
	if err != nil {
		return fmt.Errorf("-target: %w", err)
	}
	if pids, _ := machine.ListenerPids(mustAtoi(port)); len(pids) > 0 {
		return fmt.Errorf("port %s is already in use by pids %v; stop that edge or pick another -target", port, pids)
	}
	fmt.Fprintf(h.out, "launching %d edge processes on %s (-reuseport)\n", n, sc.Target)
	for i := 0; i < n; i++ {
		args := []string{"-addr", sc.Target, "-reuseport"}
		if h.cfg.RedisAddr != "" {
			// the launched edges read what the harness publishes
			args = append(args, "-redis-addr", h.cfg.RedisAddr, "-kafka-brokers", strings.Join(h.cfg.KafkaBrokers, ","), "-topic-prefix", h.cfg.TopicPrefix)
		}
		args = append(args, h.cfg.EdgeArgs...)
		cmd := exec.Command(h.cfg.EdgeBin, args...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		cmd.Env = append(os.Environ(), "GOMAXPROCS=2")
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start edge %d: %w", i, err)
		}
		h.edges = append(h.edges, cmd)
		sc.EdgePids = append(sc.EdgePids, cmd.Process.Pid)
	}
	deadline := time.Now().Add(h.cfg.EdgeWait)
	for {
		pids, _ := machine.ListenerPids(mustAtoi(port))
		if len(pids) >= n {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("launched edges: %d of %d listening on %s after %s", len(pids), n, sc.Target, h.cfg.EdgeWait)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// scaleConfig is the scale scenario's configuration: with -control the
// flags are created through control's bulk route and control's CPU is
// read from -control-pid or the process listening on -control's port.
func (h *Harness) scaleConfig() scenario.ScaleConfig {
	sc := scenario.ScaleConfig{Sizes: h.cfg.ScaleSizes, ControlPids: h.cfg.ControlPids,
		Reconnect: h.cfg.FullSyncShare < 1, FullSyncShare: h.cfg.FullSyncShare, Members: h.cfg.ScaleMembers}
	if h.cfg.ColdEdgeCmd != "" {
		sc.ColdEdge, _ = scenario.ColdEdgeCommand(h.cfg.ColdEdgeCmd) // checked by parseArgs
	}
	if h.ctl == nil {
		return sc
	}
	sc.SetMembers, sc.MemberChange = h.ctl.SetMembers, h.ctl.MemberChange
	batch := h.cfg.ScaleBatch
	sc.Grow = func(ctx context.Context, n int) error { return h.ctl.Grow(ctx, n, batch) }
	if n, err := h.ctl.CountFlags(context.Background()); err == nil {
		sc.Existing = n
	} else {
		fmt.Fprintf(h.out, "scale: %v; counting lt-push only\n", err)
		sc.Existing = 1
	}
	if len(sc.ControlPids) == 0 {
		if u, err := url.Parse(h.cfg.ControlURL); err == nil && u.Port() != "" {
			sc.ControlPids, _ = machine.ListenerPids(mustAtoi(u.Port()))
		}
	}
	return sc
}

// writes runs the writes scenario through control's API (-control-url):
// the writes are spread over -write-tokens access tokens created for the
// run and revoked after it; control's CPU is read from -control-pid or the
// process listening on -control-url's port.
func (h *Harness) writes(ctx context.Context, sc scenario.Config) (*report.Result, error) {
	if h.ctl == nil {
		return nil, errors.New("writes needs -control-url")
	}
	wc := h.cfg.Writes
	w := h.ctl.NewWriter(wc.Writers, 30*time.Second)
	if h.cfg.WriteTokens > 0 {
		if err := w.SpreadTokens(ctx, h.cfg.WriteTokens); err != nil {
			return nil, err
		}
		defer w.Close(context.WithoutCancel(ctx))
	}
	wc.API = w
	wc.ControlPids = h.cfg.ControlPids
	if len(wc.ControlPids) == 0 {
		if u, err := url.Parse(h.cfg.ControlURL); err == nil && u.Port() != "" {
			wc.ControlPids, _ = machine.ListenerPids(mustAtoi(u.Port()))
		}
	}
	return scenario.Writes(ctx, sc, wc)
}

func mustAtoi(s string) int { n, _ := strconv.Atoi(s); return n }

// Shutdown stops the edges the harness launched and closes its clients.
func (h *Harness) Shutdown(ctx context.Context) {
	for _, c := range h.edges {
		_ = c.Process.Signal(syscall.SIGTERM)
	}
	for _, c := range h.edges {
		done := make(chan struct{})
		go func() { _ = c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = c.Process.Kill()
			<-done
		}
	}
	h.edges = nil
	if h.nodes != nil {
		h.nodes.Stop()
		h.nodes = nil
	}
	if h.remote != nil {
		h.remote.Close()
		h.remote = nil
	}
}

// EdgeNode is the edge-node entry point (args: the listen address, then
// optionally the edge's idle timeout).
// SY_LOADTEST_EDGE_CPUPROFILE=<prefix> writes <prefix>.<pid> CPU profiles.
func EdgeNode(ctx context.Context, args []string) error {
	if len(args) < 1 || len(args) > 2 {
		return errors.New("usage: loadtest edge-node <addr> [idle-timeout]")
	}
	var idle time.Duration
	if len(args) == 2 {
		d, err := time.ParseDuration(args[1])
		if err != nil {
			return fmt.Errorf("edge-node idle timeout: %w", err)
		}
		idle = d
	}
	if _, err := machine.RaiseNoFile(); err != nil {
		return err
	}
	if p := os.Getenv("SY_LOADTEST_EDGE_CPUPROFILE"); p != "" {
		if f, err := os.Create(p + "." + strconv.Itoa(os.Getpid())); err == nil {
			if err := pprof.StartCPUProfile(f); err == nil {
				defer func() { pprof.StopCPUProfile(); f.Close() }()
			}
		}
	}
	return edgenode.Serve(ctx, args[0], idle, os.Stdin, os.Stdout)
}

// Render rewrites <name>.html beside each given <name>.json result (and
// prints its table to out), e.g. after the renderer changed.
func Render(paths []string, out io.Writer) error {
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var r report.Result
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		r.WriteTable(out)
		var sb strings.Builder
		r.WriteHTML(&sb)
		hp := strings.TrimSuffix(p, ".json") + ".html"
		if err := os.WriteFile(hp, []byte(sb.String()), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(out, "wrote %s\n", hp)
	}
	return nil
}

// Worker is the worker-process entry point: fleets driven over stdin/stdout.
// SY_LOADTEST_WORKER_CPUPROFILE=<prefix> writes <prefix>.<pid> CPU profiles.
func Worker(ctx context.Context) error {
	if p := os.Getenv("SY_LOADTEST_WORKER_CPUPROFILE"); p != "" {
		if f, err := os.Create(p + "." + strconv.Itoa(os.Getpid())); err == nil {
			if err := pprof.StartCPUProfile(f); err == nil {
				defer func() { pprof.StopCPUProfile(); f.Close() }()
			}
		}
	}
	return worker.Serve(ctx, os.Stdin, os.Stdout, true)
}
