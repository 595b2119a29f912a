package chartcheck

import (
	"testing"

	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
)

// TestHelmLint runs the checks of `helm lint` (Chart.yaml, values, template
// rendering and YAML, Kubernetes name rules) through the library; a warning
// fails too.
func TestHelmLint(t *testing.T) {
	for _, values := range []map[string]any{nil, {"serviceMonitor": map[string]any{"enabled": true}}} {
		res := lint.RunAll(chartDir, values, "switchyard")
		for _, m := range res.Messages {
			if m.Severity >= support.WarningSev {
				t.Errorf("helm lint: %s", m)
			} else {
				t.Logf("helm lint: %s", m)
			}
		}
	}
}
