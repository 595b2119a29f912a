package scenario

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/loadtest/internal/change"
	"github.com/switchyard/switchyard/loadtest/internal/machine"
	"github.com/switchyard/switchyard/loadtest/internal/report"
)

// MaxScaleSize bounds one size of the scale scenario (flags in the
// environment).
const MaxScaleSize = 1_000_000

// DefaultScaleSizes is -scale-sizes' default.
const DefaultScaleSizes = "10,1000,10000,50000"

// ParseSizes parses a comma-separated list of environment sizes (flags):
// plain integers in 1..MaxScaleSize, strictly increasing (the environment
// only grows between sizes).
func ParseSizes(s string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > MaxScaleSize {
			return nil, fmt.Errorf("-scale-sizes: %q is not a number of flags in 1..%d", p, MaxScaleSize)
		}
		if len(out) > 0 && n <= out[len(out)-1] {
			return nil, fmt.Errorf("-scale-sizes: %d after %d: sizes must increase (the environment grows between them)", n, out[len(out)-1])
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("-scale-sizes: list at least one size")
	}
	return out, nil
}

// ScalePoint is what the scale scenario measured at one environment size.
type ScalePoint struct {
	Flags        int     `json:"flags"`             // flags in the environment
	Created      int     `json:"created"`           // flags created for this size
	BulkSec      float64 `json:"bulkSec"`           // time to create them (bulk API calls or snapshot write)
	ToAllP50Ms   float64 `json:"toAllP50Ms"`        // change → every connection has it, over the changes
	ToAllP99Ms   float64 `json:"toAllP99Ms"`        //
	ToAllMaxMs   float64 `json:"toAllMaxMs"`        //
	ReceiptP50Ms float64 `json:"receiptP50Ms"`      // change sent → one connection read it, over every delivery
	ReceiptP99Ms float64 `json:"receiptP99Ms"`      //
	SyncP50Ms    float64 `json:"syncP50Ms"`         // first full sync of the connections at this size (warm edge)
	SyncMaxMs    float64 `json:"syncMaxMs"`         //
	SyncBytes    float64 `json:"syncBytes"`         // full-sync message size
	ControlCPUUs float64 `json:"controlCpuUs"`      // control CPU per change (µs), 0: unknown
	EdgeCPUUs    float64 `json:"edgeCpuUs"`         // edge CPU per change (µs), 0: unknown
	EdgeRSSMiB   float64 `json:"edgeRssMiB"`        // edge RSS with the connections held, after the changes
	OK           bool    `json:"ok"`                // every connection synced and every change reached every connection
	Members      int     `json:"members,omitempty"` // members runs: keys in the segment (BulkSec: its write)

	Conns       int     `json:"conns"`       // connections requested
	Mix         SyncMix `json:"mix"`         // how they synced before the changes
	DeltaP50Ms  float64 `json:"deltaP50Ms"`  // first data-sync of a reconnecting SDK (request with timestamp → patch)
	DeltaMaxMs  float64 `json:"deltaMaxMs"`  //
	DeltaBytes  float64 `json:"deltaBytes"`  // its message size
	ProbeSyncMs float64 `json:"probeSyncMs"` // one connection's full sync before the others connect (warm edge, no other load)
	ProbeBytes  int     `json:"probeBytes"`  //
	EdgeHasItMs float64 `json:"edgeHasItMs"` // start of this point's write (bulk creation, member list) → a full sync has it
	ColdSyncMs  float64 `json:"coldSyncMs"`  // a cold edge process: start → its first full sync of the environment (0: not measured)
	ColdBytes   int     `json:"coldBytes"`   //
}

