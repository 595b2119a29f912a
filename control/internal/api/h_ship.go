package api

import (
	"fmt"
	"slices"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/domain"
	"github.com/switchyard/switchyard/control/internal/store"
	"github.com/switchyard/switchyard/control/internal/workflow"
)

// ShipRequest ships an experiment's winner: every rule of the flag in the
// experiment (and the default rule if it is) serves VariationID to all its
// users and stops sending them to the experiment; a running experiment
// stops. FlagVersion, when set, must be the flag's current version.
type ShipRequest struct {
	VariationID string `json:"variationId"`
	FlagVersion int64  `json:"flagVersion,omitempty"`
}

func init() {
	// The handler records the flag update and the experiment's end itself.
	auditSpecs["POST /envs/{envId}/experiments/{id}/ship"] = auditSpec{typ: "experiment", action: "shipped", self: true}
}

func (a *API) shipRoute() Route {
	return Route{Method: "POST", Path: Prefix + "/envs/{envId}/experiments/{id}/ship", Tag: "experiments",
		Summary: "Ship a variation: the experiment's rules serve it to everyone (a flag write: needs flag:write, gated by change requests); the experiment stops",
		Scope:   Env, Action: ActFlagWrite, Body: ShipRequest{}, Resp: codec.Flag{}, h: a.shipExperiment}
}

// shipExperiment writes the flag through the normal pipeline (validation,
// the environment's compare-and-set, publish) and records the flag update
// and the experiment's "shipped" entry (audit and webhook).
func (a *API) shipExperiment(c *call) (any, error) {
	var req ShipRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	x, err := a.st.GetExperiment(c.ctx, c.env.ID, c.path("id"))
	if err != nil {
		return nil, err
	}
	cur, err := a.st.GetFlag(c.ctx, c.env.ID, x.FlagID)
	if err != nil {
		return nil, store.Errorf(store.ErrConflict, "the experiment's flag is gone")
	}
	if cur.IsArchived {
		return nil, store.Errorf(store.ErrConflict, "flag %q is archived; restore it first", cur.Key)
	}
	if req.FlagVersion != 0 && req.FlagVersion != cur.Version {
		return nil, &store.FieldError{Kind: store.ErrConflict, Field: "flagVersion",
			Msg: fmt.Sprintf("the flag is at version %d, not %d; reload and retry", cur.Version, req.FlagVersion)}
	}
	if !slices.ContainsFunc(cur.Variations, func(v codec.Variation) bool { return v.ID == req.VariationID }) {
		return nil, store.Invalid("variationId", "variation id %q is not one of the flag's variations", req.VariationID)
	}
	f := cur.Clone()
	serve := []codec.RolloutVariation{{ID: req.VariationID, Rollout: [2]float64{0, 1}, ExptRollout: 1}}
	n := 0
	for i := range f.Rules {
		if f.Rules[i].IncludedInExpt {
			f.Rules[i].Variations, f.Rules[i].IncludedInExpt = slices.Clone(serve), false
			n++
		}
	}
	if f.Fallthrough.IncludedInExpt {
		f.Fallthrough.Variations, f.Fallthrough.IncludedInExpt = slices.Clone(serve), false
		n++
	}
	if n == 0 {
		return nil, store.Errorf(store.ErrConflict, "no rule of flag %q is in the experiment; nothing to ship", cur.Key)
	}
	f.ExptIncludeAllTargets = false
	if _, err := a.dom.SaveFlag(c.ctx, f, cur.Version); err != nil {
		return nil, err
	}
	comment := commentOf(c.ctx)
	a.dom.Record(c.ctx, &domain.Change{Actor: c.actor(), ActorName: c.actorName(), OrgID: c.orgID, Type: "flag", Action: "updated",
		Comment: comment, Before: cur, After: f, Extra: []string{"experiment " + x.ID + " shipped variation " + workflow.VariationName(cur, req.VariationID)}})
	xb := *x
	if x.Status == store.ExptRunning {
		x.Status, x.StoppedAt = store.ExptStopped, a.st.Now()
	}
	x.ShippedVariationID = req.VariationID
	if err := a.st.UpdateExperiment(c.ctx, x, x.Version); err != nil {
		a.cfg.Log.Error("experiment shipped but its state is not recorded", "experiment", x.ID, "err", err)
	}
	a.dom.Record(c.ctx, &domain.Change{Actor: c.actor(), ActorName: c.actorName(), OrgID: c.orgID, Type: "experiment", Action: "shipped",
		Comment: comment, Before: &xb, After: x, Extra: []string{fmt.Sprintf("shipped %s on flag '%s' (%d rules)", workflow.VariationName(cur, req.VariationID), cur.Key, n)}})
	return f, nil
}
