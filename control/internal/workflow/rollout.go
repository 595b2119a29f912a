package workflow

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
	"github.com/switchyard/switchyard/control/internal/domain"
	"github.com/switchyard/switchyard/control/internal/store"
)

// Guarded rollouts (docs/analytics.md, "Guarded rollouts"): the API starts
// one (writes stage 1 and stores the rollout); the scheduler loop checks
// each running rollout every CheckEverySeconds with the experiment
// statistics (Guardrails), advances it, completes it or rolls it back.

// Guardrails answers an analytics experiment query (control's insights
// client, or the in-process analytics of the all-in-one binary).
type Guardrails interface {
	Experiment(ctx context.Context, envID, flagKey string, query any) (json.RawMessage, error)
}

const (
	rolloutCheckTimeout  = 60 * time.Second
	rolloutLeaseSeconds  = 30 // a claimed check not saved within this is taken over
	rolloutReasonMaxRune = 500
	// RolloutActor prefixes the audit actor of a rollout's own writes.
	RolloutActor     = "guarded_rollout:"
	rolloutActorName = "guarded rollout"
)

// SetGuardrails sets the analytics the rollout checks ask; call it before
// Run. Without it a check records that analytics is not configured and
// holds the stage.
func (w *Workflow) SetGuardrails(g Guardrails) { w.guard.Store(&g) }

func (w *Workflow) guardrails() Guardrails {
	if g := w.guard.Load(); g != nil {
		return *g
	}
	return nil
}