// ScaleConfig is the scale scenario's own configuration; the streaming
// part (connections, pushes, edge pids) is the Config passed beside it.
type ScaleConfig struct {
	Sizes []int
	// Grow adds n flags to the environment and returns when the API (or
	// the source) accepted them. nil: the generated environment's snapshot
	// grows and is written again by the next push run (Source only).
	Grow        func(ctx context.Context, n int) error
	Existing    int   // flags already in the environment before the first size (e.g. lt-push)
	ControlPids []int // control process(es) for CPU per change (nil: not measured)
	// Reconnect makes the connections reconnecting FeatBit SDKs: at each
	// size one probe connection full-syncs and reads the newest item's
	// timestamp; every connection sends it (a delta sync: an empty or small
	// patch) except FullSyncShare of them, which full-sync cold.
	Reconnect     bool
	FullSyncShare float64
	// Members are segment sizes measured after the flag sizes, at the
	// largest: a segment with that many included keys used by a flag's
	// rule, changed Pushes times (one key replaced) and timed to every
	// server connection (client SDKs receive segments only as changed
	// evaluations, so these runs hold server connections only).
	// SetMembers sizes the segment (nil: the generated environment through
	// Source) and MemberChange makes change seq (nil: likewise).
	Members      []int
	SetMembers   func(ctx context.Context, n int) error
	MemberChange func(ctx context.Context, seq int, sent time.Time) error
	// ColdEdge, if set, starts a fresh edge process at each size (after the
	// probe, before the connections): the time from its start to its first
	// full sync of the environment is the cold-edge figure.
	ColdEdge ColdEdge
}

// Scale grows the environment through each size and runs a sequential push
// run at each (Config.Conns connections, Config.Pushes changes, one after
// the other), then draws the growth curves: change → every connection, CPU
// per change and edge memory against the number of flags.
func Scale(ctx context.Context, c Config, sc ScaleConfig) (*report.Result, error) {
	if c.Source == nil && c.Pusher == nil {
		return nil, errors.New("scale needs a change source (-edge-nodes, -redis and -kafka, or -control)")
	}
	if len(sc.Sizes) == 0 {
		return nil, errors.New("scale: no sizes")
	}
	c.defaults()
	if c.Pushes < 2 {
		c.Pushes = 2 // CPU per change is taken between the first and the last change
	}
	c.PushRate = 0
	c.HoldFirst = false
	if c.Env == nil {
		e, err := change.NewEnv(0)
		if err != nil {
			return nil, err
		}
		c.Env = e
	}
	have := sc.Existing
	if sc.Grow == nil {
		have = len(c.Env.Snapshot.Flags)
		sc.Grow = func(ctx context.Context, n int) error {
			// the snapshot is written again by the next run; an edge that
			// loaded the environment gets the new flags as batch events
			// (each below a Kafka record, as control publishes a bulk write)
			evs, err := c.Env.GrowBatches(n)
			if err != nil {
				return err
			}
			for _, ev := range evs {
				if err := c.Source.Produce(ctx, ev); err != nil {
					return err
				}
			}
			return nil
		}
	}
	r := newResult("scale", &c)
	r.Params["sizes"] = fmt.Sprint(sc.Sizes)
	r.Params["pushes"] = c.Pushes
	r.Params["controlPids"] = fmt.Sprint(sc.ControlPids)
	r.Params["reconnect"] = sc.Reconnect
	r.Params["fullSyncShare"] = 1.0
	if sc.Reconnect {
		r.Params["fullSyncShare"] = sc.FullSyncShare
	}
	start := time.Now()
	var pts []ScalePoint
	for _, size := range sc.Sizes {
		p := ScalePoint{Flags: max(size, have)}
		var since int64
		if n := size - have; n > 0 {
			c.logf("scale: creating %d flags (environment %d → %d)", n, have, size)
			t0 := time.Now()
			since = t0.UnixMilli()
			if err := sc.Grow(ctx, n); err != nil {
				// keep what the smaller sizes measured
				r.Check(fmt.Sprintf("%d flags: bulk creation", size), false, "%v", err)
				if len(pts) > 0 {
					buildScaleResult(r, pts, c.Conns)
				}
				return r, fmt.Errorf("scale: grow to %d flags: %w", size, err)
			}
			p.Created, p.BulkSec = n, time.Since(t0).Seconds()
			have = size
		}
		if err := measurePoint(ctx, r, c, sc, &p, fmt.Sprintf("%d flags", p.Flags), since, nil); err != nil {
			if len(pts) > 0 {
				buildScaleResult(r, pts, c.Conns)
			}
			return r, fmt.Errorf("scale: %d flags: %w", size, err)
		}
		pts = append(pts, p)
	}
	buildScaleResult(r, pts, c.Conns)
	if len(sc.Members) > 0 {
		if sc.SetMembers == nil {
			sc.SetMembers = func(ctx context.Context, n int) error {
				evs, err := c.Env.SetMembers(n)
				if err != nil {
					return err
				}
				for _, ev := range evs {
					if err := c.Source.Produce(ctx, ev); err != nil {
						return err
					}
				}
				return nil
			}
		}
		if sc.MemberChange == nil {
			sc.MemberChange = func(ctx context.Context, seq int, sent time.Time) error {
				ev, err := c.Env.MemberEvent(seq, sent)
				if err != nil {
					return err
				}
				return c.Source.Produce(ctx, ev)
			}
		}
		r.Params["members"] = fmt.Sprint(sc.Members)
		var mpts []ScalePoint
		for _, n := range sc.Members {
			p := ScalePoint{Flags: have, Members: n}
			label := fmt.Sprintf("%d members", n)
			c.logf("scale: members segment: %d keys", n)
			t0 := time.Now()
			err := sc.SetMembers(ctx, n)
			if err == nil {
				p.BulkSec = time.Since(t0).Seconds()
				mc := c
				mc.ClientShare = 0
				err = measurePoint(ctx, r, mc, sc, &p, label, t0.UnixMilli(), sc.MemberChange)
			}
			if err != nil {
				r.Check(label+": segment", false, "%v", err)
				buildMembersResult(r, mpts)
				return r, fmt.Errorf("scale: %s: %w", label, err)
			}
			mpts = append(mpts, p)
		}
		buildMembersResult(r, mpts)
	}
	r.Duration = time.Since(start).Seconds()
	r.Params["loadavgAtEnd"] = loadavg()
	if !r.OK() {
		return r, fmt.Errorf("scale: %w", ErrChecks)
	}
	return r, nil
}

