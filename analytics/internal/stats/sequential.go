package stats

import "math"

// DefaultSequentialN is the default tuning of MSPRT's mixture: the total
// sample size (both arms) at which the always-valid interval is tightest
// relative to the fixed-horizon one (GrowthBook's default is also 5,000).
const DefaultSequentialN = 5000

// Sequential is an always-valid test of an estimate: P is an always-valid
// p-value and [Lo, Hi] a confidence sequence at the requested level, both
// valid however often the results are looked at (Johari, Pekelis, Walsh,
// "Always valid inference", 2017 — the mixture sequential probability ratio
// test Optimizely's Stats Engine uses).
type Sequential struct {
	P      float64
	Lo, Hi float64
}

// MSPRT is the mixture SPRT of H0: effect = 0 for an asymptotically normal
// estimate est with sampling variance v (SE²), mixing over effects
// N(0, tau2). The likelihood ratio is
//
//	Λ = sqrt(v/(v+τ²)) · exp(τ² est² / (2 v (v+τ²)))
//
// the always-valid p-value min(1, 1/Λ) (the p-value at this look; the running
// minimum over looks is smaller but needs the history, and this one is never
// smaller than it, so it stays valid), and the confidence sequence at level
// 1-alpha is est ± sqrt(v(v+τ²)/τ² · (2 ln(1/α) + ln((v+τ²)/v))): the effects
// θ whose shifted test is not rejected. Fields are NaN when v or tau2 is not
// positive.
func MSPRT(est, v, tau2, alpha float64) Sequential {
	nan := math.NaN()
	if !(v > 0) || !(tau2 > 0) || !(alpha > 0 && alpha < 1) || math.IsNaN(est) || math.IsInf(v, 0) {
		return Sequential{nan, nan, nan}
	}
	logLR := 0.5*math.Log(v/(v+tau2)) + tau2*est*est/(2*v*(v+tau2))
	half := math.Sqrt(v * (v + tau2) / tau2 * (2*math.Log(1/alpha) + math.Log1p(tau2/v)))
	return Sequential{P: math.Min(1, math.Exp(-logLR)), Lo: est - half, Hi: est + half}
}

// MixtureVariance is the default τ² of MSPRT for an estimate with variance v
// computed from n users in total: the variance that estimate would have with
// nStar users (v scales as 1/n), so the test is tuned to be most powerful
// around nStar users (DefaultSequentialN when nStar <= 0).
func MixtureVariance(v, n, nStar float64) float64 {
	if nStar <= 0 {
		nStar = DefaultSequentialN
	}
	return v * n / nStar
}
