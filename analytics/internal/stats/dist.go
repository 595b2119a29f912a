package stats

import "math"

// StudentTCDF is P(T <= t) for Student's t distribution with df > 0 degrees of
// freedom (df may be fractional, as Welch's approximation gives; +Inf is the
// standard normal).
func StudentTCDF(t, df float64) float64 {
	if math.IsNaN(t) || math.IsNaN(df) || df <= 0 {
		return math.NaN()
	}
	if math.IsInf(df, 1) {
		return NormalCDF(t)
	}
	if math.IsInf(t, 0) {
		if t > 0 {
			return 1
		}
		return 0
	}
	// P(|T| > |t|) = I_{df/(df+t²)}(df/2, 1/2)
	tail := 0.5 * RegIncBeta(df/(df+t*t), df/2, 0.5)
	if t > 0 {
		return 1 - tail
	}
	return tail
}

// StudentTQuantile is the inverse of StudentTCDF: the t with P(T <= t) = p,
// to ~1e-13 relative.
func StudentTQuantile(p, df float64) float64 {
	if math.IsNaN(p) || p <= 0 || p >= 1 || !(df > 0) {
		if p == 0 {
			return math.Inf(-1)
		}
		if p == 1 {
			return math.Inf(1)
		}
		return math.NaN()
	}
	if math.IsInf(df, 1) {
		return NormalQuantile(p)
	}
	if p < 0.5 {
		return -StudentTQuantile(1-p, df)
	}
	// Newton's method from the normal quantile (the CDF is smooth and its
	// derivative is the density), guarded by a bracket [lo, hi] that bisection
	// falls back to when a step leaves it.
	lo, hi := 0.0, 1.0
	for StudentTCDF(hi, df) < p {
		lo, hi = hi, hi*2
		if hi > 1e12 {
			return math.Inf(1)
		}
	}
	x := math.Min(math.Max(NormalQuantile(p), lo), hi)
	lnorm := lbeta(0.5, df/2) + 0.5*math.Log(df)
	for i := 0; i < 100; i++ {
		f := StudentTCDF(x, df) - p
		if f < 0 {
			lo = x
		} else {
			hi = x
		}
		pdf := math.Exp(-(df+1)/2*math.Log1p(x*x/df) - lnorm)
		next := x - f/pdf
		if !(next > lo && next < hi) {
			next = (lo + hi) / 2
		}
		if math.Abs(next-x) <= 1e-14*math.Max(1, math.Abs(x)) {
			return next
		}
		x = next
	}
	return x
}

// NormalCDF is the standard normal CDF Φ(z).
func NormalCDF(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }

// NormalQuantile is Φ⁻¹(p).
func NormalQuantile(p float64) float64 { return -math.Sqrt2 * math.Erfcinv(2*p) }

// ChiSquareSF is the survival function P(X >= x) of the chi-square distribution
// with k degrees of freedom: Q(k/2, x/2).
func ChiSquareSF(x, k float64) float64 {
	if x <= 0 {
		return 1
	}
	return RegIncGammaQ(k/2, x/2)
}
