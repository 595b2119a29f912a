package control

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/analytics"
	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/insights"
	"github.com/switchyard/switchyard/control/internal/store"
)

// exptHarness is a harness with an in-process analytics service (embedded
// store) behind control's insights client.
func exptHarness(t *testing.T, mut func(*Config)) (*harness, *analytics.Service) {
	t.Helper()
	an, err := analytics.New(analytics.Config{Addr: "-", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := an.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = an.Shutdown(context.Background()) })
	srv := httptest.NewServer(an.Handler())
	t.Cleanup(srv.Close)
	return newHarnessWith(t, mut, WithInsights(insights.New(srv.URL))), an
}

// onOffFlag creates an enabled boolean flag whose default rule serves off.
func onOffFlag(t *testing.T, h *harness, env, key string, inExpt bool) codec.Flag {
	t.Helper()
	var f codec.Flag
	h.must(201, h.admin, "POST", h.flagsURL(env), map[string]any{"key": key, "variationType": "boolean", "isEnabled": true,
		"variations":  []map[string]any{{"id": "on", "name": "on", "value": "true"}, {"id": "off", "name": "off", "value": "false"}},
		"fallthrough": map[string]any{"includedInExpt": inExpt, "variations": []map[string]any{{"id": "off", "rollout": []float64{0, 1}, "exptRollout": 1}}}}).decode(t, &f)
	return f
}

func errorMetric(t *testing.T, h *harness, env string) string {
	t.Helper()
	var m struct{ ID string }
	h.must(201, h.admin, "POST", "/api/v1/envs/"+env+"/metrics", map[string]any{"name": "Errors", "eventName": "error",
		"customEventTrackOption": "conversion", "customEventSuccessCriteria": "Lower", "guardrail": true}).decode(t, &m)
	return m.ID
}

func getFlag(t *testing.T, h *harness, env, key string) codec.Flag {
	t.Helper()
	var f codec.Flag
	h.must(200, h.admin, "GET", h.flagsURL(env)+"/"+key, nil).decode(t, &f)
	return f
}

