package stats

import "math"

// Lift is the relative difference treatment/baseline − 1 with its delta-method
// standard error.
type Lift struct {
	Lift float64
	Var  float64 // variance of Lift (SE²)
}

// RelativeLift estimates (μt/μb − 1) from two independent groups by the delta
// method: Var ≈ σt²/(nt μb²) + μt² σb²/(nb μb⁴) (the first-order expansion of
// the ratio of two means; GrowthBook's frequentist engine uses the same).
// NaN when the baseline mean is 0 or a group has fewer than two users.
func RelativeLift(base, treat Sample) Lift {
	nan := math.NaN()
	if base.N < 2 || treat.N < 2 || base.Mean == 0 || math.IsNaN(base.Mean) {
		return Lift{nan, nan}
	}
	mb, mt := base.Mean, treat.Mean
	v := treat.Var/(treat.N*mb*mb) + mt*mt*base.Var/(base.N*mb*mb*mb*mb)
	return Lift{Lift: mt/mb - 1, Var: v}
}

// NormalInterval is est ± z·sqrt(v) at confidence conf.
func NormalInterval(est, v, conf float64) (lo, hi float64) {
	if !(v >= 0) {
		return math.NaN(), math.NaN()
	}
	z := NormalQuantile(1 - (1-conf)/2)
	return est - z*math.Sqrt(v), est + z*math.Sqrt(v)
}
