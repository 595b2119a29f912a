package envstate_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/edge/internal/envstate"
)

// segmentChange returns a State of flags flags (the demo's segment, used by
// one of them) and upserts of that segment with members included keys.
func segmentChange(tb testing.TB, flags, members, runs int) (*envstate.State, []*codec.ChangeEvent) {
	snap := bigSnapshot(flags)
	st := envstate.Build(snap)
	sg := snap.Segments[0]
	sg.Included = make([]string, members)
	for i := range sg.Included {
		sg.Included[i] = fmt.Sprintf("5f2b8e4a-9c1d-4a7e-b3f6-%012d", i)
	}
	evs := make([]*codec.ChangeEvent, runs)
	for j := range evs {
		sg.Version++
		p, err := sg.MarshalMsg(nil)
		if err != nil {
			tb.Fatal(err)
		}
		evs[j] = &codec.ChangeEvent{EnvID: snap.EnvID, Kind: codec.KindSegment, Op: codec.OpUpsert, ID: sg.ID, Version: sg.Version, Payload: p}
	}
	return st, evs
}

// segmentChangeCost applies each event to st and returns the bytes
// allocated and the time per Apply.
func segmentChangeCost(st *envstate.State, evs []*codec.ChangeEvent) (float64, time.Duration) {
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	t0 := time.Now()
	for _, ev := range evs {
		if _, d, err := st.Apply(ev); err != nil || d == nil || len(d.Segs) != 1 || len(d.Reeval) == 0 {
			panic(fmt.Sprintf("segment change: %v %+v", err, d))
		}
	}
	el := time.Since(t0)
	runtime.ReadMemStats(&m1)
	return float64(m1.TotalAlloc-m0.TotalAlloc) / float64(len(evs)), el / time.Duration(len(evs))
}

// TestSegmentChangeCostIsTheSegments: a change of a segment of 10,000
// members allocates the same at 50,000 flags as at 10 (the segment's
// decode, compile and encodings; no copy per flag) and about ten times a
// segment of 1,000 members (proportional to the segment).
func TestSegmentChangeCostIsTheSegments(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 50,000-flag State")
	}
	small, _ := segmentChangeCost(segmentChange(t, 10, 10000, 5))
	big, _ := segmentChangeCost(segmentChange(t, 50000, 10000, 5))
	tenth, _ := segmentChangeCost(segmentChange(t, 10, 1000, 5))
	t.Logf("segment of 10,000 members: %.0f B per change at 10 flags, %.0f B at 50,000; 1,000 members: %.0f B", small, big, tenth)
	if big > small*1.05+4096 {
		t.Errorf("the same segment change allocates %.0f B at 50,000 flags, %.0f B at 10 flags", big, small)
	}
	if r := small / tenth; r < 5 || r > 15 {
		t.Errorf("10,000 members cost %.1f× 1,000 members (bytes): want about 10×", r)
	}
}

// BenchmarkApplySegmentChange: one change of a segment of 100,000 members
// in an environment of 10 and of 50,000 flags (docs/benchmarks.md).
func BenchmarkApplySegmentChange(b *testing.B) {
	for _, flags := range []int{10, 50000} {
		b.Run(fmt.Sprintf("members=100000/flags=%d", flags), func(b *testing.B) {
			st, evs := segmentChange(b, flags, 100000, 8)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if _, _, err := st.Apply(evs[i%len(evs)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
