package stats

import (
	"math"
	"testing"
)

// Reference values below were computed independently with SciPy 1.17.1
// (scipy.stats.t, scipy.special.betainc, scipy.stats.chi2, ttest_ind(equal_var=False)
// and scipy.integrate.quad of pdf·cdf for Beta comparisons) or come from closed forms
// and printed statistical tables, as noted per case.

func near(t *testing.T, name string, got, want, tol float64) {
	t.Helper()
	if math.IsNaN(got) || math.Abs(got-want) > tol*math.Max(1, math.Abs(want)) {
		t.Errorf("%s = %.15g, want %.15g (tol %g)", name, got, want, tol)
	}
}

func TestStudentTCDF(t *testing.T) {
	f := func(tv, df, want, tol float64) {
		t.Helper()
		near(t, "StudentTCDF", StudentTCDF(tv, df), want, tol)
	}
	f(2.0, 1, 0.5+math.Atan(2)/math.Pi, 1e-12) // Cauchy closed form
	f(1.3, 2, 0.5+1.3/(2*math.Sqrt(2+1.3*1.3)), 1e-12)
	f(0, 17, 0.5, 1e-15)
	f(2.228, 10, 0.9749941140914443, 1e-10)
	f(-1.5, 3.7, 0.10679908460100675, 1e-10)
	f(0.3, 25.5, 0.6166954309288678, 1e-10)
	f(4.0, 7, 0.9974050433253516, 1e-10)
	f(-2.5, 100, 0.007022894562038586, 1e-10)
	f(1.959963984540054, math.Inf(1), 0.975, 1e-12)
}

func TestStudentTQuantile(t *testing.T) {
	f := func(p, df, want float64) {
		t.Helper()
		near(t, "StudentTQuantile", StudentTQuantile(p, df), want, 1e-9)
	}
	// printed t tables give 2.228, 2.571, 1.725, 2.750 to three decimals
	f(0.975, 10, 2.228138851986274)
	f(0.975, 5, 2.5705818356363146)
	f(0.95, 20, 1.7247182429207866)
	f(0.995, 30, 2.7499956535672254)
	f(0.975, 27.3, 2.050776009386825)
	f(0.025, 10, -2.228138851986274)
}

func TestRegIncBeta(t *testing.T) {
	f := func(x, a, b, want float64) {
		t.Helper()
		near(t, "RegIncBeta", RegIncBeta(x, a, b), want, 1e-11)
	}
	f(0.3, 2, 5, 0.5798250000000003)
	f(0.9, 0.5, 0.5, 0.7951672353008665) // also (2/π)·asin(√0.9)
	f(0.9, 0.5, 0.5, 2/math.Pi*math.Asin(math.Sqrt(0.9)))
	f(0.5, 200, 180, 0.15212954940791235)
	f(0.01, 1.5, 30, 0.1054029538391898)
	f(0, 2, 3, 0)
	f(1, 2, 3, 1)
}

func TestChiSquareSF(t *testing.T) {
	f := func(x, k, want float64) {
		t.Helper()
		near(t, "ChiSquareSF", ChiSquareSF(x, k), want, 1e-10)
	}
	// the 5% critical values of printed chi-square tables
	f(3.841, 1, 0.050013683763956804)
	f(5.991, 2, 0.05001161502657909)
	f(7.815, 3, 0.049993902974883875)
	f(18.307, 10, 0.05000058909139812)
	f(12.5, 4, 0.013995792487650894)
	f(0.5, 3, 0.9188914116546758)
	f(6, 2, math.Exp(-3)) // k=2 closed form e^{-x/2}
}

func mkSample(xs []float64) Sample {
	var s, s2 float64
	for _, x := range xs {
		s += x
		s2 += x * x
	}
	return FromSums(float64(len(xs)), s, s2)
}