// measurePoint runs one push run for point p (label names it in checks and
// failures): the generated environment is written, one probe connection
// full-syncs alone (its newest item timestamp is what reconnecting SDKs
// send), then c.Conns connections sync and c.Pushes changes are made one
// after the other by change (nil: c.Pusher, else the push flag through
// c.Source), with control and edge CPU read between change 1 and the last.
//
// since (Unix ms, 0: nothing written for this point) is when the write of
// this point began: the probe repeats until the edge serves at least
// p.Flags flags and an item updated at or after since, so no connection
// syncs before the edge has what was written.
func measurePoint(ctx context.Context, r *report.Result, c Config, sc ScaleConfig, p *ScalePoint, label string, since int64,
	change func(ctx context.Context, seq int, sent time.Time) error) error {
	pc := c
	pc.Flags = p.Flags
	p.Conns = c.Conns
	if err := pc.prepare(ctx); err != nil {
		return err
	}
	if since > 0 {
		items := p.Created
		if p.Members > 0 {
			items = 1 // the segment
		}
		took, err := waitWritten(ctx, c, since, items, p.Members > 0)
		if err != nil {
			r.Check(label+": the edge serves what was written", false, "%v", err)
			return err
		}
		p.EdgeHasItMs = float64(took) / 1e6
	}
	probe, err := probeUntil(ctx, c, p.Flags, since)
	if err != nil {
		r.Check(label+": probe full sync", false, "%v", err)
		return err
	}
	p.ProbeSyncMs, p.ProbeBytes = float64(probe.Took)/1e6, probe.Bytes
	if sc.ColdEdge != nil {
		d, cp, err := coldSync(ctx, sc.ColdEdge, c.Env.ServerSecret, probe.Flags, max(c.SyncTimeout, time.Minute))
		if err != nil {
			r.Check(label+": cold edge first full sync", false, "%v", err)
		} else {
			p.ColdSyncMs, p.ColdBytes = float64(d)/1e6, cp.Bytes
			c.logf("scale: %s: cold edge: start → first full sync %.0f ms (%d bytes)", label, p.ColdSyncMs, cp.Bytes)
		}
	}
	if sc.Reconnect {
		pc.DeltaSince, pc.FullSyncShare = probe.Newest, sc.FullSyncShare
	}
	var ctl0, ctlN, edge0, edgeN int64
	var rss machine.Proc
	var t0, tN time.Time
	inner := c.Pusher
	if change != nil {
		// receipts and delivery reports follow the push flag's request ids
		inner, pc.Receipts, pc.DeliveryReports = change, nil, nil
	}
	pc.Pusher = func(ctx context.Context, seq int, sent time.Time) error {
		switch seq {
		case 1:
			ctl0, edge0 = machine.CPUNsPrecise(sc.ControlPids), machine.CPUNsPrecise(pc.edgePids())
			t0 = time.Now()
		case pc.Pushes:
			// every connection has change Pushes-1: the CPU between
			// here and change 1 is Pushes-1 whole changes
			ctlN, edgeN = machine.CPUNsPrecise(sc.ControlPids), machine.CPUNsPrecise(pc.edgePids())
			rss, _ = machine.ReadProcs(pc.edgePids())
			tN = time.Now()
		}
		if inner != nil {
			return inner(ctx, seq, sent)
		}
		ev, err := pc.Env.PushEvent(seq, sent)
		if err != nil {
			return err
		}
		return pc.Source.Produce(ctx, ev)
	}
	if inner == nil {
		pc.Receipts, pc.DeliveryReports = nil, nil
	}
	c.logf("scale: %s: %d connections (full-sync share %.3g, client share %.3g, newest item %d), %d changes; probe full sync %.1f ms, %d bytes",
		label, c.Conns, pc.FullSyncShare, pc.ClientShare, pc.DeltaSince, c.Pushes, p.ProbeSyncMs, p.ProbeBytes)
	if !sc.Reconnect {
		c.logf("scale: every connection full-syncs (-full-sync-share 1)")
	}
	pr, err := Push(ctx, pc)
	if err != nil && !errors.Is(err, ErrChecks) {
		return err
	}
	p.OK = err == nil
	if pr != nil {
		fillPoint(p, pr)
		p.OK = p.OK && p.Mix.Synced == int64(c.Conns)
		for k, v := range pr.Failures {
			r.Failures[label+": "+k] += v
		}
		for _, ch := range pr.Checks {
			if !ch.OK {
				r.Check(label+": "+ch.Name, false, "%s", ch.Detail)
			}
		}
	}
	changes := float64(c.Pushes - 1)
	if len(sc.ControlPids) > 0 && ctlN > ctl0 {
		p.ControlCPUUs = float64(ctlN-ctl0) / changes / 1e3
	}
	if edgeN > edge0 && !c.InEdge {
		p.EdgeCPUUs = float64(edgeN-edge0) / changes / 1e3
	}
	p.EdgeRSSMiB = float64(rss.RSS) / (1 << 20)
	c.logf("scale: %s: to every connection p50 %.1f ms p99 %.1f ms max %.1f ms; control CPU/change %.0f µs; edge CPU/change %.0f µs; edge RSS %.0f MiB (%.1f s measured)",
		label, p.ToAllP50Ms, p.ToAllP99Ms, p.ToAllMaxMs, p.ControlCPUUs, p.EdgeCPUUs, p.EdgeRSSMiB, tN.Sub(t0).Seconds())
	return nil
}

