package api

import (
	"encoding/json"
	"fmt"
	"slices"
)

// workflowRoutes are the audit log, settings, webhooks, triggers,
// schedules and environment compare/copy routes.
func (a *API) workflowRoutes() []Route {
	return slices.Concat(a.auditRoutes(), a.webhookRoutes(), a.triggerRoutes(), a.scheduleRoutes(), a.compareRoutes(), a.exptRoutes())
}

func jsonBytes(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("cannot encode: %w", err)
	}
	return b, nil
}

func sortStrings(xs []string) { slices.Sort(xs) }
