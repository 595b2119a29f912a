package analytics

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/switchyard/switchyard/analytics/internal/store/storetest"
	"github.com/switchyard/switchyard/codec"
)

// FuzzExperimentQuery decodes untrusted experiment POST bodies and runs them
// on a small store: any input gets a result or an ErrInvalid, never a panic
// (URL patterns are compiled, enums folded, limits applied).
func FuzzExperimentQuery(f *testing.F) {
	for _, seed := range []string{
		`{"baselineVariationId":"a","metrics":[{"eventName":"buy","type":"conversion"}]}`,
		`{"baselineVariationId":"a","metrics":[{"eventName":"pv","type":"Conversion","eventType":"PageView","urls":[{"matchType":"RegExp","url":"^/c(\\?|$)"}]}],"expectedSplit":{"a":80,"b":20}}`,
		`{"baselineVariationId":"a","metrics":[{"eventName":"buy","type":"numeric","winsorize":0.99,"lowerIsBetter":true,"guardrail":true}],"sequential":false,"correction":"bh","cupedDays":3}`,
		`{"baselineVariationId":"b","metrics":[{"eventName":"buy","type":"numeric"}],"confidence":0.999999,"sequentialN":100}`,
	} {
		f.Add([]byte(seed))
	}
	s, err := New(Config{DataDir: f.TempDir(), Addr: "-"})
	if err != nil {
		f.Fatal(err)
	}
	if err := s.Start(); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Shutdown(context.Background()) })
	t0 := storetest.T0.UnixMilli()
	b := &codec.InsightBatch{EnvID: "env"}
	for i, u := range []string{"u1", "u2", "u3", "u4"} {
		v := []string{"a", "b"}[i%2]
		b.Evals = append(b.Evals, codec.FlagEval{FlagKey: "exp", VariationID: v, UserKey: u, SendToExperiment: true, Timestamp: t0})
		b.Metrics = append(b.Metrics, codec.MetricEvent{EventName: "buy", UserKey: u, NumericValue: float64(i), Timestamp: t0 + 1},
			codec.MetricEvent{EventName: "buy", UserKey: u, NumericValue: 1, Timestamp: t0 - 1000},
			codec.MetricEvent{EventName: "pv", UserKey: u, Type: "PageView", Route: "/c?x", Timestamp: t0 + 1})
	}
	if err := s.Ingest(context.Background(), b); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var eb experimentBody
		if json.Unmarshal(body, &eb) != nil {
			return
		}
		q := ExperimentQuery{EnvID: "env", FlagKey: "exp", BaselineVariationID: eb.BaselineVariationID,
			From: time.UnixMilli(t0), To: time.UnixMilli(t0 + 1000), Metrics: eb.Metrics, ExpectedSplit: eb.ExpectedSplit,
			Confidence: eb.Confidence, Sequential: eb.Sequential, SequentialN: eb.SequentialN, Correction: eb.Correction, CUPEDDays: eb.CUPEDDays}
		_, _ = experiment(context.Background(), s.store, q)
	})
}
