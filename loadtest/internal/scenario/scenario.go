// Package scenario runs the load-test scenarios against an edge and turns
// the measurements into report.Results with consistency checks:
//
//   - connect: open N streaming connections through worker fleets, ramped
//     at a rate, each completing a full data-sync;
//   - hold: connect, then stay idle (answering pings) and measure the edge's
//     memory per connection, the kernel's share and idle CPU;
//   - push: connect, then change the push flag at a rate and measure
//     receipt latency and the time until every connection has each change;
//   - evaluate: OFREP and polling HTTP load;
//   - events: insight track load, optionally the lag until ClickHouse has
//     the events;
//   - scale: grow one environment through sizes, a push run at each;
//   - writes: sustained flag writes through control's API at a rate, every
//     state checked for order at SDK connections (order.go, writes.go).
//
// The streaming scenarios spread connections over worker processes (see
// package worker) sized by machine.MakePlan; each worker binds its own
// 127.0.x.y source address. Edge process figures come from /proc of the
// edge's pids (given, launched by the harness, or found by listening port).
package scenario

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchyard/switchyard/loadtest/internal/change"
	"github.com/switchyard/switchyard/loadtest/internal/fleet"
	"github.com/switchyard/switchyard/loadtest/internal/hist"
	"github.com/switchyard/switchyard/loadtest/internal/machine"
	"github.com/switchyard/switchyard/loadtest/internal/report"
	"github.com/switchyard/switchyard/loadtest/internal/worker"
)

// Source is where the harness writes the environment and its changes
// (edge.LocalSource in process, change.Remote for Redis + Kafka).
type Source interface {
	change.SnapshotWriter
	change.ChangeProducer
}

// Config of a run. Zero values get the defaults noted.
type Config struct {
	Target      string   // edge host:port for WebSocket and HTTP
	HTTPTarget  string   // host:port for the HTTP scenarios (default: Target), e.g. the edge's -http-addr
	Dsts        []string // destination addresses to spread connections over (default: Target)
	Conns       int      // streaming connections (default 1000)
	Rate        float64  // connections started per second, all workers together (0: unlimited)
	Concurrency int      // in-flight connects per worker (default 128)
	ClientShare float64  // fraction of type=client connections
	PerWorker   int      // connections per worker (0: as many as the fd limit allows)
	Msgpack     bool     // use the msgpack subprotocol
	Flags       int      // generated flags besides the push flag (default 20)

	PingInterval time.Duration // FeatBit ping interval (default 18 s, the Node/JS SDK default; <0: none)
	HoldFor      time.Duration // hold: idle time measured (default 10 s)
	Settle       time.Duration // hold: wait before the memory baseline is compared (default 2 s)
	HoldFirst    bool          // push: run the hold measurements before pushing (one connect for both)
	Pushes       int           // push: changes (default 10)
	PushRate     float64       // push: changes per second (0: one after the other, each once every connection has the previous)
	PushTimeout  time.Duration // push: wait for the last deliveries (default 30 s)
	SyncTimeout  time.Duration // a connection's wait for its full sync (default: the fleet's 15 s)
	// DeltaSince > 0: connections are reconnecting SDKs holding data up to
	// this timestamp (Unix ms; delta sync), except FullSyncShare of them
	// (cold full sync). 0: every connection full-syncs.
	DeltaSince    int64
	FullSyncShare float64

	HTTPConcurrency int           // evaluate/events: keep-alive connections (default 64)
	HTTPDuration    time.Duration // evaluate/events: load duration (default 10 s)
	EvalMix         string        // evaluate: "ofrep", "server-poll", "client-poll" or "mix" (default ofrep)
	EventsPerReq    int           // events: insight objects per track request (default 50, the SDK batch size)
	ClickHouseHTTP  string        // events: ClickHouse HTTP address host:port (optional)
	ClickHouseDB    string        // events: database (default "default")
	LagTimeout      time.Duration // events: wait for ClickHouse (default 60 s)

	Source Source // where the env and changes go (nil: secrets must be given, no push)
	// Pusher, if set, makes change seq instead of Source.Produce (the control API).
	Pusher func(ctx context.Context, seq int, sent time.Time) error
	// Receipts, if set (with Pusher: the control API), reads change seq's
	// delivery receipt once every connection has it, and DeliveryReports
	// control's count of the edges' delivery reports (docs/delivery.md).
	Receipts        func(ctx context.Context, seq int, timeout time.Duration) (*change.Receipt, error)
	DeliveryReports func(ctx context.Context) (changes, heartbeats int64, err error)
	Env             *change.Env // generated when nil

	EdgePids []int        // edge processes for /proc figures (nil: found by Target's port)
	EdgeGC   func() error // optional: make every edge process collect garbage before memory is read
	InEdge   bool         // the edge runs inside this process (figures include the harness)

	MinMemAvailable int64 // abort a streaming run when MemAvailable falls below this (bytes; 0: never)

	InProcessWorkers bool     // run fleets in this process (tests)
	WorkerExe        string   // binary to re-execute as worker (default: this executable)
	WorkerArgs       []string // default ["worker"]
	SmallBuffers     bool     // workers use 256-byte netpoll buffers
	Engine           string   // client engine: "netpoll" (default) or "epoll"
	Budget           machine.Budget

	Out io.Writer // progress lines (default os.Stderr)
}

