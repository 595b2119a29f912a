package scenario

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/loadtest/internal/change"
	"github.com/switchyard/switchyard/loadtest/internal/hist"
	"github.com/switchyard/switchyard/loadtest/internal/machine"
	"github.com/switchyard/switchyard/loadtest/internal/report"
)

// Bounds of the writes scenario's settings.
const (
	MaxWriteRate     = 100_000
	MaxWriteDuration = time.Hour
	MaxWriters       = 1000
	MaxWriteFlags    = 10_000
	MaxWriteSDKs     = 100
	// MaxWrites bounds rate × duration: every acknowledged write and every
	// state each SDK connection reads is kept until the end (~100 bytes each).
	MaxWrites = 5_000_000
)

// WriteAPI makes the writes (change.Writer: control's REST API).
type WriteAPI interface {
	// EnsureFlags returns the n write flags, creating missing ones with
	// the value initial.
	EnsureFlags(ctx context.Context, n int, initial string) ([]codec.Flag, error)
	// Get reads a flag by key.
	Get(ctx context.Context, key string) (codec.Flag, error)
	// Put replaces a flag whose stored version is f.Version and returns it
	// as stored; change.ErrConflict (wrapped) when the version is stale.
	Put(ctx context.Context, f *codec.Flag) (codec.Flag, error)
}

// WritesConfig is the writes scenario's own configuration; Config gives the
// edge (Target), the environment's secrets (Env) and PushTimeout (the wait
// for the last states after the writes).
type WritesConfig struct {
	API         WriteAPI
	Rate        float64       // target writes per second, all writers together
	Duration    time.Duration // how long writes are started
	Writers     int           // concurrent HTTP clients
	Flags       int           // distinct flags written (round robin)
	SDKs        int           // SDK streaming connections that check the order
	Reconnect   time.Duration // every SDK reconnects this often during the writes, asking for what changed since the newest updatedAt it holds (0: never)
	ControlPids []int         // control process(es) for CPU per write (nil: not measured)
}

// Validate checks the settings against their bounds, naming the flag.
func (w *WritesConfig) Validate() error {
	switch {
	case !(w.Rate > 0 && w.Rate <= MaxWriteRate):
		return fmt.Errorf("-write-rate: %v is not in (0, %d]", w.Rate, MaxWriteRate)
	case w.Duration <= 0 || w.Duration > MaxWriteDuration:
		return fmt.Errorf("-write-duration: %s is not in (0, %s]", w.Duration, MaxWriteDuration)
	case w.Writers < 1 || w.Writers > MaxWriters:
		return fmt.Errorf("-writers: %d is not in 1..%d", w.Writers, MaxWriters)
	case w.Flags < 1 || w.Flags > MaxWriteFlags:
		return fmt.Errorf("-write-flags: %d is not in 1..%d", w.Flags, MaxWriteFlags)
	case w.SDKs < 1 || w.SDKs > MaxWriteSDKs:
		return fmt.Errorf("-write-sdks: %d is not in 1..%d", w.SDKs, MaxWriteSDKs)
	case w.Reconnect < 0 || (w.Reconnect > 0 && w.Reconnect < 100*time.Millisecond) || w.Reconnect > MaxWriteDuration:
		return fmt.Errorf("-write-reconnect: %s is not 0 or in [100ms, %s]", w.Reconnect, MaxWriteDuration)
	case w.Rate*w.Duration.Seconds() > MaxWrites:
		return fmt.Errorf("-write-rate × -write-duration: %.0f writes, at most %d in one run", w.Rate*w.Duration.Seconds(), MaxWrites)
	}
	return nil
}

// writeMarker is the value write k of run sets: "lt-w~<run>~<k>".
func writeMarker(run string, k int64) string { return "lt-w~" + run + "~" + strconv.FormatInt(k, 10) }

// parseMarker returns k of a marker of run, -1 for any other value.
func parseMarker(run, v string) int64 {
	p := "lt-w~" + run + "~"
	if !strings.HasPrefix(v, p) {
		return -1
	}
	k, err := strconv.ParseInt(v[len(p):], 10, 64)
	if err != nil || k < 0 {
		return -1
	}
	return k
}

// flagSlot is the newest state of one write flag the writers know.
type flagSlot struct {
	mu sync.Mutex
	f  codec.Flag
}

func (s *flagSlot) get() codec.Flag {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f
}

