package control

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/store"
	"github.com/switchyard/switchyard/control/internal/webhook"
)

type auditList struct {
	Items []store.AuditEntry
	Total int
}

// betaFlag is a boolean flag with a rule 'beta users': country IsOneOf [FR].
func betaFlag(key string) map[string]any {
	return map[string]any{"key": key, "variationType": "boolean",
		"variations": []map[string]any{{"id": "on", "name": "on", "value": "true"}, {"id": "off", "name": "off", "value": "false"}},
		"rules": []map[string]any{{"id": "r1", "name": "beta users",
			"conditions": []map[string]any{{"id": "c1", "property": "country", "op": "IsOneOf", "value": `["FR"]`}},
			"variations": []map[string]any{{"id": "on", "rollout": []float64{0, 1}}}}}}
}

func TestAuditDiffNamesRuleAndCondition(t *testing.T) {
	h := newHarness(t)
	env := h.env("dev")
	start := time.Now().UnixMilli()
	var f codec.Flag
	h.must(201, h.admin, "POST", h.flagsURL(env), betaFlag("beta-checkout")).decode(t, &f)
	f.Rules[0].Conditions[0].Value = `["FR","DE"]`
	body := map[string]any{"comment": "open to Germany"}
	b, _ := jsonMap(f)
	for k, v := range b {
		body[k] = v
	}
	h.must(200, h.admin, "PUT", h.flagsURL(env)+"/beta-checkout", body).decode(t, &f)

	var l auditList
	h.must(200, h.admin, "GET", "/api/v1/envs/"+env+"/audit?resource=beta-checkout", nil).decode(t, &l)
	if l.Total != 2 || l.Items[0].Action != "updated" || l.Items[1].Action != "created" {
		t.Fatalf("entries %+v", l)
	}
	e := l.Items[0]
	want := "rule 'beta users': condition country IsOneOf [FR] → [FR, DE]"
	if !slices.Contains(e.Changes, want) || e.Comment != "open to Germany" || e.ActorName != h.info.AdminEmail ||
		e.ResourceType != "flag" || e.ResourceKey != "beta-checkout" || e.EnvID != env || e.At < start ||
		e.OrgID != h.info.OrgID || e.ProjectID != h.info.ProjectID || l.Items[1].ProjectID != h.info.ProjectID {
		t.Fatalf("entry %+v, want change %q", e, want)
	}
	// Filters: actor, type, time range, paging; org-wide log.
	h.must(200, h.admin, "GET", "/api/v1/orgs/"+h.info.OrgID+"/audit?type=flag&actor="+e.Actor+"&limit=1", nil).decode(t, &l)
	if l.Total < 2 || len(l.Items) != 1 || l.Items[0].ID != e.ID {
		t.Fatalf("by actor, paged: %+v", l)
	}
	h.must(200, h.admin, "GET", "/api/v1/orgs/"+h.info.OrgID+"/audit?actor=token:nobody", nil).decode(t, &l)
	if l.Total != 0 {
		t.Fatalf("unknown actor: %+v", l)
	}
	h.must(200, h.admin, "GET", "/api/v1/envs/"+env+"/audit?resource=beta-checkout&to="+itoa(start-1), nil).decode(t, &l)
	if l.Total != 0 {
		t.Fatalf("before the writes: %+v", l)
	}
	from := time.UnixMilli(start).UTC().Format(time.RFC3339)
	h.must(200, h.admin, "GET", "/api/v1/envs/"+env+"/audit?resource="+f.ID+"&from="+from, nil).decode(t, &l)
	if l.Total != 2 {
		t.Fatalf("by id and from: %+v", l)
	}
	if r := h.do(h.admin, "GET", "/api/v1/envs/"+env+"/audit?from=yesterday", nil); r.Code != 400 {
		t.Fatalf("bad from: %d", r.Code)
	}

	// The environment requires a comment: a write without one is 400 naming
	// "comment" and changes nothing; the header or the body field passes.
	h.must(200, h.admin, "PUT", "/api/v1/envs/"+env+"/workflow-settings", map[string]any{"requireComment": true})
	ver, _ := h.envVersion(env)
	r := h.do(h.admin, "POST", h.flagsURL(env)+"/beta-checkout/toggle", map[string]any{"version": f.Version})
	if code, field := r.errField(t); r.Code != 400 || code != "invalid" || field != "comment" {
		t.Fatalf("toggle without comment: %d %s", r.Code, r.Body)
	}
	if v2, _ := h.envVersion(env); v2 != ver {
		t.Fatalf("refused write bumped the environment %d → %d", ver, v2)
	}
	r = h.doHeader(h.admin, "POST", h.flagsURL(env)+"/beta-checkout/toggle", map[string]any{"version": f.Version}, "X-Change-Comment", "launch")
	if r.Code != 200 {
		t.Fatalf("toggle with header: %d %s", r.Code, r.Body)
	}
	h.must(200, h.admin, "GET", "/api/v1/envs/"+env+"/audit?resource=beta-checkout&limit=1", nil).decode(t, &l)
	if l.Items[0].Action != "toggled" || l.Items[0].Comment != "launch" || !slices.Contains(l.Items[0].Changes, "turned on") {
		t.Fatalf("toggle entry %+v", l.Items[0])
	}
	// Other writes are audited too: segments, environments (no secrets), tokens.
	h.must(201, h.admin, "POST", "/api/v1/orgs/"+h.info.OrgID+"/tokens", map[string]any{"name": "ci", "role": "editor"})
	h.must(200, h.admin, "GET", "/api/v1/orgs/"+h.info.OrgID+"/audit?type=token", nil).decode(t, &l)
	if l.Total != 1 || l.Items[0].Action != "created" || strings.Contains(strings.Join(l.Items[0].Changes, " "), "syt_") {
		t.Fatalf("token entry %+v", l)
	}
}

