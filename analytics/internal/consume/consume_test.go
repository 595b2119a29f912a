package consume

import (
	"testing"

	"github.com/switchyard/switchyard/codec"
)

func TestEventIDStableAndDistinct(t *testing.T) {
	seen := map[uint64]bool{}
	for _, p := range []int32{0, 1, 7, 4095} {
		for _, off := range []int64{0, 1, 2, 1000, 1<<32 - 1} {
			for _, i := range []int{0, 1, 99, MaxEventsPerRecord - 1} {
				id := EventID(p, off, i)
				if seen[id] {
					t.Fatalf("EventID collision at p=%d off=%d i=%d", p, off, i)
				}
				seen[id] = true
			}
		}
	}
	// increasing within a partition: records in offset order, events in index order
	if !(EventID(3, 10, 5) < EventID(3, 10, 6) && EventID(3, 10, MaxEventsPerRecord-1) < EventID(3, 11, 0)) {
		t.Error("EventID not increasing within a partition")
	}
}

func TestDecodeRecord(t *testing.T) {
	in := codec.InsightBatch{EnvID: "e", Evals: []codec.FlagEval{{FlagKey: "f", UserKey: "u", Timestamp: 5}},
		Metrics: []codec.MetricEvent{{EventName: "buy", NumericValue: 2.5}}}
	buf, err := in.MarshalMsg(nil)
	if err != nil {
		t.Fatal(err)
	}
	var out codec.InsightBatch
	if err := DecodeRecord(buf, &out); err != nil {
		t.Fatal(err)
	}
	if out.EnvID != "e" || len(out.Evals) != 1 || out.Evals[0].FlagKey != "f" || out.Metrics[0].NumericValue != 2.5 {
		t.Fatalf("decoded %+v", out)
	}
	if err := DecodeRecord(append(buf, 0xc0), &out); err == nil {
		t.Error("trailing byte accepted")
	}
	if err := DecodeRecord(buf[:len(buf)-3], &out); err == nil {
		t.Error("truncated record accepted")
	}
	if err := DecodeRecord([]byte("not msgp"), &out); err == nil {
		t.Error("garbage accepted")
	}
}

func TestThrottle(t *testing.T) {
	var th throttle
	if _, ok := th.allow(); !ok {
		t.Fatal("first call throttled")
	}
	for i := 0; i < 5; i++ {
		if _, ok := th.allow(); ok {
			t.Fatal("second call within 10s allowed")
		}
	}
	th.next.Store(0) // as if 10 s passed
	n, ok := th.allow()
	if !ok || n != 5 {
		t.Fatalf("after window: ok=%v suppressed=%d, want true 5", ok, n)
	}
}