// advanceUntil runs the rollout checks until the rollout satisfies ok.
func advanceUntil(t *testing.T, h *harness, env, id, what string, ok func(*store.GuardedRollout) bool) store.GuardedRollout {
	t.Helper()
	var x store.GuardedRollout
	for deadline := time.Now().Add(30 * time.Second); ; {
		h.s.wf.AdvanceRollouts(context.Background())
		h.must(200, h.admin, "GET", "/api/v1/envs/"+env+"/guarded-rollouts/"+id, nil).decode(t, &x)
		if ok(&x) {
			return x
		}
		if time.Now().After(deadline) {
			t.Fatalf("rollout never reached %s: %+v", what, x)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestGuardedRolloutAdvancesAndRollsBack: a rollout of "on" on the default
// rule starts at 10 % (the flag is written at once), advances to 50 % while
// no exposure shows harm, and rolls back — the default rule serves what it
// served before, audit entry and webhook event — once the users on "on"
// raise the error rate (a lower-is-better guardrail).
func TestGuardedRolloutAdvancesAndRollsBack(t *testing.T) {
	h, an := exptHarness(t, allowLoopback)
	env := h.env("dev")
	base := "/api/v1/envs/" + env
	rc := newReceiver(t)
	h.must(201, h.admin, "POST", "/api/v1/orgs/"+h.info.OrgID+"/webhooks", map[string]any{"name": "rollouts", "url": rc.srv.URL,
		"events": []string{"guarded_rollout.rolled_back"}})
	f := onOffFlag(t, h, env, "new-checkout", false)
	mid := errorMetric(t, h, env)
	url := h.flagsURL(env) + "/new-checkout/guarded-rollouts"
	stages := []map[string]any{{"percent": 10, "holdSeconds": 0}, {"percent": 50, "holdSeconds": 3600}, {"percent": 100, "holdSeconds": 0}}

	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"variationId": "nope", "metricIds": []string{mid}, "stages": stages}, "variationId"},
		{map[string]any{"variationId": "off", "metricIds": []string{mid}, "stages": stages}, "variationId"},
		{map[string]any{"variationId": "on", "metricIds": []string{}, "stages": stages}, "metricIds"},
		{map[string]any{"variationId": "on", "metricIds": []string{"x"}, "stages": stages}, "metricIds[0]"},
		{map[string]any{"variationId": "on", "metricIds": []string{mid}, "stages": []map[string]any{{"percent": 50}, {"percent": 20}}}, "stages[1].percent"},
		{map[string]any{"variationId": "on", "metricIds": []string{mid}, "stages": []map[string]any{{"percent": 101}}}, "stages[0].percent"},
		{map[string]any{"variationId": "on", "metricIds": []string{mid}, "stages": []map[string]any{{"percent": 5, "holdSeconds": -1}}}, "stages[0].holdSeconds"},
		{map[string]any{"variationId": "on", "metricIds": []string{mid}, "stages": stages, "checkEverySeconds": 100000}, "checkEverySeconds"},
		{map[string]any{"variationId": "on", "metricIds": []string{mid}, "stages": stages, "ruleId": "no-such-rule"}, "ruleId"},
		{map[string]any{"variationId": "on", "metricIds": []string{mid}, "stages": stages, "sequentialN": 5}, "sequentialN"},
	} {
		r := h.do(h.admin, "POST", url, c.body)
		if code, field := r.errField(t); r.Code != 400 || field != c.field {
			t.Errorf("%v: %d %s %s, want 400 naming %s", c.body, r.Code, code, field, c.field)
		}
	}

	var x store.GuardedRollout
	h.must(201, h.admin, "POST", url, map[string]any{"ruleId": "default", "variationId": "on", "metricIds": []string{mid},
		"stages": stages, "checkEverySeconds": 1, "comment": "canary the new checkout"}).decode(t, &x)
	h.must(409, h.admin, "POST", url, map[string]any{"variationId": "on", "metricIds": []string{mid}, "stages": stages}) // one per flag
	got := getFlag(t, h, env, "new-checkout")
	if !got.Fallthrough.IncludedInExpt || len(got.Fallthrough.Variations) != 2 || got.Fallthrough.Variations[0].Rollout != [2]float64{0, 0.1} {
		t.Fatalf("stage 1 default rule: %+v, want on [0, 0.1), off after, in the experiment", got.Fallthrough)
	}
	x = advanceUntil(t, h, env, x.ID, "stage 2", func(x *store.GuardedRollout) bool { return x.Stage == 1 })
	if got := getFlag(t, h, env, "new-checkout"); got.Fallthrough.Variations[0].Rollout != [2]float64{0, 0.5} {
		t.Fatalf("stage 2 default rule: %+v", got.Fallthrough)
	}

	// 400 users since the start, half on each variation; "on" errors 40 %, "off" 5 %.
	b := &codec.InsightBatch{EnvID: env}
	ts := x.StartedAt + 1
	for i := range 400 {
		v, errors := "off", 10 // of the 200 users of each variation
		if i%2 == 0 {
			v, errors = "on", 80
		}
		u := fmt.Sprintf("user-%03d", i)
		b.Evals = append(b.Evals, codec.FlagEval{EnvID: env, FlagKey: "new-checkout", VariationID: v, UserKey: u, SendToExperiment: true, Timestamp: ts})
		if i/2 < errors {
			b.Metrics = append(b.Metrics, codec.MetricEvent{EnvID: env, EventName: "error", Type: "CustomEvent", UserKey: u, Timestamp: ts + 10})
		}
	}
	if err := an.Ingest(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	x = advanceUntil(t, h, env, x.ID, "rolled back", func(x *store.GuardedRollout) bool { return x.Status != store.RolloutRunning })
	if x.Status != store.RolloutRolledBack || !strings.Contains(x.Reason, "error") || x.LastCheck == nil || len(x.LastCheck.Harmed) != 1 {
		t.Fatalf("rollout %+v, want rolled_back naming the error guardrail", x)
	}
	got = getFlag(t, h, env, "new-checkout")
	if got.Fallthrough.IncludedInExpt || len(got.Fallthrough.Variations) != 1 || got.Fallthrough.Variations[0].ID != f.Fallthrough.Variations[0].ID {
		t.Fatalf("after the rollback the default rule is %+v, want %+v", got.Fallthrough, f.Fallthrough)
	}
	var audit struct{ Items []store.AuditEntry }
	h.must(200, h.admin, "GET", "/api/v1/orgs/"+h.info.OrgID+"/audit?type=guarded_rollout", nil).decode(t, &audit)
	actions := map[string]bool{}
	for _, e := range audit.Items {
		actions[e.Action] = true
	}
	if !actions["started"] || !actions["advanced"] || !actions["rolled_back"] {
		t.Errorf("audit actions %v, want started, advanced, rolled_back", actions)
	}
	for deadline := time.Now().Add(20 * time.Second); len(rc.received()) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("no webhook delivery for the rollback")
		}
		h.s.wf.Webhooks().Sweep(context.Background())
		time.Sleep(20 * time.Millisecond)
	}
	if got := rc.received()[0]; got.Event != "guarded_rollout.rolled_back" || !strings.Contains(string(got.Body), x.ID) {
		t.Errorf("webhook %s %s", got.Event, got.Body)
	}
	h.must(409, h.admin, "POST", base+"/guarded-rollouts/"+x.ID+"/abort", nil) // no longer running
}

