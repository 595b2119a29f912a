package scenario

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control"
	"github.com/switchyard/switchyard/edge"
	"github.com/switchyard/switchyard/loadtest/internal/change"
)

// allInOne runs control on the embedded store and an edge fed in process,
// as cmd/switchyard does, and returns control's URL, the edge's address,
// the login and the first environment's id.
func allInOne(t *testing.T) (ctlURL, edgeAddr, email, password, envID string) {
	t.Helper()
	ctx := context.Background()
	src := edge.NewLocalSource()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	email, password = "admin@writes.test", "writes-test-password"
	ctl, err := control.New(control.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), AdminEmail: email, AdminPassword: password},
		control.WithSnapshotWriter(src), control.WithChangeProducer(src), control.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ctl.Shutdown(context.Background()) })
	if err := ctl.Listen(); err != nil {
		t.Fatal(err)
	}
	info, err := ctl.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ctl.Start(); err != nil {
		t.Fatal(err)
	}
	if err := ctl.RepublishAll(ctx); err != nil {
		t.Fatal(err)
	}
	e, err := edge.New(edge.Config{Addr: "127.0.0.1:0", DrainWindow: -1}, edge.WithSource(src))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		e.Shutdown(sctx)
	})
	return "http://" + ctl.Addr(), e.Addr(), email, password, info.Envs[0].ID
}

// TestWritesInProcess runs the writes scenario at a small rate against an
// in-process all-in-one (control on bbolt, edge fed in process): two SDK
// connections must read every flag's last state, in order, also when they
// reconnect as FeatBit SDKs do. The flags outnumber the writes in flight,
// so writes rarely conflict (TestWritesConflictsAreRetried has them).
func TestWritesInProcess(t *testing.T) {
	ctlURL, edgeAddr, email, password, envID := allInOne(t)
	ctx := context.Background()
	ctl, env, err := change.NewControl(ctx, ctlURL, "", email, password, envID)
	if err != nil {
		t.Fatal(err)
	}
	w := ctl.NewWriter(16, 30*time.Second)
	// control allows one credential 50 requests/s: spread the writes
	if err := w.SpreadTokens(ctx, 8); err != nil {
		t.Fatal(err)
	}
	defer w.Close(ctx)
	c := Config{Target: edgeAddr, Env: env, InEdge: true, Out: io.Discard, PushTimeout: 30 * time.Second}
	wc := WritesConfig{API: w, Rate: 40, Duration: 3 * time.Second, Writers: 16, Flags: 32, SDKs: 2}
	r, err := Writes(ctx, c, wc)
	mustOK(t, r, err)
	acked := r.Metric("writes acknowledged").Value
	if acked < 110 {
		t.Fatalf("%v writes acknowledged, want ~120", acked)
	}
	st, _ := r.Extra["order"].(OrderStats)
	if st.Acked != int64(acked)*2 || st.Delivered == 0 || st.Delivered+st.Collapsed != st.Acked || st.FlagsChecked != 64 {
		t.Fatalf("order %+v for %v writes", st, acked)
	}
	for _, l := range r.Latencies {
		if l.Hist.N == 0 {
			t.Fatalf("%s: no samples", l.Name)
		}
	}
	// the flags now hold this run's last values: a second run starts from
	// them, with the SDKs reconnecting as FeatBit SDKs do (only what changed
	// after the newest updatedAt they hold): nothing may be missed
	wc.Duration, wc.Reconnect = 2*time.Second, 300*time.Millisecond
	r, err = Writes(ctx, c, wc)
	mustOK(t, r, err)
	if m := r.Metric("SDK reconnects (data-sync from the newest updatedAt held)"); m == nil || m.Value < 4 {
		t.Fatalf("reconnects %+v", m)
	}
}

// staleAPI sends every third write with the version before the one the
// writer holds, as a writer that lost a race would: control answers 409.
type staleAPI struct {
	*change.Writer
	n atomic.Int64
}