func (c *Config) defaults() {
	if c.Conns <= 0 {
		c.Conns = 1000
	}
	if len(c.Dsts) == 0 {
		c.Dsts = []string{c.Target}
	}
	if c.HTTPTarget == "" {
		c.HTTPTarget = c.Target
	}
	if c.Flags <= 0 {
		c.Flags = 20
	}
	if c.PingInterval == 0 {
		c.PingInterval = 18 * time.Second
	}
	if c.PingInterval < 0 {
		c.PingInterval = 0
	}
	if c.HoldFor <= 0 {
		c.HoldFor = 10 * time.Second
	}
	if c.Settle <= 0 {
		c.Settle = 2 * time.Second
	}
	if c.Pushes <= 0 {
		c.Pushes = 10
	}
	if c.PushTimeout <= 0 {
		c.PushTimeout = 30 * time.Second
	}
	if c.HTTPConcurrency <= 0 {
		c.HTTPConcurrency = 64
	}
	if c.HTTPDuration <= 0 {
		c.HTTPDuration = 10 * time.Second
	}
	if c.EvalMix == "" {
		c.EvalMix = "ofrep"
	}
	if c.EventsPerReq <= 0 {
		c.EventsPerReq = 50
	}
	if c.ClickHouseDB == "" {
		c.ClickHouseDB = "default"
	}
	if c.LagTimeout <= 0 {
		c.LagTimeout = 60 * time.Second
	}
	if c.WorkerArgs == nil {
		c.WorkerArgs = []string{"worker"}
	}
	if c.Budget == (machine.Budget{}) {
		c.Budget = machine.DefaultBudget
		if c.Engine == "epoll" {
			c.Budget.ClientBytes = machine.EpollClientBytes
		}
	}
	if c.Out == nil {
		c.Out = os.Stderr
	}
}

func (c *Config) logf(format string, args ...any) {
	fmt.Fprintf(c.Out, "%s "+format+"\n", append([]any{time.Now().UTC().Format("15:04:05.000")}, args...)...)
}

// prepare generates and publishes the environment.
func (c *Config) prepare(ctx context.Context) error {
	if c.Env == nil {
		e, err := change.NewEnv(c.Flags)
		if err != nil {
			return err
		}
		c.Env = e
	}
	if c.Source != nil {
		if err := c.Source.WriteSnapshot(ctx, c.Env.Snapshot); err != nil {
			return fmt.Errorf("publish the load-test environment: %w", err)
		}
	}
	return nil
}

func (c *Config) edgePids() []int {
	if c.EdgePids != nil {
		return c.EdgePids
	}
	if c.InEdge {
		return []int{os.Getpid()}
	}
	_, port, err := net.SplitHostPort(c.Target)
	if err != nil {
		return nil
	}
	p, _ := strconv.Atoi(port)
	pids, err := machine.ListenerPids(p)
	if err != nil {
		c.logf("edge processes not found (%v); edge CPU and memory figures are skipped", err)
		return nil
	}
	c.EdgePids = pids
	return pids
}

