package api

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/codec/secret"
	"github.com/switchyard/switchyard/control/internal/domain"
	"github.com/switchyard/switchyard/control/internal/store"
	"github.com/switchyard/switchyard/control/internal/workflow"
)

// Limits of a guarded rollout.
const (
	maxRolloutStages    = 10
	maxRolloutHold      = 30 * 24 * 3600 // seconds a stage may hold
	defaultRolloutCheck = 60             // seconds between guardrail checks
	maxRolloutCheck     = 3600
	// defaultRolloutSeqN tunes the guardrails' sequential test (analytics'
	// sequentialN: the total users at which it is most powerful). Lower
	// than experiments' 5,000: a rollout starts small and harm must show
	// early.
	defaultRolloutSeqN = 1000
)

// RolloutRequest starts a guarded rollout on a flag: the rule RuleID (""
// or "default": the default rule) moves from BaselineVariationID (default:
// the variation the rule serves to everyone now) to VariationID through
// Stages while no metric of MetricIDs (all treated as guardrails) shows
// harm; checked every CheckEverySeconds (default 60) with the sequential
// test tuned to SequentialN users (default 1,000).
type RolloutRequest struct {
	RuleID              string               `json:"ruleId"`
	VariationID         string               `json:"variationId"`
	BaselineVariationID string               `json:"baselineVariationId"`
	MetricIDs           []string             `json:"metricIds"`
	Stages              []store.RolloutStage `json:"stages"`
	CheckEverySeconds   int64                `json:"checkEverySeconds"`
	SequentialN         float64              `json:"sequentialN,omitempty"`
}

func init() {
	// The handlers record their own entries (flag update and rollout).
	auditSpecs["POST /envs/{envId}/flags/{key}/guarded-rollouts"] = auditSpec{typ: "guarded_rollout", action: "started", self: true}
	auditSpecs["POST /envs/{envId}/guarded-rollouts/{id}/abort"] = auditSpec{typ: "guarded_rollout", action: "aborted", self: true}
}

// exptRoutes are the experiment workflow routes of this file and h_ship.go.
func (a *API) exptRoutes() []Route {
	const p = Prefix
	return []Route{
		a.shipRoute(),
		{Method: "POST", Path: p + "/envs/{envId}/flags/{key}/guarded-rollouts", Tag: "guarded-rollouts", Summary: "Start a guarded rollout of a variation on a rule or the default rule (stages advance while guardrail metrics show no harm; harm rolls back)", Scope: Env, Action: ActFlagWrite, Status: 201, Body: RolloutRequest{}, Resp: store.GuardedRollout{}, h: a.startRollout},
		{Method: "GET", Path: p + "/envs/{envId}/guarded-rollouts", Tag: "guarded-rollouts", Summary: "List guarded rollouts (status filter: running, completed, rolled_back, aborted, failed; flag: key or id)", Scope: Env, Action: ActRead, Query: []string{"status", "flag"}, Resp: List[store.GuardedRollout]{}, h: a.listRollouts},
		{Method: "GET", Path: p + "/envs/{envId}/guarded-rollouts/{id}", Tag: "guarded-rollouts", Summary: "Get a guarded rollout: stage, last guardrail check", Scope: Env, Action: ActRead, Resp: store.GuardedRollout{}, h: a.getRollout},
		{Method: "POST", Path: p + "/envs/{envId}/guarded-rollouts/{id}/abort", Tag: "guarded-rollouts", Summary: "Abort a running guarded rollout: the rule gets back what it served before", Scope: Env, Action: ActFlagWrite, Resp: store.GuardedRollout{}, h: a.abortRollout},
	}
}

