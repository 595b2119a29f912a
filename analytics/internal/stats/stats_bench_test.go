package stats

import "testing"

func BenchmarkWelchTest(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		WelchTest(Bernoulli(10000, 1000), Bernoulli(10000, 1050+float64(i%7)), 0.95)
	}
}

// BenchmarkProbToBeatConversion: the exact Beta sum has one term per
// conversion of the smaller group (here 10,000 terms).
func BenchmarkProbToBeatConversion(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		ProbToBeatConversion(100000, 10000, 100000, 10500)
	}
}

func BenchmarkSRMCheck(b *testing.B) {
	obs, w := []float64{5050, 4950, 5003}, []float64{1, 1, 1}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		SRMCheck(obs, w, 0.001)
	}
}
