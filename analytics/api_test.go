package analytics

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/analytics/internal/store/storetest"
	"github.com/switchyard/switchyard/codec"
)

func newEmbedded(t *testing.T) *Service {
	t.Helper()
	s, err := New(Config{DataDir: t.TempDir(), Addr: "-"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return s
}

func get(t *testing.T, h http.Handler, method, url string, body string, wantStatus int, out any) {
	t.Helper()
	req := httptest.NewRequest(method, url, strings.NewReader(body))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != wantStatus {
		t.Fatalf("%s %s: status %d (%s), want %d", method, url, rec.Code, rec.Body.String(), wantStatus)
	}
	if out != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, url, err, rec.Body.String())
		}
	}
}

func TestQueryAPI(t *testing.T) {
	s := newEmbedded(t)
	ctx := context.Background()
	for _, b := range storetest.Fixture("e1", "e2") {
		if err := s.Ingest(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	h := s.Handler()
	from, to := storetest.T0.UnixMilli(), storetest.T0.Add(24*time.Hour).Format(time.RFC3339)
	base := fmt.Sprintf("%s/envs/e1/flags/f1", APIPrefix)
	rq := fmt.Sprintf("from=%d&to=%s", from, to)

	var series struct {
		BucketMs int64 `json:"bucketMs"`
		Points   []struct {
			Time        int64
			VariationID string
			Count       uint64
		}
	}
	get(t, h, "GET", base+"/evaluations?bucket=hour&"+rq, "", 200, &series)
	if series.BucketMs != 3_600_000 || len(series.Points) != 3 || series.Points[0].Count != 3 || series.Points[2].VariationID != "a" {
		t.Errorf("series: %+v", series)
	}
	var vars struct {
		Variations []struct {
			VariationID        string
			Evaluations, Users uint64
		}
	}
	get(t, h, "GET", base+"/variations?"+rq, "", 200, &vars)
	if len(vars.Variations) != 2 || vars.Variations[0].Users != 3 || vars.Variations[0].Evaluations != 4 {
		t.Errorf("variations: %+v", vars)
	}
	var users struct {
		Users []struct{ UserKey, VariationID string }
		Limit int
	}
	get(t, h, "GET", base+"/users?variation=b&limit=2&"+rq, "", 200, &users)
	if len(users.Users) != 2 || users.Users[0].UserKey != "u2" || users.Users[1].UserKey != "u3" || users.Limit != 2 {
		t.Errorf("users: %+v", users)
	}
	// errors map to 400 with a message
	get(t, h, "GET", base+"/evaluations?bucket=week&"+rq, "", 400, nil)
	get(t, h, "GET", base+"/evaluations?from=yesterday", "", 400, nil)
	get(t, h, "GET", base+"/evaluations?bucket=minute&from=0&to=4000000000000", "", 400, nil)
	get(t, h, "GET", base+"/users?limit=-1&"+rq, "", 400, nil)
	get(t, h, "GET", base+"/experiment?"+rq, "", 400, nil) // no baseline, no metric

	// GDPR
	get(t, h, "DELETE", APIPrefix+"/envs/e1/users/u1", "", 200, nil)
	get(t, h, "GET", base+"/variations?"+rq, "", 200, &vars)
	if vars.Variations[0].Users != 2 {
		t.Errorf("after delete: %+v", vars)
	}
	var health map[string]any
	get(t, h, "GET", APIPrefix+"/health", "", 200, &health)
	if health["backend"] != "embedded" || health["ok"] != true {
		t.Errorf("health %v", health)
	}
}

// TestExperimentEndToEnd ingests 1000 baseline users with 100 conversions and
// 1000 treatment users with 130 and checks the API's statistics against the
// SciPy values of the stats tests (Welch p 0.0355..., Beta-Binomial 0.98216...).
func TestExperimentEndToEnd(t *testing.T) { checkExperiment(t, newEmbedded(t)) }

// checkExperiment runs the experiment scenario on s (embedded here,
// ClickHouse in TestExperimentClickHouse).
func checkExperiment(t *testing.T, s *Service) {
	ctx := context.Background()
	t0 := storetest.T0.UnixMilli()
	var b codec.InsightBatch
	b.EnvID = "env"
	for i := 0; i < 2000; i++ {
		v, conv := "a", i < 100
		if i >= 1000 {
			v, conv = "b", i < 1130
		}
		u := fmt.Sprintf("user-%04d", i)
		b.Evals = append(b.Evals, codec.FlagEval{FlagKey: "exp", VariationID: v, UserKey: u, SendToExperiment: true, Timestamp: t0 + int64(i)})
		// a second, later evaluation of the other variation must not move the user
		b.Evals = append(b.Evals, codec.FlagEval{FlagKey: "exp", VariationID: "a", UserKey: u, SendToExperiment: true, Timestamp: t0 + 1e6})
		if conv {
			b.Metrics = append(b.Metrics, codec.MetricEvent{EventName: "buy", UserKey: u, NumericValue: float64(i % 7), Timestamp: t0 + 5000 + int64(i)},
				codec.MetricEvent{EventName: "buy", UserKey: u, NumericValue: 1, Timestamp: t0 + 6000 + int64(i)})
		}
		// an event before exposure does not convert
		b.Metrics = append(b.Metrics, codec.MetricEvent{EventName: "buy", UserKey: u, Timestamp: t0 - 1})
	}
	if err := s.Ingest(ctx, &b); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`{"baselineVariationId":"a","from":%d,"to":%d,"metrics":[{"eventName":"buy","type":"conversion"},{"eventName":"buy","type":"numeric"}],"expectedSplit":{"a":50,"b":50},"sequential":false,"correction":"none","cupedDays":0}`,
		t0, t0+2e6)
	var res ExperimentResult
	get(t, s.Handler(), "POST", APIPrefix+"/envs/env/flags/exp/experiment", body, 200, &res)
	if len(res.Exposures) != 2 || res.Exposures[0].Users != 1000 || res.Exposures[1].Users != 1000 {
		t.Fatalf("exposures %+v", res.Exposures)
	}
	if res.SRM.Mismatch || res.SRM.PValue == nil || *res.SRM.PValue != 1 {
		t.Errorf("SRM %+v", res.SRM)
	}
	conv := res.Metrics[0]
	base, treat := conv.Variations[0], conv.Variations[1]
	if !base.IsBaseline || base.Converted != 100 || treat.Converted != 130 || *treat.Value != 0.13 {
		t.Fatalf("conversion %+v %+v", base, treat)
	}
	near := func(name string, got *float64, want float64) {
		t.Helper()
		if got == nil || math.Abs(*got-want) > 1e-8 {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	near("pValue", treat.PValue, 0.03550333505785886)
	near("diffCi.lo", treat.DiffCI[0], 0.002036799193397186)
	near("diffCi.hi", treat.DiffCI[1], 0.05796320080660281)
	near("uplift", treat.Uplift, 0.3)
	near("probBeat", treat.ProbBeatBaseline, 0.9821650661163506)
	if !treat.Significant {
		t.Error("not significant at 95%")
	}
	num := res.Metrics[1].Variations
	if num[0].Samples != 100 || num[1].Samples != 130 || num[0].Value == nil {
		t.Errorf("numeric %+v", num)
	}
	// the GET form with the same parameters gives the same numbers
	var res2 ExperimentResult
	get(t, s.Handler(), "GET", fmt.Sprintf("%s/envs/env/flags/exp/experiment?baseline=a&metric=buy:conversion&split=a:1,b:1&sequential=false&cupedDays=0&from=%d&to=%d",
		APIPrefix, t0, t0+2e6), "", 200, &res2)
	near("GET pValue", res2.Metrics[0].Variations[1].PValue, 0.03550333505785886)

	// SRM: 1000 vs 1000 against an expected 60/40 split: chi² = 200²/1200 + 200²/800 = 83.3 → mismatch
	body60 := strings.Replace(body, `"a":50,"b":50`, `"a":60,"b":40`, 1)
	get(t, s.Handler(), "POST", APIPrefix+"/envs/env/flags/exp/experiment", body60, 200, &res)
	if !res.SRM.Mismatch || res.SRM.ChiSquare == nil || math.Abs(*res.SRM.ChiSquare-250.0/3) > 1e-9 {
		t.Errorf("SRM against 60/40: %+v", res.SRM)
	}
	// a GDPR delete invalidates the cached result
	if err := s.DeleteUser(ctx, "env", "user-1999"); err != nil {
		t.Fatal(err)
	}
	get(t, s.Handler(), "POST", APIPrefix+"/envs/env/flags/exp/experiment", body, 200, &res)
	if res.Exposures[1].Users != 999 {
		t.Errorf("after deleting one treatment user: %+v", res.Exposures)
	}
}