func jsonMap(v any) (map[string]any, error) {
	var m map[string]any
	b, err := jsonMarshal(v)
	if err != nil {
		return nil, err
	}
	return m, jsonUnmarshal(b, &m)
}

func itoa(n int64) string { return strconvFormat(n) }

func (h *harness) doHeader(token, method, path string, body any, k, v string) *resp {
	h.t.Helper()
	b, _ := jsonMarshal(body)
	req := httptest.NewRequest(method, path, strings.NewReader(string(b)))
	req.RemoteAddr = "192.0.2.1:1234"
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set(k, v)
	w := httptest.NewRecorder()
	h.s.Handler().ServeHTTP(w, req)
	return &resp{Code: w.Code, Body: w.Body.Bytes(), Header: w.Header()}
}

// receiver is a webhook endpoint that verifies every signature and answers
// the statuses in order (then 200).
type receiver struct {
	t        testing.TB
	secret   string
	mu       sync.Mutex
	statuses []int
	got      []receivedHook
	srv      *httptest.Server
}

type receivedHook struct {
	Event, Delivery string
	Body            []byte
	SigOK           bool
}

func newReceiver(t testing.TB, statuses ...int) *receiver {
	rc := &receiver{t: t, statuses: statuses}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		err := webhook.Verify(rc.secret, r.Header.Get(webhook.HeaderTimestamp), r.Header.Get(webhook.HeaderSignature), b, 5*time.Minute, time.Now())
		rc.got = append(rc.got, receivedHook{Event: r.Header.Get(webhook.HeaderEvent), Delivery: r.Header.Get(webhook.HeaderDelivery), Body: b, SigOK: err == nil})
		st := 200
		if len(rc.statuses) > 0 {
			st, rc.statuses = rc.statuses[0], rc.statuses[1:]
		}
		w.WriteHeader(st)
		_, _ = w.Write([]byte("status " + strconvFormat(int64(st))))
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) received() []receivedHook {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

// TestWebhookKinds: the kinds the UI offers come from the API, sorted, and
// every one of them is accepted.
func TestWebhookKinds(t *testing.T) {
	h := newHarnessWith(t, allowLoopback)
	org := h.info.OrgID
	rc := newReceiver(t, 200)
	var kinds struct{ Items []string }
	h.must(200, h.admin, "GET", "/api/v1/orgs/"+org+"/webhook-kinds", nil).decode(t, &kinds)
	if !slices.IsSorted(kinds.Items) || !slices.Contains(kinds.Items, "flag.toggled") || !slices.Contains(kinds.Items, "webhook.test") ||
		!slices.Contains(kinds.Items, "environment.secret_rotated") || slices.Contains(kinds.Items, "flag.exploded") {
		t.Fatalf("webhook kinds %v", kinds.Items)
	}
	h.must(201, h.admin, "POST", "/api/v1/orgs/"+org+"/webhooks", map[string]any{"name": "every kind", "url": rc.srv.URL, "events": kinds.Items})
}

func TestWebhookSignedRetriedAndLogged(t *testing.T) {
	h := newHarnessWith(t, allowLoopback)
	env := h.env("dev")
	org := h.info.OrgID
	d := h.s.wf.Webhooks()
	d.Backoff = func(int) time.Duration { return 10 * time.Millisecond }
	rc := newReceiver(t, 500)

	// Bad input writes nothing.
	for _, bad := range []map[string]any{
		{"name": "x", "url": "ftp://example.com/hook", "events": []string{"flag.toggled"}},
		{"name": "x", "url": "not a url", "events": []string{"flag.toggled"}},
	} {
		r := h.do(h.admin, "POST", "/api/v1/orgs/"+org+"/webhooks", bad)
		if code, field := r.errField(t); r.Code != 400 || code != "invalid" || field != "url" {
			t.Fatalf("bad url %v: %d %s", bad["url"], r.Code, r.Body)
		}
	}
	r := h.do(h.admin, "POST", "/api/v1/orgs/"+org+"/webhooks", map[string]any{"name": "x", "url": rc.srv.URL, "events": []string{"flag.exploded"}})
	if _, field := r.errField(t); r.Code != 400 || field != "events[0]" {
		t.Fatalf("bad event kind: %d %s", r.Code, r.Body)
	}
	var wl struct{ Total int }
	h.must(200, h.admin, "GET", "/api/v1/orgs/"+org+"/webhooks", nil).decode(t, &wl)
	if wl.Total != 0 {
		t.Fatalf("refused webhooks were stored: %d", wl.Total)
	}

	var wc struct {
		ID, Secret string
	}
	h.must(201, h.admin, "POST", "/api/v1/orgs/"+org+"/webhooks", map[string]any{"name": "ci", "url": rc.srv.URL,
		"events": []string{"flag.toggled"}, "envIds": []string{env}}).decode(t, &wc)
	rc.secret = wc.Secret
	if !strings.HasPrefix(wc.Secret, "whsec_") {
		t.Fatalf("secret %q", wc.Secret)
	}
	// A toggle in dev is delivered; a toggle in prod (filtered out) and an
	// update (not subscribed) are not.
	var f codec.Flag
	h.must(200, h.admin, "GET", h.flagsURL(env)+"/welcome-banner", nil).decode(t, &f)
	h.must(200, h.admin, "POST", h.flagsURL(env)+"/welcome-banner/toggle", map[string]any{"version": f.Version})
	var pf codec.Flag
	prod := h.env("prod")
	h.must(200, h.admin, "GET", h.flagsURL(prod)+"/welcome-banner", nil).decode(t, &pf)
	h.must(200, h.admin, "POST", h.flagsURL(prod)+"/welcome-banner/toggle", map[string]any{"version": pf.Version})
	if n := len(rc.received()); n != 0 {
		t.Fatalf("delivered during the write: %d", n)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(rc.received()) < 2 && time.Now().Before(deadline) {
		d.Sweep(context.Background())
		time.Sleep(20 * time.Millisecond)
	}
	got := rc.received()
	if len(got) != 2 || got[0].Delivery != got[1].Delivery || got[0].Event != "flag.toggled" || !got[0].SigOK || !got[1].SigOK {
		t.Fatalf("received %+v", got)
	}
	var ev webhook.Event
	if err := jsonUnmarshal(got[1].Body, &ev); err != nil || ev.EnvID != env || ev.Resource.Key != "welcome-banner" || len(ev.Changes) != 1 || !strings.HasPrefix(ev.Changes[0], "turned ") {
		t.Fatalf("event %s (%v)", got[1].Body, err)
	}
	var dl struct {
		Items []store.Delivery
		Total int
	}
	h.must(200, h.admin, "GET", "/api/v1/orgs/"+org+"/webhooks/"+wc.ID+"/deliveries", nil).decode(t, &dl)
	if dl.Total != 1 || dl.Items[0].Status != store.DeliveryDelivered || len(dl.Items[0].Attempts) != 2 ||
		dl.Items[0].Attempts[0].Status != 500 || dl.Items[0].Attempts[1].Status != 200 || dl.Items[0].Attempts[0].Response != "status 500" {
		t.Fatalf("delivery log %+v", dl)
	}
	// A tampered body fails verification.
	if webhook.Verify(wc.Secret, itoa(time.Now().Unix()), webhook.Sign(wc.Secret, time.Now().Unix(), got[0].Body), append(got[0].Body, ' '), time.Minute, time.Now()) == nil {
		t.Fatal("tampered body verified")
	}
	// Send test: synchronous, logged.
	var td store.Delivery
	h.must(200, h.admin, "POST", "/api/v1/orgs/"+org+"/webhooks/"+wc.ID+"/test", nil).decode(t, &td)
	if td.Status != store.DeliveryDelivered || td.Event != "webhook.test" || len(td.Attempts) != 1 {
		t.Fatalf("test delivery %+v", td)
	}
	if last := rc.received(); !last[len(last)-1].SigOK || last[len(last)-1].Event != "webhook.test" {
		t.Fatalf("test received %+v", last[len(last)-1])
	}
	// The webhook's own changes are audited.
	var l auditList
	h.must(200, h.admin, "GET", "/api/v1/orgs/"+org+"/audit?type=webhook", nil).decode(t, &l)
	if l.Total != 1 || l.Items[0].Action != "created" {
		t.Fatalf("webhook audit %+v", l)
	}
}

func TestTriggerTurnsFlagOnAndIsAudited(t *testing.T) {
	h := newHarness(t)
	env := h.env("dev")
	h.must(201, h.admin, "POST", h.flagsURL(env), boolFlagBody("kill-switch"))
	h.publish()
	var tc struct {
		ID, Token, URL string
		Version        int64
	}
	h.must(201, h.admin, "POST", h.flagsURL(env)+"/kill-switch/triggers", map[string]any{"action": "on", "description": "alert"}).decode(t, &tc)
	if !strings.HasPrefix(tc.Token, "syr_") || tc.URL != "/api/v1/triggers/run/"+tc.Token {
		t.Fatalf("created %+v", tc)
	}
	var run struct {
		IsEnabled, Changed bool
		Count              int64
	}
	h.must(200, "", "POST", tc.URL, nil).decode(t, &run)
	if !run.IsEnabled || !run.Changed || run.Count != 1 {
		t.Fatalf("run %+v", run)
	}
	h.must(200, "", "POST", tc.URL, nil).decode(t, &run)
	if !run.IsEnabled || run.Changed || run.Count != 2 {
		t.Fatalf("second run %+v", run)
	}
	h.publish()
	snap := h.sink.Snapshot(env)
	for _, f := range snap.Flags {
		if f.Key == "kill-switch" && !f.IsEnabled {
			t.Fatal("snapshot still off")
		}
	}
	var l auditList
	h.must(200, h.admin, "GET", "/api/v1/envs/"+env+"/audit?actor=trigger:"+tc.ID, nil).decode(t, &l)
	if l.Total != 1 || !slices.Contains(l.Items[0].Changes, "turned on") {
		t.Fatalf("trigger audit %+v", l)
	}
	var ts struct {
		Items []store.Trigger
	}
	h.must(200, h.admin, "GET", h.flagsURL(env)+"/kill-switch/triggers", nil).decode(t, &ts)
	if len(ts.Items) != 1 || ts.Items[0].Count != 2 || ts.Items[0].LastTriggeredAt == 0 || strings.Contains(string(h.do(h.admin, "GET", h.flagsURL(env)+"/kill-switch/triggers", nil).Body), tc.Token) {
		t.Fatalf("listed %+v", ts)
	}
	// Disabled → 409; reset → old token 404, new one works.
	h.must(200, h.admin, "PUT", "/api/v1/envs/"+env+"/triggers/"+tc.ID, map[string]any{"enabled": false, "version": ts.Items[0].Version})
	h.must(409, "", "POST", tc.URL, nil)
	var tr struct {
		URL     string
		Version int64
	}
	h.must(200, h.admin, "POST", "/api/v1/envs/"+env+"/triggers/"+tc.ID+"/reset", nil).decode(t, &tr)
	h.must(200, h.admin, "PUT", "/api/v1/envs/"+env+"/triggers/"+tc.ID, map[string]any{"enabled": true, "version": tr.Version})
	h.must(404, "", "POST", tc.URL, nil)
	h.must(200, "", "POST", tr.URL, nil)
	h.must(404, "", "POST", "/api/v1/triggers/run/syr_guess", nil)
}

func TestScheduleAppliesOnceAndRefusesPast(t *testing.T) {
	h := newHarness(t)
	env := h.env("dev")
	var f codec.Flag
	h.must(201, h.admin, "POST", h.flagsURL(env), betaFlag("sched")).decode(t, &f)
	draft := f
	draft.IsEnabled = true
	draft.Rules = slices.Clone(f.Rules)
	draft.Rules[0].Conditions = []codec.Condition{{ID: "c1", Property: "country", Op: "IsOneOf", Value: `["FR","DE"]`}}

	ver, _ := h.envVersion(env)
	r := h.do(h.admin, "POST", h.flagsURL(env)+"/sched/schedules", map[string]any{"at": time.Now().Add(-time.Minute).UnixMilli(), "draft": draft})
	if code, field := r.errField(t); r.Code != 400 || code != "invalid" || field != "at" || !strings.Contains(string(r.Body), "in the past") {
		t.Fatalf("past: %d %s", r.Code, r.Body)
	}
	bad := draft
	bad.Rules = []codec.Rule{{Name: "x", Conditions: []codec.Condition{{Property: "a", Op: "NoSuchOp", Value: "1"}},
		Variations: []codec.RolloutVariation{{ID: "on", Rollout: [2]float64{0, 1}}}}}
	r = h.do(h.admin, "POST", h.flagsURL(env)+"/sched/schedules", map[string]any{"at": time.Now().Add(time.Hour).UnixMilli(), "draft": bad})
	if _, field := r.errField(t); r.Code != 400 || field != "draft.rules[0].conditions[0].op" {
		t.Fatalf("bad draft: %d %s", r.Code, r.Body)
	}
	var xl struct{ Total int }
	h.must(200, h.admin, "GET", "/api/v1/envs/"+env+"/schedules", nil).decode(t, &xl)
	if v2, _ := h.envVersion(env); xl.Total != 0 || v2 != ver {
		t.Fatalf("refused schedules wrote: %d schedules, env %d → %d", xl.Total, ver, v2)
	}

	at := time.Now().Add(300 * time.Millisecond)
	var x store.Schedule
	h.must(201, h.admin, "POST", h.flagsURL(env)+"/sched/schedules", map[string]any{"at": at.UnixMilli(), "draft": draft, "comment": "go live"}).decode(t, &x)
	if x.Status != store.SchedPending || x.BaseVersion != f.Version {
		t.Fatalf("schedule %+v", x)
	}
	// A second schedule that will conflict (the first one changes the flag).
	var y store.Schedule
	h.must(201, h.admin, "POST", h.flagsURL(env)+"/sched/schedules", map[string]any{"at": at.Add(100 * time.Millisecond).UnixMilli(), "draft": f}).decode(t, &y)
	// A third, cancelled.
	var z store.Schedule
	h.must(201, h.admin, "POST", h.flagsURL(env)+"/sched/schedules", map[string]any{"at": at.UnixMilli(), "draft": draft}).decode(t, &z)
	h.must(200, h.admin, "POST", "/api/v1/envs/"+env+"/schedules/"+z.ID+"/cancel", nil)
	h.must(409, h.admin, "POST", "/api/v1/envs/"+env+"/schedules/"+z.ID+"/cancel", nil)

	if n := h.s.wf.ApplyDueSchedules(context.Background()); n != 0 {
		t.Fatalf("applied %d before the time", n)
	}
	time.Sleep(time.Until(at.Add(150 * time.Millisecond)))
	n := h.s.wf.ApplyDueSchedules(context.Background()) + h.s.wf.ApplyDueSchedules(context.Background())
	if n != 2 {
		t.Fatalf("handled %d schedules, want 2", n)
	}
	h.must(200, h.admin, "GET", "/api/v1/envs/"+env+"/schedules/"+x.ID, nil).decode(t, &x)
	h.must(200, h.admin, "GET", "/api/v1/envs/"+env+"/schedules/"+y.ID, nil).decode(t, &y)
	var now codec.Flag
	h.must(200, h.admin, "GET", h.flagsURL(env)+"/sched", nil).decode(t, &now)
	if x.Status != store.SchedApplied || x.AppliedVersion != f.Version+1 || now.Version != f.Version+1 || !now.IsEnabled || now.Rules[0].Conditions[0].Value != `["FR","DE"]` {
		t.Fatalf("applied %+v; flag %+v", x, now)
	}
	if y.Status != store.SchedFailed || !strings.Contains(y.Reason, "changed since the draft") {
		t.Fatalf("conflicting schedule %+v", y)
	}
	var l auditList
	h.must(200, h.admin, "GET", "/api/v1/envs/"+env+"/audit?actor=schedule:"+x.ID+"&type=flag", nil).decode(t, &l)
	if l.Total != 1 || l.Items[0].Comment != "go live" || !slices.Contains(l.Items[0].Changes, "rule 'beta users': condition country IsOneOf [FR] → [FR, DE]") {
		t.Fatalf("schedule audit %+v", l)
	}
}

// TestWebhookClaimsReleased checks that a finished delivery leaves no claim
// documents behind and that a claimed attempt is not sent twice.
func TestWebhookClaimsReleased(t *testing.T) {
	h := newHarnessWith(t, allowLoopback)
	rc := newReceiver(t)
	var wc struct{ ID, Secret string }
	h.must(201, h.admin, "POST", "/api/v1/orgs/"+h.info.OrgID+"/webhooks", map[string]any{"name": "x", "url": rc.srv.URL, "events": []string{"*"}}).decode(t, &wc)
	rc.secret = wc.Secret
	h.must(201, h.admin, "POST", h.flagsURL(h.env("dev")), boolFlagBody("claimed"))
	d := h.s.wf.Webhooks()
	// Two deliveries: the webhook's own creation ("*") and the flag's.
	if n1, n2 := d.Sweep(context.Background()), d.Sweep(context.Background()); n1 != 2 || n2 != 0 {
		t.Fatalf("sent %d, then %d", n1, n2)
	}
	got := rc.received()
	if len(got) != 2 || !got[0].SigOK || !got[1].SigOK || got[0].Delivery == got[1].Delivery {
		t.Fatalf("received %+v", got)
	}
	kinds := []string{got[0].Event, got[1].Event}
	slices.Sort(kinds)
	if !slices.Equal(kinds, []string{"flag.created", "webhook.created"}) {
		t.Fatalf("kinds %v", kinds)
	}
	docs, _, err := h.s.st.Backend().Find(context.Background(), store.CollDeliveries, store.Query{})
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range docs {
		if strings.HasPrefix(doc.ID, "claim:") {
			t.Fatalf("claim left behind: %s", doc.ID)
		}
	}
}

// TestWebhookQueueSurvivesRestart queues a delivery, stops the server
// before anything is sent, and delivers it from a new server on the same
// data directory.
func TestWebhookQueueSurvivesRestart(t *testing.T) {
	h := newHarnessWith(t, allowLoopback)
	rc := newReceiver(t)
	var wc struct{ ID, Secret string }
	h.must(201, h.admin, "POST", "/api/v1/orgs/"+h.info.OrgID+"/webhooks", map[string]any{"name": "x", "url": rc.srv.URL, "events": []string{"flag.created"}}).decode(t, &wc)
	rc.secret = wc.Secret
	h.must(201, h.admin, "POST", h.flagsURL(h.env("dev")), boolFlagBody("queued"))
	dir := h.s.cfg.DataDir
	if err := h.s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(rc.received()); n != 0 {
		t.Fatalf("sent before the restart: %d", n)
	}
	s2, err := New(Config{DataDir: dir, Addr: "127.0.0.1:0", WebhookAllow: loopback})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Shutdown(context.Background())
	if n := s2.wf.Webhooks().Sweep(context.Background()); n != 1 {
		t.Fatalf("sent %d after the restart", n)
	}
	if got := rc.received(); len(got) != 1 || !got[0].SigOK || got[0].Event != "flag.created" {
		t.Fatalf("received %+v", got)
	}
}

// TestScheduleTakenOverAfterLeaseExpiry: an instance claimed a schedule and
// died (its lease expired) — once before applying, once after the flag
// write landed. Another instance finishes each exactly once.
func TestScheduleTakenOverAfterLeaseExpiry(t *testing.T) {
	h := newHarness(t)
	env := h.env("dev")
	ctx := context.Background()
	mk := func(key string) (codec.Flag, store.Schedule) {
		var f codec.Flag
		h.must(201, h.admin, "POST", h.flagsURL(env), betaFlag(key)).decode(t, &f)
		d := f
		d.IsEnabled = true
		var x store.Schedule
		h.must(201, h.admin, "POST", h.flagsURL(env)+"/"+key+"/schedules", map[string]any{"at": time.Now().Add(200 * time.Millisecond).UnixMilli(), "draft": d}).decode(t, &x)
		return f, x
	}
	dead := func(x *store.Schedule) {
		// What a claiming instance leaves behind when it dies.
		if ok, err := h.s.st.Claim(ctx, store.CollSchedules, x.ID+":0", "dead"); err != nil || !ok {
			t.Fatalf("claim: %v %v", ok, err)
		}
		cur, err := h.s.st.GetSchedule(ctx, env, x.ID)
		if err != nil {
			t.Fatal(err)
		}
		expect := cur.Version
		cur.Claims, cur.Status, cur.LeaseOwner, cur.LeaseUntil = 1, store.SchedApplying, "dead", time.Now().Add(-time.Second).UnixMilli()
		if err := h.s.st.SaveSchedule(ctx, cur, expect); err != nil {
			t.Fatal(err)
		}
	}
	f1, x1 := mk("died-before")
	f2, x2 := mk("died-after")
	time.Sleep(300 * time.Millisecond)
	dead(&x1)
	dead(&x2)
	// x2's instance had written the flag before dying.
	d2 := x2.Draft
	h.must(200, h.admin, "PUT", h.flagsURL(env)+"/died-after", d2)

	if n := h.s.wf.ApplyDueSchedules(ctx) + h.s.wf.ApplyDueSchedules(ctx); n != 2 {
		t.Fatalf("took over %d schedules", n)
	}
	for _, c := range []struct {
		key  string
		base int64
		id   string
	}{{"died-before", f1.Version, x1.ID}, {"died-after", f2.Version, x2.ID}} {
		var f codec.Flag
		h.must(200, h.admin, "GET", h.flagsURL(env)+"/"+c.key, nil).decode(t, &f)
		var x store.Schedule
		h.must(200, h.admin, "GET", "/api/v1/envs/"+env+"/schedules/"+c.id, nil).decode(t, &x)
		if f.Version != c.base+1 || !f.IsEnabled || x.Status != store.SchedApplied || x.Claims != 2 {
			t.Fatalf("%s: flag v%d on=%v (base %d), schedule %s claims %d (%s)", c.key, f.Version, f.IsEnabled, c.base, x.Status, x.Claims, x.Reason)
		}
	}
}

// TestAuditCoversOtherWrites: environments, secrets, members, segments and
// projects are audited, and no secret value appears in full.
func TestAuditCoversOtherWrites(t *testing.T) {
	h := newHarness(t)
	env, org := h.env("dev"), h.info.OrgID
	var ev struct {
		Secrets []codec.EnvSecret
	}
	h.must(200, h.admin, "PUT", "/api/v1/envs/"+env, map[string]any{"name": "Development", "key": "dev"})
	h.must(200, h.admin, "POST", "/api/v1/envs/"+env+"/secrets/server/rotate", nil).decode(t, &ev)
	bob := h.addMember(org, "bob@example.com", "bob-password", "viewer")
	h.must(200, h.admin, "POST", "/api/v1/orgs/"+org+"/members", map[string]any{"email": "bob@example.com", "role": "editor"})
	// An existing user joins another organization: invited, accepted from
	// the user's session.
	var org2 struct{ ID string }
	h.must(201, h.admin, "POST", "/api/v1/orgs", map[string]any{"name": "Second"}).decode(t, &org2)
	inv := h.invite(h.admin, org2.ID, "bob@example.com", "viewer")
	h.must(200, bob, "POST", "/api/v1/auth/invitations/accept", map[string]any{"token": inv})
	var l2 auditList
	h.must(200, h.admin, "GET", "/api/v1/orgs/"+org2.ID+"/audit?type=member", nil).decode(t, &l2)
	if l2.Total != 1 || l2.Items[0].Action != "added" || l2.Items[0].ResourceKey != "bob@example.com" {
		t.Fatalf("member of the second org: %+v", l2)
	}
	var sg codec.Segment
	h.must(201, h.admin, "POST", "/api/v1/envs/"+env+"/segments", map[string]any{"name": "vip", "included": []string{"a"}}).decode(t, &sg)
	sg.Included = append(sg.Included, "b")
	h.must(200, h.admin, "PUT", "/api/v1/envs/"+env+"/segments/"+sg.ID, sg)

	var l auditList
	h.must(200, h.admin, "GET", "/api/v1/orgs/"+org+"/audit?limit=100", nil).decode(t, &l)
	want := map[string]string{
		"environment/updated": "name 'dev' → 'Development'",
		"member/updated":      "role 'viewer' → 'editor'",
		"secret/rotated":      "server secret rotated",
		"segment/updated":     "included: added b",
	}
	all := ""
	for _, e := range l.Items {
		all += strings.Join(e.Changes, "\n") + "\n"
		if w, ok := want[e.ResourceType+"/"+e.Action]; ok {
			for _, c := range e.Changes {
				if strings.HasPrefix(c, w) {
					delete(want, e.ResourceType+"/"+e.Action)
				}
			}
		}
	}
	if len(want) > 0 {
		t.Fatalf("missing %v in:\n%s", want, all)
	}
	for _, s := range append(ev.Secrets, h.info.Envs[0].toSecrets()...) {
		if s.Value != "" && strings.Contains(all, s.Value) {
			t.Fatalf("secret %s in the audit log", s.Type)
		}
	}
}

func (e EnvInfo) toSecrets() []codec.EnvSecret {
	return []codec.EnvSecret{{Type: "server", Value: e.ServerSecret}, {Type: "client", Value: e.ClientSecret}}
}

// TestCommentRequiredByCopyTarget: a copy into an environment that requires
// change comments needs one, even when the source environment does not.
func TestCommentRequiredByCopyTarget(t *testing.T) {
	h := newHarness(t)
	dev, prod := h.env("dev"), h.env("prod")
	h.must(200, h.admin, "PUT", "/api/v1/envs/"+prod+"/workflow-settings", map[string]any{"requireComment": true})
	ver, n := h.envVersion(prod)
	r := h.do(h.admin, "POST", h.flagsURL(dev)+"/welcome-banner/copy", map[string]any{"targetEnvId": prod, "overwrite": true, "targetVersion": 1})
	if code, field := r.errField(t); r.Code != 400 || code != "invalid" || field != "comment" {
		t.Fatalf("copy into prod without a comment: %d %s", r.Code, r.Body)
	}
	if v2, n2 := h.envVersion(prod); v2 != ver || n2 != n {
		t.Fatalf("refused copy changed prod: version %d → %d, flags %d → %d", ver, v2, n, n2)
	}
	// Writes that stay in dev need no comment.
	var f struct{ Version int64 }
	h.must(200, h.admin, "GET", h.flagsURL(dev)+"/welcome-banner", nil).decode(t, &f)
	h.must(200, h.admin, "POST", h.flagsURL(dev)+"/welcome-banner/toggle", map[string]any{"version": f.Version})
}

// TestAuditRetention: with Config.AuditRetention the entries older than it
// are pruned (what the hourly run does), newer ones and the API's own stay.
func TestAuditRetention(t *testing.T) {
	h := newHarnessWith(t, func(c *Config) { c.AuditRetention = 30 * 24 * time.Hour })
	env := h.env("dev")
	h.must(201, h.admin, "POST", h.flagsURL(env), boolFlagBody("kept"))
	org := h.info.OrgID
	old := time.Now().Add(-31 * 24 * time.Hour).UnixMilli()
	for i := range 3 {
		if err := h.s.st.AddAudit(context.Background(), &store.AuditEntry{ID: fmt.Sprintf("old-%d", i), OrgID: org,
			At: old + int64(i), Actor: "u", Action: "updated", ResourceType: "flag", ResourceKey: "ancient"}); err != nil {
			t.Fatal(err)
		}
	}
	var before, after struct{ Total int }
	h.must(200, h.admin, "GET", "/api/v1/orgs/"+org+"/audit", nil).decode(t, &before)
	if n := h.s.wf.PruneAudit(context.Background()); n != 3 {
		t.Fatalf("pruned %d, want the 3 old entries", n)
	}
	h.must(200, h.admin, "GET", "/api/v1/orgs/"+org+"/audit", nil).decode(t, &after)
	if after.Total != before.Total-3 || after.Total == 0 {
		t.Fatalf("audit entries %d → %d, want 3 fewer and the recent ones kept", before.Total, after.Total)
	}
	var anc struct{ Total int }
	h.must(200, h.admin, "GET", "/api/v1/orgs/"+org+"/audit?resource=ancient", nil).decode(t, &anc)
	if anc.Total != 0 {
		t.Fatalf("%d old entries left", anc.Total)
	}
}
