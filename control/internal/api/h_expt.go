package api

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/domain"
	"github.com/switchyard/switchyard/control/internal/store"
)

// Limits of a metric definition and an experiment.
const (
	maxTargetURLs     = 20   // target URLs per metric
	maxURLLen         = 512  // bytes of a target URL or pattern
	maxSelectorLen    = 1000 // bytes of a click metric's CSS selector
	maxExptMetrics    = 20   // metrics per experiment
	maxCUPEDDays      = 90
	minWinsorize      = 0.5
	maxWinsorize      = 0.9999
	defaultCUPEDDays  = 14
	exptResultTimeout = 60 * time.Second
)

// ExperimentInsights is what the experiment results route asks analytics:
// the results of one flag's experiment for a query in analytics' POST form
// (analytics/api.go experimentBody). An Insights without it answers 503.
type ExperimentInsights interface {
	Experiment(ctx context.Context, envID, flagKey string, query any) (json.RawMessage, error)
}

// norm folds e (FeatBit's spellings included, case-insensitive) to the
// canonical value of its table; def is the value of an empty e.
func norm(field string, e store.Enum, def string, table map[string]string) (store.Enum, error) {
	if e == "" {
		return store.Enum(def), nil
	}
	if v, ok := table[strings.ToLower(string(e))]; ok {
		return store.Enum(v), nil
	}
	keys := make([]string, 0, len(table))
	for _, v := range table {
		if !strings.ContainsAny(v, "0123456789") && !slices.Contains(keys, v) {
			keys = append(keys, v)
		}
	}
	sort.Strings(keys)
	return "", store.Invalid(field, "%q is not one of %s", e, strings.Join(keys, ", "))
}

var (
	eventTypes   = map[string]string{"custom": "custom", "customevent": "custom", "1": "custom", "pageview": "pageview", "2": "pageview", "click": "click", "3": "click"}
	trackOptions = map[string]string{"conversion": "conversion", "1": "conversion", "undefined": "conversion", "0": "conversion", "numeric": "numeric", "2": "numeric"}
	criteria     = map[string]string{"higher": "higher", "1": "higher", "undefined": "higher", "0": "higher", "lower": "lower", "2": "lower"}
	matchTypes   = map[string]string{"exact": "exact", "contains": "contains", "substring": "contains", "1": "contains", "regex": "regex", "regexp": "regex"}
)

// validMetric checks a metric definition and normalises its enums.
func validMetric(m *store.Metric) error {
	if err := domain.Text("name", strings.TrimSpace(m.Name), 1, 200); err != nil {
		return err
	}
	if err := domain.Text("description", m.Description, 0, domain.MaxText); err != nil {
		return err
	}
	if err := domain.Text("eventName", m.EventName, 1, 200); err != nil {
		return err
	}
	if err := domain.Text("customEventUnit", m.Unit, 0, 50); err != nil {
		return err
	}
	var err error
	if m.EventType, err = norm("eventType", m.EventType, "custom", eventTypes); err != nil {
		return err
	}
	if m.TrackOption, err = norm("customEventTrackOption", m.TrackOption, "conversion", trackOptions); err != nil {
		return err
	}
	def := "higher"
	if m.SuccessIsLower {
		def = "lower"
	}
	if m.SuccessCriteria, err = norm("customEventSuccessCriteria", m.SuccessCriteria, def, criteria); err != nil {
		return err
	}
	m.SuccessIsLower = m.SuccessCriteria == "lower"
	if m.EventType != "custom" && m.TrackOption != "conversion" {
		return store.Invalid("customEventTrackOption", "page-view and click metrics are conversions")
	}
	if len(m.TargetURLs) > maxTargetURLs {
		return store.Invalid("targetUrls", "at most %d URLs", maxTargetURLs)
	}
	if m.EventType != "custom" && len(m.TargetURLs) == 0 {
		return store.Invalid("targetUrls", "a %s metric needs at least one URL", m.EventType)
	}
	for i := range m.TargetURLs {
		u := &m.TargetURLs[i]
		f := domain.At("targetUrls", i)
		if u.MatchType, err = norm(f+".matchType", u.MatchType, "contains", matchTypes); err != nil {
			return err
		}
		if u.URL == "" || len(u.URL) > maxURLLen || strings.ContainsFunc(u.URL, unicode.IsControl) {
			return store.Invalid(f+".url", "must be 1 to %d bytes without control characters", maxURLLen)
		}
		if u.MatchType == "regex" {
			if _, err := regexp.Compile(u.URL); err != nil {
				return store.Invalid(f+".url", "not an RE2 regular expression: %v", err)
			}
		}
	}
	switch {
	case m.EventType == "click" && strings.TrimSpace(m.ElementTargets) == "":
		return store.Invalid("elementTargets", "a click metric needs a CSS selector")
	case m.EventType != "click" && m.ElementTargets != "":
		return store.Invalid("elementTargets", "only click metrics have a CSS selector")
	case len(m.ElementTargets) > maxSelectorLen || strings.ContainsFunc(m.ElementTargets, unicode.IsControl):
		return store.Invalid("elementTargets", "must be at most %d bytes without control characters", maxSelectorLen)
	}
	if m.Winsorize != 0 && (m.TrackOption != "numeric" || !(m.Winsorize >= minWinsorize && m.Winsorize <= maxWinsorize)) {
		return store.Invalid("winsorize", "0 (off) or, for numeric metrics, a quantile in [%g, %g]", minWinsorize, maxWinsorize)
	}
	return nil
}

