package consume

import (
	"testing"

	"github.com/switchyard/switchyard/codec"
)

func TestEventIDStableAndDistinct(t *testing.T) {
	h := hashString("p.sy.insights")
	seen := map[uint64]bool{}
	for p := int32(0); p < 4; p++ {
		for off := int64(0); off < 200; off++ {
			for i := 0; i < 20; i++ {
				id := EventID(h, p, off, i)
				if id != EventID(h, p, off, i) {
					t.Fatal("EventID not deterministic")
				}
				if seen[id] {
					t.Fatalf("EventID collision at p=%d off=%d i=%d", p, off, i)
				}
				seen[id] = true
			}
		}
	}
	if EventID(h, 0, 1, 0) == EventID(hashString("other.sy.insights"), 0, 1, 0) {
		t.Fatal("topic does not change the id")
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
