//go:build integration

package control

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/switchyard/switchyard/analytics"
	"github.com/switchyard/switchyard/control/internal/store"
)

// wireServe is the default rule of a flag as a FeatBit server SDK gets it.
type wireServe struct {
	Key         string `json:"key"`
	Fallthrough struct {
		IncludedInExpt bool `json:"includedInExpt"`
		Variations     []struct {
			ID      string     `json:"id"`
			Rollout [2]float64 `json:"rollout"`
		} `json:"variations"`
	} `json:"fallthrough"`
}

// nextFlags reads data-sync messages until one carries key and returns it.
func (s *sdkConn) nextFlag(key string, d time.Duration) wireServe {
	s.t.Helper()
	_ = s.c.SetReadDeadline(time.Now().Add(d))
	for {
		h, err := ws.ReadHeader(s.r)
		if err != nil {
			s.t.Fatalf("read: %v", err)
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(s.r, p); err != nil {
			s.t.Fatalf("read: %v", err)
		}
		if h.Masked {
			ws.Cipher(p, h.Mask, 0)
		}
		if h.OpCode == ws.OpPing {
			_ = wsutil.WriteClientMessage(s.c, ws.OpPong, p)
			continue
		}
		if h.OpCode != ws.OpText {
			continue
		}
		var m struct {
			MessageType string `json:"messageType"`
			Data        struct {
				FeatureFlags []wireServe `json:"featureFlags"`
			} `json:"data"`
		}
		if json.Unmarshal(p, &m) != nil || m.MessageType != "data-sync" {
			continue
		}
		for _, f := range m.Data.FeatureFlags {
			if f.Key == key {
				return f
			}
		}
	}
}

// TestIntegrationGuardedRolloutRollsBack runs a guarded rollout on the real
// services: control (MongoDB wire, Redis, Kafka), an edge process, and
// analytics on ClickHouse fed from Kafka. The rollout serves "on" to half
// of the default rule's users; an SDK population evaluates the flag at the
// edge (client polling, which says who is in the experiment) and sends its
// evaluations and "error" events through the edge's track endpoint; the
// users on "on" fail far more often, the guardrail shows harm, control
// rolls the default rule back, and the SDK stream receives the rollback.
func TestIntegrationGuardedRolloutRollsBack(t *testing.T) {
	ch := need(t, "SY_TEST_CLICKHOUSE_ADDR")
	brokers := strings.Split(need(t, "SY_TEST_KAFKA_BROKERS"), ",")
	// analytics needs the live control's topic prefix, control needs
	// analytics' URL: the URL is served before analytics exists
	var anh atomic.Pointer[http.Handler]
	asrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := anh.Load(); h != nil {
			(*h).ServeHTTP(w, r)
			return
		}
		http.Error(w, "analytics is starting", http.StatusServiceUnavailable)
	}))
	defer asrv.Close()
	l := newLive(t, func(c *Config) { c.AnalyticsURL = asrv.URL })
	id, prefix := randName(), l.prefix
	// the insight topic exists before the edge produces to it
	kc, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(kc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, analytics.InsightTopic(prefix)); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	cancel()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		adm.DeleteTopics(ctx, analytics.InsightTopic(prefix))
		kc.Close()
	})
	db := "sy_rollout_" + id
	an, err := analytics.New(analytics.Config{Addr: "-", ClickHouseAddr: ch, ClickHouseDB: db, KafkaBrokers: brokers,
		TopicPrefix: prefix, FlushInterval: 200 * time.Millisecond, CacheTTL: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := an.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		an.Shutdown(ctx)
		if h := os.Getenv("SY_TEST_CLICKHOUSE_HTTP"); h != "" {
			if res, err := http.Post("http://"+h+"/", "text/plain", strings.NewReader("DROP DATABASE IF EXISTS "+db)); err == nil {
				res.Body.Close()
			}
		}
	})
	h := an.Handler()
	anh.Store(&h)
	env := l.env("dev")
	waitFor(t, "snapshot in Redis", eventWait, func() bool { return l.snapshotFlag(env, "welcome-banner") != nil })
	edge := startEdge(t, l)
	secret := l.info.Envs[0].ServerSecret

	base := "/api/v1/envs/" + env
	l.must(201, l.admin, "POST", base+"/flags", map[string]any{"key": "guarded-checkout", "variationType": "boolean", "isEnabled": true,
		"variations":  []map[string]any{{"id": "on", "name": "on", "value": "true"}, {"id": "off", "name": "off", "value": "false"}},
		"fallthrough": map[string]any{"variations": []map[string]any{{"id": "off", "rollout": []float64{0, 1}, "exptRollout": 1}}}})
	var m struct{ ID string }
	l.must(201, l.admin, "POST", base+"/metrics", map[string]any{"name": "Errors", "eventName": "error",
		"customEventTrackOption": "conversion", "customEventSuccessCriteria": "lower"}).decode(t, &m)

	sdk := dialSDK(t, edge, secret)
	if err := wsutil.WriteClientText(sdk.c, []byte(`{"messageType":"data-sync","data":{"timestamp":0}}`)); err != nil {
		t.Fatal(err)
	}
	if f := sdk.nextFlag("guarded-checkout", eventWait); len(f.Fallthrough.Variations) != 1 {
		t.Fatalf("before the rollout the SDK has %+v", f.Fallthrough)
	}

	var x store.GuardedRollout
	l.must(201, l.admin, "POST", base+"/flags/guarded-checkout/guarded-rollouts", map[string]any{"variationId": "on", "metricIds": []string{m.ID},
		"stages": []map[string]any{{"percent": 50, "holdSeconds": 3600}, {"percent": 100}}, "checkEverySeconds": 1}).decode(t, &x)
	for f := sdk.nextFlag("guarded-checkout", eventWait); len(f.Fallthrough.Variations) != 2 || !f.Fallthrough.IncludedInExpt; f = sdk.nextFlag("guarded-checkout", eventWait) {
	}

	// The population, as FeatBit's JavaScript client SDK does it: the edge
	// answers each user's flags (variation and sendToExperiment); the insight
	// sent back carries them, and the users on "on" fail 40 % of the time.
	type variation struct {
		ID    string `json:"id"`
		Value string `json:"value"`
	}
	var insights []map[string]any
	served := map[string]int{}
	waitFor(t, "the edge serves the rollout", eventWait, func() bool {
		served = map[string]int{}
		insights = insights[:0]
		for i := range 400 {
			user := map[string]any{"keyId": fmt.Sprintf("guard-user-%03d", i), "name": fmt.Sprintf("user %d", i)}
			b, _ := json.Marshal(user)
			req, _ := http.NewRequest("POST", "http://"+edge+"/api/public/sdk/client/latest-all", strings.NewReader(string(b)))
			req.Header.Set("Authorization", secret)
			req.Header.Set("Content-Type", "application/json")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var sync struct {
				Data struct {
					FeatureFlags []struct {
						ID               string `json:"id"`
						Variation        string `json:"variation"`
						VariationID      string `json:"variationId"`
						SendToExperiment bool   `json:"sendToExperiment"`
					} `json:"featureFlags"`
				} `json:"data"`
			}
			err = json.NewDecoder(res.Body).Decode(&sync)
			res.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range sync.Data.FeatureFlags {
				if f.ID != "guarded-checkout" {
					continue
				}
				if !f.SendToExperiment {
					return false
				}
				served[f.VariationID]++
				now := time.Now().UnixMilli()
				in := map[string]any{"user": user, "variations": []map[string]any{{"featureFlagKey": f.ID,
					"variation": variation{f.VariationID, f.Variation}, "timestamp": now, "sendToExperiment": f.SendToExperiment}}}
				rate := map[string]int{"on": 40, "off": 5}[f.VariationID]
				if (i*37)%100 < rate {
					in["metrics"] = []map[string]any{{"route": "/checkout", "type": "CustomEvent", "eventName": "error", "appType": "javascript", "timestamp": now + 5}}
				}
				insights = append(insights, in)
			}
		}
		return served["on"] > 100 && served["off"] > 100
	})
	for i := 0; i < len(insights); i += 80 {
		b, _ := json.Marshal(insights[i:min(i+80, len(insights))])
		req, _ := http.NewRequest("POST", "http://"+edge+"/api/public/insight/track", strings.NewReader(string(b)))
		req.Header.Set("Authorization", secret)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("track: %d", res.StatusCode)
		}
	}

	for deadline := time.Now().Add(2 * eventWait); ; time.Sleep(200 * time.Millisecond) {
		l.must(200, l.admin, "GET", base+"/guarded-rollouts/"+x.ID, nil).decode(t, &x)
		if x.Status != store.RolloutRunning {
			break
		}
		if time.Now().After(deadline) {
			q := fmt.Sprintf(`{"baselineVariationId":"off","from":%d,"metrics":[{"eventName":"error","type":"conversion","eventType":"custom","lowerIsBetter":true,"guardrail":true}],"correction":"none","cupedDays":0}`, x.StartedAt)
			res, _ := http.Post(asrv.URL+"/api/analytics/v1/envs/"+env+"/flags/guarded-checkout/experiment", "application/json", strings.NewReader(q))
			b, _ := io.ReadAll(res.Body)
			t.Fatalf("the rollout did not roll back: last check %+v; served %v; analytics: %s", x.LastCheck, served, b)
		}
	}
	if x.Status != store.RolloutRolledBack || x.LastCheck == nil || x.LastCheck.Exposures["on"] != int64(served["on"]) {
		t.Fatalf("rollout %s (%s), last check %+v; served %v", x.Status, x.Reason, x.LastCheck, served)
	}
	f := sdk.nextFlag("guarded-checkout", eventWait)
	for len(f.Fallthrough.Variations) != 1 {
		f = sdk.nextFlag("guarded-checkout", eventWait)
	}
	if f.Fallthrough.Variations[0].ID != "off" || f.Fallthrough.IncludedInExpt {
		t.Fatalf("the SDK received %+v, want the default rule back on off", f.Fallthrough)
	}
	var audit struct{ Items []store.AuditEntry }
	l.must(200, l.admin, "GET", "/api/v1/orgs/"+l.info.OrgID+"/audit?type=guarded_rollout", nil).decode(t, &audit)
	if len(audit.Items) == 0 || audit.Items[0].Action != "rolled_back" || !strings.Contains(strings.Join(audit.Items[0].Changes, " "), "error") {
		t.Fatalf("audit %+v", audit.Items)
	}
	t.Logf("rolled back after %d/%d users on on/off: %s", served["on"], served["off"], x.Reason)
}