// RuleServe returns the serve of the rule id ("" = the default rule) of f
// and whether it is in the experiment; ok is false when f has no such rule.
func RuleServe(f *codec.Flag, id string) (vs []codec.RolloutVariation, inExpt, ok bool) {
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

// SetRuleServe sets the serve of rule id of f.
func SetRuleServe(f *codec.Flag, id string, vs []codec.RolloutVariation, inExpt bool) bool {
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

// StageServe is the serve of a rule at percent p of a rollout: the new
// variation on [0, p), the baseline on the rest, every user's evaluation
// sent to the experiment (so the guardrails compare the two). Users keep
// the new variation as p grows (their bucket stays below p).
func StageServe(x *store.GuardedRollout, p float64) []codec.RolloutVariation {
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

// RuleName names rule id of f for people ("the default rule", "rule 'beta'").
func RuleName(f *codec.Flag, id string) string {
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

// VariationName names variation id of f for people.
func VariationName(f *codec.Flag, id string) string {
	for _, v := range f.Variations {
		if v.ID == id {
			if v.Name != "" {
				return "'" + v.Name + "'"
			}
			return "'" + v.Value + "'"
		}
	}
	return id
}

func truncRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// rolloutClaim is the claim key of acting on version v of a rollout: the
// scheduler's check and an abort take the same key, so exactly one acts;
// the key moves on every rolloutLeaseSeconds past the due time, so a claim
// whose instance died before saving is taken over.
func rolloutClaim(x *store.GuardedRollout, now int64) string {
	due := x.UpdatedAt + x.CheckEverySeconds*1000
	win := int64(0)
	if now > due {
		win = (now - due) / (rolloutLeaseSeconds * 1000)
	}
	return fmt.Sprintf("%s:%d:%d", x.ID, x.Version, win)
}

// claimRollout claims x for owner and reloads it: nil when another instance
// (or an abort) holds the claim or x changed since it was read.
func (w *Workflow) claimRollout(ctx context.Context, x *store.GuardedRollout, owner string) (*store.GuardedRollout, string, error) {
	key := rolloutClaim(x, w.st.Now())
	ok, err := w.st.Claim(ctx, store.CollRollouts, key, owner)
	if err != nil || !ok {
		return nil, "", err
	}
	y, err := w.st.GetRollout(ctx, x.EnvID, x.ID)
	if err != nil || y.Version != x.Version || y.Status != store.RolloutRunning {
		w.st.ReleaseClaim(context.WithoutCancel(ctx), store.CollRollouts, key)
		return nil, "", err
	}
	return y, key, nil
}

// AbortRollout stops running rollout x for an operator: the rule gets back
// what it served before. It answers nil, nil when a check or another abort
// holds the rollout right now (the caller says so: 409).
func (w *Workflow) AbortRollout(ctx context.Context, x *store.GuardedRollout, actor, actorName, comment string) (*store.GuardedRollout, error) {
	y, key, err := w.claimRollout(ctx, x, "abort:"+actor)
	if err != nil || y == nil {
		return nil, err
	}
	defer w.st.ReleaseClaim(context.WithoutCancel(ctx), store.CollRollouts, key)
	if err := w.endRollout(ctx, y, store.RolloutAborted, "aborted by "+actorName, actor, actorName, comment); err != nil {
		return nil, err
	}
	return y, nil
}

// endRollout restores the rule's serve from before the rollout (for a
// rollback or an abort; a completed rollout keeps the new variation and
// only leaves the experiment), saves the final state and records it.
func (w *Workflow) endRollout(ctx context.Context, x *store.GuardedRollout, status, reason, actor, actorName, comment string) error {
	ctx = context.WithoutCancel(ctx)
	cur, err := w.st.GetFlag(ctx, x.EnvID, x.FlagID)
	if errors.Is(err, store.ErrNotFound) {
		return w.finishRollout(ctx, x, store.RolloutFailed, "the flag was deleted", actor, actorName, comment)
	}
	if err != nil {
		return err
	}
	f := cur.Clone()
	vs, _, ok := RuleServe(cur, x.RuleID)
	if !ok {
		return w.finishRollout(ctx, x, store.RolloutFailed, "the rule was deleted", actor, actorName, comment)
	}
	if status == store.RolloutCompleted {
		SetRuleServe(f, x.RuleID, vs, x.PreviousInExpt)
	} else {
		SetRuleServe(f, x.RuleID, slices.Clone(x.Previous), x.PreviousInExpt)
	}
	if !sameTargeting(cur, f) {
		if _, err := w.dom.SaveFlag(ctx, f, cur.Version); err != nil {
			return err
		}
		w.dom.Record(ctx, &domain.Change{Actor: actor, ActorName: actorName, OrgID: x.OrgID, Type: "flag", Action: "updated", Comment: comment,
			Before: cur, After: f, Extra: []string{fmt.Sprintf("guarded rollout %s %s: %s", x.ID, strings.ReplaceAll(status, "_", " "), reason)}})
	}
	return w.finishRollout(ctx, x, status, reason, actor, actorName, comment)
}

func (w *Workflow) finishRollout(ctx context.Context, x *store.GuardedRollout, status, reason, actor, actorName, comment string) error {
	x.Status, x.Reason, x.EndedAt = status, truncRunes(reason, rolloutReasonMaxRune), w.st.Now()
	if err := w.st.SaveRollout(ctx, x, x.Version); err != nil {
		return err
	}
	w.dom.Record(ctx, &domain.Change{Actor: actor, ActorName: actorName, OrgID: x.OrgID, Type: "guarded_rollout", Action: status,
		Comment: comment, After: x, SkipDiff: true, Extra: []string{x.Reason}})
	return nil
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
func (w *Workflow) AdvanceRollouts(ctx context.Context) int {
	xs, err := w.st.RunningRollouts(ctx)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn("cannot read guarded rollouts", "err", err)
		}
		return 0
	}
	n := 0
	now := w.st.Now()
	for _, x := range xs {
		if ctx.Err() != nil {
			break
		}
		if now < x.UpdatedAt+x.CheckEverySeconds*1000 {
			continue
		}
		y, key, err := w.claimRollout(ctx, x, w.instance)
		if err != nil || y == nil {
			continue
		}
		if err := w.checkRollout(ctx, y); err != nil {
			w.log.Warn("guarded rollout check failed", "rollout", y.ID, "err", err)
		}
		w.st.ReleaseClaim(context.WithoutCancel(ctx), store.CollRollouts, key)
		n++
	}
	return n
}

func (w *Workflow) checkRollout(ctx context.Context, x *store.GuardedRollout) error {
	ctx = context.WithoutCancel(ctx)
	actor := RolloutActor + x.ID
	cur, err := w.st.GetFlag(ctx, x.EnvID, x.FlagID)
	if errors.Is(err, store.ErrNotFound) {
		return w.finishRollout(ctx, x, store.RolloutFailed, "the flag was deleted", actor, rolloutActorName, "")
	}
	if err != nil {
		return err
	}
	vs, _, ok := RuleServe(cur, x.RuleID)
	switch {
	case !ok:
		return w.finishRollout(ctx, x, store.RolloutFailed, "the rule was deleted", actor, rolloutActorName, "")
	case cur.IsArchived:
		return w.finishRollout(ctx, x, store.RolloutFailed, "the flag was archived", actor, rolloutActorName, "")
	case !sameServe(vs, StageServe(x, x.Stages[x.Stage].Percent)):
		// Someone changed the rule: their change stands, the rollout stops.
		return w.finishRollout(ctx, x, store.RolloutFailed, "the rule's serve was changed outside the rollout; the rollout stopped and left it as it is", actor, rolloutActorName, "")
	}
	chk := w.rolloutCheck(ctx, x, cur.Key)
	x.LastCheck = chk
	if len(chk.Harmed) > 0 {
		reason := fmt.Sprintf("guardrail harmed at stage %d (%g%%): %s; rolled back", x.Stage+1, x.Stages[x.Stage].Percent, strings.Join(chk.Harmed, ", "))
		return w.endRollout(ctx, x, store.RolloutRolledBack, reason, actor, rolloutActorName, "")
	}
	now := w.st.Now()
	if chk.Error != "" || now < x.StageStartedAt+x.Stages[x.Stage].HoldSeconds*1000 {
		return w.st.SaveRollout(ctx, x, x.Version) // hold
	}
	if x.Stage == len(x.Stages)-1 {
		return w.endRollout(ctx, x, store.RolloutCompleted, fmt.Sprintf("all %d stages held with no guardrail harmed", len(x.Stages)), actor, rolloutActorName, "")
	}
	// The stage is saved before the flag: a crash between the two leaves
	// the rule at the lower percentage, which the next check reports as
	// changed outside the rollout (it stops, failing safe), never a rule
	// ahead of its recorded stage.
	prevStage, prevStarted := x.Stage, x.StageStartedAt
	x.Stage++
	x.StageStartedAt = now
	if err := w.st.SaveRollout(ctx, x, x.Version); err != nil {
		return err
	}
	f := cur.Clone()
	SetRuleServe(f, x.RuleID, StageServe(x, x.Stages[x.Stage].Percent), true)
	if _, err := w.dom.SaveFlag(ctx, f, cur.Version); err != nil {
		x.Stage, x.StageStartedAt = prevStage, prevStarted
		if err2 := w.st.SaveRollout(ctx, x, x.Version); err2 != nil {
			w.log.Error("guarded rollout: cannot undo a stage whose flag write failed", "rollout", x.ID, "err", err2)
		}
		return err // the next check retries
	}
	w.dom.Record(ctx, &domain.Change{Actor: actor, ActorName: rolloutActorName, OrgID: x.OrgID, Type: "flag", Action: "updated", Before: cur, After: f,
		Extra: []string{fmt.Sprintf("guarded rollout %s: stage %d, %g%% get %s", x.ID, x.Stage+1, x.Stages[x.Stage].Percent, VariationName(cur, x.VariationID))}})
	w.dom.Record(ctx, &domain.Change{Actor: actor, ActorName: rolloutActorName, OrgID: x.OrgID, Type: "guarded_rollout", Action: "advanced", After: x, SkipDiff: true,
		Extra: []string{fmt.Sprintf("stage %d of %d: %g%%", x.Stage+1, len(x.Stages), x.Stages[x.Stage].Percent)}})
	return nil
}

// rolloutCheck asks analytics for the guardrails of x.
func (w *Workflow) rolloutCheck(ctx context.Context, x *store.GuardedRollout, flagKey string) *store.RolloutCheck {
	chk := &store.RolloutCheck{At: w.st.Now()}
	g := w.guardrails()
	if g == nil {
		chk.Error = "analytics is not configured"
		return chk
	}
	ms, err := w.dom.MetricSpecs(ctx, x.EnvID, x.MetricIDs, true)
	if err != nil {
		chk.Error = err.Error()
		return chk
	}
	q := map[string]any{"baselineVariationId": x.BaselineVariationID, "from": x.StartedAt, "to": chk.At + 1, "metrics": ms,
		"sequential": true, "sequentialN": max(x.SequentialN, 100), "correction": "none", "cupedDays": 0}
	ctx, cancel := context.WithTimeout(ctx, rolloutCheckTimeout)
	defer cancel()
	raw, err := g.Experiment(ctx, x.EnvID, flagKey, q)
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
