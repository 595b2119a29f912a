package analytics

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/switchyard/switchyard/analytics/internal/store/storetest"
	"github.com/switchyard/switchyard/codec"
)

// TestExperimentRawMatchesTheRoute: the in-process form of the experiment
// query (the all-in-one binary's control plane) answers what the POST
// route answers for the same body, and refuses what the route refuses.
func TestExperimentRawMatchesTheRoute(t *testing.T) {
	s := newEmbedded(t)
	t0 := storetest.T0.UnixMilli()
	b := &codec.InsightBatch{EnvID: "env"}
	for i := range 300 {
		v := []string{"a", "b"}[i%2]
		u := fmt.Sprintf("u%03d", i)
		b.Evals = append(b.Evals, codec.FlagEval{FlagKey: "exp", VariationID: v, UserKey: u, SendToExperiment: true, Timestamp: t0 + int64(i)})
		if i%5 == 0 || (v == "b" && i%3 == 0) {
			b.Metrics = append(b.Metrics, codec.MetricEvent{EventName: "buy", UserKey: u, Timestamp: t0 + 1000 + int64(i)})
		}
	}
	if err := s.Ingest(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	q := map[string]any{"baselineVariationId": "a", "from": t0, "to": t0 + 1e6, "metrics": []map[string]any{{"eventName": "buy", "type": "conversion"}},
		"expectedSplit": map[string]float64{"a": 0.5, "b": 0.5}, "correction": "none", "cupedDays": 0}
	body, _ := json.Marshal(q)
	var viaRoute, viaRaw ExperimentResult
	get(t, s.Handler(), "POST", APIPrefix+"/envs/env/flags/exp/experiment", string(body), 200, &viaRoute)
	raw, err := s.ExperimentRaw(context.Background(), "env", "exp", q)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &viaRaw); err != nil {
		t.Fatal(err)
	}
	viaRoute.ComputedAt, viaRaw.ComputedAt = 0, 0
	a, _ := json.Marshal(viaRoute)
	c, _ := json.Marshal(viaRaw)
	if string(a) != string(c) || len(viaRaw.Exposures) != 2 {
		t.Fatalf("route %s\nraw   %s", a, c)
	}
	if _, err := s.ExperimentRaw(context.Background(), "env", "exp", map[string]any{"from": "yesterday"}); err == nil {
		t.Fatal("a bad time was accepted")
	}
}
