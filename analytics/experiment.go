package analytics

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/switchyard/switchyard/analytics/internal/stats"
	"github.com/switchyard/switchyard/analytics/internal/store"
)

// Metric types of an experiment.
const (
	MetricConversion = "conversion" // share of exposed users with ≥1 event after exposure
	MetricNumeric    = "numeric"    // mean over users (with events) of the user's mean numericValue
)

// Event types of a metric (FeatBit's Custom, PageView and Click).
const (
	EventCustom   = "custom"
	EventPageView = "pageview"
	EventClick    = "click"
)

// Defaults of an experiment query.
const (
	DefaultConfidence = 0.95
	DefaultCUPEDDays  = 14 // pre-period of the CUPED covariate
	MaxCUPEDDays      = 90
	MaxMetrics        = 20 // metrics per experiment query
	srmAlpha          = 0.001
)

// ExperimentQuery asks for an experiment's results.
type ExperimentQuery struct {
	EnvID, FlagKey      string
	BaselineVariationID string
	From, To            time.Time
	Metrics             []MetricSpec
	// ExpectedSplit maps variation id → weight for the SRM check, derived from
	// the flag's rollout by the control plane (its experiment results route).
	// Empty: SRM is not checked (an assumed equal split raises false alarms on
	// unequal rollouts).
	ExpectedSplit map[string]float64
	Confidence    float64 // default DefaultConfidence
	// Sequential (default true) reports always-valid p-values and confidence
	// sequences (mSPRT), safe to look at any time; false: fixed-horizon
	// Welch tests, valid only when looked at once, at a sample size fixed in
	// advance. SequentialN tunes the mixture (stats.DefaultSequentialN).
	Sequential  *bool
	SequentialN float64
	// Correction across the (metric × arm) family of non-guardrail tests:
	// stats.CorrectionHolm (default), CorrectionBH or CorrectionNone.
	Correction string
	// CUPEDDays is the pre-period before From whose events of the same metric
	// are the CUPED covariate (nil: DefaultCUPEDDays; 0: off).
	CUPEDDays *int
}

// MetricSpec is one metric of an experiment.
type MetricSpec struct {
	EventName string `json:"eventName"`
	Type      string `json:"type"` // MetricConversion or MetricNumeric
	// EventType is EventCustom (default; any event of the name), EventPageView
	// or EventClick (only events of that type); FeatBit's casing (Custom,
	// CustomEvent, PageView, Click) is accepted and normalised.
	EventType string `json:"eventType,omitempty"`
	// URLs keep only events whose route matches one of them (page views,
	// clicks).
	URLs []store.URLMatch `json:"urls,omitempty"`
	// LowerIsBetter flips every better/worse, probability to beat and winner.
	LowerIsBetter bool `json:"lowerIsBetter,omitempty"`
	// Guardrail metrics are not corrected for multiple comparisons (a harm
	// signal should not be diluted) and flag Harm when they move
	// significantly in the bad direction.
	Guardrail bool `json:"guardrail,omitempty"`
	// Winsorize caps numeric per-user values at this quantile of all users'
	// values (e.g. 0.99); 0 is off.
	Winsorize float64 `json:"winsorize,omitempty"`
}

// ExperimentResult is the answer. Floats that are undefined (too few users,
// zero variance) are null in JSON.
type ExperimentResult struct {
	FlagKey             string           `json:"flagKey"`
	BaselineVariationID string           `json:"baselineVariationId"`
	From                int64            `json:"from"`
	To                  int64            `json:"to"`
	ComputedAt          int64            `json:"computedAt"`
	Confidence          float64          `json:"confidence"`
	Sequential          bool             `json:"sequential"`
	Correction          string           `json:"correction"`
	CUPEDFrom           int64            `json:"cupedFrom,omitempty"` // start of the CUPED pre-period, Unix ms
	Exposures           []store.Exposure `json:"exposures"`
	SRM                 SRMResult        `json:"srm"`
	Metrics             []MetricOutcome  `json:"metrics"`
	// HarmedGuardrails lists the event names of guardrail metrics with a
	// variation significantly worse than the baseline.
	HarmedGuardrails []string `json:"harmedGuardrails"`
}