// TestGuardedRolloutAbortAndRestart: a rollout survives a restart of
// control (its state is in the store; the new instance completes it), and
// an abort restores the rule.
func TestGuardedRolloutAbortAndRestart(t *testing.T) {
	dir := t.TempDir()
	h, _ := exptHarness(t, func(c *Config) { c.DataDir = dir })
	env := h.env("dev")
	onOffFlag(t, h, env, "restart-flag", false)
	onOffFlag(t, h, env, "abort-flag", true)
	mid := errorMetric(t, h, env)
	var x, y store.GuardedRollout
	h.must(201, h.admin, "POST", h.flagsURL(env)+"/restart-flag/guarded-rollouts", map[string]any{"variationId": "on", "metricIds": []string{mid},
		"stages": []map[string]any{{"percent": 1}, {"percent": 100}}, "checkEverySeconds": 1}).decode(t, &x)
	h.must(201, h.admin, "POST", h.flagsURL(env)+"/abort-flag/guarded-rollouts", map[string]any{"variationId": "on", "metricIds": []string{mid},
		"stages": []map[string]any{{"percent": 5, "holdSeconds": 3600}}, "checkEverySeconds": 3600}).decode(t, &y)
	h.must(200, h.admin, "POST", "/api/v1/envs/"+env+"/guarded-rollouts/"+y.ID+"/abort", map[string]any{}).decode(t, &y)
	if got := getFlag(t, h, env, "abort-flag"); y.Status != store.RolloutAborted || !got.Fallthrough.IncludedInExpt || len(got.Fallthrough.Variations) != 1 || got.Fallthrough.Variations[0].ID != "off" {
		t.Fatalf("after abort: rollout %s, default rule %+v", y.Status, got.Fallthrough)
	}

	if err := h.s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	h2, _ := exptHarness(t, func(c *Config) { c.DataDir = dir })
	x = advanceUntil(t, h2, env, x.ID, "completed", func(x *store.GuardedRollout) bool { return x.Status != store.RolloutRunning })
	got := getFlag(t, h2, env, "restart-flag")
	if x.Status != store.RolloutCompleted || got.Fallthrough.IncludedInExpt || len(got.Fallthrough.Variations) != 1 || got.Fallthrough.Variations[0].ID != "on" {
		t.Fatalf("after restart: rollout %s (%s), default rule %+v, want completed serving on", x.Status, x.Reason, got.Fallthrough)
	}
}