func (s *staleAPI) Put(ctx context.Context, f *codec.Flag) (codec.Flag, error) {
	if s.n.Add(1)%3 == 0 {
		g := *f
		g.Version--
		return s.Writer.Put(ctx, &g)
	}
	return s.Writer.Put(ctx, f)
}

// TestWritesConflictsAreRetried: four writers on one flag, a third of
// their writes sent with a stale version besides the races they run into;
// every 409 is re-read and retried, and every SDK ends at the last
// acknowledged value, in version order. (Eight writers under the race
// detector lost one write 50 times in a row: a writer can starve, which
// the retry cap reports as a write error.)
func TestWritesConflictsAreRetried(t *testing.T) {
	ctlURL, edgeAddr, email, password, envID := allInOne(t)
	ctx := context.Background()
	ctl, env, err := change.NewControl(ctx, ctlURL, "", email, password, envID)
	if err != nil {
		t.Fatal(err)
	}
	w := ctl.NewWriter(8, 30*time.Second)
	// 16 tokens: control allows 50 requests/s per credential, and every
	// conflict costs a GET and another PUT
	if err := w.SpreadTokens(ctx, 16); err != nil {
		t.Fatal(err)
	}
	defer w.Close(ctx)
	c := Config{Target: edgeAddr, Env: env, InEdge: true, Out: io.Discard, PushTimeout: 30 * time.Second}
	r, err := Writes(ctx, c, WritesConfig{API: &staleAPI{Writer: w}, Rate: 40, Duration: 1500 * time.Millisecond, Writers: 4, Flags: 2, SDKs: 1})
	if r == nil {
		t.Fatal(err)
	}
	st, _ := r.Extra["order"].(OrderStats)
	// two flags: a write that lost its race must not carry the winner's
	// later stamp ahead of the other flag's change (StampBack)
	if r.Metric("conflicts (409: re-read and retried)").Value == 0 || r.Metric("write errors").Value != 0 ||
		r.Metric("writes acknowledged").Value < 55 || st.MissingFinal != 0 || st.OutOfOrder != 0 || st.Unknown != 0 || st.StampBack != 0 {
		for _, m := range r.Metrics {
			t.Logf("%s: %v", m.Name, m.Value)
		}
		t.Logf("failures %v", r.Failures)
		t.Fatalf("conflicts not retried to the end: %+v (%v)", st, err)
	}
}

// TestWritesDetectsAStaleSDK: a write API whose acknowledgements claim a
// later version than the edge ever sees must fail the run ("missing final").
func TestWritesDetectsAStaleSDK(t *testing.T) {
	ctlURL, edgeAddr, email, password, envID := allInOne(t)
	ctx := context.Background()
	ctl, env, err := change.NewControl(ctx, ctlURL, "", email, password, envID)
	if err != nil {
		t.Fatal(err)
	}
	api := &lyingAPI{Writer: ctl.NewWriter(2, 30*time.Second)}
	c := Config{Target: edgeAddr, Env: env, InEdge: true, Out: io.Discard, PushTimeout: time.Second}
	r, err := Writes(ctx, c, WritesConfig{API: api, Rate: 50, Duration: 200 * time.Millisecond, Writers: 2, Flags: 2, SDKs: 1})
	if err == nil || r == nil || r.Metric("missing final").Value == 0 {
		t.Fatalf("a write acknowledged but never delivered passed: %v %+v", err, r)
	}
}

// lyingAPI acknowledges the last write it is asked for without making it.
type lyingAPI struct {
	*change.Writer
	n atomic.Int64
}

func (l *lyingAPI) Put(ctx context.Context, f *codec.Flag) (codec.Flag, error) {
	if l.n.Add(1) == 10 {
		out := *f
		out.Version += 1000
		return out, nil
	}
	return l.Writer.Put(ctx, f)
}