// SRMResult is the sample-ratio-mismatch check (chi-square goodness of fit
// against the expected split, mismatch when p < 0.001). Checked is false when
// no expected split was given.
type SRMResult struct {
	Checked   bool               `json:"checked"`
	Expected  map[string]float64 `json:"expected"` // expected users per variation
	ChiSquare *float64           `json:"chiSquare"`
	DF        float64            `json:"df"`
	PValue    *float64           `json:"pValue"`
	Mismatch  bool               `json:"mismatch"`
}

// MetricOutcome is one metric's per-variation results.
type MetricOutcome struct {
	MetricSpec
	CUPED bool     `json:"cuped"`         // the comparisons are CUPED-adjusted
	Cap   *float64 `json:"cap,omitempty"` // the winsorization cap applied
	// Winner is the variation significantly better than the baseline with
	// the best value (in the metric's direction); empty when none is.
	Winner     string             `json:"winner,omitempty"`
	Variations []VariationOutcome `json:"variations"`
}

// Verdicts of a comparison with the baseline, in the metric's direction.
const (
	VerdictBetter       = "better"
	VerdictWorse        = "worse"
	VerdictInconclusive = "inconclusive"
)

// VariationOutcome is one variation's result for one metric. For conversion
// metrics Value is the conversion rate (Converted/Exposed); for numeric ones
// the mean and Samples the users it averages (both unadjusted).
type VariationOutcome struct {
	VariationID string   `json:"variationId"`
	IsBaseline  bool     `json:"isBaseline"`
	Exposed     uint64   `json:"exposed"`
	Converted   uint64   `json:"converted"` // users with ≥1 event after first exposure
	Samples     uint64   `json:"samples"`   // observations of the test (Exposed for conversion)
	Value       *float64 `json:"value"`
	StdDev      *float64 `json:"stdDev"`
	// vs the baseline (absent on the baseline itself). Diff is the
	// (CUPED-adjusted) difference of means with its interval (a confidence
	// sequence when sequential); Uplift the relative lift treatment/baseline−1
	// with a delta-method interval; PValue the test's (always-valid when
	// sequential) p-value and AdjustedPValue after the correction.
	Diff             *float64    `json:"diff,omitempty"`
	DiffCI           [2]*float64 `json:"diffCi"`
	Uplift           *float64    `json:"uplift,omitempty"`
	UpliftCI         [2]*float64 `json:"upliftCi"`
	PValue           *float64    `json:"pValue,omitempty"`
	AdjustedPValue   *float64    `json:"adjustedPValue,omitempty"`
	DF               *float64    `json:"df,omitempty"`
	CUPEDTheta       *float64    `json:"cupedTheta,omitempty"`
	Significant      bool        `json:"significant"`
	Verdict          string      `json:"verdict,omitempty"`
	Harm             bool        `json:"harm,omitempty"` // guardrail significantly worse
	ProbBeatBaseline *float64    `json:"probabilityToBeatBaseline,omitempty"`
}

func num(f float64) *float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return &f
}

// normalize checks a metric and folds FeatBit's spellings to ours.
func (m *MetricSpec) normalize() error {
	switch strings.ToLower(m.Type) {
	case MetricConversion:
		m.Type = MetricConversion
	case MetricNumeric:
		m.Type = MetricNumeric
	default:
		return fmt.Errorf("%w: metric %q: type must be conversion or numeric", store.ErrInvalid, m.EventName)
	}
	switch strings.ToLower(m.EventType) {
	case "", EventCustom, "customevent":
		m.EventType = EventCustom
	case EventPageView:
		m.EventType = EventPageView
	case EventClick:
		m.EventType = EventClick
	default:
		return fmt.Errorf("%w: metric %q: eventType must be custom, pageview or click", store.ErrInvalid, m.EventName)
	}
	for i := range m.URLs {
		m.URLs[i].MatchType = normalizeMatch(m.URLs[i].MatchType)
	}
	if m.Winsorize != 0 && m.Type != MetricNumeric {
		return fmt.Errorf("%w: metric %q: winsorize applies to numeric metrics only", store.ErrInvalid, m.EventName)
	}
	return m.query(time.Time{}).Validate()
}