// TestShipExperimentWinner: shipping writes the flag (the experiment's
// rules serve the winner to everyone and leave the experiment), stops the
// experiment and is audited; a protected environment gates it like any
// flag write.
func TestShipExperimentWinner(t *testing.T) {
	h, _ := exptHarness(t, nil)
	env := h.env("dev")
	base := "/api/v1/envs/" + env
	f := onOffFlag(t, h, env, "ship-flag", true)
	mid := errorMetric(t, h, env)
	var x store.Experiment
	h.must(201, h.admin, "POST", base+"/experiments", map[string]any{"flagId": f.ID, "metricIds": []string{mid}}).decode(t, &x)
	h.must(200, h.admin, "POST", base+"/experiments/"+x.ID+"/start", map[string]any{"version": x.Version}).decode(t, &x)
	r := h.do(h.admin, "POST", base+"/experiments/"+x.ID+"/ship", map[string]any{"variationId": "nope"})
	if _, field := r.errField(t); r.Code != 400 || field != "variationId" {
		t.Fatalf("unknown variation: %d %s", r.Code, r.Body)
	}
	h.must(409, h.admin, "POST", base+"/experiments/"+x.ID+"/ship", map[string]any{"variationId": "on", "flagVersion": f.Version + 5})
	h.must(200, h.admin, "POST", base+"/experiments/"+x.ID+"/ship", map[string]any{"variationId": "on", "comment": "on wins"})
	got := getFlag(t, h, env, "ship-flag")
	if got.Fallthrough.IncludedInExpt || len(got.Fallthrough.Variations) != 1 || got.Fallthrough.Variations[0].ID != "on" || got.Version != f.Version+1 {
		t.Fatalf("shipped flag: %+v", got.Fallthrough)
	}
	h.must(200, h.admin, "GET", base+"/experiments/"+x.ID, nil).decode(t, &x)
	if x.Status != store.ExptStopped || x.ShippedVariationID != "on" {
		t.Fatalf("experiment after ship: %s %q", x.Status, x.ShippedVariationID)
	}
	var audit struct{ Items []store.AuditEntry }
	h.must(200, h.admin, "GET", "/api/v1/orgs/"+h.info.OrgID+"/audit?resource=ship-flag&type=flag", nil).decode(t, &audit)
	if len(audit.Items) == 0 || audit.Items[0].Comment != "on wins" || !strings.Contains(strings.Join(audit.Items[0].Changes, "\n"), "shipped") {
		t.Fatalf("flag audit: %+v", audit.Items)
	}
	h.must(409, h.admin, "POST", base+"/experiments/"+x.ID+"/ship", map[string]any{"variationId": "off"}) // no rule left in it

	f2 := onOffFlag(t, h, env, "ship-gated", true)
	var x2 store.Experiment
	h.must(201, h.admin, "POST", base+"/experiments", map[string]any{"flagId": f2.ID, "metricIds": []string{mid}}).decode(t, &x2)
	h.protect(env, 1)
	wantGated(t, h.do(h.admin, "POST", base+"/experiments/"+x2.ID+"/ship", map[string]any{"variationId": "on"}), "ship in a protected environment")
}

// TestSecurityRolloutAndShipAccess: starting or aborting a guarded rollout
// and shipping a variation are flag writes (a viewer is refused; unknown
// fields are refused) and a rollout or experiment id of another environment is not
// found there (no cross-environment access by id).
func TestSecurityRolloutAndShipAccess(t *testing.T) {
	h, _ := exptHarness(t, nil)
	dev, prod := h.env("dev"), h.env("prod")
	f := onOffFlag(t, h, dev, "guarded", true)
	mid := errorMetric(t, h, dev)
	viewer := h.addMember(h.info.OrgID, "viewer@example.com", "viewer-password-1", "viewer")
	body := map[string]any{"variationId": "on", "metricIds": []string{mid}, "stages": []map[string]any{{"percent": 10, "holdSeconds": 60}}}
	url := h.flagsURL(dev) + "/guarded/guarded-rollouts"
	h.must(403, viewer, "POST", url, body)
	var x store.GuardedRollout
	h.must(201, h.admin, "POST", url, body).decode(t, &x)
	h.must(200, viewer, "GET", "/api/v1/envs/"+dev+"/guarded-rollouts/"+x.ID, nil)
	h.must(404, h.admin, "GET", "/api/v1/envs/"+prod+"/guarded-rollouts/"+x.ID, nil)
	h.must(404, h.admin, "POST", "/api/v1/envs/"+prod+"/guarded-rollouts/"+x.ID+"/abort", nil)
	h.must(403, viewer, "POST", "/api/v1/envs/"+dev+"/guarded-rollouts/"+x.ID+"/abort", nil)
	h.must(200, h.admin, "POST", "/api/v1/envs/"+dev+"/guarded-rollouts/"+x.ID+"/abort", nil)

	var e store.Experiment
	h.must(201, h.admin, "POST", "/api/v1/envs/"+dev+"/experiments", map[string]any{"flagId": f.ID, "metricIds": []string{mid}}).decode(t, &e)
	h.must(403, viewer, "POST", "/api/v1/envs/"+dev+"/experiments/"+e.ID+"/ship", map[string]any{"variationId": "on"})
	h.must(404, h.admin, "POST", "/api/v1/envs/"+prod+"/experiments/"+e.ID+"/ship", map[string]any{"variationId": "on"})
	r := h.do(h.admin, "POST", "/api/v1/envs/"+dev+"/experiments/"+e.ID+"/ship", map[string]any{"variationId": "on", "extra": 1})
	if r.Code != 400 {
		t.Fatalf("unknown field: %d %s", r.Code, r.Body)
	}
}