// sourceIP is worker w's local address 127.<salt>.(w/250).(2+w%250). The
// salt is drawn per run, so ports left in TIME_WAIT by an earlier run (the
// client closes first) are not reused.
func sourceIP(salt, w int) string { return fmt.Sprintf("127.%d.%d.%d", salt, w/250, 2+w%250) }

// streaming is a running set of worker fleets.
type streaming struct {
	cfg      *Config
	plan     machine.Plan
	handles  []*worker.Handle
	started  time.Time
	connDur  time.Duration
	tmu      sync.Mutex
	timeline []report.Point
	stopTL   chan struct{}
	tlDone   chan struct{}
	connect  []fleet.Report
	abort    context.CancelCauseFunc
	synced   int64 // connections that completed the connect phase
}

// open plans the run, starts the workers and waits for the connect phase.
func open(ctx context.Context, abort context.CancelCauseFunc, c *Config) (*streaming, error) {
	plan, err := machine.MakePlan(c.Conns, c.PerWorker, c.Budget)
	if err != nil {
		return nil, err
	}
	s := &streaming{cfg: c, plan: plan, stopTL: make(chan struct{}), tlDone: make(chan struct{}), abort: abort}
	c.logf("plan: %d connections over %d workers (≤ %d each, fd limit %d), memory estimate %d MiB of %d MiB available",
		plan.Conns, plan.Workers, plan.PerWorker, plan.FDLimit, plan.MemNeed>>20, plan.MemAvail>>20)
	exe := c.WorkerExe
	if exe == "" && !c.InProcessWorkers {
		if exe, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	left := c.Conns
	salt := 1 + rand.IntN(250)
	for w := 0; w < plan.Workers; w++ {
		n := min(plan.PerWorker, left)
		left -= n
		var h *worker.Handle
		if c.InProcessWorkers {
			h = worker.InProcess(ctx, w)
		} else if h, err = worker.Spawn(w, exe, c.WorkerArgs...); err != nil {
			s.close()
			return nil, err
		}
		s.handles = append(s.handles, h)
		spec := fleet.Spec{Worker: w, Dsts: c.Dsts, LocalIPs: []string{sourceIP(salt, w)}, Count: n,
			Rate: c.Rate * float64(n) / float64(c.Conns), Concurrency: c.Concurrency, ClientShare: c.ClientShare,
			ServerSecret: c.Env.ServerSecret, ClientSecret: c.Env.ClientSecret, Msgpack: c.Msgpack,
			PingInterval: c.PingInterval, MaxPushes: c.Pushes + 1, UserBase: w * plan.PerWorker, SmallBuffers: c.SmallBuffers,
			Engine: c.Engine, SyncTimeout: c.SyncTimeout, DeltaSince: c.DeltaSince, FullSyncShare: c.FullSyncShare}
		if err := h.Start(spec); err != nil {
			s.close()
			return nil, fmt.Errorf("start worker %d: %w", w, err)
		}
	}
	s.started = time.Now()
	go s.sampleTimeline()
	for _, h := range s.handles {
		r, err := h.WaitConnected(ctx)
		if err != nil {
			s.close()
			return nil, err
		}
		s.connect = append(s.connect, r)
	}
	s.connDur = time.Since(s.started)
	s.point()
	return s, nil
}

func (s *streaming) point() {
	var p report.Point
	p.T = time.Since(s.started).Seconds()
	for _, h := range s.handles {
		pr := h.Progress()
		p.Open += pr.Open
		p.Synced += pr.Synced
		p.Failed += pr.Failed
	}
	s.tmu.Lock()
	s.timeline = append(s.timeline, p)
	s.tmu.Unlock()
}

func (s *streaming) sampleTimeline() {
	defer close(s.tlDone)
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-s.stopTL:
			return
		case <-t.C:
			s.point()
			if min := s.cfg.MinMemAvailable; min > 0 && s.abort != nil {
				if avail := machine.Meminfo()["MemAvailable"]; avail > 0 && avail < min {
					s.cfg.logf("ABORT: MemAvailable %d MiB is below %d MiB; closing every connection", avail>>20, min>>20)
					s.abort(fmt.Errorf("aborted: MemAvailable fell to %d MiB (below -min-mem %d MiB) with %d connections open",
						avail>>20, min>>20, s.timeline[len(s.timeline)-1].Open))
				}
			}
			if time.Since(last) > 2*time.Second {
				last = time.Now()
				p := s.timeline[len(s.timeline)-1]
				s.cfg.logf("open %d synced %d failed %d", p.Open, p.Synced, p.Failed)
			}
		}
	}
}