// fillPoint takes one push run's figures into p.
func fillPoint(p *ScalePoint, pr *report.Result) {
	for _, s := range pr.Series {
		if s.Name != "time until every connection has the change" {
			continue
		}
		var d []float64
		for _, pt := range s.Points {
			d = append(d, pt[1])
		}
		p.ToAllP50Ms, p.ToAllP99Ms, p.ToAllMaxMs = quantile(d, 0.5), quantile(d, 0.99), quantile(d, 1)
	}
	if mix, ok := pr.Extra["syncMix"].(SyncMix); ok {
		p.Mix = mix
	}
	if m := pr.Metric("delta-sync message size"); m != nil {
		p.DeltaBytes = m.Value
	}
	for _, l := range pr.Latencies {
		switch {
		case strings.HasPrefix(l.Name, "first data-sync of a reconnecting SDK"):
			p.DeltaP50Ms, p.DeltaMaxMs = l.Summary.P50, l.Summary.Max
		case strings.HasPrefix(l.Name, "push receipt"):
			p.ReceiptP50Ms, p.ReceiptP99Ms = l.Summary.P50, l.Summary.P99
		case strings.HasPrefix(l.Name, "first data-sync"):
			p.SyncP50Ms, p.SyncMaxMs = l.Summary.P50, l.Summary.Max
		}
	}
	if m := pr.Metric("full-sync message size"); m != nil {
		p.SyncBytes = m.Value
	}
}

