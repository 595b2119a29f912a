package scenario

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/edge/edgetest"
	"github.com/switchyard/switchyard/loadtest/internal/change"
	"github.com/switchyard/switchyard/loadtest/internal/report"
)

func TestParseSizes(t *testing.T) {
	got, err := ParseSizes(" 10, 1000,10000 ,50000")
	if err != nil || len(got) != 4 || got[0] != 10 || got[3] != 50000 {
		t.Fatalf("got %v, %v", got, err)
	}
	if got, err := ParseSizes(DefaultScaleSizes); err != nil || len(got) != 4 {
		t.Fatalf("default: %v, %v", got, err)
	}
	for _, bad := range []string{"", ",", "0", "-5", "10k", "1e3", "100,10", "10,10", "2000000", "1_000"} {
		if _, err := ParseSizes(bad); err == nil || !strings.Contains(err.Error(), "-scale-sizes") {
			t.Errorf("%q: err %v, want an error naming -scale-sizes", bad, err)
		}
	}
}

func TestSlopeAndQuantile(t *testing.T) {
	// RSS = 50 MiB + 5 KiB per flag
	var pts [][2]float64
	for _, f := range []float64{10, 1000, 10000, 50000} {
		pts = append(pts, [2]float64{f, 50 + f*5*1024/(1<<20)})
	}
	if s := Slope(pts) * (1 << 20); math.Abs(s-5*1024) > 1e-6 {
		t.Fatalf("slope %v bytes/flag, want 5120", s)
	}
	if Slope(pts[:1]) != 0 || Slope([][2]float64{{3, 1}, {3, 2}}) != 0 {
		t.Fatal("slope of one x is not 0")
	}
	d := []float64{5, 1, 4, 2, 3}
	if quantile(d, 0.5) != 3 || quantile(d, 1) != 5 || quantile(d, 0.99) != 5 || quantile(nil, 0.5) != 0 {
		t.Fatalf("quantiles %v %v %v", quantile(d, 0.5), quantile(d, 1), quantile(d, 0.99))
	}
	if d[0] != 5 {
		t.Fatal("quantile sorted its input")
	}
}

func TestBuildScaleResultCurvesAndGoals(t *testing.T) {
	pts := []ScalePoint{
		{Flags: 10, ToAllP50Ms: 4, ToAllP99Ms: 9, ToAllMaxMs: 9, ControlCPUUs: 400, EdgeCPUUs: 900, EdgeRSSMiB: 40, OK: true},
		{Flags: 10000, Created: 9990, BulkSec: 3, ToAllP50Ms: 10, ToAllP99Ms: 40, ToAllMaxMs: 40, ControlCPUUs: 500, EdgeCPUUs: 1000, EdgeRSSMiB: 90, OK: true},
		{Flags: 50000, Created: 40000, BulkSec: 12, ToAllP50Ms: 12, ToAllP99Ms: 80, ToAllMaxMs: 80, ControlCPUUs: 1000, EdgeRSSMiB: 290, OK: false},
	}
	r := &report.Result{Scenario: "scale", Params: map[string]any{}, Failures: map[string]int64{}}
	buildScaleResult(r, pts, 10000)
	series := map[string]report.Series{}
	for _, s := range r.Series {
		series[s.Name] = s
		if s.XLabel != "flags in the environment" {
			t.Errorf("%s: x label %q", s.Name, s.XLabel)
		}
	}
	if s := series["change → every connection has it, p99 over the changes"]; len(s.Points) != 3 || s.Points[2] != [2]float64{50000, 80} {
		t.Fatalf("p99 curve %+v", s)
	}
	if s := series["edge CPU per change"]; len(s.Points) != 2 { // unknown at 50,000: left out, not drawn as 0
		t.Fatalf("edge CPU curve %+v", s)
	}
	if s := series["bulk creation of the flags added for this size"]; len(s.Points) != 2 || s.Points[0][0] != 10000 {
		t.Fatalf("bulk curve %+v", s)
	}
	if m := r.Metric("edge memory per flag (slope of RSS over sizes)"); m == nil || m.Value < 5000 || m.Value > 5400 {
		t.Fatalf("memory per flag %+v", m)
	}
	if m := r.Metric("control CPU per change, 50000 vs 10 flags"); m == nil || m.Value != 2.5 || m.Met == nil || *m.Met {
		t.Fatalf("control CPU ratio %+v", m)
	}
	if m := r.Metric("change → every connection p99, 50000 vs 10000 flags"); m == nil || m.Value != 2 || *m.Met {
		t.Fatalf("p99 ratio %+v", m)
	}
	if m := r.Metric("10000 flags: change → every connection p50"); m == nil || m.Met == nil || !*m.Met {
		t.Fatalf("p50 goal at 10,000 %+v", m)
	}
	if r.OK() {
		t.Fatal("a size that missed a delivery must fail the run")
	}
	var sb strings.Builder
	r.WriteHTML(&sb)
	if strings.Count(sb.String(), "<svg") < 6 {
		t.Fatal("growth curves not drawn")
	}
}

