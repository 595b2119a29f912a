package stats

import "math"

// Moments are the sums of one group over its users of a metric value Y and
// a pre-exposure covariate X (the same metric in a window before the
// experiment): what a database returns for CUPED.
type Moments struct {
	N                  float64
	SumY, SumY2        float64
	SumX, SumX2, SumXY float64
}

// CUPED adjusts a baseline and a treatment group with the covariate X
// (Deng, Xu, Kohavi, Walker 2013): Y' = Y − θ(X − X̄) with X̄ the mean of X
// over both groups and θ the pooled within-group slope ΣSxy/ΣSxx, the
// estimate of the ANCOVA regression Y ~ 1 + treatment + X. The difference of
// the adjusted means is then that regression's treatment coefficient, and
// each group's variance shrinks by the share of it X explains. It returns
// the adjusted Samples (for WelchTest and MSPRT) and θ; when X does not vary
// (no pre-period data) θ is 0 and the Samples are the unadjusted ones.
func CUPED(base, treat Moments) (Sample, Sample, float64) {
	sxx := func(m Moments) float64 { return m.SumX2 - m.SumX*m.SumX/m.N }
	sxy := func(m Moments) float64 { return m.SumXY - m.SumX*m.SumY/m.N }
	syy := func(m Moments) float64 { return m.SumY2 - m.SumY*m.SumY/m.N }
	if base.N < 2 || treat.N < 2 {
		return FromSums(base.N, base.SumY, base.SumY2), FromSums(treat.N, treat.SumY, treat.SumY2), 0
	}
	theta := 0.0
	if d := sxx(base) + sxx(treat); d > 1e-12*math.Max(1, base.SumX2+treat.SumX2) {
		theta = (sxy(base) + sxy(treat)) / d
	}
	xbar := (base.SumX + treat.SumX) / (base.N + treat.N)
	adj := func(m Moments) Sample {
		mean := m.SumY/m.N - theta*(m.SumX/m.N-xbar)
		v := (syy(m) - 2*theta*sxy(m) + theta*theta*sxx(m)) / (m.N - 1)
		return Sample{N: m.N, Mean: mean, Var: math.Max(v, 0)}
	}
	return adj(base), adj(treat), theta
}
