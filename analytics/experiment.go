package analytics

import (
	"context"
	"fmt"
	"math"
	"sort"
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

// ExperimentQuery asks for an experiment's results.
type ExperimentQuery struct {
	EnvID, FlagKey      string
	BaselineVariationID string
	From, To            time.Time
	Metrics             []MetricSpec
	// ExpectedSplit maps variation id → weight for the SRM check; empty means
	// an equal split over the exposed variations.
	ExpectedSplit map[string]float64
	Confidence    float64 // default 0.95
}

// MetricSpec is one metric of an experiment.
type MetricSpec struct {
	EventName string `json:"eventName"`
	Type      string `json:"type"` // MetricConversion or MetricNumeric
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
	Exposures           []store.Exposure `json:"exposures"`
	SRM                 SRMResult        `json:"srm"`
	Metrics             []MetricOutcome  `json:"metrics"`
}

// SRMResult is the sample-ratio-mismatch check (chi-square goodness of fit,
// mismatch when p < 0.001).
type SRMResult struct {
	Expected  map[string]float64 `json:"expected"` // expected users per variation
	ChiSquare *float64           `json:"chiSquare"`
	DF        float64            `json:"df"`
	PValue    *float64           `json:"pValue"`
	Mismatch  bool               `json:"mismatch"`
}

// MetricOutcome is one metric's per-variation results.
type MetricOutcome struct {
	MetricSpec
	Variations []VariationOutcome `json:"variations"`
}

// VariationOutcome is one variation's result for one metric. For conversion
// metrics Value is the conversion rate (Converted/Exposed); for numeric ones
// the mean and Samples the users it averages.
type VariationOutcome struct {
	VariationID string   `json:"variationId"`
	IsBaseline  bool     `json:"isBaseline"`
	Exposed     uint64   `json:"exposed"`
	Converted   uint64   `json:"converted"` // users with ≥1 event after first exposure
	Samples     uint64   `json:"samples"`   // observations of the test (Exposed for conversion)
	Value       *float64 `json:"value"`
	StdDev      *float64 `json:"stdDev"`
	// vs the baseline (absent on the baseline itself)
	Diff             *float64    `json:"diff,omitempty"`
	DiffCI           [2]*float64 `json:"diffCi"`
	Uplift           *float64    `json:"uplift,omitempty"`
	UpliftCI         [2]*float64 `json:"upliftCi"`
	PValue           *float64    `json:"pValue,omitempty"`
	DF               *float64    `json:"df,omitempty"`
	Significant      bool        `json:"significant"`
	ProbBeatBaseline *float64    `json:"probabilityToBeatBaseline,omitempty"`
}

func num(f float64) *float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return &f
}

// experiment computes the results from the store.
func experiment(ctx context.Context, st store.Store, q ExperimentQuery) (*ExperimentResult, error) {
	if q.BaselineVariationID == "" || len(q.Metrics) == 0 {
		return nil, fmt.Errorf("%w: baseline and at least one metric are required", store.ErrInvalid)
	}
	if q.Confidence == 0 {
		q.Confidence = 0.95
	}
	if !(q.Confidence > 0 && q.Confidence < 1) {
		return nil, fmt.Errorf("%w: confidence must be in (0, 1)", store.ErrInvalid)
	}
	r := store.Range{EnvID: q.EnvID, FlagKey: q.FlagKey, From: q.From, To: q.To}
	ex, err := st.Exposures(ctx, r)
	if err != nil {
		return nil, err
	}
	res := &ExperimentResult{FlagKey: q.FlagKey, BaselineVariationID: q.BaselineVariationID, From: r.FromMs(),
		To: r.ToMs(), ComputedAt: time.Now().UnixMilli(), Confidence: q.Confidence, Exposures: ex}
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
		if _, ok := exposed[v]; !ok && !contains(ids, v) {
			ids = append(ids, v)
		}
	}
	sort.Strings(ids)
	res.SRM = srm(ids, exposed, q.ExpectedSplit)

	for _, m := range q.Metrics {
		if m.EventName == "" || (m.Type != MetricConversion && m.Type != MetricNumeric) {
			return nil, fmt.Errorf("%w: metric needs eventName and type conversion|numeric", store.ErrInvalid)
		}
		rows, err := st.Metric(ctx, r, m.EventName)
		if err != nil {
			return nil, err
		}
		byVar := map[string]store.MetricResult{}
		for _, row := range rows {
			byVar[row.VariationID] = row
		}
		sample := func(v string) stats.Sample {
			row := byVar[v]
			if m.Type == MetricConversion {
				return stats.Bernoulli(float64(exposed[v]), float64(row.Users))
			}
			return stats.FromSums(float64(row.Users), row.Sum, row.SumSq)
		}
		base := sample(q.BaselineVariationID)
		out := MetricOutcome{MetricSpec: m}
		for _, v := range ids {
			smp := sample(v)
			vo := VariationOutcome{VariationID: v, IsBaseline: v == q.BaselineVariationID, Exposed: exposed[v],
				Converted: byVar[v].Users, Samples: uint64(smp.N), Value: num(smp.Mean), StdDev: num(math.Sqrt(smp.Var))}
			if !vo.IsBaseline {
				w := stats.WelchTest(base, smp, q.Confidence)
				vo.Diff, vo.DiffCI = num(w.Diff), [2]*float64{num(w.Lo), num(w.Hi)}
				vo.Uplift, vo.UpliftCI = num(w.Uplift), [2]*float64{num(w.UpliftLo), num(w.UpliftHi)}
				vo.PValue, vo.DF = num(w.P), num(w.DF)
				vo.Significant = w.P < 1-q.Confidence
				if m.Type == MetricConversion {
					vo.ProbBeatBaseline = num(stats.ProbToBeatConversion(base.N, float64(byVar[q.BaselineVariationID].Users),
						smp.N, float64(byVar[v].Users)))
				} else {
					vo.ProbBeatBaseline = num(stats.ProbToBeatMean(base, smp))
				}
			}
			out.Variations = append(out.Variations, vo)
		}
		res.Metrics = append(res.Metrics, out)
	}
	return res, nil
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func srm(ids []string, exposed map[string]uint64, split map[string]float64) SRMResult {
	obs := make([]float64, len(ids))
	w := make([]float64, len(ids))
	var n, wsum float64
	for i, v := range ids {
		obs[i] = float64(exposed[v])
		if len(split) == 0 {
			if exposed[v] > 0 {
				w[i] = 1
			}
		} else {
			w[i] = split[v]
		}
		if w[i] > 0 {
			n += obs[i]
			wsum += w[i]
		}
	}
	r := stats.SRMCheck(obs, w, 0.001)
	out := SRMResult{Expected: map[string]float64{}, ChiSquare: num(r.ChiSquare), DF: r.DF, PValue: num(r.P), Mismatch: r.Mismatch}
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
