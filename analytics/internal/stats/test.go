package stats

import "math"

// Sample summarises one group: N observations with mean Mean and unbiased
// sample variance Var (divisor N-1).
type Sample struct {
	N    float64
	Mean float64
	Var  float64
}

// FromSums builds a Sample from n, Σx and Σx² (what a database returns).
func FromSums(n, sum, sumSq float64) Sample {
	if n <= 0 {
		return Sample{Mean: math.NaN(), Var: math.NaN()}
	}
	mean := sum / n
	v := math.NaN()
	if n > 1 {
		v = (sumSq - n*mean*mean) / (n - 1)
		if v < 0 { // rounding
			v = 0
		}
	}
	return Sample{N: n, Mean: mean, Var: v}
}

// Bernoulli builds the Sample of a conversion metric: n users, k converted.
func Bernoulli(n, k float64) Sample {
	if n <= 0 {
		return Sample{Mean: math.NaN(), Var: math.NaN()}
	}
	p := k / n
	v := math.NaN()
	if n > 1 {
		v = p * (1 - p) * n / (n - 1)
	}
	return Sample{N: n, Mean: p, Var: v}
}

// Welch is the result of Welch's unequal-variances t-test of a treatment
// against a baseline.
type Welch struct {
	Diff   float64 // treatment mean - baseline mean
	SE     float64 // standard error of Diff
	DF     float64 // Welch–Satterthwaite degrees of freedom
	T      float64 // Diff / SE
	P      float64 // two-sided p-value
	Lo, Hi float64 // confidence interval of Diff at the requested level
	// Uplift is Diff relative to the baseline mean; UpliftLo/UpliftHi is the
	// interval divided by the baseline mean (treating it as known, as FeatBit does).
	Uplift, UpliftLo, UpliftHi float64
}

// WelchTest compares treatment against baseline at confidence level conf (e.g.
// 0.95). Fields are NaN when a group has fewer than two observations or both
// variances are zero.
func WelchTest(baseline, treatment Sample, conf float64) Welch {
	nan := math.NaN()
	w := Welch{Diff: treatment.Mean - baseline.Mean, SE: nan, DF: nan, T: nan, P: nan, Lo: nan, Hi: nan,
		Uplift: nan, UpliftLo: nan, UpliftHi: nan}
	if baseline.Mean != 0 {
		w.Uplift = w.Diff / baseline.Mean
	}
	if baseline.N < 2 || treatment.N < 2 {
		return w
	}
	a, b := baseline.Var/baseline.N, treatment.Var/treatment.N
	se2 := a + b
	if !(se2 > 0) {
		return w
	}
	w.SE = math.Sqrt(se2)
	w.DF = se2 * se2 / (a*a/(baseline.N-1) + b*b/(treatment.N-1))
	w.T = w.Diff / w.SE
	w.P = 2 * StudentTCDF(-math.Abs(w.T), w.DF)
	q := StudentTQuantile(1-(1-conf)/2, w.DF)
	w.Lo, w.Hi = w.Diff-q*w.SE, w.Diff+q*w.SE
	if baseline.Mean != 0 {
		w.UpliftLo, w.UpliftHi = w.Lo/math.Abs(baseline.Mean), w.Hi/math.Abs(baseline.Mean)
	}
	return w
}

// exactBetaLimit bounds the number of terms of the exact Beta comparison sum;
// above it the normal approximation (very accurate at such counts) is used.
const exactBetaLimit = 1_000_000