// normalizeMatch folds FeatBit's URL match types (Exact, Contains/Substring,
// RegExp) to store's.
func normalizeMatch(t string) string {
	switch strings.ToLower(t) {
	case "exact":
		return store.URLExact
	case "contains", "substring":
		return store.URLContains
	case "regex", "regexp":
		return store.URLRegex
	}
	return t
}

func (m *MetricSpec) query(preFrom time.Time) store.MetricQuery {
	q := store.MetricQuery{EventName: m.EventName, URLs: m.URLs, PreFrom: preFrom, Winsorize: m.Winsorize}
	if m.EventType != EventCustom {
		q.EventType = m.EventType
	}
	return q
}

// normalize checks the query and fills its defaults.
func (q *ExperimentQuery) normalize() error {
	if q.BaselineVariationID == "" || len(q.Metrics) == 0 {
		return fmt.Errorf("%w: baseline and at least one metric are required", store.ErrInvalid)
	}
	if len(q.Metrics) > MaxMetrics {
		return fmt.Errorf("%w: at most %d metrics", store.ErrInvalid, MaxMetrics)
	}
	if q.Confidence == 0 {
		q.Confidence = DefaultConfidence
	}
	if !(q.Confidence > 0 && q.Confidence < 1) {
		return fmt.Errorf("%w: confidence must be in (0, 1)", store.ErrInvalid)
	}
	if q.Sequential == nil {
		t := true
		q.Sequential = &t
	}
	if q.SequentialN == 0 {
		q.SequentialN = stats.DefaultSequentialN
	}
	if !(q.SequentialN >= 100 && q.SequentialN <= 1e9) {
		return fmt.Errorf("%w: sequentialN must be in [100, 1e9]", store.ErrInvalid)
	}
	switch strings.ToLower(q.Correction) {
	case "", stats.CorrectionHolm:
		q.Correction = stats.CorrectionHolm
	case stats.CorrectionBH, stats.CorrectionNone:
		q.Correction = strings.ToLower(q.Correction)
	default:
		return fmt.Errorf("%w: correction must be holm, bh or none", store.ErrInvalid)
	}
	if q.CUPEDDays == nil {
		d := DefaultCUPEDDays
		q.CUPEDDays = &d
	}
	if *q.CUPEDDays < 0 || *q.CUPEDDays > MaxCUPEDDays {
		return fmt.Errorf("%w: cupedDays must be in [0, %d]", store.ErrInvalid, MaxCUPEDDays)
	}
	if len(q.ExpectedSplit) > 1000 {
		return fmt.Errorf("%w: expectedSplit has too many variations", store.ErrInvalid)
	}
	for v, w := range q.ExpectedSplit {
		if !(w >= 0) || math.IsInf(w, 0) {
			return fmt.Errorf("%w: expectedSplit[%q] must be a weight >= 0", store.ErrInvalid, v)
		}
	}
	for i := range q.Metrics {
		if err := q.Metrics[i].normalize(); err != nil {
			return err
		}
	}
	return nil
}

// test is one comparison with the baseline, kept for the correction.
type test struct {
	metric, row int
	p           float64
}