// validAnalysis checks an experiment's analysis settings.
func validAnalysis(req *ExperimentRequest) error {
	switch strings.ToLower(req.Correction) {
	case "", "holm", "bh", "none":
		req.Correction = strings.ToLower(req.Correction)
	default:
		return store.Invalid("correction", "must be holm, bh or none")
	}
	if req.CUPEDDays != nil && (*req.CUPEDDays < 0 || *req.CUPEDDays > maxCUPEDDays) {
		return store.Invalid("cupedDays", "must be 0 (off) to %d", maxCUPEDDays)
	}
	return nil
}

// ExpectedSplit derives the share of experiment exposures each variation
// should get from the flag's own rollout: for every rule (and the default
// rule) included in the experiment, variation v's share is min(exptRollout,
// width of its rollout range) — the users of the range times the sampled
// share the evaluator sends (edge/eval sendToExperiment). The shares must be
// the same, up to scale, in every included rule: otherwise the mix depends
// on how many users each rule matches, unknown here, and the split is nil
// with the reason in note. note also warns when targeted users are sent too.
func ExpectedSplit(f *codec.Flag) (split map[string]float64, note string) {
	var rollouts [][]codec.RolloutVariation
	for _, r := range f.Rules {
		if r.IncludedInExpt {
			rollouts = append(rollouts, r.Variations)
		}
	}
	if f.Fallthrough.IncludedInExpt {
		rollouts = append(rollouts, f.Fallthrough.Variations)
	}
	if !f.IsEnabled {
		return nil, "the flag is off: it serves one variation to everyone"
	}
	for _, rv := range rollouts {
		w := map[string]float64{}
		sum := 0.0
		for _, v := range rv {
			s := math.Max(0, math.Min(v.ExptRollout, v.Rollout[1]-v.Rollout[0]))
			w[v.ID] += s
			sum += s
		}
		if sum <= 0 {
			continue
		}
		for k := range w {
			w[k] /= sum
		}
		if split == nil {
			split = w
			continue
		}
		for k := range mergeKeys(split, w) {
			if math.Abs(split[k]-w[k]) > 1e-9 {
				return nil, "the rules in the experiment split traffic differently; the expected mix depends on how many users each matches"
			}
		}
	}
	if split == nil {
		return nil, "no rule sends users to the experiment"
	}
	for k, v := range split {
		if v == 0 {
			delete(split, k)
		}
	}
	if f.ExptIncludeAllTargets && len(f.TargetUsers) > 0 {
		note = "individually targeted users are also in the experiment; the split counts only the rules' rollout"
	}
	return split, note
}

func mergeKeys(a, b map[string]float64) map[string]bool {
	m := map[string]bool{}
	for k := range a {
		m[k] = true
	}
	for k := range b {
		m[k] = true
	}
	return m
}

// ExperimentResults is the answer of the experiment results route.
type ExperimentResults struct {
	Experiment *store.Experiment `json:"experiment"`
	// ExpectedSplit is the share per variation id from the flag's rollout
	// (what the SRM check tests against); null with SplitNote saying why.
	ExpectedSplit map[string]float64 `json:"expectedSplit"`
	SplitNote     string             `json:"splitNote,omitempty"`
	// Results is analytics' experiment result (analytics.ExperimentResult).
	Results json.RawMessage `json:"results"`
}

// experimentResults computes a started experiment's results over
// [startedAt, stoppedAt or now): the metrics' definitions and the expected
// split come from the stored experiment, metrics and flag, not the caller.
func (a *API) experimentResults(c *call) (any, error) {
	ei, ok := a.cfg.Insights.(ExperimentInsights)
	if !ok || a.cfg.Insights == nil {
		return nil, store.Errorf(store.ErrUnavailable, "analytics is not configured: no experiment results")
	}
	x, err := a.st.GetExperiment(c.ctx, c.env.ID, c.path("id"))
	if err != nil {
		return nil, err
	}
	if x.StartedAt == 0 {
		return nil, store.Errorf(store.ErrConflict, "the experiment has not started")
	}
	f, err := a.st.GetFlag(c.ctx, c.env.ID, x.FlagID)
	if err != nil {
		return nil, fmt.Errorf("flag of experiment %s: %w", x.ID, err)
	}
	ms, err := a.dom.MetricSpecs(c.ctx, c.env.ID, x.MetricIDs[:min(len(x.MetricIDs), maxExptMetrics)], false)
	if err != nil {
		return nil, fmt.Errorf("experiment %s: %w", x.ID, err)
	}
	to := time.Now().UnixMilli()
	if x.StoppedAt > x.StartedAt {
		to = x.StoppedAt
	}
	split, note := ExpectedSplit(f)
	cuped := defaultCUPEDDays
	if x.CUPEDDays != nil {
		cuped = *x.CUPEDDays
	}
	q := map[string]any{"baselineVariationId": x.BaselineVariationID, "from": x.StartedAt, "to": to, "metrics": ms,
		"expectedSplit": split, "sequential": x.Sequential == nil || *x.Sequential, "correction": x.Correction, "cupedDays": cuped}
	ctx, cancel := context.WithTimeout(c.ctx, exptResultTimeout)
	defer cancel()
	raw, err := ei.Experiment(ctx, c.env.ID, f.Key, q)
	if err != nil {
		return nil, fmt.Errorf("experiment results: %w: %w", store.ErrUnavailable, err)
	}
	return &ExperimentResults{Experiment: x, ExpectedSplit: split, SplitNote: note, Results: raw}, nil
}
