package scenario

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/switchyard/switchyard/loadtest/internal/change"
	"github.com/switchyard/switchyard/loadtest/internal/machine"
	"github.com/switchyard/switchyard/loadtest/internal/report"
)

// baseline is the machine and edge state before connecting.
type baseline struct {
	busy     int64 // machine CPU busy time (all processes)
	preGCRSS int64 // edge RSS before the forced GC (0 when no GC was forced)
	edge     machine.Proc
	slab     int64
	mem      int64
	sock     machine.SockStat
	at       time.Time
}

func takeBaseline(c *Config, gc bool) baseline {
	if gc && c.InEdge {
		runtime.GC()
	}
	var pre int64
	if gc && c.EdgeGC != nil {
		p, _ := machine.ReadProcs(c.edgePids())
		pre = p.RSS
		if err := c.EdgeGC(); err != nil {
			c.logf("edge GC: %v", err)
		}
	}
	e, _ := machine.ReadProcs(c.edgePids())
	m := machine.Meminfo()
	busy, _ := machine.CPUTimes()
	return baseline{busy: busy, preGCRSS: pre, edge: e, slab: m["Slab"], mem: m["MemTotal"] - m["MemAvailable"], sock: machine.Sockets(), at: time.Now()}
}

// SyncMix is how a streaming run's connections synced before any change.
type SyncMix struct {
	Synced  int64 `json:"synced"`  // connections synced (full + delta)
	Full    int64 `json:"full"`    // cold full syncs
	Delta   int64 `json:"delta"`   // reconnecting SDKs: delta sync from a timestamp
	Clients int64 `json:"clients"` // synced connections of type client
}

// Connect runs the connect scenario.
func Connect(ctx context.Context, c Config) (*report.Result, error) {
	return runStreaming(ctx, &c, "connect", nil)
}

// Hold runs the hold scenario.
func Hold(ctx context.Context, c Config) (*report.Result, error) {
	return runStreaming(ctx, &c, "hold", hold)
}

// Push runs the push scenario.
func Push(ctx context.Context, c Config) (*report.Result, error) {
	if c.Source == nil && c.Pusher == nil {
		return nil, fmt.Errorf("push needs a change source (in-process, -edge-nodes, -redis-addr and -kafka-brokers, or -control-url)")
	}
	if c.HoldFirst {
		return runStreaming(ctx, &c, "push", func(ctx context.Context, c *Config, s *streaming, r *report.Result, base baseline) error {
			if err := hold(ctx, c, s, r, base); err != nil {
				return err
			}
			return push(ctx, c, s, r, base)
		})
	}
	return runStreaming(ctx, &c, "push", push)
}

type phase func(ctx context.Context, c *Config, s *streaming, r *report.Result, base baseline) error