// TestScaleInProcess grows an in-process edge's environment through three
// sizes with connections held and sequential changes at each.
func TestScaleInProcess(t *testing.T) {
	e := edgetest.Run(t)
	c := smallConfig(e)
	c.Conns, c.PerWorker, c.Pushes = 100, 50, 3
	r, err := Scale(context.Background(), c, ScaleConfig{Sizes: []int{5, 50, 200}})
	mustOK(t, r, err)
	pts, _ := r.Extra["points"].([]ScalePoint)
	if len(pts) != 3 || pts[2].Flags != 200 || pts[2].Created != 150 {
		t.Fatalf("points %+v", pts)
	}
	for _, p := range pts {
		if !p.OK || p.ToAllMaxMs <= 0 || p.SyncBytes <= 0 {
			t.Fatalf("point %+v", p)
		}
	}
	if pts[2].SyncBytes < 10*pts[0].SyncBytes {
		t.Fatalf("full sync did not grow with the environment: %v → %v bytes", pts[0].SyncBytes, pts[2].SyncBytes)
	}
	waitConns(t, e, 0)
}

// TestScaleInProcessReconnecting: most connections reconnect with the newest
// timestamp of the probe's full sync (a small patch instead of the whole
// environment), a share of them full-sync cold, server and client types
// mixed; every one is synced before the changes and every change reaches
// every one.
func TestScaleInProcessReconnecting(t *testing.T) {
	e := edgetest.Run(t)
	c := smallConfig(e)
	c.Conns, c.PerWorker, c.Pushes, c.ClientShare = 200, 100, 3, 0.3
	r, err := Scale(context.Background(), c, ScaleConfig{Sizes: []int{5, 400}, Reconnect: true, FullSyncShare: 0.1})
	mustOK(t, r, err)
	pts, _ := r.Extra["points"].([]ScalePoint)
	if len(pts) != 2 {
		t.Fatalf("points %+v", pts)
	}
	for _, p := range pts {
		m := p.Mix
		if !p.OK || m.Synced != 200 || m.Full+m.Delta != 200 || m.Full < 15 || m.Full > 25 || m.Clients != 60 {
			t.Fatalf("%d flags: mix %+v ok %v", p.Flags, m, p.OK)
		}
		if p.ProbeSyncMs <= 0 || p.ProbeBytes <= 0 || p.DeltaP50Ms <= 0 || p.ToAllMaxMs <= 0 {
			t.Fatalf("point %+v", p)
		}
	}
	big := pts[1]
	if big.DeltaBytes <= 0 || big.DeltaBytes*20 > big.SyncBytes {
		t.Fatalf("a reconnecting SDK got %.0f bytes, a full sync %.0f: the delta is not small", big.DeltaBytes, big.SyncBytes)
	}
	if r.Params["fullSyncShare"] != 0.1 {
		t.Fatalf("params %v", r.Params)
	}
	waitConns(t, e, 0)
}

