//go:build integration

package analytics

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/codec/secret"
	"github.com/switchyard/switchyard/edge"
	"github.com/switchyard/switchyard/edge/edgetest"
)

// TestTrackEndpointToClickHouse drives the whole insight path: SDK-style
// POSTs to the edge's /api/public/insight/track → the edge's Kafka sink →
// sy.insights → this service → ClickHouse, and checks the counts are exactly
// what was sent, and logs the rate and the delay. (The edge is imported by
// this test only.)
func TestTrackEndpointToClickHouse(t *testing.T) {
	e := newITEnv(t, 2)
	redis := os.Getenv("SY_TEST_REDIS_ADDR")
	if redis == "" {
		redis = "127.0.0.1:1" // required by the edge's config check; the local source below replaces Redis
	}
	src := edge.NewLocalSource()
	ed, err := edge.New(edge.Config{Addr: "127.0.0.1:0", KafkaBrokers: e.brokers, RedisAddr: redis, TopicPrefix: e.prefix},
		edge.WithSource(src))
	if err != nil {
		t.Fatal(err)
	}
	if err := ed.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ed.Shutdown(ctx)
	})
	snap := edgetest.DemoSnapshot(secret.NewGUID())
	if err := src.WriteSnapshot(context.Background(), snap); err != nil {
		t.Fatal(err)
	}
	var key string
	for _, s := range snap.Secrets {
		if s.Type == codec.SecretServer {
			key = s.Value
		}
	}
	s := e.start(t, 1000, 200*time.Millisecond)

	const requests, users, workers = 200, 50, 4 // each request: 50 users × (2 evaluations + 1 metric)
	ts := time.Now().UnixMilli()
	body := func(r int) string {
		var items []string
		for u := 0; u < users; u++ {
			items = append(items, fmt.Sprintf(`{"user":{"keyId":"user-%d-%d","name":"n","customizedProperties":[]},
			  "variations":[{"featureFlagKey":"demo-bool","variation":{"id":"v-true","value":"true"},"timestamp":%d,"sendToExperiment":true},
			                {"featureFlagKey":"demo-string","variation":{"id":"v-fr","value":"fr"},"timestamp":%d,"sendToExperiment":false}],
			  "metrics":[{"route":"/","type":"CustomEvent","eventName":"checkout","numericValue":%d,"appType":"server","timestamp":%d}]}`,
				r, u, ts, ts, u, ts+1))
		}
		return "[" + strings.Join(items, ",") + "]"
	}
	bodies := make([]string, requests)
	for r := range bodies {
		bodies[r] = body(r)
	}
	start := time.Now()
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		go func(w int) {
			for r := w; r < requests; r += workers {
				req, _ := http.NewRequest("POST", "http://"+ed.Addr()+"/api/public/insight/track", strings.NewReader(bodies[r]))
				req.Header.Set("Authorization", key)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					errs <- err
					return
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs <- fmt.Errorf("track: status %d", resp.StatusCode)
					return
				}
			}
			errs <- nil
		}(w)
	}
	for w := 0; w < workers; w++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	posted := time.Now()
	wantE, wantM := uint64(requests*users*2), uint64(requests*users)
	rawE, rawM := waitCounts(t, s, wantE, wantM, 90*time.Second)
	done := time.Now()
	if rawE != wantE || rawM != wantM {
		t.Errorf("raw rows %d/%d, want exactly %d/%d", rawE, rawM, wantE, wantM)
	}
	t.Logf("track → ClickHouse: %d events in %d POSTs (%d workers) in %v = %.0f events/s; last POST answered → all rows visible: %v (200 ms polling)",
		wantE+wantM, requests, workers, done.Sub(start), float64(wantE+wantM)/done.Sub(start).Seconds(), done.Sub(posted))
	// and the query API answers from them
	r, err := s.store.VariationUsers(context.Background(), rangeFor(snap.EnvID, "demo-bool"))
	if err != nil || len(r) != 1 || r[0].VariationID != "v-true" || r[0].Users != requests*users || r[0].Evaluations != requests*users {
		t.Errorf("VariationUsers(demo-bool) = %+v, %v", r, err)
	}
}