func runStreaming(ctx context.Context, c *Config, name string, then phase) (*report.Result, error) {
	c.defaults()
	if err := c.prepare(ctx); err != nil {
		return nil, err
	}
	r := newResult(name, c)
	base := takeBaseline(c, true)
	ctx, abort := context.WithCancelCause(ctx)
	defer abort(nil)
	s, err := open(ctx, abort, c)
	if err != nil {
		if cause := context.Cause(ctx); cause != nil {
			return nil, cause
		}
		return nil, err
	}
	defer s.close()
	after := takeBaseline(c, false)
	connRep, connProcs, err := s.reports(ctx, false)
	if err != nil {
		return nil, err
	}
	m := merge(connRep)

	r.Extra = map[string]any{"plan": s.plan}
	secs := s.connDur.Seconds()
	r.Add("connections requested", float64(c.Conns), "")
	r.Add("connections synced", float64(m.progress.Synced), "")
	r.Add("worker processes", float64(len(s.handles)), "")
	r.Add("connect phase", secs, "s")
	r.Add("new connections with full sync per second", float64(m.progress.Synced)/secs, "1/s")
	if cpu := after.edge.CPUNs - base.edge.CPUNs; cpu > 0 && !c.InEdge {
		per := float64(m.progress.Synced) / (float64(cpu) / 1e9)
		r.Add("connections with full sync per edge CPU-second", per, "1/CPU-s").WithGoal("≥ 20000", per >= 20000)
		r.Add("edge CPU during connect", float64(cpu)/1e9, "CPU-s")
	}
	if !c.InProcessWorkers && connProcs.CPUNs > 0 {
		r.Add("client (worker) CPU during connect", float64(connProcs.CPUNs)/1e9, "CPU-s")
		if !c.InEdge {
			other := float64(after.busy-base.busy-(after.edge.CPUNs-base.edge.CPUNs)-connProcs.CPUNs) / 1e9
			r.Add("CPU used by other processes during connect", other, "CPU-s").Note =
				fmt.Sprintf("machine busy %.1f of %.1f CPU-s available", float64(after.busy-base.busy)/1e9,
					float64(runtime.NumCPU())*after.at.Sub(base.at).Seconds())
		}
	}
	if m.fullSyncs > 0 {
		r.Add("full-sync message size", float64(m.syncBytes)/float64(m.fullSyncs), "bytes")
	}
	r.AddLatency("handshake (TCP connect + upgrade)", m.handshake)
	r.AddLatency("first data-sync (request → full sync)", m.sync)
	if c.DeltaSince > 0 {
		r.Add("connections synced: full / delta (reconnecting) / of them client type", float64(m.fullSyncs), "").Note =
			fmt.Sprintf("%d delta syncs from timestamp %d, %d client connections (full-sync share %.3g)", m.deltas, c.DeltaSince, m.clientSynced, c.FullSyncShare)
		if m.deltas > 0 {
			r.Add("delta-sync message size", float64(m.deltaBytes)/float64(m.deltas), "bytes")
		}
		r.AddLatency("first data-sync of a reconnecting SDK (request with timestamp → patch)", m.delta)
	}
	s.synced = m.progress.Synced
	r.Extra["syncMix"] = SyncMix{Synced: m.progress.Synced, Full: m.fullSyncs, Delta: m.deltas, Clients: m.clientSynced}
	for k, v := range m.failures {
		r.Failures[k] += v
	}
	r.Check("every connection synced", m.progress.Synced == int64(c.Conns), "%d of %d synced", m.progress.Synced, c.Conns)
	r.Check("no failures", m.progress.Failed == 0, "%d failed", m.progress.Failed)
	r.Check("histogram counts match", m.handshake.N == uint64(m.progress.Synced+countPrefix(m.failures, "sync")+countPrefix(m.failures, "close")) &&
		m.sync.N == uint64(m.fullSyncs) && m.delta.N == uint64(m.deltas) && m.fullSyncs+m.deltas == m.progress.Synced,
		"handshakes %d, first syncs %d full + %d delta, synced %d", m.handshake.N, m.sync.N, m.delta.N, m.progress.Synced)

	if then != nil {
		if err := then(ctx, c, s, r, base); err != nil {
			if cause := context.Cause(ctx); cause != nil {
				return r, cause
			}
			return r, err
		}
	}
	if cause := context.Cause(ctx); cause != nil {
		return r, cause
	}
	final, procs, err := s.reports(ctx, true)
	if err != nil {
		return r, err
	}
	fm := merge(final)
	for k, v := range fm.failures {
		if _, ok := m.failures[k]; !ok || v > m.failures[k] {
			r.Failures[k] = v
		}
	}
	r.Check("no connection lost", fm.progress.Lost == 0 && fm.progress.Open == m.progress.Synced,
		"lost %d, open %d of %d synced", fm.progress.Lost, fm.progress.Open, m.progress.Synced)
	if fm.progress.Open > 0 && !c.InProcessWorkers {
		r.Add("client memory per connection (worker RSS)", kb(float64(procs.RSS)/float64(fm.progress.Open)), "KiB")
	}
	if c.PingInterval > 0 && fm.pings > 0 {
		r.Add("pings sent / pongs received", float64(fm.pings), "").Note = fmt.Sprintf("%d pongs", fm.pongs)
		// at most one ping per connection can be unanswered when the report is taken
		r.Check("pings answered", fm.pongs >= fm.pings-fm.progress.Open && fm.pongs <= fm.pings,
			"%d pings, %d pongs, %d connections", fm.pings, fm.pongs, fm.progress.Open)
	}
	s.tmu.Lock()
	r.Timeline = append(r.Timeline, s.timeline...)
	s.tmu.Unlock()
	r.Duration = time.Since(r.Started).Seconds()
	r.Params["loadavgAtEnd"] = loadavg()
	if !r.OK() {
		return r, fmt.Errorf("%s: %w", name, ErrChecks)
	}
	return r, nil
}

