// Package stats is the pure experiment mathematics of analytics: the Student-t,
// normal and chi-square distributions (built on the regularized incomplete beta
// and gamma functions, no external library), Welch's t-test, the Bayesian
// probability to beat a baseline, the sample-ratio-mismatch check, the
// always-valid mixture SPRT (sequential.go), CUPED variance reduction
// (cuped.go), Holm and Benjamini–Hochberg corrections (adjust.go) and the
// delta-method relative lift (lift.go).
//
// Everything here is a pure function of its arguments: no state, no I/O, safe for
// concurrent use. Probabilities are float64 in [0, 1]; invalid inputs (too few
// samples, zero variance) yield NaN fields rather than errors, so a caller can
// still report partial results.
package stats

import "math"

const (
	epsilon = 1e-15
	tiny    = 1e-300
	maxIter = 10000
)

// lbeta is log B(a, b).
func lbeta(a, b float64) float64 {
	la, _ := math.Lgamma(a)
	lb, _ := math.Lgamma(b)
	lab, _ := math.Lgamma(a + b)
	return la + lb - lab
}

// RegIncBeta is the regularized incomplete beta function I_x(a, b) for a, b > 0
// and 0 <= x <= 1, evaluated with the continued fraction of the incomplete beta
// function (modified Lentz method), using the symmetry
// I_x(a, b) = 1 - I_{1-x}(b, a) where the fraction converges slowly.
func RegIncBeta(x, a, b float64) float64 {
	switch {
	case math.IsNaN(x) || a <= 0 || b <= 0:
		return math.NaN()
	case x <= 0:
		return 0
	case x >= 1:
		return 1
	}
	// front factor x^a (1-x)^b / B(a, b)
	lf := a*math.Log(x) + b*math.Log1p(-x) - lbeta(a, b)
	if x < (a+1)/(a+b+2) {
		return math.Exp(lf) * betaFrac(x, a, b) / a
	}
	return 1 - math.Exp(lf)*betaFrac(1-x, b, a)/b
}

// betaFrac evaluates the continued fraction for I_x(a, b).
func betaFrac(x, a, b float64) float64 {
	qab, qap, qam := a+b, a+1, a-1
	c, d := 1.0, 1-qab*x/qap
	if math.Abs(d) < tiny {
		d = tiny
	}
	d = 1 / d
	h := d
	for m := 1; m <= maxIter; m++ {
		fm := float64(m)
		m2 := 2 * fm
		// even step
		aa := fm * (b - fm) * x / ((qam + m2) * (a + m2))
		d = 1 + aa*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + aa/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		h *= d * c
		// odd step
		aa = -(a + fm) * (qab + fm) * x / ((a + m2) * (qap + m2))
		d = 1 + aa*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + aa/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < epsilon {
			break
		}
	}
	return h
}

// RegIncGammaP is the regularized lower incomplete gamma function P(a, x) for
// a > 0, x >= 0 (series below a+1, continued fraction above).
func RegIncGammaP(a, x float64) float64 {
	switch {
	case math.IsNaN(x) || a <= 0 || x < 0:
		return math.NaN()
	case x == 0:
		return 0
	case math.IsInf(x, 1):
		return 1
	}
	if x < a+1 {
		return gammaSeries(a, x)
	}
	return 1 - gammaFrac(a, x)
}

// RegIncGammaQ is the regularized upper incomplete gamma function
// Q(a, x) = 1 - P(a, x), computed directly where that keeps precision.
func RegIncGammaQ(a, x float64) float64 {
	switch {
	case math.IsNaN(x) || a <= 0 || x < 0:
		return math.NaN()
	case x == 0:
		return 1
	case math.IsInf(x, 1):
		return 0
	}
	if x < a+1 {
		return 1 - gammaSeries(a, x)
	}
	return gammaFrac(a, x)
}

func gammaSeries(a, x float64) float64 {
	lga, _ := math.Lgamma(a)
	ap, sum := a, 1/a
	del := sum
	for n := 0; n < maxIter; n++ {
		ap++
		del *= x / ap
		sum += del
		if math.Abs(del) < math.Abs(sum)*epsilon {
			break
		}
	}
	return sum * math.Exp(-x+a*math.Log(x)-lga)
}

func gammaFrac(a, x float64) float64 {
	lga, _ := math.Lgamma(a)
	b := x + 1 - a
	c := 1 / tiny
	d := 1 / b
	h := d
	for i := 1; i <= maxIter; i++ {
		an := -float64(i) * (float64(i) - a)
		b += 2
		d = an*d + b
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = b + an/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < epsilon {
			break
		}
	}
	return math.Exp(-x+a*math.Log(x)-lga) * h
}
