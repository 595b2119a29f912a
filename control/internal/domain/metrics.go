package domain

import (
	"context"
	"fmt"
)

// MetricSpec is one metric of an analytics experiment query (analytics'
// MetricSpec in its JSON form).
type MetricSpec struct {
	EventName     string           `json:"eventName"`
	Type          string           `json:"type"`
	EventType     string           `json:"eventType"`
	URLs          []map[string]any `json:"urls,omitempty"`
	LowerIsBetter bool             `json:"lowerIsBetter"`
	Guardrail     bool             `json:"guardrail"`
	Winsorize     float64          `json:"winsorize,omitempty"`
}

// MetricSpecs loads the metric definitions ids of environment envID for an
// analytics experiment query (experiment results, guarded rollouts);
// guardrails marks every metric a guardrail. Callers bound len(ids).
func (s *Service) MetricSpecs(ctx context.Context, envID string, ids []string, guardrails bool) ([]MetricSpec, error) {
	ms := make([]MetricSpec, 0, len(ids))
	for _, id := range ids {
		m, err := s.st.GetMetric(ctx, envID, id)
		if err != nil {
			return nil, fmt.Errorf("metric %s: %w", id, err)
		}
		mm := MetricSpec{EventName: m.EventName, Type: string(m.TrackOption), EventType: string(m.EventType),
			LowerIsBetter: m.SuccessIsLower, Guardrail: m.Guardrail || guardrails, Winsorize: m.Winsorize}
		for _, u := range m.TargetURLs {
			mm.URLs = append(mm.URLs, map[string]any{"matchType": u.MatchType, "url": u.URL})
		}
		ms = append(ms, mm)
	}
	return ms, nil
}