func countPrefix(m map[string]int64, prefix string) int64 {
	var n int64
	for k, v := range m {
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			n += v
		}
	}
	return n
}

// hold measures the idle edge: memory per connection and the kernel's
// share after a settle time, then CPU over HoldFor.
func hold(ctx context.Context, c *Config, s *streaming, r *report.Result, base baseline) error {
	c.logf("holding %d connections for %s", s.synced, c.HoldFor)
	sleep(ctx, c.Settle)
	mid := takeBaseline(c, true)
	sleep(ctx, c.HoldFor)
	end := takeBaseline(c, false)
	open := float64(s.synced) // connections that failed to connect hold nothing
	if open == 0 {
		return nil
	}
	if len(c.edgePids()) > 0 {
		per := float64(mid.edge.RSS-base.edge.RSS) / open
		note := ""
		if c.EdgeGC != nil {
			note = "after a forced GC + FreeOSMemory in every edge process"
		}
		if c.InEdge {
			note = "edge runs inside the harness process: includes the client fleets"
		}
		r.Add("edge memory per connection (RSS delta)", kb(per), "KiB").WithGoal("≤ 3.5 KB", per <= 3500).Note = note
		r.Add("edge RSS", float64(mid.edge.RSS)/(1<<20), "MiB")
		if mid.preGCRSS > 0 {
			r.Add("edge RSS before the forced GC", float64(mid.preGCRSS)/(1<<20), "MiB")
		}
		idle := float64(end.edge.CPUNs-mid.edge.CPUNs) / float64(end.at.Sub(mid.at))
		r.Add("edge CPU while idle", idle*100, "% of a core")
		if c.PingInterval > 0 {
			r.Metrics[len(r.Metrics)-1].Note = fmt.Sprintf("with a ping every %s per connection", c.PingInterval)
		}
	}
	r.Add("kernel slab per connection (both socket ends)", kb(float64(mid.slab-base.slab)/open), "KiB")
	r.Add("TCP sockets in use (v4+v6)", float64(mid.sock.InUse+mid.sock.InUse6), "")
	if c.PingInterval == 0 {
		return pingAll(ctx, c, s, r)
	}
	return nil
}

