package control

import (
	"context"
	"fmt"
	"math"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/switchyard/switchyard/analytics"
	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/insights"
)

// TestExperimentResultsUseTheFlagsSplit is the false alarm end to
// end: a flag split 80/20 (default rule, every user sent to the experiment)
// with 397/103 exposures. The results route derives the expected split from
// the flag, so SRM passes (p ≈ 0.74) instead of reporting p = 0 against an
// assumed 50/50. The metric uses FeatBit's casing.
func TestExperimentResultsUseTheFlagsSplit(t *testing.T) {
	an, err := analytics.New(analytics.Config{Addr: "-", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := an.Start(); err != nil {
		t.Fatal(err)
	}
	defer an.Shutdown(context.Background())
	srv := httptest.NewServer(an.Handler())
	defer srv.Close()
	h := newHarness(t, WithInsights(insights.New(srv.URL)))
	env := h.env("dev")
	base := "/api/v1/envs/" + env
	flag := map[string]any{"key": "split-flag", "variationType": "boolean", "isEnabled": true,
		"variations": []map[string]any{{"id": "on", "name": "on", "value": "true"}, {"id": "off", "name": "off", "value": "false"}},
		"fallthrough": map[string]any{"includedInExpt": true, "variations": []map[string]any{
			{"id": "on", "rollout": []float64{0, 0.8}, "exptRollout": 0.8}, {"id": "off", "rollout": []float64{0.8, 1}, "exptRollout": 0.2}}}}
	var f codec.Flag
	h.must(201, h.admin, "POST", h.flagsURL(env), flag).decode(t, &f)
	var m struct{ ID, EventType, TrackOption, SuccessCriteria string }
	h.must(201, h.admin, "POST", base+"/metrics", map[string]any{"name": "Buy", "eventName": "buy", "eventType": "Custom",
		"customEventTrackOption": "Conversion", "customEventSuccessCriteria": "Higher"}).decode(t, &m)
	var x struct {
		ID        string
		Version   int64
		StartedAt int64
	}
	h.must(404, h.admin, "GET", base+"/experiments/nope/results", nil)
	h.must(201, h.admin, "POST", base+"/experiments", map[string]any{"flagId": f.ID, "metricIds": []string{m.ID}, "baselineVariationId": "off"}).decode(t, &x)
	h.must(409, h.admin, "GET", base+"/experiments/"+x.ID+"/results", nil) // not started
	h.must(200, h.admin, "POST", base+"/experiments/"+x.ID+"/start", map[string]any{"version": x.Version}).decode(t, &x)

	b := &codec.InsightBatch{EnvID: env}
	for i := range 500 {
		v := "on"
		if i >= 397 {
			v = "off"
		}
		b.Evals = append(b.Evals, codec.FlagEval{EnvID: env, FlagKey: "split-flag", VariationID: v, UserKey: fmt.Sprintf("u%03d", i),
			SendToExperiment: true, Timestamp: x.StartedAt})
	}
	if err := an.Ingest(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	var res struct {
		ExpectedSplit map[string]float64
		Results       analytics.ExperimentResult
	}
	// the range ends now: poll until it covers the exposures (same millisecond as the start)
	for deadline := time.Now().Add(10 * time.Second); ; {
		h.must(200, h.admin, "GET", base+"/experiments/"+x.ID+"/results", nil).decode(t, &res)
		if len(res.Results.Exposures) == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if math.Abs(res.ExpectedSplit["on"]-0.8) > 1e-9 || math.Abs(res.ExpectedSplit["off"]-0.2) > 1e-9 {
		t.Errorf("expected split %v, want on 0.8 / off 0.2", res.ExpectedSplit)
	}
	srm := res.Results.SRM
	if !srm.Checked || srm.Mismatch || srm.PValue == nil || math.Abs(*srm.PValue-0.737315677216418) > 1e-6 || math.Abs(srm.Expected["on"]-400) > 1e-6 {
		t.Errorf("SRM %+v (p %v), want checked, no mismatch, 400 expected on", srm, srm.PValue)
	}
	if !res.Results.Sequential || res.Results.Correction != "holm" {
		t.Errorf("defaults: sequential %v, correction %q", res.Results.Sequential, res.Results.Correction)
	}
}
