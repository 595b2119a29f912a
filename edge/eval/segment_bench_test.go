package eval

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/switchyard/switchyard/codec"
)

// memberKey is a production-sized end-user key (36 characters).
func memberKey(i int) string { return fmt.Sprintf("5f2b8e4a-9c1d-4a7e-b3f6-%012d", i) }

// bigSegmentCase is a flag serving vTrue to the members of one segment
// with n included keys, and a user who is the last member (in) and one who
// is not (out).
func bigSegmentCase(t testing.TB, n int) (*Flag, Segments, *User, *User) {
	seg := &codec.Segment{ID: "c7a5f1b2-3d4e-4f60-8a9b-0c1d2e3f4a5b", Name: "big", Included: make([]string, n)}
	for i := range seg.Included {
		seg.Included[i] = memberKey(i)
	}
	f := newFlag("big-segment-flag")
	f.Rules = []codec.Rule{{ID: "r1", Name: "members", Conditions: []codec.Condition{
		{Property: PropInSegment, Value: `["` + seg.ID + `"]`}}, Variations: serve(vTrue)}}
	return mustCompile(t, f), mustSegments(t, seg), user(memberKey(n - 1)), user("9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d")
}

// TestSegmentMembershipLargeAndAllocationFree: with 100,000 members a
// member and a non-member get the right variation, without allocating.
func TestSegmentMembershipLargeAndAllocationFree(t *testing.T) {
	f, segs, in, out := bigSegmentCase(t, 100000)
	if got := variationID(Evaluate(f, segs, in)); got != vTrue {
		t.Fatalf("member got %s", got)
	}
	if got := variationID(Evaluate(f, segs, out)); got != vFalse {
		t.Fatalf("non-member got %s", got)
	}
	if n := testing.AllocsPerRun(100, func() { Evaluate(f, segs, in); Evaluate(f, segs, out) }); n != 0 {
		t.Fatalf("%v allocations per evaluation pair", n)
	}
}

// BenchmarkSegmentMembership: a flag whose rule is "user is in segment",
// with 10, 1,000 and 100,000 included keys; a lookup is a map probe (strSet), so
// the cost does not grow with the list (docs/benchmarks.md).
func BenchmarkSegmentMembership(b *testing.B) {
	for _, n := range []int{10, 1000, 100000} {
		f, segs, in, out := bigSegmentCase(b, n)
		b.Run(fmt.Sprintf("members=%d/in", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Evaluate(f, segs, in)
			}
		})
		b.Run(fmt.Sprintf("members=%d/out", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Evaluate(f, segs, out)
			}
		})
	}
}

// BenchmarkSegmentCompileMemory: heap held by a compiled segment of 100,000
// included keys, per member (the key strings of the decoded segment plus
// the set), reported as "B/member" (runtime.MemStats after GC).
func BenchmarkSegmentCompileMemory(b *testing.B) {
	const n = 100000
	for b.Loop() {
		keys := make([]string, n)
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		for i := range keys {
			keys[i] = memberKey(i)
		}
		s, _ := CompileSegment(&codec.Segment{ID: "s", Included: keys})
		runtime.GC()
		runtime.ReadMemStats(&m1)
		b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc)/n, "B/member")
		runtime.KeepAlive(s)
	}
}