func TestParseFullSync(t *testing.T) {
	p, err := parseFullSync([]byte(`{"messageType":"data-sync","data":{"eventType":"full","featureFlags":[{"key":"a","updatedAt":5},{"updatedAt":"2023-01-28T05:49:35.885Z"}],"segments":[{"updatedAt":12}]}}`))
	if err != nil || p.Newest != 1674884975885 || p.Flags != 2 || p.Segments != 1 {
		t.Fatalf("%+v %v", p, err)
	}
	if _, err := parseFullSync([]byte(`{"messageType":"data-sync","data":{"eventType":"patch"}}`)); err != errNotFullSync {
		t.Fatalf("patch: %v", err)
	}
	if p, err := parseSync([]byte(`{"messageType":"data-sync","data":{"eventType":"patch","featureFlags":[],"segments":[{"updatedAt":"2023-01-28T05:49:35.885Z"}]}}`), "patch"); err != nil || p.Segments != 1 || p.Flags != 0 {
		t.Fatalf("patch: %+v %v", p, err)
	}
	if p, err := parseSync([]byte(`{"messageType":"data-sync","data":{"eventType":"patch","featureFlags":[],"segments":[]}}`), "patch"); err != nil || p.Newest != 0 {
		t.Fatalf("an empty patch is a valid answer: %+v %v", p, err)
	}
	for _, bad := range []string{`{`, `{"messageType":"data-sync","data":{"eventType":"full","featureFlags":[{"key":"a"}]}}`,
		`{"messageType":"data-sync","data":{"eventType":"full","featureFlags":[{"updatedAt":"yesterday"}]}}`} {
		if _, err := parseFullSync([]byte(bad)); err == nil || err == errNotFullSync {
			t.Errorf("%s: err %v", bad, err)
		}
	}
}

// TestScaleInProcessMembers: after the flag sizes, a segment of each member
// size is used by a flag's rule and changed (one key replaced) through the
// source; every change reaches every server connection, and the full sync
// carries the member list.
func TestScaleInProcessMembers(t *testing.T) {
	e := edgetest.Run(t)
	c := smallConfig(e)
	c.Conns, c.PerWorker, c.Pushes = 60, 60, 3
	r, err := Scale(context.Background(), c, ScaleConfig{Sizes: []int{20}, Members: []int{10, 5000}, Reconnect: true, FullSyncShare: 0.2})
	mustOK(t, r, err)
	mp, _ := r.Extra["memberPoints"].([]ScalePoint)
	if len(mp) != 2 || mp[0].Members != 10 || mp[1].Members != 5000 {
		t.Fatalf("member points %+v", mp)
	}
	for _, p := range mp {
		if !p.OK || p.Mix.Synced != 60 || p.Mix.Clients != 0 || p.ToAllMaxMs <= 0 || p.Flags != 20 {
			t.Fatalf("point %+v", p)
		}
	}
	// 5,000 keys of ~15 bytes are in the full sync
	if grow := mp[1].ProbeBytes - mp[0].ProbeBytes; grow < 5000*14 {
		t.Fatalf("full sync grew %d bytes from 10 to 5000 members", grow)
	}
	if m := r.Metric("5000 members: member change → every server connection p50"); m == nil || m.Value <= 0 {
		t.Fatalf("metric %+v", m)
	}
	waitConns(t, e, 0)
}