// ProbBetaGreater is P(X > Y) for independent X ~ Beta(a1, b1) and
// Y ~ Beta(a2, b2). When a1 or a2 is a whole number (always the case for
// Beta(1,1) priors with integer counts) it is the exact finite sum
//
//	P(X > Y) = Σ_{i=0}^{a1-1} B(a2+i, b1+b2) / ((b1+i) B(1+i, b1) B(a2, b2))
//
// evaluated in log space (or its mirror over a2 when that is shorter); otherwise,
// or beyond exactBetaLimit terms, a normal approximation of both Betas.
func ProbBetaGreater(a1, b1, a2, b2 float64) float64 {
	if !(a1 > 0 && b1 > 0 && a2 > 0 && b2 > 0) {
		return math.NaN()
	}
	whole := func(v float64) bool { return v == math.Trunc(v) && v <= exactBetaLimit }
	switch {
	case whole(a1) && (!whole(a2) || a1 <= a2):
		return betaSum(a1, b1, a2, b2)
	case whole(a2):
		return 1 - betaSum(a2, b2, a1, b1)
	}
	m1, v1 := betaMoments(a1, b1)
	m2, v2 := betaMoments(a2, b2)
	return NormalCDF((m1 - m2) / math.Sqrt(v1+v2))
}

func betaSum(a1, b1, a2, b2 float64) float64 {
	// term_0 = B(a2, b1+b2) / (b1 B(1, b1) B(a2, b2)); consecutive terms have the
	// ratio (a2+i)(b1+i) / ((a2+i+b1+b2)(1+i)) (from B(x+1, y) = B(x, y)·x/(x+y)),
	// so each term costs one log and one exp instead of four log-gammas.
	lt := lbeta(a2, b1+b2) - math.Log(b1) - lbeta(1, b1) - lbeta(a2, b2)
	total := 0.0
	for i := 0.0; i < a1; i++ {
		total += math.Exp(lt)
		lt += math.Log((a2 + i) * (b1 + i) / ((a2 + i + b1 + b2) * (1 + i)))
	}
	return math.Min(1, math.Max(0, total))
}

func betaMoments(a, b float64) (mean, variance float64) {
	s := a + b
	return a / s, a * b / (s * s * (s + 1))
}

// ProbToBeatConversion is the Bayesian probability that the treatment's
// conversion rate exceeds the baseline's, with Beta(1,1) priors:
// posterior Beta(1+k, 1+n-k) for each group.
func ProbToBeatConversion(nBase, kBase, nTreat, kTreat float64) float64 {
	if nBase < kBase || nTreat < kTreat || kBase < 0 || kTreat < 0 {
		return math.NaN()
	}
	return ProbBetaGreater(1+kTreat, 1+nTreat-kTreat, 1+kBase, 1+nBase-kBase)
}

// ProbToBeatMean is the probability that the treatment's mean exceeds the
// baseline's under a normal approximation of both sampling distributions
// (flat priors): Φ(Diff / SE).
func ProbToBeatMean(baseline, treatment Sample) float64 {
	if baseline.N < 2 || treatment.N < 2 {
		return math.NaN()
	}
	se := math.Sqrt(baseline.Var/baseline.N + treatment.Var/treatment.N)
	if !(se > 0) {
		return math.NaN()
	}
	return NormalCDF((treatment.Mean - baseline.Mean) / se)
}

// SRM is the result of a sample-ratio-mismatch check.
type SRM struct {
	ChiSquare float64
	DF        float64
	P         float64 // p-value of the chi-square goodness-of-fit test
	Mismatch  bool    // P < the threshold given to SRMCheck
}

// SRMCheck runs a chi-square goodness-of-fit test of observed counts against
// expected weights (any positive scale; they are normalised). Groups with a
// zero weight are ignored. A mismatch is flagged when p < alpha (0.001 is the
// usual choice: SRM checks run continuously, so the bar is high).
func SRMCheck(observed, weights []float64, alpha float64) SRM {
	var n, wsum float64
	k := 0
	for i := range observed {
		if i < len(weights) && weights[i] > 0 {
			n += observed[i]
			wsum += weights[i]
			k++
		}
	}
	r := SRM{ChiSquare: math.NaN(), DF: float64(max(k-1, 0)), P: math.NaN()}
	if k < 2 || n <= 0 {
		return r
	}
	chi := 0.0
	for i := range observed {
		if i < len(weights) && weights[i] > 0 {
			e := n * weights[i] / wsum
			d := observed[i] - e
			chi += d * d / e
		}
	}
	r.ChiSquare = chi
	r.P = ChiSquareSF(chi, r.DF)
	r.Mismatch = r.P < alpha
	return r
}