// experiment computes the results from the store.
func experiment(ctx context.Context, st store.Store, q ExperimentQuery) (*ExperimentResult, error) {
	if err := q.normalize(); err != nil {
		return nil, err
	}
	r := store.Range{EnvID: q.EnvID, FlagKey: q.FlagKey, From: q.From, To: q.To}
	ex, err := st.Exposures(ctx, r)
	if err != nil {
		return nil, err
	}
	res := &ExperimentResult{FlagKey: q.FlagKey, BaselineVariationID: q.BaselineVariationID, From: r.FromMs(),
		To: r.ToMs(), ComputedAt: time.Now().UnixMilli(), Confidence: q.Confidence, Sequential: *q.Sequential,
		Correction: q.Correction, Exposures: ex, HarmedGuardrails: []string{}}
	var preFrom time.Time
	if *q.CUPEDDays > 0 {
		preFrom = q.From.AddDate(0, 0, -*q.CUPEDDays)
		res.CUPEDFrom = preFrom.UnixMilli()
	}
	exposed := map[string]uint64{}
	ids := []string{}
	for _, e := range ex {
		exposed[e.VariationID] = e.Users
		ids = append(ids, e.VariationID)
	}
	if _, ok := exposed[q.BaselineVariationID]; !ok {
		ids = append(ids, q.BaselineVariationID)
	}
	for v := range q.ExpectedSplit {
		if !slices.Contains(ids, v) {
			ids = append(ids, v)
		}
	}
	sort.Strings(ids)
	res.SRM = srm(ids, exposed, q.ExpectedSplit)

	alpha := 1 - q.Confidence
	var family []test
	for mi, m := range q.Metrics {
		rows, err := st.Metric(ctx, r, m.query(preFrom))
		if err != nil {
			return nil, err
		}
		byVar := map[string]store.MetricResult{}
		for _, row := range rows {
			byVar[row.VariationID] = row
		}
		out := MetricOutcome{MetricSpec: m, CUPED: !preFrom.IsZero()}
		if m.Winsorize > 0 && len(rows) > 0 {
			out.Cap = num(rows[0].Cap)
		}
		base := compare{m: m, row: byVar[q.BaselineVariationID], exposed: exposed[q.BaselineVariationID]}
		for _, v := range ids {
			c := compare{m: m, row: byVar[v], exposed: exposed[v]}
			raw := c.sample()
			vo := VariationOutcome{VariationID: v, IsBaseline: v == q.BaselineVariationID, Exposed: exposed[v],
				Converted: c.row.Users, Samples: uint64(raw.N), Value: num(raw.Mean), StdDev: num(math.Sqrt(raw.Var))}
			if !vo.IsBaseline {
				p := base.against(&vo, c, q, out.CUPED)
				if !m.Guardrail {
					family = append(family, test{mi, len(out.Variations), p})
				} else {
					vo.AdjustedPValue = num(p)
					vo.Significant = p < alpha
				}
			}
			out.Variations = append(out.Variations, vo)
		}
		res.Metrics = append(res.Metrics, out)
	}
	ps := make([]float64, len(family))
	for i, t := range family {
		ps[i] = t.p
	}
	for i, adj := range stats.Adjust(ps, q.Correction) {
		vo := &res.Metrics[family[i].metric].Variations[family[i].row]
		vo.AdjustedPValue = num(adj)
		vo.Significant = adj < alpha
	}
	for mi := range res.Metrics {
		verdicts(&res.Metrics[mi])
		if mo := res.Metrics[mi]; mo.Guardrail && slices.ContainsFunc(mo.Variations, func(v VariationOutcome) bool { return v.Harm }) {
			res.HarmedGuardrails = append(res.HarmedGuardrails, mo.EventName)
		}
	}
	return res, nil
}

// verdicts sets each arm's verdict, harm and the metric's winner from the
// (corrected) significance and the metric's direction.
func verdicts(mo *MetricOutcome) {
	var best *VariationOutcome
	for i := range mo.Variations {
		vo := &mo.Variations[i]
		if vo.IsBaseline {
			continue
		}
		vo.Verdict = VerdictInconclusive
		if !vo.Significant || vo.Diff == nil {
			continue
		}
		if (*vo.Diff > 0) != mo.LowerIsBetter {
			vo.Verdict = VerdictBetter
			if best == nil || (*vo.Diff > *best.Diff) != mo.LowerIsBetter {
				best = vo
			}
		} else {
			vo.Verdict = VerdictWorse
			vo.Harm = mo.Guardrail
		}
	}
	if best != nil {
		mo.Winner = best.VariationID
	}
}

// compare is one variation's data of one metric.
type compare struct {
	m       MetricSpec
	row     store.MetricResult
	exposed uint64
}

// sample is the unadjusted sample: conversion over the exposed users,
// numeric over the users with events.
func (c compare) sample() stats.Sample {
	if c.m.Type == MetricConversion {
		return stats.Bernoulli(float64(c.exposed), float64(c.row.Users))
	}
	return stats.FromSums(float64(c.row.Users), c.row.Sum, c.row.SumSq)
}

// moments are the CUPED sums: for conversion Y and X are 0/1 over the
// exposed users, for numeric the user means over the users with events.
func (c compare) moments() stats.Moments {
	if c.m.Type == MetricConversion {
		k, pre := float64(c.row.Users), float64(c.row.PreUsers)
		return stats.Moments{N: float64(c.exposed), SumY: k, SumY2: k, SumX: pre, SumX2: pre, SumXY: float64(c.row.PreBoth)}
	}
	return stats.Moments{N: float64(c.row.Users), SumY: c.row.Sum, SumY2: c.row.SumSq,
		SumX: c.row.PreSum, SumX2: c.row.PreSumSq, SumXY: c.row.CrossSum}
}