// reports asks every worker for its measurements.
func (s *streaming) reports(ctx context.Context, gc bool) ([]fleet.Report, machine.Proc, error) {
	var out []fleet.Report
	var procs machine.Proc
	for _, h := range s.handles {
		r, p, err := h.Report(ctx, gc)
		if err != nil {
			return nil, procs, err
		}
		out = append(out, r)
		procs.RSS += p.RSS
		procs.CPUNs += p.CPUNs
	}
	return out, procs, nil
}

func (s *streaming) close() {
	select {
	case <-s.stopTL:
	default:
		close(s.stopTL)
		if s.started.IsZero() {
			close(s.tlDone)
		}
	}
	var wg sync.WaitGroup
	for _, h := range s.handles {
		wg.Go(func() { h.Close(2 * time.Minute) })
	}
	wg.Wait()
	<-s.tlDone
}

// merged sums fleet reports.
type merged struct {
	progress           fleet.Progress
	failures           map[string]int64
	handshake, sync, p hist.Snap
	delta              hist.Snap // delta syncs (reconnecting SDKs)
	syncBytes          int64
	deltaBytes         int64
	fullSyncs, deltas  int64
	clientSynced       int64
	pongs, pings       int64
	patches, dups      int64
	pushes             map[int]*fleet.PushStat
}

func merge(rs []fleet.Report) merged {
	m := merged{failures: map[string]int64{}, pushes: map[int]*fleet.PushStat{}}
	for _, r := range rs {
		m.progress.Attempted += r.Progress.Attempted
		m.progress.Open += r.Progress.Open
		m.progress.Synced += r.Progress.Synced
		m.progress.Failed += r.Progress.Failed
		m.progress.Lost += r.Progress.Lost
		for k, v := range r.Failures {
			m.failures[k] += v
		}
		m.handshake = m.handshake.Merge(r.Handshake)
		m.sync = m.sync.Merge(r.FirstSync)
		m.p = m.p.Merge(r.Push)
		m.syncBytes += r.SyncBytes
		m.delta = m.delta.Merge(r.DeltaSync)
		m.deltaBytes += r.DeltaBytes
		m.fullSyncs += r.FullSyncs
		m.deltas += r.DeltaSyncs
		m.clientSynced += r.ClientSync
		m.pongs += r.Pongs
		m.pings += r.PingsOut
		m.patches += r.Patches
		m.dups += r.DupPushes
		for _, ps := range r.Pushes {
			a := m.pushes[ps.Seq]
			if a == nil {
				cp := ps
				m.pushes[ps.Seq] = &cp
				continue
			}
			a.N += ps.N
			a.SentNs = max(a.SentNs, ps.SentNs)
			a.FirstNs = min(a.FirstNs, ps.FirstNs)
			a.LastNs = max(a.LastNs, ps.LastNs)
		}
	}
	return m
}

// ErrChecks is returned (wrapped) when a run's consistency checks fail.
var ErrChecks = errors.New("consistency checks failed")

func newResult(name string, c *Config) *report.Result {
	return &report.Result{Scenario: name, Started: time.Now(), Failures: map[string]int64{}, Params: map[string]any{
		"target": c.Target, "httpTarget": c.HTTPTarget, "conns": c.Conns, "rate": c.Rate, "clientShare": c.ClientShare, "msgpack": c.Msgpack,
		"flags": c.Flags, "pingInterval": c.PingInterval.String(), "perWorker": c.PerWorker, "smallBuffers": c.SmallBuffers,
		"engine": c.Engine, "loadavgAtStart": loadavg(), "edgeProcs": len(c.edgePids()),
	}}
}

// loadavg is /proc/loadavg's first three fields: other load on a shared
// machine shows up here.
func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func kb(b float64) float64 { return b / 1024 }
