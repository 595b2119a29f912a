package analytics

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/analytics/internal/store/storetest"
	"github.com/switchyard/switchyard/codec"
)

// exptFixture ingests an experiment on flag "exp": n users per arm of
// {"a", "b"} (counts[v]), each with a pre-period value x ~ N(10, 3²) of event
// "spend" 3 days before t0 and a post value 0.8·x + effect[v] + N(0, 2²);
// "buy" converts 10% of a and 13% of b; "pv" is a page view with FeatBit's
// casing on /checkout (a) or /home (b).
func exptFixture(t *testing.T, s *Service, counts, effect map[string]float64) int64 {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	t0 := storetest.T0.UnixMilli()
	b := codec.InsightBatch{EnvID: "env"}
	i := 0
	for _, v := range []string{"a", "b"} {
		for k := 0; k < int(counts[v]); k++ {
			u := fmt.Sprintf("user-%05d", i)
			i++
			ts := t0 + int64(i)
			b.Evals = append(b.Evals, codec.FlagEval{FlagKey: "exp", VariationID: v, UserKey: u, SendToExperiment: true, Timestamp: ts})
			x := rng.NormFloat64()*3 + 10
			y := 0.8*x + effect[v] + rng.NormFloat64()*2
			b.Metrics = append(b.Metrics,
				codec.MetricEvent{EventName: "spend", UserKey: u, NumericValue: x, Timestamp: t0 - 3*86_400_000},
				codec.MetricEvent{EventName: "spend", UserKey: u, NumericValue: y, Timestamp: ts + 1000})
			rate := map[string]float64{"a": 0.10, "b": 0.13}[v]
			if float64(k) < rate*counts[v] {
				b.Metrics = append(b.Metrics, codec.MetricEvent{EventName: "buy", UserKey: u, Timestamp: ts + 2000})
			}
			route := map[string]string{"a": "https://shop.example/checkout?step=2", "b": "https://shop.example/home"}[v]
			b.Metrics = append(b.Metrics, codec.MetricEvent{EventName: "pv", UserKey: u, Type: "PageView", Route: route, Timestamp: ts + 3000})
		}
	}
	if err := s.Ingest(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	return t0
}

func postExpt(t *testing.T, s *Service, t0 int64, extra string, status int) ExperimentResult {
	t.Helper()
	body := fmt.Sprintf(`{"baselineVariationId":"a","from":%d,"to":%d,%s}`, t0, t0+86_400_000, extra)
	var res ExperimentResult
	get(t, s.Handler(), "POST", APIPrefix+"/envs/env/flags/exp/experiment", body, status, &res)
	return res
}

// TestExperimentSRMFromSplit is the false alarm: a flag split 80/20
// with 397/103 exposures matches its split (p ≈ 0.74); without a split SRM is
// not checked rather than tested against an assumed 50/50.
func TestExperimentSRMFromSplit(t *testing.T) {
	s := newEmbedded(t)
	t0 := exptFixture(t, s, map[string]float64{"a": 397, "b": 103}, nil)
	res := postExpt(t, s, t0, `"metrics":[{"eventName":"buy","type":"conversion"}],"expectedSplit":{"a":80,"b":20}`, 200)
	// chi² = 3²/400 + 3²/100 = 0.1125, p = scipy.stats.chi2.sf(0.1125, 1)
	if !res.SRM.Checked || res.SRM.Mismatch || res.SRM.PValue == nil || math.Abs(*res.SRM.PValue-0.737315677216418) > 1e-9 {
		t.Errorf("SRM against 80/20: %+v (p %v)", res.SRM, res.SRM.PValue)
	}
	res = postExpt(t, s, t0, `"metrics":[{"eventName":"buy","type":"conversion"}]`, 200)
	if res.SRM.Checked || res.SRM.Mismatch {
		t.Errorf("SRM without a split: %+v, want not checked", res.SRM)
	}
}

// TestExperimentDirectionAndGuardrail: the same data read with "lower is
// better" flips the verdict, the probability to beat and the winner; as a
// guardrail it flags harm.
func TestExperimentDirectionAndGuardrail(t *testing.T) { checkDirectionAndGuardrail(t, newEmbedded(t)) }

func checkDirectionAndGuardrail(t *testing.T, s *Service) {
	t0 := exptFixture(t, s, map[string]float64{"a": 1000, "b": 1000}, map[string]float64{"b": 1})
	res := postExpt(t, s, t0, `"metrics":[{"eventName":"spend","type":"numeric"},
		{"eventName":"spend","type":"Numeric","lowerIsBetter":true},
		{"eventName":"spend","type":"numeric","lowerIsBetter":true,"guardrail":true}]`, 200)
	hi, lo, guard := res.Metrics[0], res.Metrics[1], res.Metrics[2]
	if hi.Winner != "b" || hi.Variations[1].Verdict != VerdictBetter || *hi.Variations[1].ProbBeatBaseline < 0.99 {
		t.Errorf("higher is better: winner %q, %+v", hi.Winner, hi.Variations[1])
	}
	if lo.Winner != "" || lo.Variations[1].Verdict != VerdictWorse || *lo.Variations[1].ProbBeatBaseline > 0.01 {
		t.Errorf("lower is better: winner %q, %+v", lo.Winner, lo.Variations[1])
	}
	if lo.Type != MetricNumeric {
		t.Errorf("FeatBit casing not normalised: %q", lo.Type)
	}
	if !guard.Variations[1].Harm || len(res.HarmedGuardrails) != 1 || hi.Variations[1].Harm {
		t.Errorf("guardrail: %+v, harmed %v", guard.Variations[1], res.HarmedGuardrails)
	}
	// the guardrail is outside the corrected family: its p-value is unadjusted
	g := guard.Variations[1]
	if *g.AdjustedPValue != *g.PValue {
		t.Errorf("guardrail p adjusted: %v vs %v", *g.AdjustedPValue, *g.PValue)
	}
	// Holm over the two primary tests: the smaller p is doubled
	if p, adj := *hi.Variations[1].PValue, *hi.Variations[1].AdjustedPValue; math.Abs(adj-math.Min(1, 2*p)) > 1e-15 {
		t.Errorf("Holm: adjusted %v for p %v", adj, p)
	}
}

// TestExperimentCUPEDAndSequential: CUPED narrows the interval (the pre-period
// value explains most of the variance); the sequential interval is wider than
// the fixed-horizon one and on by default.
func TestExperimentCUPEDAndSequential(t *testing.T) { checkCUPEDSequential(t, newEmbedded(t)) }

func checkCUPEDSequential(t *testing.T, s *Service) {
	t0 := exptFixture(t, s, map[string]float64{"a": 800, "b": 800}, map[string]float64{"b": 0.5})
	width := func(r ExperimentResult) float64 {
		v := r.Metrics[0].Variations[1]
		return *v.DiffCI[1] - *v.DiffCI[0]
	}
	m := `"metrics":[{"eventName":"spend","type":"numeric"}]`
	seqCuped := postExpt(t, s, t0, m, 200)
	if !seqCuped.Sequential || !seqCuped.Metrics[0].CUPED || seqCuped.Metrics[0].Variations[1].CUPEDTheta == nil {
		t.Fatalf("defaults: sequential %v, cuped %v", seqCuped.Sequential, seqCuped.Metrics[0].CUPED)
	}
	if th := *seqCuped.Metrics[0].Variations[1].CUPEDTheta; math.Abs(th-0.8) > 0.1 {
		t.Errorf("theta %v, want ≈ 0.8 (the simulated slope)", th)
	}
	fixedCuped := postExpt(t, s, t0, m+`,"sequential":false`, 200)
	fixedRaw := postExpt(t, s, t0, m+`,"sequential":false,"cupedDays":0`, 200)
	if !(width(fixedCuped) < 0.7*width(fixedRaw)) {
		t.Errorf("CUPED width %v not well below the unadjusted %v", width(fixedCuped), width(fixedRaw))
	}
	if !(width(seqCuped) > width(fixedCuped)) {
		t.Errorf("sequential width %v not above the fixed-horizon %v", width(seqCuped), width(fixedCuped))
	}
	if !fixedCuped.Metrics[0].Variations[1].Significant || fixedRaw.Metrics[0].Variations[1].UpliftCI[0] == nil {
		t.Errorf("0.5 shift with CUPED not significant: %+v", fixedCuped.Metrics[0].Variations[1])
	}
}

// TestExperimentPageView: FeatBit's PageView casing and a URL match select
// the page views of /checkout only.
func TestExperimentPageView(t *testing.T) { checkPageView(t, newEmbedded(t)) }

func checkPageView(t *testing.T, s *Service) {
	t0 := exptFixture(t, s, map[string]float64{"a": 50, "b": 50}, nil)
	res := postExpt(t, s, t0, `"metrics":[{"eventName":"pv","type":"conversion","eventType":"PageView",
		"urls":[{"matchType":"RegExp","url":"^https://shop\\.example/checkout(\\?|$)"}]}]`, 200)
	v := res.Metrics[0].Variations
	if v[0].Converted != 50 || v[1].Converted != 0 || res.Metrics[0].EventType != EventPageView {
		t.Errorf("page views: %+v", res.Metrics[0])
	}
}

// TestSecurityExperimentQueryLimits is the attack on the experiment query:
// patterns that are not RE2 (backtracking constructs) or too long, too many
// URL matches or metrics, and nonsense settings get a 400 naming the problem.
func TestSecurityExperimentQueryLimits(t *testing.T) {
	s := newEmbedded(t)
	t0 := storetest.T0.UnixMilli()
	urls := strings.Repeat(`{"matchType":"contains","url":"x"},`, 21)
	many := strings.Repeat(`{"eventName":"e","type":"conversion"},`, 21)
	cases := map[string]string{
		"backreference":    `"metrics":[{"eventName":"pv","type":"conversion","eventType":"pageview","urls":[{"matchType":"regex","url":"(a+)\\1"}]}]`,
		"long pattern":     `"metrics":[{"eventName":"pv","type":"conversion","urls":[{"matchType":"regex","url":"` + strings.Repeat("a", 600) + `"}]}]`,
		"too many urls":    `"metrics":[{"eventName":"pv","type":"conversion","urls":[` + strings.TrimSuffix(urls, ",") + `]}]`,
		"too many metrics": `"metrics":[` + strings.TrimSuffix(many, ",") + `]`,
		"winsorize":        `"metrics":[{"eventName":"x","type":"numeric","winsorize":1.5}]`,
		"cuped days":       `"metrics":[{"eventName":"x","type":"numeric"}],"cupedDays":100000`,
		"correction":       `"metrics":[{"eventName":"x","type":"numeric"}],"correction":"bonferroni'"`,
		"negative split":   `"metrics":[{"eventName":"x","type":"numeric"}],"expectedSplit":{"a":-1}`,
		"event type":       `"metrics":[{"eventName":"x","type":"numeric","eventType":"hover"}]`,
	}
	for name, extra := range cases {
		t.Run(name, func(t *testing.T) {
			body := fmt.Sprintf(`{"baselineVariationId":"a","from":%d,"to":%d,%s}`, t0, t0+1000, extra)
			var e map[string]string
			get(t, s.Handler(), "POST", APIPrefix+"/envs/env/flags/exp/experiment", body, 400, &e)
			if e["error"] == "" {
				t.Errorf("no error text")
			}
		})
	}
}
