package eval

import "testing"

// BenchmarkEvaluate measures the production-sized case (prodCase): 3 rules
// × 3 conditions, all evaluated, with a segment condition and a 50/50
// rollout with partial experiment sampling (two MD5 hashes).
func BenchmarkEvaluate(b *testing.B) {
	f, segs, u := prodCase(b)
	b.ReportAllocs()
	for b.Loop() {
		Evaluate(f, segs, u)
	}
}

// BenchmarkEvaluateFallthrough is the cheapest enabled path: no rules, a
// [0,1] fallthrough (no hashing).
func BenchmarkEvaluateFallthrough(b *testing.B) {
	f := mustCompile(b, newFlag("simple-boolean-flag"))
	u := user("5f2b8e4a-9c1d-4a7e-b3f6-8d0e2c4a6b19")
	b.ReportAllocs()
	for b.Loop() {
		Evaluate(f, nil, u)
	}
}

func BenchmarkBucket(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Bucket("checkout-page-redesign-20265f2b8e4a-9c1d-4a7e-b3f6-8d0e2c4a6b19")
	}
}

// BenchmarkEvaluateParallel shares one compiled flag between goroutines, as
// the edge does.
func BenchmarkEvaluateParallel(b *testing.B) {
	f, segs, u := prodCase(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		uu := *u
		for pb.Next() {
			Evaluate(f, segs, &uu)
		}
	})
}