func validRollout(req *RolloutRequest, f *codec.Flag) error {
	if req.RuleID == "default" {
		req.RuleID = ""
	}
	cur, _, ok := workflow.RuleServe(f, req.RuleID)
	if !ok {
		return store.Invalid("ruleId", "flag %q has no rule %q (\"\" or \"default\" is the default rule)", f.Key, req.RuleID)
	}
	// The guardrails read the flag's exposures: users another rule (or
	// individual targeting) sends to experiments would mix in.
	for _, r := range f.Rules {
		if r.IncludedInExpt && r.ID != req.RuleID {
			return store.Errorf(store.ErrConflict, "%s sends its users to experiments; their exposures would mix into the guardrails: take it out of the experiment first", workflow.RuleName(f, r.ID))
		}
	}
	if f.Fallthrough.IncludedInExpt && req.RuleID != "" {
		return store.Errorf(store.ErrConflict, "the default rule sends its users to experiments; their exposures would mix into the guardrails: take it out of the experiment first")
	}
	if f.ExptIncludeAllTargets && len(f.TargetUsers) > 0 {
		return store.Errorf(store.ErrConflict, "individually targeted users are sent to experiments (exptIncludeAllTargets); their exposures would mix into the guardrails")
	}
	has := func(id string) bool {
		return slices.ContainsFunc(f.Variations, func(v codec.Variation) bool { return v.ID == id })
	}
	if !has(req.VariationID) {
		return store.Invalid("variationId", "variation id %q is not one of the flag's variations", req.VariationID)
	}
	if req.BaselineVariationID == "" {
		if len(cur) != 1 || cur[0].Rollout[1]-cur[0].Rollout[0] < 1 {
			return store.Invalid("baselineVariationId", "required: the rule serves a percentage split, so say which variation the rollout replaces")
		}
		req.BaselineVariationID = cur[0].ID
	}
	if !has(req.BaselineVariationID) {
		return store.Invalid("baselineVariationId", "variation id %q is not one of the flag's variations", req.BaselineVariationID)
	}
	if req.BaselineVariationID == req.VariationID {
		return store.Invalid("variationId", "the rule already serves this variation; choose another one")
	}
	if len(req.MetricIDs) == 0 || len(req.MetricIDs) > maxExptMetrics {
		return store.Invalid("metricIds", "1 to %d guardrail metrics", maxExptMetrics)
	}
	if len(req.Stages) == 0 || len(req.Stages) > maxRolloutStages {
		return store.Invalid("stages", "1 to %d stages", maxRolloutStages)
	}
	prev := 0.0
	for i, s := range req.Stages {
		if !(s.Percent > prev && s.Percent <= 100) || math.Round(s.Percent*100) != s.Percent*100 {
			return store.Invalid(domain.At("stages", i)+".percent", "must grow stage by stage, in (0, 100] with at most two decimals")
		}
		if s.HoldSeconds < 0 || s.HoldSeconds > maxRolloutHold {
			return store.Invalid(domain.At("stages", i)+".holdSeconds", "must be 0 to %d", maxRolloutHold)
		}
		prev = s.Percent
	}
	switch {
	case req.SequentialN == 0:
		req.SequentialN = defaultRolloutSeqN
	case !(req.SequentialN >= 100 && req.SequentialN <= 1e9):
		return store.Invalid("sequentialN", "must be 100 to 1e9 users")
	}
	switch {
	case req.CheckEverySeconds == 0:
		req.CheckEverySeconds = defaultRolloutCheck
	case req.CheckEverySeconds < 1 || req.CheckEverySeconds > maxRolloutCheck:
		return store.Invalid("checkEverySeconds", "must be 1 to %d", maxRolloutCheck)
	}
	return nil
}

