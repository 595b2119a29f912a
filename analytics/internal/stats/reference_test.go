package stats

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"sync"
	"testing"
)

// python is the interpreter of testdata/reference.py: $SY_PYTHON, else python3.
func python() string {
	if p := os.Getenv("SY_PYTHON"); p != "" {
		return p
	}
	return "python3"
}

var (
	refOnce    sync.Once
	refMissing string // why the reference cannot run; "" when it can
)

// reference runs testdata/reference.py (SciPy + statsmodels) on cases and
// returns one answer per case. The test is skipped, saying why, only when
// the interpreter or its libraries are missing (ops/test.sh installs them).
func reference(t *testing.T, cases []map[string]any) []map[string]any {
	t.Helper()
	py := python()
	refOnce.Do(func() {
		if out, err := exec.Command(py, "-c", "import scipy, statsmodels").CombinedOutput(); err != nil {
			out = bytes.TrimSpace(out)
			out = out[bytes.LastIndexByte(out, '\n')+1:] // the error line, not the traceback
			refMissing = fmt.Sprintf("no SciPy/statsmodels reference (%s: %v: %s); run `bash ops/pystats.sh` and set SY_PYTHON to the interpreter it prints", py, err, out)
		}
	})
	if refMissing != "" {
		t.Skip(refMissing)
	}
	in, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "testdata/reference.py")
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("reference.py: %v: %s", err, stderr.String())
	}
	var res []map[string]any
	if err := json.Unmarshal(out, &res); err != nil || len(res) != len(cases) {
		t.Fatalf("reference.py answered %d results for %d cases (%v): %s", len(res), len(cases), err, out)
	}
	return res
}

func refNum(t *testing.T, r map[string]any, k string) float64 {
	t.Helper()
	v, ok := r[k].(float64)
	if !ok {
		t.Fatalf("reference has no number %q: %v", k, r)
	}
	return v
}

// TestMSPRTAgainstSciPy checks the closed form of the mixture likelihood
// ratio and its confidence sequence against numerical integration and root
// finding (tolerance 1e-7 relative).
func TestMSPRTAgainstSciPy(t *testing.T) {
	type c struct{ est, v, tau2, alpha float64 }
	cs := []c{{0.02, 1e-4, 1e-3, 0.05}, {-0.5, 0.04, 0.01, 0.05}, {0.001, 1e-5, 1e-4, 0.01}, {3, 1, 2, 0.1}, {0, 0.2, 0.3, 0.05}}
	var req []map[string]any
	for _, x := range cs {
		req = append(req, map[string]any{"kind": "msprt", "est": x.est, "v": x.v, "tau2": x.tau2, "alpha": x.alpha})
	}
	for i, r := range reference(t, req) {
		x := cs[i]
		got := MSPRT(x.est, x.v, x.tau2, x.alpha)
		near(t, "P", got.P, refNum(t, r, "p"), 1e-7)
		near(t, "Lo", got.Lo, refNum(t, r, "lo"), 1e-7)
		near(t, "Hi", got.Hi, refNum(t, r, "hi"), 1e-7)
	}
}

func TestAdjustAgainstStatsmodels(t *testing.T) {
	ps := [][]float64{
		{0.01, 0.04, 0.03, 0.005, 0.2},
		{0.001, 0.001, 0.5, 0.049},
		{0.3},
	}
	var req []map[string]any
	for _, m := range []string{CorrectionHolm, CorrectionBH} {
		for _, p := range ps {
			req = append(req, map[string]any{"kind": "adjust", "method": m, "p": p})
		}
	}
	for i, r := range reference(t, req) {
		m, p := req[i]["method"].(string), req[i]["p"].([]float64)
		got := Adjust(p, m)
		want := r["p"].([]any)
		for j := range p {
			near(t, m, got[j], want[j].(float64), 1e-12)
		}
	}
	// NaN (a test that could not run) stays NaN and does not count: Holm of
	// {0.01, NaN, 0.04} is Holm of {0.01, 0.04} = {0.02, 0.04}.
	got := Adjust([]float64{0.01, math.NaN(), 0.04}, CorrectionHolm)
	if got[0] != 0.02 || !math.IsNaN(got[1]) || got[2] != 0.04 {
		t.Errorf("Holm with a NaN = %v, want [0.02 NaN 0.04]", got)
	}
}

