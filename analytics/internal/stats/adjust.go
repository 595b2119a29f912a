package stats

import (
	"math"
	"sort"
)

// Multiple-comparison corrections accepted by Adjust.
const (
	CorrectionHolm = "holm" // Holm–Bonferroni: family-wise error rate, any dependence
	CorrectionBH   = "bh"   // Benjamini–Hochberg: false discovery rate
	CorrectionNone = "none"
)

// Adjust returns the p-values of a family of tests adjusted for multiple
// comparisons by method (CorrectionHolm, CorrectionBH or CorrectionNone), in
// the order given. NaN p-values (tests that could not run) stay NaN and do
// not count in the family size. The results equal statsmodels'
// multipletests(method="holm" / "fdr_bh").
func Adjust(p []float64, method string) []float64 {
	out := make([]float64, len(p))
	idx := make([]int, 0, len(p))
	for i, v := range p {
		out[i] = math.NaN()
		if !math.IsNaN(v) {
			idx = append(idx, i)
		}
	}
	m := float64(len(idx))
	sort.SliceStable(idx, func(a, b int) bool { return p[idx[a]] < p[idx[b]] })
	switch method {
	case CorrectionHolm:
		run := 0.0
		for j, i := range idx {
			run = math.Max(run, math.Min(1, (m-float64(j))*p[i]))
			out[i] = run
		}
	case CorrectionBH:
		run := 1.0
		for j := len(idx) - 1; j >= 0; j-- {
			i := idx[j]
			run = math.Min(run, math.Min(1, m/float64(j+1)*p[i]))
			out[i] = run
		}
	default:
		for _, i := range idx {
			out[i] = p[i]
		}
	}
	return out
}
