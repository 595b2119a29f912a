package stats

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestMSPRTProperties(t *testing.T) {
	// p < α exactly when 0 is outside the confidence sequence
	for _, est := range []float64{0.001, 0.01, 0.02, 0.03, 0.05} {
		s := MSPRT(est, 1e-4, 1e-3, 0.05)
		if (s.P < 0.05) != (s.Lo > 0) {
			t.Errorf("est %v: p %v but interval [%v, %v]", est, s.P, s.Lo, s.Hi)
		}
	}
	// always wider than the fixed-horizon interval
	s := MSPRT(0.02, 1e-4, 1e-3, 0.05)
	if z := 1.959963984540054 * 0.01; s.Hi-0.02 <= z {
		t.Errorf("half-width %v not above the fixed-horizon %v", s.Hi-0.02, z)
	}
	if s := MSPRT(1, 0, 1, 0.05); !math.IsNaN(s.P) {
		t.Errorf("zero variance: %v, want NaN", s)
	}
}

// TestSequentialPeekingKeepsErrorRate is the reason sequential testing is on
// by default: A/A experiments looked at after every 200 users, 20 looks,
// stopped at the first "significant" look. With the fixed-horizon Welch
// p-value far more than 5% of them are wrongly called; with MSPRT at most 5%.
func TestSequentialPeekingKeepsErrorRate(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const runs, looks, step = 400, 20, 200
	var fixed, seq int
	for range runs {
		var a, b [3]float64 // n, Σx, Σx²
		fixedHit, seqHit := false, false
		for l := 0; l < looks; l++ {
			for range step {
				x, y := rng.NormFloat64(), rng.NormFloat64()
				a[0], a[1], a[2] = a[0]+1, a[1]+x, a[2]+x*x
				b[0], b[1], b[2] = b[0]+1, b[1]+y, b[2]+y*y
			}
			sa, sb := FromSums(a[0], a[1], a[2]), FromSums(b[0], b[1], b[2])
			w := WelchTest(sa, sb, 0.95)
			fixedHit = fixedHit || w.P < 0.05
			v := w.SE * w.SE
			seqHit = seqHit || MSPRT(w.Diff, v, MixtureVariance(v, a[0]+b[0], 0), 0.05).P < 0.05
		}
		if fixedHit {
			fixed++
		}
		if seqHit {
			seq++
		}
	}
	if rate := float64(seq) / runs; rate > 0.05 {
		t.Errorf("MSPRT false-positive rate with peeking %v > 0.05", rate)
	}
	if rate := float64(fixed) / runs; rate < 0.12 {
		t.Errorf("fixed-horizon false-positive rate with peeking %v: the test no longer shows the problem", rate)
	}
	t.Logf("A/A with %d looks: fixed-horizon %d/%d, MSPRT %d/%d wrongly significant", looks, fixed, runs, seq, runs)
}