// TestCUPEDAgainstOLS: per-user data with a pre-period covariate; the CUPED
// difference must equal the ANCOVA treatment coefficient and the Welch test
// on the adjusted values must match SciPy's.
func TestCUPEDAgainstOLS(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	gen := func(n int, effect float64, conversion bool) (ys, xs []float64) {
		for range n {
			x := rng.NormFloat64()*3 + 10
			y := 0.8*x + effect + rng.NormFloat64()*2
			if conversion {
				x, y = 0, 0
				if rng.Float64() < 0.3 {
					x = 1
				}
				if rng.Float64() < 0.1+0.3*x+effect {
					y = 1
				}
			}
			ys, xs = append(ys, y), append(xs, x)
		}
		return ys, xs
	}
	moments := func(ys, xs []float64) Moments {
		m := Moments{N: float64(len(ys))}
		for i := range ys {
			m.SumY += ys[i]
			m.SumY2 += ys[i] * ys[i]
			m.SumX += xs[i]
			m.SumX2 += xs[i] * xs[i]
			m.SumXY += xs[i] * ys[i]
		}
		return m
	}
	var req []map[string]any
	var pairs [][2]Moments
	for _, conv := range []bool{false, true} {
		yb, xb := gen(400, 0, conv)
		yt, xt := gen(300, 0.05, conv)
		if !conv {
			yt, xt = gen(300, 0.6, conv)
		}
		req = append(req, map[string]any{"kind": "cuped", "yb": yb, "xb": xb, "yt": yt, "xt": xt})
		pairs = append(pairs, [2]Moments{moments(yb, xb), moments(yt, xt)})
	}
	for i, r := range reference(t, req) {
		b, tr, theta := CUPED(pairs[i][0], pairs[i][1])
		near(t, "theta", theta, refNum(t, r, "theta"), 1e-9)
		near(t, "diff", tr.Mean-b.Mean, refNum(t, r, "diff"), 1e-9)
		near(t, "varB", b.Var, refNum(t, r, "varB"), 1e-9)
		near(t, "varT", tr.Var, refNum(t, r, "varT"), 1e-9)
		w := WelchTest(b, tr, 0.95)
		near(t, "P", w.P, refNum(t, r, "p"), 1e-8)
		near(t, "Lo", w.Lo, refNum(t, r, "lo"), 1e-8)
		near(t, "Hi", w.Hi, refNum(t, r, "hi"), 1e-8)
		raw := WelchTest(FromSums(pairs[i][0].N, pairs[i][0].SumY, pairs[i][0].SumY2),
			FromSums(pairs[i][1].N, pairs[i][1].SumY, pairs[i][1].SumY2), 0.95)
		if !(w.SE < raw.SE) {
			t.Errorf("case %d: CUPED SE %v not below the unadjusted %v with a correlated covariate", i, w.SE, raw.SE)
		}
	}
	// no covariate: θ = 0 and the unadjusted samples
	m := Moments{N: 10, SumY: 5, SumY2: 5}
	b, tr, theta := CUPED(m, m)
	if theta != 0 || b != FromSums(10, 5, 5) || tr != b {
		t.Errorf("CUPED without covariate: %v %v %v", b, tr, theta)
	}
}

func TestRelativeLiftAgainstNumericalDelta(t *testing.T) {
	type c struct{ b, tr Sample }
	cs := []c{
		{Bernoulli(1000, 100), Bernoulli(1000, 130)},
		{Sample{N: 250, Mean: 42.5, Var: 90}, Sample{N: 260, Mean: 40.1, Var: 120}},
	}
	var req []map[string]any
	for _, x := range cs {
		req = append(req, map[string]any{"kind": "lift", "mb": x.b.Mean, "vb": x.b.Var, "nb": x.b.N, "mt": x.tr.Mean, "vt": x.tr.Var, "nt": x.tr.N})
	}
	for i, r := range reference(t, req) {
		l := RelativeLift(cs[i].b, cs[i].tr)
		near(t, "Lift", l.Lift, refNum(t, r, "lift"), 1e-12)
		near(t, "Var", l.Var, refNum(t, r, "var"), 1e-6)
	}
}
