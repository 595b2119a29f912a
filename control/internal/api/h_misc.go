package api

import (
	"slices"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/codec/secret"
	"github.com/switchyard/switchyard/control/internal/domain"
	"github.com/switchyard/switchyard/control/internal/store"
)

// ExperimentRequest creates an experiment; see store.Experiment for the
// analysis settings.
type ExperimentRequest struct {
	FlagID              string   `json:"flagId"`
	MetricIDs           []string `json:"metricIds"`
	BaselineVariationID string   `json:"baselineVariationId"`
	Sequential          *bool    `json:"sequential,omitempty"`
	Correction          string   `json:"correction,omitempty"`
	CUPEDDays           *int     `json:"cupedDays,omitempty"`
}

func (a *API) listMetrics(c *call) (any, error) {
	ms, err := a.st.ListMetrics(c.ctx, c.env.ID)
	if err != nil {
		return nil, err
	}
	out := make([]store.Metric, len(ms))
	for i, m := range ms {
		out[i] = *m
	}
	return list(out, len(out)), nil
}

func (a *API) createMetric(c *call) (any, error) {
	var m store.Metric
	if err := c.decode(&m); err != nil {
		return nil, err
	}
	m.ID, m.EnvID = secret.NewGUID(), c.env.ID
	if err := validMetric(&m); err != nil {
		return nil, err
	}
	return &m, a.st.CreateMetric(c.ctx, &m)
}

func (a *API) getMetric(c *call) (any, error) { return a.st.GetMetric(c.ctx, c.env.ID, c.path("id")) }

func (a *API) updateMetric(c *call) (any, error) {
	var m store.Metric
	if err := c.decode(&m); err != nil {
		return nil, err
	}
	cur, err := a.st.GetMetric(c.ctx, c.env.ID, c.path("id"))
	if err != nil {
		return nil, err
	}
	if err := requireVersion(m.Version, cur.Version); err != nil {
		return nil, err
	}
	if err := validMetric(&m); err != nil {
		return nil, err
	}
	m.ID, m.EnvID, m.CreatedAt = cur.ID, cur.EnvID, cur.CreatedAt
	return &m, a.st.UpdateMetric(c.ctx, &m, cur.Version)
}

func (a *API) deleteMetric(c *call) (any, error) {
	return nil, a.st.DeleteMetric(c.ctx, c.env.ID, c.path("id"))
}

func (a *API) listExperiments(c *call) (any, error) {
	xs, err := a.st.ListExperiments(c.ctx, c.env.ID)
	if err != nil {
		return nil, err
	}
	out := make([]store.Experiment, len(xs))
	for i, x := range xs {
		out[i] = *x
	}
	return list(out, len(out)), nil
}

func (a *API) createExperiment(c *call) (any, error) {
	var req ExperimentRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	f, err := a.st.GetFlag(c.ctx, c.env.ID, req.FlagID)
	if err != nil {
		return nil, store.Invalid("flagId", "flag does not exist in this environment")
	}
	if len(req.MetricIDs) == 0 || len(req.MetricIDs) > maxExptMetrics {
		return nil, store.Invalid("metricIds", "1 to %d metrics", maxExptMetrics)
	}
	if err := listCap("metricIds", len(req.MetricIDs), maxRefList); err != nil {
		return nil, err
	}
	for i, id := range req.MetricIDs {
		if _, err := a.st.GetMetric(c.ctx, c.env.ID, id); err != nil {
			return nil, store.Invalid(domain.At("metricIds", i), "metric does not exist in this environment")
		}
	}
	if req.BaselineVariationID == "" && len(f.Variations) > 0 {
		req.BaselineVariationID = f.Variations[0].ID
	}
	if !slices.ContainsFunc(f.Variations, func(v codec.Variation) bool { return v.ID == req.BaselineVariationID }) {
		return nil, store.Invalid("baselineVariationId", "variation id %q does not exist", req.BaselineVariationID)
	}
	if err := validAnalysis(&req); err != nil {
		return nil, err
	}
	x := &store.Experiment{ID: secret.NewGUID(), EnvID: c.env.ID, FlagID: f.ID, MetricIDs: req.MetricIDs,
		BaselineVariationID: req.BaselineVariationID, Sequential: req.Sequential, Correction: req.Correction, CUPEDDays: req.CUPEDDays}
	return x, a.st.CreateExperiment(c.ctx, x)
}

func (a *API) getExperiment(c *call) (any, error) {
	return a.st.GetExperiment(c.ctx, c.env.ID, c.path("id"))
}

func (a *API) experimentState(c *call, from []string, to string) (any, error) {
	var req VersionRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	x, err := a.st.GetExperiment(c.ctx, c.env.ID, c.path("id"))
	if err != nil {
		return nil, err
	}
	if err := requireVersion(req.Version, x.Version); err != nil {
		return nil, err
	}
	if !slices.Contains(from, x.Status) {
		return nil, store.Errorf(store.ErrConflict, "experiment is %s", x.Status)
	}
	x.Status = to
	now := a.st.Now()
	if to == store.ExptRunning {
		x.StartedAt, x.StoppedAt = now, 0
	} else {
		x.StoppedAt = now
	}
	return x, a.st.UpdateExperiment(c.ctx, x, req.Version)
}

func (a *API) startExperiment(c *call) (any, error) {
	return a.experimentState(c, []string{store.ExptNotStarted, store.ExptStopped}, store.ExptRunning)
}

func (a *API) stopExperiment(c *call) (any, error) {
	return a.experimentState(c, []string{store.ExptRunning}, store.ExptStopped)
}

func (a *API) deleteExperiment(c *call) (any, error) {
	x, err := a.st.GetExperiment(c.ctx, c.env.ID, c.path("id"))
	if err != nil {
		return nil, err
	}
	if x.Status == store.ExptRunning {
		return nil, store.Errorf(store.ErrConflict, "stop the experiment before deleting it")
	}
	return nil, a.st.DeleteExperiment(c.ctx, c.env.ID, x.ID)
}

func (a *API) listEndUsers(c *call) (any, error) {
	off, err := c.queryInt("offset", 0, 1<<30)
	if err != nil {
		return nil, err
	}
	lim, err := c.queryInt("limit", 50, 1000)
	if err != nil {
		return nil, err
	}
	us, total, err := a.st.ListEndUsers(c.ctx, c.env.ID, c.r.URL.Query().Get("q"), off, lim)
	if err != nil {
		return nil, err
	}
	out := make([]codec.EndUser, len(us))
	for i, u := range us {
		out[i] = *u
	}
	return list(out, total), nil
}

func (a *API) getEndUser(c *call) (any, error) {
	return a.st.GetEndUser(c.ctx, c.env.ID, c.path("keyId"))
}

func (a *API) endUserProps(c *call) (any, error) {
	ps, err := a.st.EndUserProps(c.ctx, c.env.ID)
	if err != nil {
		return nil, err
	}
	return list(ps, len(ps)), nil
}