// against fills vo's comparison of treatment t with the baseline b and
// returns the test's p-value (before correction).
func (b compare) against(vo *VariationOutcome, t compare, q ExperimentQuery, cuped bool) float64 {
	bs, ts := b.sample(), t.sample()
	theta := 0.0
	if cuped {
		bs, ts, theta = stats.CUPED(b.moments(), t.moments())
		vo.CUPEDTheta = num(theta)
	}
	w := stats.WelchTest(bs, ts, q.Confidence)
	l := stats.RelativeLift(bs, ts)
	vo.Diff, vo.Uplift, vo.DF = num(w.Diff), num(l.Lift), num(w.DF)
	p := w.P
	lo, hi := w.Lo, w.Hi
	ulo, uhi := stats.NormalInterval(l.Lift, l.Var, q.Confidence)
	if *q.Sequential {
		alpha, n := 1-q.Confidence, bs.N+ts.N
		v := w.SE * w.SE
		s := stats.MSPRT(w.Diff, v, stats.MixtureVariance(v, n, q.SequentialN), alpha)
		p, lo, hi = s.P, s.Lo, s.Hi
		ls := stats.MSPRT(l.Lift, l.Var, stats.MixtureVariance(l.Var, n, q.SequentialN), alpha)
		ulo, uhi = ls.Lo, ls.Hi
		vo.DF = nil
	}
	vo.PValue = num(p)
	vo.DiffCI = [2]*float64{num(lo), num(hi)}
	vo.UpliftCI = [2]*float64{num(ulo), num(uhi)}
	// probability that the treatment is better, in the metric's direction
	pb := math.NaN()
	if b.m.Type == MetricConversion && theta == 0 {
		pb = stats.ProbToBeatConversion(bs.N, float64(b.row.Users), ts.N, float64(t.row.Users))
	} else {
		pb = stats.ProbToBeatMean(bs, ts)
	}
	if b.m.LowerIsBetter {
		pb = 1 - pb
	}
	vo.ProbBeatBaseline = num(pb)
	return p
}

func srm(ids []string, exposed map[string]uint64, split map[string]float64) SRMResult {
	out := SRMResult{Expected: map[string]float64{}}
	if len(split) == 0 {
		return out
	}
	obs := make([]float64, len(ids))
	w := make([]float64, len(ids))
	var n, wsum float64
	for i, v := range ids {
		obs[i] = float64(exposed[v])
		w[i] = split[v]
		if w[i] > 0 {
			n += obs[i]
			wsum += w[i]
		}
	}
	r := stats.SRMCheck(obs, w, srmAlpha)
	out.Checked, out.ChiSquare, out.DF, out.PValue, out.Mismatch = true, num(r.ChiSquare), r.DF, num(r.P), r.Mismatch
	for i, v := range ids {
		if w[i] > 0 && wsum > 0 {
			out.Expected[v] = n * w[i] / wsum
		}
	}
	return out
}

// resultCache keeps experiment results for a short TTL (results are
// recomputed on demand: "near real time" means at most TTL old).
type resultCache struct {
	ttl time.Duration
	max int
	mu  sync.Mutex
	m   map[string]cached
}

type cached struct {
	at  time.Time
	res *ExperimentResult
}

func newResultCache(ttl time.Duration, max int) *resultCache {
	return &resultCache{ttl: ttl, max: max, m: map[string]cached{}}
}

func (c *resultCache) get(k string) *ExperimentResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || time.Since(e.at) > c.ttl {
		return nil
	}
	return e.res
}

func (c *resultCache) put(k string, r *ExperimentResult) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for k, e := range c.m {
			if time.Since(e.at) > c.ttl {
				delete(c.m, k)
			}
		}
		if len(c.m) >= c.max {
			clear(c.m)
		}
	}
	c.m[k] = cached{time.Now(), r}
}

// invalidate drops every entry (after a GDPR deletion).
func (c *resultCache) invalidate() {
	c.mu.Lock()
	clear(c.m)
	c.mu.Unlock()
}
