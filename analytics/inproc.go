package analytics

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// ExperimentRaw answers an experiment query given in the POST form of
// the experiment route (experimentBody, any JSON-encodable value) with the
// result encoded as the route encodes it: what control's insights client
// gets over HTTP, for a control plane running in the same process (the
// all-in-one binary).
func (s *Service) ExperimentRaw(ctx context.Context, envID, flagKey string, query any) (json.RawMessage, error) {
	raw, err := json.Marshal(query)
	if err != nil {
		return nil, fmt.Errorf("%w: query: %v", errBadRequest, err)
	}
	var b experimentBody
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, fmt.Errorf("%w: query: %v", errBadRequest, err)
	}
	to, err := rawTime(b.To, time.Now().UTC())
	if err != nil {
		return nil, err
	}
	from, err := rawTime(b.From, to.Add(-7*24*time.Hour))
	if err != nil {
		return nil, err
	}
	res, err := s.Experiment(ctx, ExperimentQuery{EnvID: envID, FlagKey: flagKey,
		BaselineVariationID: b.BaselineVariationID, From: from, To: to, Metrics: b.Metrics,
		ExpectedSplit: b.ExpectedSplit, Confidence: b.Confidence, Sequential: b.Sequential, SequentialN: b.SequentialN,
		Correction: b.Correction, CUPEDDays: b.CUPEDDays})
	if err != nil {
		return nil, err
	}
	return json.Marshal(res)
}