// quantile is the q-quantile (nearest rank) of d; 0 for none.
func quantile(d []float64, q float64) float64 {
	if len(d) == 0 {
		return 0
	}
	s := append([]float64(nil), d...)
	sort.Float64s(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// Slope is the least-squares slope of y over x (0 with fewer than two
// distinct x).
func Slope(pts [][2]float64) float64 {
	if len(pts) < 2 {
		return 0
	}
	var sx, sy float64
	for _, p := range pts {
		sx += p[0]
		sy += p[1]
	}
	n := float64(len(pts))
	mx, my := sx/n, sy/n
	var num, den float64
	for _, p := range pts {
		num += (p[0] - mx) * (p[1] - my)
		den += (p[0] - mx) * (p[0] - mx)
	}
	if den == 0 {
		return 0
	}
	return num / den
}

// addCurve adds the series of y (its positive values) against x over the
// points to r and returns it.
func addCurve(r *report.Result, pts []ScalePoint, name, xl, yl string, x func(ScalePoint) int, y func(ScalePoint) float64) [][2]float64 {
	var s [][2]float64
	for _, p := range pts {
		if v := y(p); v > 0 {
			s = append(s, [2]float64{float64(x(p)), v})
		}
	}
	if len(s) > 0 {
		r.Series = append(r.Series, report.Series{Name: name, XLabel: xl, YLabel: yl, Points: s})
	}
	return s
}

// buildScaleResult turns the points into the result's metrics, growth
// curves (x = flags) and goal checks (issue 15's targets where they apply).
func buildScaleResult(r *report.Result, pts []ScalePoint, conns int) {
	if r.Extra == nil {
		r.Extra = map[string]any{}
	}
	r.Extra["points"] = pts
	curve := func(name, yl string, y func(ScalePoint) float64) [][2]float64 {
		return addCurve(r, pts, name, "flags in the environment", yl, func(p ScalePoint) int { return p.Flags }, y)
	}
	curve("change → every connection has it, p50 over the changes", "ms", func(p ScalePoint) float64 { return p.ToAllP50Ms })
	curve("change → every connection has it, p99 over the changes", "ms", func(p ScalePoint) float64 { return p.ToAllP99Ms })
	curve("change → every connection has it, worst change", "ms", func(p ScalePoint) float64 { return p.ToAllMaxMs })
	curve("control CPU per change", "µs", func(p ScalePoint) float64 { return p.ControlCPUUs })
	curve("edge CPU per change", "µs", func(p ScalePoint) float64 { return p.EdgeCPUUs })
	rss := curve("edge RSS with the connections, after the changes", "MiB", func(p ScalePoint) float64 { return p.EdgeRSSMiB })
	curve("first full sync p50 (warm edge)", "ms", func(p ScalePoint) float64 { return p.SyncP50Ms })
	curve("one full sync alone (probe, warm edge)", "ms", func(p ScalePoint) float64 { return p.ProbeSyncMs })
	curve("cold edge process: start → first full sync", "ms", func(p ScalePoint) float64 { return p.ColdSyncMs })
	curve("first delta sync p50 (reconnecting SDK)", "ms", func(p ScalePoint) float64 { return p.DeltaP50Ms })
	curve("bulk creation of the flags added for this size", "s", func(p ScalePoint) float64 { return p.BulkSec })
	for _, p := range pts {
		pre := fmt.Sprintf("%d flags: ", p.Flags)
		if p.Created > 0 {
			r.Add(pre+"bulk creation", p.BulkSec, "s").Note = fmt.Sprintf("%d flags created", p.Created)
			r.Add(pre+"bulk creation start → the edge serves every flag", p.EdgeHasItMs, "ms").Note = "polled with a delta data-sync from the start's timestamp every 20 ms"
		}
		m := r.Add(pre+"change → every connection p50", p.ToAllP50Ms, "ms")
		m99 := r.Add(pre+"change → every connection p99", p.ToAllP99Ms, "ms")
		r.Add(pre+"change → every connection max", p.ToAllMaxMs, "ms")
		if p.Flags == 10_000 && conns >= 10_000 {
			m.WithGoal("≤ 15 ms (all-in-one)", p.ToAllP50Ms <= 15)
			m99.WithGoal("≤ 50 ms (all-in-one), ≤ 100 ms (production)", p.ToAllP99Ms <= 50)
		}
		r.Add(pre+"receipt p50 / p99 (any connection)", p.ReceiptP50Ms, "ms").Note = fmt.Sprintf("p99 %.1f ms", p.ReceiptP99Ms)
		r.Add(pre+"first full sync p50 / max", p.SyncP50Ms, "ms").Note = fmt.Sprintf("max %.1f ms, %.0f bytes", p.SyncMaxMs, p.SyncBytes)
		r.Add(pre+"one full sync alone (probe)", p.ProbeSyncMs, "ms").Note = fmt.Sprintf("%d bytes", p.ProbeBytes)
		if p.ColdSyncMs > 0 {
			m := r.Add(pre+"cold edge: process start → first full sync", p.ColdSyncMs, "ms")
			m.Note = fmt.Sprintf("%d bytes", p.ColdBytes)
			if p.Flags >= 50_000 {
				m.WithGoal("≤ 2000 ms at 50,000 flags", p.ColdSyncMs <= 2000)
			}
		}
		if p.Mix.Delta > 0 {
			r.Add(pre+"first delta sync p50 / max (reconnecting SDK)", p.DeltaP50Ms, "ms").Note = fmt.Sprintf("max %.1f ms, %.0f bytes", p.DeltaMaxMs, p.DeltaBytes)
		}
		r.Add(pre+"connections synced before the changes", float64(p.Mix.Synced), "").Note =
			fmt.Sprintf("of %d: %d full syncs, %d delta syncs (reconnecting), %d of type client", p.Conns, p.Mix.Full, p.Mix.Delta, p.Mix.Clients)
		r.Check(pre+"every connection synced before the changes", p.Mix.Synced == int64(p.Conns), "%d of %d synced", p.Mix.Synced, p.Conns)
		if p.ControlCPUUs > 0 {
			r.Add(pre+"control CPU per change", p.ControlCPUUs, "µs")
		}
		if p.EdgeCPUUs > 0 {
			r.Add(pre+"edge CPU per change", p.EdgeCPUUs, "µs")
		}
		if p.EdgeRSSMiB > 0 {
			r.Add(pre+"edge RSS", p.EdgeRSSMiB, "MiB")
		}
		r.Check(pre+"every change reached every connection", p.OK, "%d connections", conns)
	}
	if len(rss) >= 2 {
		r.Add("edge memory per flag (slope of RSS over sizes)", Slope(rss)*(1<<20), "bytes").Note =
			"least squares over the sizes; same connections at every size, so they cancel out"
	}
	first, last := pts[0], pts[len(pts)-1]
	if first.ControlCPUUs > 0 && last.ControlCPUUs > 0 && len(pts) > 1 {
		ratio := last.ControlCPUUs / first.ControlCPUUs
		r.Add(fmt.Sprintf("control CPU per change, %d vs %d flags", last.Flags, first.Flags), ratio, "x").WithGoal("≤ 2x", ratio <= 2)
	}
	var at10k *ScalePoint
	for i := range pts {
		if pts[i].Flags == 10_000 {
			at10k = &pts[i]
		}
	}
	if at10k != nil && last.Flags >= 50_000 && at10k.ToAllP99Ms > 0 {
		ratio := last.ToAllP99Ms / at10k.ToAllP99Ms
		r.Add(fmt.Sprintf("change → every connection p99, %d vs 10000 flags", last.Flags), ratio, "x").WithGoal("≤ 1.5x", ratio <= 1.5)
	}
}

// MaxMembers bounds one -scale-members size (control validates at most
// 100,000 keys per segment list).
const MaxMembers = 100_000

// ParseMembers parses -scale-members: segment sizes in 1..MaxMembers,
// strictly increasing; empty: none.
func ParseMembers(s string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > MaxMembers {
			return nil, fmt.Errorf("-scale-members: %q is not a number of segment members in 1..%d", p, MaxMembers)
		}
		if len(out) > 0 && n <= out[len(out)-1] {
			return nil, fmt.Errorf("-scale-members: %d after %d: sizes must increase", n, out[len(out)-1])
		}
		out = append(out, n)
	}
	return out, nil
}

// buildMembersResult draws the members runs against the segment size:
// member change → every server connection, CPU per change, edge RSS, and
// edge memory per member (least-squares slope of RSS).
func buildMembersResult(r *report.Result, pts []ScalePoint) {
	if len(pts) == 0 {
		return
	}
	if r.Extra == nil {
		r.Extra = map[string]any{}
	}
	r.Extra["memberPoints"] = pts
	curve := func(name, yl string, y func(ScalePoint) float64) [][2]float64 {
		return addCurve(r, pts, name, "members in the segment", yl, func(p ScalePoint) int { return p.Members }, y)
	}
	curve("member change → every server connection has it, p50", "ms", func(p ScalePoint) float64 { return p.ToAllP50Ms })
	curve("member change → every server connection has it, p99", "ms", func(p ScalePoint) float64 { return p.ToAllP99Ms })
	curve("control CPU per member change", "µs", func(p ScalePoint) float64 { return p.ControlCPUUs })
	curve("edge CPU per member change", "µs", func(p ScalePoint) float64 { return p.EdgeCPUUs })
	rss := curve("edge RSS with the segment, after the changes", "MiB", func(p ScalePoint) float64 { return p.EdgeRSSMiB })
	curve("writing the member list", "s", func(p ScalePoint) float64 { return p.BulkSec })
	for _, p := range pts {
		pre := fmt.Sprintf("%d members: ", p.Members)
		r.Add(pre+"writing the member list", p.BulkSec, "s").Note = fmt.Sprintf("environment of %d flags", p.Flags)
		r.Add(pre+"member list write start → the edge serves it", p.EdgeHasItMs, "ms").Note = "polled with a delta data-sync from the start's timestamp every 20 ms"
		r.Add(pre+"member change → every server connection p50", p.ToAllP50Ms, "ms")
		r.Add(pre+"member change → every server connection p99", p.ToAllP99Ms, "ms").Note = fmt.Sprintf("max %.1f ms", p.ToAllMaxMs)
		r.Add(pre+"full sync alone (probe)", p.ProbeSyncMs, "ms").Note = fmt.Sprintf("%d bytes", p.ProbeBytes)
		if p.ColdSyncMs > 0 {
			r.Add(pre+"cold edge: process start → first full sync", p.ColdSyncMs, "ms").Note = fmt.Sprintf("%d bytes", p.ColdBytes)
		}
		if p.ControlCPUUs > 0 {
			r.Add(pre+"control CPU per member change", p.ControlCPUUs, "µs")
		}
		if p.EdgeCPUUs > 0 {
			r.Add(pre+"edge CPU per member change", p.EdgeCPUUs, "µs")
		}
		if p.EdgeRSSMiB > 0 {
			r.Add(pre+"edge RSS", p.EdgeRSSMiB, "MiB")
		}
		r.Add(pre+"server connections synced before the changes", float64(p.Mix.Synced), "").Note =
			fmt.Sprintf("of %d: %d full, %d delta", p.Conns, p.Mix.Full, p.Mix.Delta)
		r.Check(pre+"every member change reached every server connection", p.OK, "%d connections", p.Conns)
	}
	if len(rss) >= 2 {
		r.Add("edge memory per segment member (slope of RSS over member sizes)", Slope(rss)*(1<<20), "bytes").Note =
			"least squares; RSS includes garbage and the connections' send buffers of the changed segment"
	}
}

// probeUntil probes the edge's full sync until it holds at least flags
// flags and an item updated at or after since (Unix ms): a write returns
// before every edge has it. It gives up after c.SyncTimeout (at least a
// minute).
func probeUntil(ctx context.Context, c Config, flags int, since int64) (Probe, error) {
	wait := max(c.SyncTimeout, time.Minute)
	deadline := time.Now().Add(wait)
	for {
		p, err := ProbeFullSync(ctx, c.Target, c.Env.ServerSecret, wait)
		if err == nil && p.Flags >= flags && p.Newest >= since {
			return p, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			if err == nil {
				err = fmt.Errorf("after %s the edge's full sync has %d flags (want ≥ %d), newest item %d (want ≥ %d)", wait, p.Flags, flags, p.Newest, since)
			}
			return p, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitWritten polls the edge with a delta data-sync from since-1 (what a
// reconnecting SDK asks) until the patch holds at least items flags (or
// segments) updated at or after since (Unix ms): the time from since until
// the edge serves a write.
func waitWritten(ctx context.Context, c Config, since int64, items int, segments bool) (time.Duration, error) {
	wait := max(c.SyncTimeout, time.Minute)
	deadline := time.Now().Add(wait)
	for {
		p, err := probeSync(ctx, c.Target, c.Env.ServerSecret, since-1, wait)
		got := p.Flags
		if segments {
			got = p.Segments
		}
		if err == nil && got >= items {
			return time.Duration(time.Now().UnixMilli()-since) * time.Millisecond, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			if err == nil {
				err = fmt.Errorf("after %s the edge's patch from %d has %d items, want ≥ %d", wait, since-1, got, items)
			}
			return 0, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}