// pingAll proves every held connection is alive after the idle time: one
// ping on each, and every one must be answered.
func pingAll(ctx context.Context, c *Config, s *streaming, r *report.Result) error {
	reps, _, err := s.reports(ctx, false)
	if err != nil {
		return err
	}
	m0 := merge(reps)
	start := time.Now()
	for _, h := range s.handles {
		if err := h.PingAll(); err != nil {
			return err
		}
	}
	want := m0.progress.Open
	var m merged
	for deadline := time.Now().Add(c.PushTimeout); ; {
		if reps, _, err = s.reports(ctx, false); err != nil {
			return err
		}
		m = merge(reps)
		if m.pongs-m0.pongs >= min(want, m.progress.Open) || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	pings, pongs := m.pings-m0.pings, m.pongs-m0.pongs
	r.Add("after the hold: one ping per connection, answered within", time.Since(start).Seconds()*1000, "ms").Note =
		fmt.Sprintf("%d pings, %d pongs", pings, pongs)
	r.Check("every held connection answered a ping after the hold", pings == want && pongs == want,
		"%d open, %d pings, %d pongs", want, pings, pongs)
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
}

// push changes the push flag Pushes times at PushRate and waits until every
// connection has every change (or PushTimeout after the last change).
func push(ctx context.Context, c *Config, s *streaming, r *report.Result, base baseline) error {
	open := s.synced // every synced connection must get every change
	if c.PushRate > 0 {
		c.logf("pushing %d changes at %.1f/s to %d connections", c.Pushes, c.PushRate, open)
	} else {
		c.logf("pushing %d changes one after the other to %d connections", c.Pushes, open)
	}
	before := takeBaseline(c, false)
	_, clientsBefore, err := s.reports(ctx, false)
	if err != nil {
		return err
	}
	var reportsBefore int64
	if c.DeliveryReports != nil {
		if reportsBefore, _, err = c.DeliveryReports(ctx); err != nil {
			return err
		}
	}
	var (
		rw   sync.WaitGroup
		rmu  sync.Mutex
		rerr error
		got  = map[int]receiptSeen{}
	)
	start := time.Now()
	sent := map[int]time.Time{}
	for seq := 1; seq <= c.Pushes; seq++ {
		if c.PushRate > 0 {
			due := start.Add(time.Duration(float64(seq-1) / c.PushRate * float64(time.Second)))
			sleep(ctx, time.Until(due))
		} else if seq > 1 {
			// sequential: the next change only once every connection has the previous one
			deadline := time.Now().Add(c.PushTimeout)
			for ctx.Err() == nil && time.Now().Before(deadline) {
				reps, _, err := s.reports(ctx, false)
				if err != nil {
					return err
				}
				mm := merge(reps)
				if ps := mm.pushes[seq-1]; ps != nil && ps.N >= min(open, mm.progress.Open) {
					break // (a lost connection must not stall the run; the check below counts it)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		now := time.Now()
		if c.Pusher != nil {
			if err := c.Pusher(ctx, seq, now); err != nil {
				return err
			}
			if c.Receipts != nil { // wait for the receipt while the change spreads
				rw.Add(1)
				go func(seq int) {
					defer rw.Done()
					rc, err := c.Receipts(ctx, seq, 30*time.Second)
					at := time.Now()
					rmu.Lock()
					defer rmu.Unlock()
					if err != nil {
						rerr = err
						return
					}
					got[seq] = receiptSeen{rc, at}
				}(seq)
			}
		} else {
			ev, err := c.Env.PushEvent(seq, now)
			if err != nil {
				return err
			}
			if err := c.Source.Produce(ctx, ev); err != nil {
				return fmt.Errorf("change %d: %w", seq, err)
			}
		}
		sent[seq] = now
	}
	deadline := time.Now().Add(c.PushTimeout)
	var m merged
	var clientsAfter machine.Proc
	for {
		reps, procs, err := s.reports(ctx, false)
		if err != nil {
			return err
		}
		m, clientsAfter = merge(reps), procs
		complete := true
		for seq := 1; seq <= c.Pushes; seq++ {
			if ps := m.pushes[seq]; ps == nil || ps.N < min(open, m.progress.Open) {
				complete = false
				break
			}
		}
		if complete || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	after := takeBaseline(c, false)
	var delivered int64
	var toAll []float64
	var series [][2]float64
	missing := 0
	for seq := 1; seq <= c.Pushes; seq++ {
		ps := m.pushes[seq]
		if ps == nil || ps.N < open {
			missing++
		}
		if ps == nil {
			continue
		}
		delivered += ps.N
		if ps.N >= open {
			d := float64(ps.LastNs-sent[seq].UnixNano()) / 1e6
			toAll = append(toAll, d)
			series = append(series, [2]float64{float64(seq), d})
		}
	}
	r.AddLatency("push receipt (change sent → patch read)", m.p)
	r.Add("changes", float64(c.Pushes), "")
	r.Add("pushes delivered", float64(delivered), "").Note = fmt.Sprintf("expected %d", int64(c.Pushes)*open)
	if len(toAll) > 0 {
		sort.Float64s(toAll)
		med, worst := toAll[len(toAll)/2], toAll[len(toAll)-1]
		r.Add("time until 100% have a change (median over changes)", med, "ms")
		goal, limit := "", 0.0
		switch {
		case open >= 1_000_000:
			goal, limit = "≤ 5000 ms at 1M", 5000
		case open >= 100_000:
			goal, limit = "≤ 500 ms at 100k", 500
		}
		mm := r.Add("time until 100% have a change (worst change)", worst, "ms")
		if goal != "" {
			mm.WithGoal(goal, worst <= limit)
		}
		r.Series = append(r.Series, report.Series{Name: "time until every connection has the change", XLabel: "change #", YLabel: "ms", Points: series})
	}
	if p99 := m.p.Summarize().P99; open >= 10_000 && open < 20_000 {
		r.Add("push latency p99", p99, "ms").WithGoal("< 50 ms at 10k", p99 < 50)
	} else {
		r.Add("push latency p99", p99, "ms")
	}
	if cpu := after.edge.CPUNs - before.edge.CPUNs; cpu > 0 && delivered > 0 && !c.InEdge {
		per := float64(cpu) / float64(delivered) / 1e3
		r.Add("edge CPU per delivered push", per, "µs").WithGoal("≤ 5 µs", per <= 5).Note =
			"edge CPU from the first change to the last delivery, over deliveries; includes consuming the change"
	}
	if ccpu := clientsAfter.CPUNs - clientsBefore.CPUNs; ccpu > 0 && delivered > 0 && !c.InProcessWorkers {
		r.Add("client CPU per received push", float64(ccpu)/float64(delivered)/1e3, "µs")
		if !c.InEdge {
			busy := after.busy - before.busy
			other := busy - (after.edge.CPUNs - before.edge.CPUNs) - ccpu
			secs := float64(after.at.Sub(before.at)) / 1e9
			r.Add("CPU used by other processes during push", float64(other)/1e9, "CPU-s").Note =
				fmt.Sprintf("machine busy %.1f of %.1f CPU-s available", float64(busy)/1e9, float64(runtime.NumCPU())*secs)
		}
	}
	if c.Receipts != nil {
		rw.Wait()
		if rerr != nil {
			return rerr
		}
		if err := receipts(ctx, c, r, m, open, got, reportsBefore); err != nil {
			return err
		}
	}
	r.Check("every connection got every change", missing == 0 && delivered == int64(c.Pushes)*open,
		"%d of %d deliveries, %d changes incomplete", delivered, int64(c.Pushes)*open, missing)
	r.Check("no duplicate deliveries", m.dups == 0, "%d duplicates", m.dups)
	return nil
}

// receiptSeen is a receipt and when the wait for it returned.
type receiptSeen struct {
	r  *change.Receipt
	at time.Time
}

// receipts reports control's delivery receipts of the changes pushed (each
// waited for with until=1 from the moment the change was made): what they
// counted, when the last edge finished writing the change compared with the
// last delivery the harness's connections read, and when the receipt read
// 100 % through the API.
func receipts(ctx context.Context, c *Config, r *report.Result, m merged, open int64, got map[int]receiptSeen, reportsBefore int64) error {
	var took, lag, seen []float64
	var counted int64
	complete := 0
	for seq := 1; seq <= c.Pushes; seq++ {
		g, ok := got[seq]
		if !ok {
			continue
		}
		rc := g.r
		if rc.Complete {
			complete++
		}
		counted = max(counted, int64(rc.Delivered.Total))
		if ps := m.pushes[seq]; ps != nil && rc.Complete && rc.DeliveredInMs > 0 {
			took = append(took, float64(rc.DeliveredInMs))
			lag = append(lag, float64(rc.ChangedAt+rc.DeliveredInMs)-float64(ps.LastNs)/1e6)
			seen = append(seen, float64(g.at.UnixNano()-ps.LastNs)/1e6)
		}
	}
	r.Add("receipts complete", float64(complete), "").Note = fmt.Sprintf("of %d changes", c.Pushes)
	r.Check("every receipt counts every connection", counted == open && complete == c.Pushes,
		"receipts counted up to %d of %d connections; %d of %d complete", counted, open, complete, c.Pushes)
	if len(took) > 0 {
		sort.Float64s(took)
		sort.Float64s(lag)
		sort.Float64s(seen)
		r.Add("receipt: change → last edge done writing it (median)", took[len(took)/2], "ms")
		r.Add("receipt: last edge done − last delivery read by the harness (median)", lag[len(lag)/2], "ms").Note =
			"negative: the edge had written every frame before the harness read the last one"
		r.Add("receipt: reads 100 % through the API after the last delivery (median)", seen[len(seen)/2], "ms").Note =
			"report linger (20 ms) + Kafka produce and fetch + the waiting API call returning"
	}
	if c.DeliveryReports != nil {
		after, _, err := c.DeliveryReports(ctx)
		if err != nil {
			return err
		}
		r.Add("delivery change reports (Kafka records) per change", float64(after-reportsBefore)/float64(c.Pushes), "").Note =
			"one record per edge process per change, or fewer when changes come faster than the 20 ms linger"
	}
	return nil
}