func TestWelchTest(t *testing.T) {
	// The two worked examples of Welch's t-test on Wikipedia's article (data sets
	// A1/A2 and B1/B2), reference statistics from SciPy.
	a1 := []float64{27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4}
	a2 := []float64{27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4}
	b1 := []float64{17.2, 20.9, 22.6, 18.1, 21.7, 21.4, 23.5, 24.2, 14.7, 21.8}
	b2 := []float64{21.5, 22.8, 21.0, 23.0, 21.6, 23.6, 22.5, 20.7, 23.4, 21.8, 20.7, 21.7, 21.5, 22.5, 23.6, 21.5, 22.5, 23.5, 21.5, 21.8}
	cases := []struct {
		name              string
		base, treat       Sample
		tv, p, df, lo, hi float64
	}{
		{"wikipedia-A", mkSample(a1), mkSample(a2), 2.455356398286006, 0.021378001462866992, 24.988529290231416, 0.3492370661924069, 3.984096267140929},
		{"wikipedia-B", mkSample(b1), mkSample(b2), 1.5654335235985037, 0.14884169660532817, 9.904741248650831, -0.6484213253751658, 3.698421325375163},
		// conversions: 100/1000 baseline vs 130/1000 treatment as 0/1 samples
		{"conversion", Bernoulli(1000, 100), Bernoulli(1000, 130), 2.104015995356242, 0.03550333505785886, 1972.4837094891207, 0.002036799193397186, 0.05796320080660281},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := WelchTest(c.base, c.treat, 0.95)
			near(t, "T", w.T, c.tv, 1e-9)
			near(t, "P", w.P, c.p, 1e-8)
			near(t, "DF", w.DF, c.df, 1e-9)
			near(t, "Lo", w.Lo, c.lo, 1e-8)
			near(t, "Hi", w.Hi, c.hi, 1e-8)
			near(t, "Uplift", w.Uplift, w.Diff/c.base.Mean, 1e-12)
		})
	}
	// degenerate input: NaN, not a panic or a fake number
	w := WelchTest(Bernoulli(1, 1), Bernoulli(10, 3), 0.95)
	if !math.IsNaN(w.P) {
		t.Errorf("P with one baseline sample = %v, want NaN", w.P)
	}
	w = WelchTest(Bernoulli(10, 0), Bernoulli(10, 0), 0.95)
	if !math.IsNaN(w.P) {
		t.Errorf("P with zero variance = %v, want NaN", w.P)
	}
}

func TestProbBetaGreater(t *testing.T) {
	f := func(name string, got, want, tol float64) {
		t.Helper()
		near(t, name, got, want, tol)
	}
	// X ~ Beta(2,1) (density 2x) vs Y ~ U(0,1): ∫ 2x·x dx = 2/3.
	f("beta(2,1)>U", ProbBetaGreater(2, 1, 1, 1), 2.0/3, 1e-14)
	f("U>beta(2,1)", ProbBetaGreater(1, 1, 2, 1), 1.0/3, 1e-14)
	f("symmetric", ProbBetaGreater(5, 7, 5, 7), 0.5, 1e-12)
	// SciPy numerical integration
	f("8,4 vs 5,7", ProbBetaGreater(8, 4, 5, 7), 0.9008097165991897, 1e-9)
	f("non-integer a1", ProbBetaGreater(2.5, 4.5, 3, 3), 0.2890625000105443, 1e-9)
	f("conversion", ProbToBeatConversion(1000, 100, 1000, 130), 0.9821650661163506, 1e-8)
	// 401,001 terms of the exact sum vs SciPy quad over ±12σ: 0.8805731080605823
	// (the normal approximation would give 0.8805730166, off by 9e-8)
	f("large counts", ProbToBeatConversion(4e6, 4e5, 4e6, 4.01e5), 0.8805731080605823, 1e-9)
	// beyond the exact-sum limit: the normal approximation of both Betas
	big := ProbToBeatConversion(4e7, 4e6, 4e7, 4.01e6)
	m1, v1 := betaMoments(1+4.01e6, 1+4e7-4.01e6)
	m2, v2 := betaMoments(1+4e6, 1+4e7-4e6)
	f("beyond the limit", big, NormalCDF((m1-m2)/math.Sqrt(v1+v2)), 1e-12)
}

func TestProbToBeatMean(t *testing.T) {
	base := Sample{N: 100, Mean: 10, Var: 4}
	treat := Sample{N: 100, Mean: 10.5, Var: 4}
	// z = 0.5 / sqrt(0.08) = 1.767767; Φ(z) by scipy.stats.norm.cdf
	near(t, "ProbToBeatMean", ProbToBeatMean(base, treat), 0.9614500641, 1e-8)
}

func TestSRMCheck(t *testing.T) {
	cases := []struct {
		obs, w []float64
		chi, p float64
		bad    bool
	}{
		{[]float64{5050, 4950}, []float64{1, 1}, 1, 0.31731050786291115, false},
		{[]float64{5200, 4800}, []float64{50, 50}, 16, 6.334248366623988e-05, true},
		{[]float64{3400, 3300, 3300}, []float64{1, 1, 1}, 2, 0.36787944117144245, false},
		{[]float64{2600, 7400}, []float64{25, 75}, 5.333333333333333, 0.020921335337794035, false},
		{[]float64{2600, 7400, 99}, []float64{25, 75, 0}, 5.333333333333333, 0.020921335337794035, false}, // zero weight ignored
	}
	for _, c := range cases {
		r := SRMCheck(c.obs, c.w, 0.001)
		near(t, "chi", r.ChiSquare, c.chi, 1e-12)
		near(t, "p", r.P, c.p, 1e-10)
		if r.Mismatch != c.bad {
			t.Errorf("%v: mismatch %v, want %v", c.obs, r.Mismatch, c.bad)
		}
	}
	if r := SRMCheck([]float64{10}, []float64{1}, 0.001); !math.IsNaN(r.P) {
		t.Errorf("one group: P = %v, want NaN", r.P)
	}
}
