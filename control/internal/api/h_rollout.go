package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/codec/secret"
	"github.com/switchyard/switchyard/control/internal/store"
)

// Limits of a guarded rollout.
const (
	maxRolloutStages     = 10
	maxRolloutHold       = 30 * 24 * 3600 // seconds a stage may hold
	defaultRolloutCheck  = 60             // seconds between guardrail checks
	maxRolloutCheck      = 3600
	rolloutCheckTimeout  = 60 * time.Second
	rolloutLeaseSeconds  = 30 // a claimed check not saved within this is taken over
	rolloutReasonMaxRune = 500
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

// ruleServe returns the serve of the rule id ("" = default rule) and
// whether it is in the experiment; ok is false when f has no such rule.
func ruleServe(f *codec.Flag, id string) (vs []codec.RolloutVariation, inExpt, ok bool) {
	if id == "" {
		return f.Fallthrough.Variations, f.Fallthrough.IncludedInExpt, true
	}
	for _, r := range f.Rules {
		if r.ID == id {
			return r.Variations, r.IncludedInExpt, true
		}
	}
	return nil, false, false
}

// setRuleServe sets the serve of rule id of f.
func setRuleServe(f *codec.Flag, id string, vs []codec.RolloutVariation, inExpt bool) bool {
	if id == "" {
		f.Fallthrough.Variations, f.Fallthrough.IncludedInExpt = vs, inExpt
		return true
	}
	for i := range f.Rules {
		if f.Rules[i].ID == id {
			f.Rules[i].Variations, f.Rules[i].IncludedInExpt = vs, inExpt
			return true
		}
	}
	return false
}

// stageServe is the serve of a rule at percent p of a rollout: the new
// variation on [0, p), the baseline on the rest, every user's evaluation
// sent to the experiment (so the guardrails compare the two). Users keep
// the new variation as p grows (their bucket stays below p).
func stageServe(x *store.GuardedRollout, p float64) []codec.RolloutVariation {
	f := math.Round(p*100) / 10000
	if f >= 1 {
		return []codec.RolloutVariation{{ID: x.VariationID, Rollout: [2]float64{0, 1}, ExptRollout: 1}}
	}
	return []codec.RolloutVariation{{ID: x.VariationID, Rollout: [2]float64{0, f}, ExptRollout: 1},
		{ID: x.BaselineVariationID, Rollout: [2]float64{f, 1}, ExptRollout: 1}}
}

func sameServe(a, b []codec.RolloutVariation) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func validRollout(req *RolloutRequest, f *codec.Flag) error {
	if req.RuleID == "default" {
		req.RuleID = ""
	}
	cur, _, ok := ruleServe(f, req.RuleID)
	if !ok {
		return store.Invalid("ruleId", "flag %q has no rule %q (\"\" or \"default\" is the default rule)", f.Key, req.RuleID)
	}
	// The guardrails read the flag's exposures: users another rule (or
	// individual targeting) sends to experiments would mix in.
	for _, r := range f.Rules {
		if r.IncludedInExpt && r.ID != req.RuleID {
			return store.Errorf(store.ErrConflict, "%s sends its users to experiments; their exposures would mix into the guardrails: take it out of the experiment first", ruleName(f, r.ID))
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
			return store.Invalid(at("stages", i)+".percent", "must grow stage by stage, in (0, 100] with at most two decimals")
		}
		if s.HoldSeconds < 0 || s.HoldSeconds > maxRolloutHold {
			return store.Invalid(at("stages", i)+".holdSeconds", "must be 0 to %d", maxRolloutHold)
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
			return nil, store.Invalid(at("metricIds", i), "metric does not exist in this environment")
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
	prev, inExpt, _ := ruleServe(cur, req.RuleID)
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
	f := copyOf(cur)
	setRuleServe(f, x.RuleID, stageServe(x, x.Stages[0].Percent), true)
	if _, err := a.saveFlag(c.ctx, f, cur.Version); err != nil {
		_ = a.st.DeleteRollout(c.ctx, x.EnvID, x.ID)
		return nil, err
	}
	a.record(c.ctx, &change{actor: c.actor(), actorName: c.actorName(), orgID: c.orgID, typ: "flag", action: "updated",
		comment: x.Comment, before: cur, after: f, extra: []string{fmt.Sprintf("guarded rollout %s: stage 1, %g%% get %s", x.ID, x.Stages[0].Percent, variationName(cur, x.VariationID))}})
	a.record(c.ctx, &change{actor: c.actor(), actorName: c.actorName(), orgID: c.orgID, typ: "guarded_rollout", action: "started",
		comment: x.Comment, after: x, skipDiff: true, extra: []string{fmt.Sprintf("rollout of %s on %s of flag '%s': %s", variationName(cur, x.VariationID), ruleName(cur, x.RuleID), cur.Key, stagesText(x.Stages))}})
	a.wakeScheduler()
	return x, nil
}

func ruleName(f *codec.Flag, id string) string {
	if id == "" {
		return "the default rule"
	}
	for i, r := range f.Rules {
		if r.ID == id {
			if r.Name != "" {
				return fmt.Sprintf("rule '%s'", r.Name)
			}
			return fmt.Sprintf("rule %d", i+1)
		}
	}
	return "rule " + id
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

// rolloutClaim is the claim key of acting on version v of a rollout: the
// scheduler's check and an abort take the same key, so exactly one acts;
// the key moves on every rolloutLeaseSeconds past the due time, so a claim
// whose instance died before saving is taken over.
func rolloutClaim(x *store.GuardedRollout, now int64) string {
	due := x.UpdatedAt + x.CheckEverySeconds*1000
	w := int64(0)
	if now > due {
		w = (now - due) / (rolloutLeaseSeconds * 1000)
	}
	return fmt.Sprintf("%s:%d:%d", x.ID, x.Version, w)
}

// claimRollout claims x for this instance and reloads it: nil when another
// instance (or an abort) holds the claim or x changed since it was read.
func (a *API) claimRollout(ctx context.Context, x *store.GuardedRollout, owner string) (*store.GuardedRollout, string, error) {
	key := rolloutClaim(x, a.st.Now())
	ok, err := a.st.Claim(ctx, store.CollRollouts, key, owner)
	if err != nil || !ok {
		return nil, "", err
	}
	y, err := a.st.GetRollout(ctx, x.EnvID, x.ID)
	if err != nil || y.Version != x.Version || y.Status != store.RolloutRunning {
		return nil, "", err
	}
	return y, key, nil
}

func (a *API) abortRollout(c *call) (any, error) {
	x, err := a.st.GetRollout(c.ctx, c.env.ID, c.path("id"))
	if err != nil {
		return nil, err
	}
	if x.Status != store.RolloutRunning {
		return nil, store.Errorf(store.ErrConflict, "the rollout is %s; only a running rollout can be aborted", x.Status)
	}
	y, key, err := a.claimRollout(c.ctx, x, "abort:"+c.actor())
	if err != nil {
		return nil, err
	}
	if y == nil {
		return nil, store.Errorf(store.ErrConflict, "the rollout is being checked or changed right now; reload and retry")
	}
	defer a.st.ReleaseClaim(context.WithoutCancel(c.ctx), store.CollRollouts, key)
	if err := a.endRollout(c.ctx, y, store.RolloutAborted, "aborted by "+c.actorName(), c.actor(), c.actorName(), commentOf(c.ctx)); err != nil {
		return nil, err
	}
	return y, nil
}

// endRollout restores the rule's serve from before the rollout (for a
// rollback or an abort; a completed rollout keeps the new variation and
// only leaves the experiment), saves the final state and records it.
func (a *API) endRollout(ctx context.Context, x *store.GuardedRollout, status, reason, actor, actorName, comment string) error {
	ctx = context.WithoutCancel(ctx)
	cur, err := a.st.GetFlag(ctx, x.EnvID, x.FlagID)
	if errors.Is(err, store.ErrNotFound) {
		return a.finishRollout(ctx, x, store.RolloutFailed, "the flag was deleted", actor, actorName, comment)
	}
	if err != nil {
		return err
	}
	f := copyOf(cur)
	vs, _, ok := ruleServe(cur, x.RuleID)
	if !ok {
		return a.finishRollout(ctx, x, store.RolloutFailed, "the rule was deleted", actor, actorName, comment)
	}
	if status == store.RolloutCompleted {
		setRuleServe(f, x.RuleID, vs, x.PreviousInExpt)
	} else {
		setRuleServe(f, x.RuleID, slices.Clone(x.Previous), x.PreviousInExpt)
	}
	if !sameTargeting(cur, f) {
		if _, err := a.saveFlag(ctx, f, cur.Version); err != nil {
			return err
		}
		a.record(ctx, &change{actor: actor, actorName: actorName, orgID: x.OrgID, typ: "flag", action: "updated", comment: comment,
			before: cur, after: f, extra: []string{fmt.Sprintf("guarded rollout %s %s: %s", x.ID, strings.ReplaceAll(status, "_", " "), reason)}})
	}
	return a.finishRollout(ctx, x, status, reason, actor, actorName, comment)
}

func (a *API) finishRollout(ctx context.Context, x *store.GuardedRollout, status, reason, actor, actorName, comment string) error {
	x.Status, x.Reason, x.EndedAt = status, truncRunes(reason, rolloutReasonMaxRune), a.st.Now()
	if err := a.st.SaveRollout(ctx, x, x.Version); err != nil {
		return err
	}
	a.record(ctx, &change{actor: actor, actorName: actorName, orgID: x.OrgID, typ: "guarded_rollout", action: status,
		comment: comment, after: x, skipDiff: true, extra: []string{x.Reason}})
	return nil
}

func truncRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// AdvanceRollouts checks every running guarded rollout that is due (one
// instance acts per rollout version: see rolloutClaim) and returns how many
// this instance checked. A check asks analytics for the rollout's
// guardrail metrics since its start (variation against baseline, sequential
// test, no multiple-comparison correction: a guardrail is flagged on its
// own evidence); a harmed guardrail rolls the rule back; otherwise a stage
// that held long enough moves to the next percentage, and the last stage
// completes the rollout. A check that cannot reach analytics holds the
// stage (no evidence of safety is not evidence of safety).
func (a *API) AdvanceRollouts(ctx context.Context) int {
	xs, err := a.st.RunningRollouts(ctx)
	if err != nil {
		if ctx.Err() == nil {
			a.cfg.Log.Warn("cannot read guarded rollouts", "err", err)
		}
		return 0
	}
	n := 0
	now := a.st.Now()
	for _, x := range xs {
		if ctx.Err() != nil {
			break
		}
		if now < x.UpdatedAt+x.CheckEverySeconds*1000 {
			continue
		}
		y, key, err := a.claimRollout(ctx, x, a.wf.instance)
		if err != nil || y == nil {
			continue
		}
		if err := a.checkRollout(ctx, y); err != nil {
			a.cfg.Log.Warn("guarded rollout check failed", "rollout", y.ID, "err", err)
		}
		a.st.ReleaseClaim(context.WithoutCancel(ctx), store.CollRollouts, key)
		n++
	}
	return n
}

const rolloutActor, rolloutActorName = "guarded_rollout:", "guarded rollout"

func (a *API) checkRollout(ctx context.Context, x *store.GuardedRollout) error {
	ctx = context.WithoutCancel(ctx)
	actor := rolloutActor + x.ID
	cur, err := a.st.GetFlag(ctx, x.EnvID, x.FlagID)
	if errors.Is(err, store.ErrNotFound) {
		return a.finishRollout(ctx, x, store.RolloutFailed, "the flag was deleted", actor, rolloutActorName, "")
	}
	if err != nil {
		return err
	}
	vs, _, ok := ruleServe(cur, x.RuleID)
	switch {
	case !ok:
		return a.finishRollout(ctx, x, store.RolloutFailed, "the rule was deleted", actor, rolloutActorName, "")
	case cur.IsArchived:
		return a.finishRollout(ctx, x, store.RolloutFailed, "the flag was archived", actor, rolloutActorName, "")
	case !sameServe(vs, stageServe(x, x.Stages[x.Stage].Percent)):
		// Someone changed the rule: their change stands, the rollout stops.
		return a.finishRollout(ctx, x, store.RolloutFailed, "the rule's serve was changed outside the rollout; the rollout stopped and left it as it is", actor, rolloutActorName, "")
	}
	chk := a.rolloutCheck(ctx, x, cur.Key)
	x.LastCheck = chk
	if len(chk.Harmed) > 0 {
		reason := fmt.Sprintf("guardrail harmed at stage %d (%g%%): %s; rolled back", x.Stage+1, x.Stages[x.Stage].Percent, strings.Join(chk.Harmed, ", "))
		return a.endRollout(ctx, x, store.RolloutRolledBack, reason, actor, rolloutActorName, "")
	}
	now := a.st.Now()
	if chk.Error != "" || now < x.StageStartedAt+x.Stages[x.Stage].HoldSeconds*1000 {
		return a.st.SaveRollout(ctx, x, x.Version) // hold
	}
	if x.Stage == len(x.Stages)-1 {
		return a.endRollout(ctx, x, store.RolloutCompleted, fmt.Sprintf("all %d stages held with no guardrail harmed", len(x.Stages)), actor, rolloutActorName, "")
	}
	// The stage is saved before the flag: a crash between the two leaves
	// the rule at the lower percentage, which the next check reports as
	// changed outside the rollout (it stops, failing safe), never a rule
	// ahead of its recorded stage.
	prevStage, prevStarted := x.Stage, x.StageStartedAt
	x.Stage++
	x.StageStartedAt = now
	if err := a.st.SaveRollout(ctx, x, x.Version); err != nil {
		return err
	}
	f := copyOf(cur)
	setRuleServe(f, x.RuleID, stageServe(x, x.Stages[x.Stage].Percent), true)
	if _, err := a.saveFlag(ctx, f, cur.Version); err != nil {
		x.Stage, x.StageStartedAt = prevStage, prevStarted
		if err2 := a.st.SaveRollout(ctx, x, x.Version); err2 != nil {
			a.cfg.Log.Error("guarded rollout: cannot undo a stage whose flag write failed", "rollout", x.ID, "err", err2)
		}
		return err // the next check retries
	}
	a.record(ctx, &change{actor: actor, actorName: rolloutActorName, orgID: x.OrgID, typ: "flag", action: "updated", before: cur, after: f,
		extra: []string{fmt.Sprintf("guarded rollout %s: stage %d, %g%% get %s", x.ID, x.Stage+1, x.Stages[x.Stage].Percent, variationName(cur, x.VariationID))}})
	a.record(ctx, &change{actor: actor, actorName: rolloutActorName, orgID: x.OrgID, typ: "guarded_rollout", action: "advanced", after: x, skipDiff: true,
		extra: []string{fmt.Sprintf("stage %d of %d: %g%%", x.Stage+1, len(x.Stages), x.Stages[x.Stage].Percent)}})
	return nil
}

// rolloutCheck asks analytics for the guardrails of x.
func (a *API) rolloutCheck(ctx context.Context, x *store.GuardedRollout, flagKey string) *store.RolloutCheck {
	chk := &store.RolloutCheck{At: a.st.Now()}
	ei, ok := a.cfg.Insights.(ExperimentInsights)
	if !ok || ei == nil {
		chk.Error = "analytics is not configured"
		return chk
	}
	ms, err := a.exptMetrics(ctx, x.EnvID, x.MetricIDs, true)
	if err != nil {
		chk.Error = err.Error()
		return chk
	}
	q := map[string]any{"baselineVariationId": x.BaselineVariationID, "from": x.StartedAt, "to": chk.At + 1, "metrics": ms,
		"sequential": true, "sequentialN": max(x.SequentialN, 100), "correction": "none", "cupedDays": 0}
	ctx, cancel := context.WithTimeout(ctx, rolloutCheckTimeout)
	defer cancel()
	raw, err := ei.Experiment(ctx, x.EnvID, flagKey, q)
	if err != nil {
		chk.Error = truncRunes(err.Error(), rolloutReasonMaxRune)
		return chk
	}
	var res struct {
		Exposures []struct {
			VariationID string `json:"variationId"`
			Users       int64  `json:"users"`
		} `json:"exposures"`
		HarmedGuardrails []string `json:"harmedGuardrails"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		chk.Error = "cannot read analytics' answer"
		return chk
	}
	chk.Exposures = map[string]int64{}
	for _, e := range res.Exposures {
		chk.Exposures[e.VariationID] = e.Users
	}
	chk.Harmed = res.HarmedGuardrails
	return chk
}
