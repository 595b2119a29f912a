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

func BenchmarkMSPRT(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		MSPRT(0.01+float64(i%7)*1e-4, 1e-5, 2e-5, 0.05)
	}
}

func BenchmarkCUPED(b *testing.B) {
	m := Moments{N: 10000, SumY: 80000, SumY2: 700000, SumX: 100000, SumX2: 1090000, SumXY: 870000}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		CUPED(m, m)
	}
}

// BenchmarkAdjust: 20 metrics × 3 arms.
func BenchmarkAdjust(b *testing.B) {
	p := make([]float64, 60)
	for i := range p {
		p[i] = float64(i) / 60
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		Adjust(p, CorrectionHolm)
	}
}