func (a *API) startRollout(c *call) (any, error) {
	if ei, ok := a.cfg.Insights.(ExperimentInsights); !ok || ei == nil {
		return nil, store.Errorf(store.ErrUnavailable, "analytics is not configured: guardrails cannot be checked")
	}
	var req RolloutRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	cur, err := a.flag(c)
	if err != nil {
		return nil, err
	}
	if cur.IsArchived {
		return nil, store.Errorf(store.ErrConflict, "flag %q is archived; restore it first", cur.Key)
	}
	running, err := a.st.ListRollouts(c.ctx, c.env.ID, store.RolloutRunning)
	if err != nil {
		return nil, err
	}
	for _, r := range running {
		if r.FlagID == cur.ID {
			return nil, store.Errorf(store.ErrConflict, "guarded rollout %s is already running on flag %q", r.ID, cur.Key)
		}
	}
	if err := validRollout(&req, cur); err != nil {
		return nil, err
	}
	if err := listCap("metricIds", len(req.MetricIDs), maxRefList); err != nil {
		return nil, err
	}
	for i, id := range req.MetricIDs {
		if _, err := a.st.GetMetric(c.ctx, c.env.ID, id); err != nil {
			return nil, store.Invalid(domain.At("metricIds", i), "metric does not exist in this environment")
		}
	}
	if !cur.IsEnabled {
		return nil, store.Errorf(store.ErrConflict, "flag %q is off: turn it on first (an off flag serves one variation to everyone)", cur.Key)
	}
	xs, err := a.st.ListExperiments(c.ctx, c.env.ID)
	if err != nil {
		return nil, err
	}
	for _, x := range xs {
		if x.FlagID == cur.ID && x.Status == store.ExptRunning {
			return nil, store.Errorf(store.ErrConflict, "experiment %s is running on flag %q; stop it first (both would use its exposures)", x.ID, cur.Key)
		}
	}
	prev, inExpt, _ := workflow.RuleServe(cur, req.RuleID)
	now := a.st.Now()
	x := &store.GuardedRollout{ID: secret.NewGUID(), OrgID: c.orgID, EnvID: c.env.ID, FlagID: cur.ID, FlagKey: cur.Key,
		RuleID: req.RuleID, VariationID: req.VariationID, BaselineVariationID: req.BaselineVariationID, MetricIDs: req.MetricIDs,
		Stages: req.Stages, CheckEverySeconds: req.CheckEverySeconds, SequentialN: req.SequentialN, StageStartedAt: now, StartedAt: now,
		Previous: slices.Clone(prev), PreviousInExpt: inExpt, Status: store.RolloutRunning, Comment: commentOf(c.ctx), CreatedBy: c.actor()}
	// The rollout is stored first: a flag written without it would be
	// rolled out with nobody watching.
	if err := a.st.CreateRollout(c.ctx, x); err != nil {
		return nil, err
	}
	f := cur.Clone()
	workflow.SetRuleServe(f, x.RuleID, workflow.StageServe(x, x.Stages[0].Percent), true)
	if _, err := a.dom.SaveFlag(c.ctx, f, cur.Version); err != nil {
		_ = a.st.DeleteRollout(c.ctx, x.EnvID, x.ID)
		return nil, err
	}
	a.dom.Record(c.ctx, &domain.Change{Actor: c.actor(), ActorName: c.actorName(), OrgID: c.orgID, Type: "flag", Action: "updated",
		Comment: x.Comment, Before: cur, After: f, Extra: []string{fmt.Sprintf("guarded rollout %s: stage 1, %g%% get %s", x.ID, x.Stages[0].Percent, workflow.VariationName(cur, x.VariationID))}})
	a.dom.Record(c.ctx, &domain.Change{Actor: c.actor(), ActorName: c.actorName(), OrgID: c.orgID, Type: "guarded_rollout", Action: "started",
		Comment: x.Comment, After: x, SkipDiff: true, Extra: []string{fmt.Sprintf("rollout of %s on %s of flag '%s': %s", workflow.VariationName(cur, x.VariationID), workflow.RuleName(cur, x.RuleID), cur.Key, stagesText(x.Stages))}})
	a.wf.Wake()
	return x, nil
}

func stagesText(ss []store.RolloutStage) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = fmt.Sprintf("%g%% for %s", s.Percent, time.Duration(s.HoldSeconds)*time.Second)
	}
	return strings.Join(parts, " → ")
}

func (a *API) listRollouts(c *call) (any, error) {
	status := c.r.URL.Query().Get("status")
	switch status {
	case "", store.RolloutRunning, store.RolloutCompleted, store.RolloutRolledBack, store.RolloutAborted, store.RolloutFailed:
	default:
		return nil, store.Invalid("status", "must be running, completed, rolled_back, aborted or failed")
	}
	xs, err := a.st.ListRollouts(c.ctx, c.env.ID, status)
	if err != nil {
		return nil, err
	}
	flag := c.r.URL.Query().Get("flag")
	out := make([]store.GuardedRollout, 0, len(xs))
	for _, x := range xs {
		if flag == "" || x.FlagKey == flag || x.FlagID == flag {
			out = append(out, *x)
		}
	}
	slices.SortFunc(out, func(p, q store.GuardedRollout) int { return int(q.StartedAt - p.StartedAt) })
	return list(out, len(out)), nil
}

func (a *API) getRollout(c *call) (any, error) { return a.st.GetRollout(c.ctx, c.env.ID, c.path("id")) }

func (a *API) abortRollout(c *call) (any, error) {
	x, err := a.st.GetRollout(c.ctx, c.env.ID, c.path("id"))
	if err != nil {
		return nil, err
	}
	if x.Status != store.RolloutRunning {
		return nil, store.Errorf(store.ErrConflict, "the rollout is %s; only a running rollout can be aborted", x.Status)
	}
	y, err := a.wf.AbortRollout(c.ctx, x, c.actor(), c.actorName(), commentOf(c.ctx))
	if err != nil {
		return nil, err
	}
	if y == nil {
		return nil, store.Errorf(store.ErrConflict, "the rollout is being checked or changed right now; reload and retry")
	}
	return y, nil
}