// TestGuardedRolloutRefusesMixedExposures: another rule in the experiment
// would mix its users' exposures into the guardrails: refused with 409.
func TestGuardedRolloutRefusesMixedExposures(t *testing.T) {
	h, _ := exptHarness(t, nil)
	env := h.env("dev")
	f := onOffFlag(t, h, env, "mixed", false)
	mid := errorMetric(t, h, env)
	f.Rules = []codec.Rule{{Name: "beta", IncludedInExpt: true, Conditions: []codec.Condition{{Property: "plan", Op: "Equal", Value: "beta"}},
		Variations: []codec.RolloutVariation{{ID: "on", Rollout: [2]float64{0, 1}, ExptRollout: 1}}}}
	h.must(200, h.admin, "PUT", h.flagsURL(env)+"/mixed", f)
	r := h.do(h.admin, "POST", h.flagsURL(env)+"/mixed/guarded-rollouts", map[string]any{"variationId": "on", "metricIds": []string{mid},
		"stages": []map[string]any{{"percent": 10}}})
	if r.Code != 409 || !strings.Contains(string(r.Body), "beta") {
		t.Fatalf("%d %s, want 409 naming rule beta", r.Code, r.Body)
	}
}

// TestGuardedRolloutActsOnce: checks racing on a due rollout (as several
// control instances on one database do) act once: one advance, one flag
// write, one audit entry.
func TestGuardedRolloutActsOnce(t *testing.T) {
	h, _ := exptHarness(t, nil)
	env := h.env("dev")
	onOffFlag(t, h, env, "raced", false)
	mid := errorMetric(t, h, env)
	var x store.GuardedRollout
	h.must(201, h.admin, "POST", h.flagsURL(env)+"/raced/guarded-rollouts", map[string]any{"variationId": "on", "metricIds": []string{mid},
		"stages": []map[string]any{{"percent": 10}, {"percent": 50, "holdSeconds": 3600}}, "checkEverySeconds": 1}).decode(t, &x)
	before := getFlag(t, h, env, "raced").Version
	for deadline := time.Now().Add(10 * time.Second); time.Now().UnixMilli() <= x.UpdatedAt+1000; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the rollout never became due")
		}
	}
	var wg sync.WaitGroup
	var acted atomic.Int64
	for range 8 {
		wg.Go(func() { acted.Add(int64(h.s.wf.AdvanceRollouts(context.Background()))) })
	}
	wg.Wait()
	h.must(200, h.admin, "GET", "/api/v1/envs/"+env+"/guarded-rollouts/"+x.ID, nil).decode(t, &x)
	if n := acted.Load(); n != 1 || x.Stage != 1 || x.Version != 2 {
		t.Fatalf("%d checks acted; rollout at stage %d, version %d; want 1, stage 1, version 2", n, x.Stage, x.Version)
	}
	if v := getFlag(t, h, env, "raced").Version; v != before+1 {
		t.Fatalf("flag version %d after the race, want %d", v, before+1)
	}
}