func (s *flagSlot) offer(f codec.Flag) {
	s.mu.Lock()
	if f.Version > s.f.Version {
		s.f = f
	}
	s.mu.Unlock()
}

// writeRun is the shared state of one writes run.
type writeRun struct {
	wc      WritesConfig
	run     string
	slots   []flagSlot
	keys    map[string]int
	amu     sync.Mutex
	acks    *Acks
	apiLat  hist.H
	next    atomic.Int64
	attempt atomic.Int64
	confl   atomic.Int64
	errs    atomic.Int64
	emu     sync.Mutex
	errKind map[string]int64
}

func (wr *writeRun) fail(err error) {
	wr.errs.Add(1)
	var ue *url.Error
	if errors.As(err, &ue) { // without the URL: one line per cause, not per flag
		err = fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	msg := err.Error()
	if len(msg) > 120 {
		msg = msg[:120]
	}
	wr.emu.Lock()
	wr.errKind["write: "+msg]++
	wr.emu.Unlock()
}

// write makes write k: flag k mod Flags gets the value marker(k) with the
// version the writers hold; a 409 re-reads the flag and tries again.
func (wr *writeRun) write(ctx context.Context, k int64) {
	idx := int(k % int64(len(wr.slots)))
	slot := &wr.slots[idx]
	value := writeMarker(wr.run, k)
	for attempt := 0; ; attempt++ {
		f := slot.get()
		change.SetWriteValue(&f, value)
		wr.attempt.Add(1)
		sent := time.Now()
		out, err := wr.wc.API.Put(ctx, &f)
		if err == nil {
			wr.apiLat.Record(time.Since(sent))
			wr.amu.Lock()
			wr.acks.Add(WriteAck{Marker: k, Flag: idx, Version: out.Version, SentNs: sent.UnixNano()})
			wr.amu.Unlock()
			slot.offer(out)
			return
		}
		if ctx.Err() != nil {
			return
		}
		if !errors.Is(err, change.ErrConflict) || attempt == 50 {
			wr.fail(err)
			return
		}
		wr.confl.Add(1)
		cur, gerr := wr.wc.API.Get(ctx, f.Key)
		if gerr != nil {
			wr.fail(gerr)
			return
		}
		slot.offer(cur)
	}
}

// Writes runs the writes scenario: Writers clients make Rate flag writes
// per second for Duration through the API, round robin over Flags flags,
// while SDKs FeatBit server connections to the edge record every flag state
// they read; then it waits (up to PushTimeout) until every connection read
// each flag's last acknowledged state and checks the order (CheckOrder).
func Writes(ctx context.Context, c Config, wc WritesConfig) (*report.Result, error) {
	if wc.API == nil {
		return nil, errors.New("writes needs the control API (-control-url, -control-env and a login)")
	}
	if err := wc.Validate(); err != nil {
		return nil, err
	}
	c.defaults()
	if c.SyncTimeout <= 0 {
		c.SyncTimeout = 15 * time.Second
	}
	if c.Env == nil || c.Env.ServerSecret == "" {
		return nil, errors.New("writes: no server secret of the environment")
	}
	run := strconv.FormatInt(time.Now().UnixMilli(), 36)
	wr := &writeRun{wc: wc, run: run, slots: make([]flagSlot, wc.Flags), keys: map[string]int{}, acks: NewAcks(), errKind: map[string]int64{}}
	flags, err := wc.API.EnsureFlags(ctx, wc.Flags, "lt-w~initial")
	if err != nil {
		return nil, err
	}
	for i := range flags {
		wr.slots[i].f = flags[i]
		wr.keys[flags[i].Key] = i
	}
	r := newResult("writes", &c)
	for k, v := range map[string]any{"writeRate": wc.Rate, "writeDuration": wc.Duration.String(), "writers": wc.Writers,
		"writeFlags": wc.Flags, "writeSdks": wc.SDKs, "writeReconnect": wc.Reconnect.String(), "controlPids": fmt.Sprint(wc.ControlPids), "run": run} {
		r.Params[k] = v
	}
	c.logf("writes: %d SDK connections to %s", wc.SDKs, c.Target)
	var sdks []*sdkConn
	defer func() {
		for _, s := range sdks {
			s.close()
		}
	}()
	for i := 0; i < wc.SDKs; i++ {
		s, err := dialSDK(ctx, c.Target, c.Env.ServerSecret, run, wr.keys, c.SyncTimeout)
		if err != nil {
			return nil, fmt.Errorf("writes: SDK connection %d: %w", i, err)
		}
		sdks = append(sdks, s)
	}

	c.logf("writes: %.0f writes/s for %s by %d writers over %d flags", wc.Rate, wc.Duration, wc.Writers, wc.Flags)
	cpu0 := machine.CPUNsPrecise(wc.ControlPids)
	start := time.Now()
	end := start.Add(wc.Duration)
	var wg sync.WaitGroup
	var rmu sync.Mutex
	reconnectErrs := map[string]int64{}
	writing, stopReconnects := context.WithCancel(ctx)
	var rwg sync.WaitGroup
	if wc.Reconnect > 0 {
		for i, sdk := range sdks {
			rwg.Go(func() {
				// staggered, so the SDKs are not all away at once
				sleep(writing, wc.Reconnect*time.Duration(i+1)/time.Duration(len(sdks)))
				for writing.Err() == nil {
					if err := sdk.reconnect(ctx); err != nil {
						rmu.Lock()
						reconnectErrs["sdk reconnect: "+err.Error()]++
						rmu.Unlock()
						return
					}
					sleep(writing, wc.Reconnect)
				}
			})
		}
	}
	for w := 0; w < wc.Writers; w++ {
		wg.Go(func() {
			for ctx.Err() == nil {
				k := wr.next.Add(1)
				due := start.Add(time.Duration(float64(k-1) / wc.Rate * float64(time.Second)))
				if !due.Before(end) {
					return
				}
				sleep(ctx, time.Until(due))
				wr.write(ctx, k)
			}
		})
	}
	wg.Wait()
	stopReconnects()
	rwg.Wait()
	elapsed := time.Since(start)
	cpu1 := machine.CPUNsPrecise(wc.ControlPids)
	wr.amu.Lock()
	acked := wr.acks.Len()
	wr.amu.Unlock()
	c.logf("writes: %d acknowledged in %.1f s (%.0f/s), %d conflicts, %d errors; waiting for the last states",
		acked, elapsed.Seconds(), float64(acked)/elapsed.Seconds(), wr.confl.Load(), wr.errs.Load())

	// every connection must read each flag's last acknowledged state
	deadline := time.Now().Add(c.PushTimeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if allFinal(wr, sdks) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}

	var sum OrderStats
	var toSDK hist.H
	lost, reconnects := 0, 0
	for k, v := range reconnectErrs {
		r.Failures[k] += v
		lost++
	}
	for _, s := range sdks {
		reconnects += s.reconnected()
		ds, err := s.deliveries()
		if err != nil {
			lost++
			r.Failures["sdk: "+err.Error()]++
		}
		st := CheckOrder(wr.acks, ds, toSDK.Record)
		sum.Add(st)
	}
	// the rate over the time writes were started: from the first to the
	// last acknowledged write's request, plus one interval (the last
	// answer's latency is not write time)
	var lastSent int64
	for _, w := range wr.acks.byMarker {
		lastSent = max(lastSent, w.SentNs)
	}
	secs := elapsed.Seconds()
	if lastSent > 0 {
		secs = min(secs, float64(lastSent-start.UnixNano())/1e9+1/wc.Rate)
	}
	rate := float64(acked) / secs
	m := r.Add("achieved writes per second (acknowledged)", rate, "1/s")
	if wc.Rate >= 1000 {
		m.WithGoal("≥ 1000/s (issue 15)", rate >= 1000)
	}
	m.Note = fmt.Sprintf("target %.0f/s, %d writers, %d flags", wc.Rate, wc.Writers, wc.Flags)
	r.Add("writes acknowledged", float64(acked), "")
	r.Add("conflicts (409: re-read and retried)", float64(wr.confl.Load()), "")
	r.Add("write errors", float64(wr.errs.Load()), "")
	r.AddLatency("API write (PUT sent → response)", wr.apiLat.Snapshot())
	r.AddLatency("change → SDK (PUT sent → state read)", toSDK.Snapshot())
	conns := int64(len(sdks))
	r.Add("item states delivered (over the SDK connections)", float64(sum.Delivered), "").Note =
		fmt.Sprintf("%d acknowledged writes × %d connections = %d", acked, conns, int64(acked)*conns)
	r.Add("collapsed (a later state arrived instead)", float64(sum.Collapsed), "")
	r.Add("out of order", float64(sum.OutOfOrder), "").WithGoal("0", sum.OutOfOrder == 0)
	r.Add("missing final", float64(sum.MissingFinal), "").WithGoal("0", sum.MissingFinal == 0).Note =
		fmt.Sprintf("flags × connections whose last state read is not the last acknowledged (%d flags × %d connections)", sum.FlagsChecked/max(conns, 1), conns)
	r.Add("duplicates", float64(sum.Duplicates), "").Note = "the same state read again (allowed after a reconnect: at least once)"
	r.Add("unknown values", float64(sum.Unknown), "")
	r.Add("updatedAt going back across patches", float64(sum.StampBack), "")
	if len(wc.ControlPids) > 0 && cpu1 > cpu0 && acked > 0 {
		r.Add("control CPU per write", float64(cpu1-cpu0)/float64(acked)/1e3, "µs").Note =
			fmt.Sprintf("pids %v over the write phase; the all-in-one includes its edge", wc.ControlPids)
	}
	r.Series = append(r.Series, report.Series{Name: "acknowledged writes per second", XLabel: "s", YLabel: "writes/s", Points: perSecond(wr.acks, start)})
	for k, v := range wr.errKind {
		r.Failures[k] += v
	}
	r.Check("writes acknowledged at the target rate (90 %)", rate >= 0.9*wc.Rate, "%.0f/s of %.0f/s", rate, wc.Rate)
	r.Add("write phase (first request → last answer)", elapsed.Seconds(), "s")
	r.Check("no write errors", wr.errs.Load() == 0, "%d errors (besides conflicts)", wr.errs.Load())
	r.Check("no two acknowledged writes got the same version", wr.acks.SameVersion() == 0, "%d", wr.acks.SameVersion())
	r.Check("SDK connections stayed open (or reconnected when told to)", lost == 0, "%d of %d lost", lost, conns)
	if wc.Reconnect > 0 {
		r.Add("SDK reconnects (data-sync from the newest updatedAt held)", float64(reconnects), "").Note =
			fmt.Sprintf("every %s per connection during the writes", wc.Reconnect)
	}
	r.Check("every flag ends at its last acknowledged state at every connection", sum.MissingFinal == 0, "%d missing", sum.MissingFinal)
	r.Check("states read in write order", sum.OutOfOrder == 0 && sum.StampBack == 0,
		"%d out of order, %d timestamps going back", sum.OutOfOrder, sum.StampBack)
	if wc.Reconnect == 0 {
		// after a reconnect the data-sync answer and a live patch may carry
		// the same state (at least once); on one connection they must not
		r.Check("no state read twice on one connection", sum.Duplicates == 0, "%d duplicates", sum.Duplicates)
	}
	r.Check("every value read was written", sum.Unknown == 0, "%d unknown", sum.Unknown)
	r.Extra = map[string]any{"order": sum}
	r.Duration = time.Since(r.Started).Seconds()
	r.Params["loadavgAtEnd"] = loadavg()
	c.logf("writes: delivered %d, collapsed %d, out of order %d, missing final %d", sum.Delivered, sum.Collapsed, sum.OutOfOrder, sum.MissingFinal)
	if !r.OK() {
		return r, fmt.Errorf("writes: %w", ErrChecks)
	}
	return r, nil
}

// allFinal reports whether every connection read each flag's last
// acknowledged state.
func allFinal(wr *writeRun, sdks []*sdkConn) bool {
	wr.amu.Lock()
	want := make(map[int]int64, len(wr.slots))
	for i := range wr.slots {
		if w, ok := wr.acks.Last(i); ok {
			want[i] = w.Marker
		}
	}
	wr.amu.Unlock()
	for _, s := range sdks {
		if !s.has(want) {
			return false
		}
	}
	return true
}

// perSecond counts acknowledged writes by the second their request was sent.
func perSecond(a *Acks, start time.Time) [][2]float64 {
	var n []float64
	for _, w := range a.byMarker {
		i := int(math.Max(0, float64(w.SentNs-start.UnixNano())/1e9))
		for len(n) <= i {
			n = append(n, 0)
		}
		n[i]++
	}
	out := make([][2]float64, len(n))
	for i, v := range n {
		out[i] = [2]float64{float64(i), v}
	}
	return out
}
