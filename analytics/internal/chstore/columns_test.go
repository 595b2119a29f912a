package chstore

import (
	"testing"
	"time"

	"github.com/switchyard/switchyard/codec"
)

func TestColumnsAddReset(t *testing.T) {
	var c Columns
	b := &codec.InsightBatch{EnvID: "env",
		Evals: []codec.FlagEval{
			{FlagKey: "f", VariationID: "v", UserKey: "u", SendToExperiment: true, Timestamp: 1_700_000_000_123},
			{EnvID: "own", FlagKey: "g", Timestamp: 0}, // no timestamp: the record's
		},
		Metrics: []codec.MetricEvent{{EventName: "buy", NumericValue: 2, Timestamp: -5}}, // invalid: the record's
	}
	c.Add(b, 1_800_000_000_000, func(i int) uint64 { return uint64(100 + i) })
	if c.Rows() != 3 {
		t.Fatalf("rows %d", c.Rows())
	}
	if c.fEnv[0] != "env" || c.fEnv[1] != "own" || c.fExpt[0] != 1 || c.fExpt[1] != 0 {
		t.Errorf("env/expt columns %v %v", c.fEnv, c.fExpt)
	}
	if c.fTsMs[0] != 1_700_000_000_123 || !c.fTs[0].Equal(time.Unix(1_700_000_000, 0)) || c.fTsMs[1] != 1_800_000_000_000 {
		t.Errorf("ts columns %v %v", c.fTsMs, c.fTs)
	}
	if c.fEid[0] != 100 || c.fEid[1] != 101 || c.mEid[0] != 102 {
		t.Errorf("event ids %v %v (metrics continue after the evaluations)", c.fEid, c.mEid)
	}
	if c.mTsMs[0] != 1_800_000_000_000 || c.mEnv[0] != "env" {
		t.Errorf("metric columns %v %v %v", c.mTsMs, c.mTs, c.mEnv)
	}
	capBefore := cap(c.fEnv)
	c.flagsSent = true
	c.Reset()
	if c.Rows() != 0 || cap(c.fEnv) != capBefore || c.flagsSent {
		t.Errorf("Reset: rows %d cap %d→%d flagsSent %v", c.Rows(), capBefore, cap(c.fEnv), c.flagsSent)
	}
}

func TestMsTimeClamps(t *testing.T) {
	if !msTime(-1).Equal(time.Unix(0, 0)) || !msTime(1<<62).Equal(time.Unix(4294967295, 0)) || !msTime(1500).Equal(time.Unix(1, 0)) {
		t.Error("msTime does not clamp to DateTime's range")
	}
}

func TestColumnsAddAllocs(t *testing.T) {
	var c Columns
	b := &codec.InsightBatch{EnvID: "env", Evals: make([]codec.FlagEval, 100)}
	id := func(i int) uint64 { return uint64(i) }
	c.Add(b, 1, id)
	c.Reset()
	// reused column slices: appending a batch of the same size allocates nothing
	if n := testing.AllocsPerRun(50, func() { c.Add(b, 1, id); c.Reset() }); n != 0 {
		t.Errorf("Add after Reset allocates %v times, want 0", n)
	}
}

func TestCompression(t *testing.T) {
	for addr, none := range map[string]bool{"127.0.0.1:9000": true, "localhost:9000": true, "[::1]:9000": true, "10.0.0.5:9000": false, "ch:9000": false} {
		if got := compression(addr).Method.String() == "none"; got != none {
			t.Errorf("%s: compression none=%v, want %v", addr, got, none)
		}
	}
}