func TestParseMembers(t *testing.T) {
	if got, err := ParseMembers("10, 1000,100000"); err != nil || len(got) != 3 || got[2] != 100000 {
		t.Fatalf("%v %v", got, err)
	}
	if got, err := ParseMembers(""); err != nil || got != nil {
		t.Fatalf("empty: %v %v", got, err)
	}
	for _, bad := range []string{"0", "100001", "10,10", "x"} {
		if _, err := ParseMembers(bad); err == nil || !strings.Contains(err.Error(), "-scale-members") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// TestScaleInProcessColdEdge: at each size a fresh edge is started and
// timed to its first full sync holding the environment.
func TestScaleInProcessColdEdge(t *testing.T) {
	e := edgetest.Run(t)
	c := smallConfig(e)
	c.Conns, c.PerWorker, c.Pushes = 20, 20, 2
	env, err := change.NewEnv(0)
	if err != nil {
		t.Fatal(err)
	}
	c.Env = env
	started := 0
	cold := func(ctx context.Context) (string, func(), error) {
		started++
		e2 := edgetest.Run(t)
		// loads the environment as it is now (a fresh edge reading Redis)
		if err := e2.Source.WriteSnapshot(ctx, env.Snapshot); err != nil {
			return "", nil, err
		}
		return e2.Addr, func() {}, nil
	}
	r, err := Scale(context.Background(), c, ScaleConfig{Sizes: []int{5, 300}, ColdEdge: cold})
	mustOK(t, r, err)
	pts, _ := r.Extra["points"].([]ScalePoint)
	if started != 2 || len(pts) != 2 {
		t.Fatalf("%d cold edges, points %+v", started, pts)
	}
	for _, p := range pts {
		if p.ColdSyncMs <= 0 || p.ColdBytes < p.ProbeBytes/2 {
			t.Fatalf("point %+v", p)
		}
	}
	if m := r.Metric("300 flags: cold edge: process start → first full sync"); m == nil {
		t.Fatal("no cold-edge metric")
	}
}

func TestColdEdgeCommand(t *testing.T) {
	for _, bad := range []string{"", "  ", "bin/edge -addr 127.0.0.1:5100"} {
		if _, err := ColdEdgeCommand(bad); err == nil || !strings.Contains(err.Error(), "-cold-edge-cmd") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	// a process that never listens: the cold sync gives up at its deadline
	start, err := ColdEdgeCommand("/bin/true -addr={addr}")
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = coldSync(context.Background(), start, "x", 1, 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "no full sync") {
		t.Fatalf("err %v", err)
	}
	if start, _ := ColdEdgeCommand("/nonexistent/edge {addr}"); start != nil {
		if _, _, err := start(context.Background()); err == nil {
			t.Fatal("a missing binary must fail to start")
		}
	}
}

// TestScaleInProcessReconnectingMsgpack: the same mix on the msgpack
// subprotocol (the delta request and its patch in msgpack).
func TestScaleInProcessReconnectingMsgpack(t *testing.T) {
	e := edgetest.Run(t)
	c := smallConfig(e)
	c.Conns, c.PerWorker, c.Pushes, c.ClientShare, c.Msgpack = 100, 100, 2, 0.3, true
	r, err := Scale(context.Background(), c, ScaleConfig{Sizes: []int{50}, Reconnect: true, FullSyncShare: 0.1})
	mustOK(t, r, err)
	pts, _ := r.Extra["points"].([]ScalePoint)
	if len(pts) != 1 || pts[0].Mix.Delta < 80 || pts[0].Mix.Full < 5 || pts[0].Mix.Clients != 30 || pts[0].DeltaBytes <= 0 {
		t.Fatalf("points %+v", pts)
	}
	waitConns(t, e, 0)
}

func TestBuildMembersResult(t *testing.T) {
	pts := []ScalePoint{
		{Flags: 1000, Members: 10, Conns: 50, Mix: SyncMix{Synced: 50}, ToAllP50Ms: 5, ToAllP99Ms: 9, EdgeRSSMiB: 100, BulkSec: 0.01, OK: true},
		{Flags: 1000, Members: 100000, Conns: 50, Mix: SyncMix{Synced: 50}, ToAllP50Ms: 50, ToAllP99Ms: 90, EdgeRSSMiB: 100 + 100000*200.0/(1<<20), BulkSec: 0.5, OK: false},
	}
	r := &report.Result{Scenario: "scale", Params: map[string]any{}, Failures: map[string]int64{}}
	buildMembersResult(r, pts)
	var n int
	for _, s := range r.Series {
		if s.XLabel != "members in the segment" {
			t.Errorf("%s: x label %q", s.Name, s.XLabel)
		}
		n++
	}
	if n < 4 {
		t.Fatalf("%d curves", n)
	}
	if m := r.Metric("edge memory per segment member (slope of RSS over member sizes)"); m == nil || m.Value < 199 || m.Value > 201 {
		t.Fatalf("memory per member %+v", m)
	}
	if r.OK() {
		t.Fatal("a member size that missed a delivery must fail the run")
	}
	if mp, _ := r.Extra["memberPoints"].([]ScalePoint); len(mp) != 2 {
		t.Fatalf("extra %v", r.Extra)
	}
}
