package envstate_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/codec/secret"
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

// BenchmarkApplySegmentChange: one change of a segment of 10 and of 100,000
// members in an environment of 10 and of 50,000 flags (docs/benchmarks.md).
func BenchmarkApplySegmentChange(b *testing.B) {
	for _, c := range [][2]int{{10, 10}, {10, 50000}, {100000, 10}, {100000, 50000}} {
		b.Run(fmt.Sprintf("members=%d/flags=%d", c[0], c[1]), func(b *testing.B) {
			var st *envstate.State
			var evs []*codec.ChangeEvent
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if i%8 == 0 {
					b.StopTimer()
					st, evs = segmentChange(b, c[1], c[0], 8)
					b.StartTimer()
				}
				ns, _, err := st.Apply(evs[i%len(evs)])
				if err != nil {
					b.Fatal(err)
				}
				st = ns
			}
		})
	}
}

// TestSegmentChangeFollowsFlagChanges: the flags a segment change
// re-evaluates follow flag changes made since the segment references were
// built: a flag that starts using the segment (updated, created, or created
// by a batch) is included, one that stops using it or is deleted is not.
func TestSegmentChangeFollowsFlagChanges(t *testing.T) {
	snap := bigSnapshot(50)
	st := envstate.Build(snap)
	sg := snap.Segments[0]
	var user *envstate.Flag // the demo's flag with a segment rule
	for _, f := range st.FlagList() {
		if usesSeg(f, sg.ID) {
			user = f
		}
	}
	if user == nil {
		t.Fatal("no flag of the demo uses its segment")
	}
	segChange := func() map[string]bool {
		t.Helper()
		sg.Version++
		p, _ := sg.MarshalMsg(nil)
		ns, d, err := st.Apply(&codec.ChangeEvent{EnvID: snap.EnvID, Kind: codec.KindSegment, Op: codec.OpUpsert, ID: sg.ID, Version: sg.Version, Payload: p})
		if err != nil || d == nil {
			t.Fatalf("segment change: %v", err)
		}
		st = ns
		keys := map[string]bool{}
		for _, f := range d.Reeval {
			keys[f.Src.Key] = true
		}
		return keys
	}
	apply := func(ev *codec.ChangeEvent) {
		t.Helper()
		ns, d, err := st.Apply(ev)
		if err != nil || d == nil {
			t.Fatalf("apply: %v", err)
		}
		st = ns
	}
	want := func(got map[string]bool, keys ...string) {
		t.Helper()
		if len(got) != len(keys) {
			t.Fatalf("re-evaluated %v, want %v", got, keys)
		}
		for _, k := range keys {
			if !got[k] {
				t.Fatalf("re-evaluated %v, want %v", got, keys)
			}
		}
	}
	want(segChange(), user.Src.Key) // builds the references

	other := *st.FlagAt(10).Src // starts using the segment
	other.Version++
	other.Rules = user.Src.Rules
	apply(flagEvent(snap.EnvID, &other, codec.OpUpsert))
	want(segChange(), user.Src.Key, other.Key)

	stop := *user.Src // stops using it
	stop.Version++
	stop.Rules = nil
	apply(flagEvent(snap.EnvID, &stop, codec.OpUpsert))
	want(segChange(), other.Key)

	created := *user.Src // a new flag using it
	created.ID, created.Key, created.Version = secret.NewGUID(), "created-with-segment", 1
	apply(flagEvent(snap.EnvID, &created, codec.OpUpsert))
	want(segChange(), other.Key, created.Key)

	apply(&codec.ChangeEvent{EnvID: snap.EnvID, Kind: codec.KindFlag, Op: codec.OpDelete, ID: other.ID, Version: other.Version})
	want(segChange(), created.Key)

	batched := *user.Src // created by a batch
	batched.ID, batched.Key, batched.Version = secret.NewGUID(), "batched-with-segment", 1
	apply(batchEvent(t, snap.EnvID, 0, batched))
	want(segChange(), created.Key, batched.Key)
}

func usesSeg(f *envstate.Flag, id string) bool {
	if f.Eval == nil {
		return false
	}
	for _, s := range f.Eval.SegmentIDs() {
		if s == id {
			return true
		}
	}
	return false
}
