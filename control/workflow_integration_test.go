//go:build integration

package control

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/store"
	"github.com/switchyard/switchyard/control/internal/store/mongo"
	"github.com/switchyard/switchyard/control/internal/workflow"
	"github.com/switchyard/switchyard/edge/edgetest"
)

func TestIntegrationWorkflowAuditDiff(t *testing.T) {
	l := newLive(t)
	env := l.env("dev")
	var f codec.Flag
	l.must(201, l.admin, "POST", "/api/v1/envs/"+env+"/flags", betaFlag("audited")).decode(t, &f)
	f.Rules[0].Conditions[0].Value = `["FR","DE"]`
	l.must(200, l.admin, "PUT", "/api/v1/envs/"+env+"/flags/audited", f).decode(t, &f)
	var al auditList
	l.must(200, l.admin, "GET", "/api/v1/orgs/"+l.info.OrgID+"/audit?resource=audited&type=flag", nil).decode(t, &al)
	if al.Total != 2 || !slices.Contains(al.Items[0].Changes, "rule 'beta users': condition country IsOneOf [FR] → [FR, DE]") {
		t.Fatalf("audit %+v", al)
	}
	// Required comment: refused without, and nothing written.
	l.must(200, l.admin, "PUT", "/api/v1/envs/"+env+"/workflow-settings", map[string]any{"requireComment": true})
	r := l.do(l.admin, "POST", "/api/v1/envs/"+env+"/flags/audited/toggle", map[string]any{"version": f.Version})
	if code, field := r.errField(t); r.Code != 400 || code != "invalid" || field != "comment" {
		t.Fatalf("without comment: %d %s", r.Code, r.Body)
	}
	l.must(200, l.admin, "POST", "/api/v1/envs/"+env+"/flags/audited/toggle", map[string]any{"version": f.Version, "comment": "go"})
	l.must(200, l.admin, "GET", "/api/v1/envs/"+env+"/audit?resource=audited", nil).decode(t, &al)
	if al.Total != 3 || al.Items[0].Comment != "go" || al.Items[0].Action != "toggled" {
		t.Fatalf("audit after toggle %+v", al.Items[0])
	}
}

func TestIntegrationWorkflowWebhookRetries(t *testing.T) {
	l := newLive(t)
	env := l.env("dev")
	org := l.info.OrgID
	rc := newReceiver(t, 500)
	r := l.do(l.admin, "POST", "/api/v1/orgs/"+org+"/webhooks", map[string]any{"name": "x", "url": "ftp://example.com/", "events": []string{"*"}})
	if _, field := r.errField(t); r.Code != 400 || field != "url" {
		t.Fatalf("ftp url: %d %s", r.Code, r.Body)
	}
	var wc struct{ ID, Secret string }
	l.must(201, l.admin, "POST", "/api/v1/orgs/"+org+"/webhooks", map[string]any{"name": "ci", "url": rc.srv.URL, "events": []string{"flag.created"}}).decode(t, &wc)
	rc.mu.Lock()
	rc.secret = wc.Secret
	rc.mu.Unlock()
	start := time.Now()
	l.must(201, l.admin, "POST", "/api/v1/envs/"+env+"/flags", boolFlagBody("hooked"))
	if d := time.Since(start); d > 5*time.Second {
		t.Logf("slow write: %v", d)
	}
	waitFor(t, "a delivery and its retry", 60*time.Second, func() bool { return len(rc.received()) >= 2 })
	got := rc.received()
	if got[0].Delivery != got[1].Delivery || !got[0].SigOK || !got[1].SigOK || got[1].Event != "flag.created" {
		t.Fatalf("received %+v", got)
	}
	var dl struct {
		Items []store.Delivery
	}
	waitFor(t, "the delivery log", 30*time.Second, func() bool {
		l.must(200, l.admin, "GET", "/api/v1/orgs/"+org+"/webhooks/"+wc.ID+"/deliveries", nil).decode(t, &dl)
		return len(dl.Items) == 1 && dl.Items[0].Status == store.DeliveryDelivered
	})
	if a := dl.Items[0].Attempts; len(a) != 2 || a[0].Status != 500 || a[1].Status != 200 {
		t.Fatalf("attempts %+v", a)
	}
}

// controlWithEdge runs control on the real MongoDB with an in-process edge
// as its snapshot writer and change producer (like make run), so an SDK
// connection to the edge sees control's changes.
func controlWithEdge(t *testing.T) (*Server, *BootstrapInfo, string, *edgetest.Edge) {
	t.Helper()
	e := edgetest.Run(t)
	s, err := New(Config{Addr: "127.0.0.1:0", MongoURI: need(t, "SY_TEST_MONGO_URI"), MongoDB: "sy_control_" + randName(), AdminPassword: "admin-password"},
		WithSnapshotWriter(e.Source), WithChangeProducer(e.Source), WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if b, ok := s.st.Backend().(*mongo.Backend); ok {
			_ = b.Database().Drop(ctx)
		}
		_ = s.Shutdown(ctx)
	})
	info, err := s.Bootstrap(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	return s, info, "http://" + s.Addr(), e
}

func TestIntegrationWorkflowTriggerReachesEdge(t *testing.T) {
	s, info, base, e := controlWithEdge(t)
	l := &live{t: t, s: s, base: base, info: info}
	l.admin = l.login(info.AdminEmail, "admin-password")
	env := l.env("dev")
	var sec string
	for _, x := range info.Envs {
		if x.ID == env {
			sec = x.ServerSecret
		}
	}
	l.must(201, l.admin, "POST", "/api/v1/envs/"+env+"/flags", boolFlagBody("kill-switch"))
	var ev struct{ Version, PublishedVersion int64 }
	waitFor(t, "the environment published", 30*time.Second, func() bool {
		l.must(200, l.admin, "GET", "/api/v1/envs/"+env, nil).decode(t, &ev)
		return ev.PublishedVersion == ev.Version
	})
	c := edgetest.Dial(t, edgetest.StreamURL(e.Addr, "server", sec))
	if err := c.Send(`{"messageType":"data-sync","data":{"timestamp":0}}`); err != nil {
		t.Fatal(err)
	}
	state := func(m *edgetest.Message) (found, on bool) {
		var d struct {
			FeatureFlags []struct {
				Key       string `json:"key"`
				IsEnabled bool   `json:"isEnabled"`
			} `json:"featureFlags"`
		}
		_ = json.Unmarshal(m.Data, &d)
		for _, f := range d.FeatureFlags {
			if f.Key == "kill-switch" {
				return true, f.IsEnabled
			}
		}
		return false, false
	}
	m, err := c.ReadJSON(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if found, on := state(m); m.MessageType != "data-sync" || !found || on {
		t.Fatalf("full sync %s: %s", m.MessageType, m.Data)
	}
	var tc struct{ ID, URL string }
	l.must(201, l.admin, "POST", "/api/v1/envs/"+env+"/flags/kill-switch/triggers", map[string]any{"action": "on"}).decode(t, &tc)
	var run struct{ Changed, IsEnabled bool }
	l.must(200, "", "POST", tc.URL, nil).decode(t, &run)
	if !run.Changed || !run.IsEnabled {
		t.Fatalf("run %+v", run)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		m, err := c.ReadJSON(time.Until(deadline))
		if err != nil {
			t.Fatalf("no patch with the flag on: %v", err)
		}
		if found, on := state(m); found && on {
			break
		}
	}
	var al auditList
	l.must(200, l.admin, "GET", "/api/v1/envs/"+env+"/audit?actor=trigger:"+tc.ID, nil).decode(t, &al)
	if al.Total != 1 || !slices.Contains(al.Items[0].Changes, "turned on") {
		t.Fatalf("audit %+v", al)
	}
}

func TestIntegrationWorkflowScheduleOnceWithTwoInstances(t *testing.T) {
	a := newLive(t)
	env := a.env("dev")
	// A second instance on the same database, Redis and topics.
	b, err := New(Config{Addr: "127.0.0.1:0", MongoURI: a.s.cfg.MongoURI, MongoDB: a.s.cfg.MongoDB, RedisAddr: a.s.cfg.RedisAddr,
		KafkaBrokers: a.brokers, TopicPrefix: a.prefix}, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	b.wf.SetSchedulePoll(50 * time.Millisecond)
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Shutdown(context.Background()) })

	r := a.do(a.admin, "POST", "/api/v1/envs/"+env+"/flags/welcome-banner/schedules", map[string]any{"at": time.Now().Add(-time.Second).UnixMilli(), "draft": codec.Flag{Version: 1}})
	if _, field := r.errField(t); r.Code != 400 || field != "at" {
		t.Fatalf("past: %d %s", r.Code, r.Body)
	}
	const n = 4
	at := time.Now().Add(2 * time.Second).UnixMilli()
	type sched struct {
		key  string
		base int64
		id   string
	}
	var ss []sched
	for i := range n {
		key := "sched-" + string(rune('a'+i))
		var f codec.Flag
		a.must(201, a.admin, "POST", "/api/v1/envs/"+env+"/flags", betaFlag(key)).decode(t, &f)
		d := f
		d.IsEnabled = true
		var x store.Schedule
		a.must(201, a.admin, "POST", "/api/v1/envs/"+env+"/flags/"+key+"/schedules", map[string]any{"at": at, "draft": d}).decode(t, &x)
		ss = append(ss, sched{key, f.Version, x.ID})
	}
	// Besides both instances' background schedulers, hammer the claim from
	// two goroutines per instance around the due time.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var hammers sync.WaitGroup
	for _, wf := range []*workflow.Workflow{a.s.wf, b.wf, a.s.wf, b.wf} {
		hammers.Go(func() {
			for ctx.Err() == nil {
				wf.ApplyDueSchedules(ctx)
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	go func() { hammers.Wait(); close(done) }()
	instances := map[string]int{}
	for _, x := range ss {
		var got store.Schedule
		waitFor(t, "schedule "+x.key+" applied", 60*time.Second, func() bool {
			a.must(200, a.admin, "GET", "/api/v1/envs/"+env+"/schedules/"+x.id, nil).decode(t, &got)
			return got.Status == store.SchedApplied || got.Status == store.SchedFailed
		})
		if got.Status != store.SchedApplied {
			t.Fatalf("schedule %+v", got)
		}
		instances[got.AppliedBy]++
	}
	// Let everything run a few more rounds, then check each change landed
	// exactly once.
	time.Sleep(1500 * time.Millisecond)
	cancel()
	<-done
	for _, x := range ss {
		var f codec.Flag
		a.must(200, a.admin, "GET", "/api/v1/envs/"+env+"/flags/"+x.key, nil).decode(t, &f)
		if f.Version != x.base+1 || !f.IsEnabled {
			t.Fatalf("%s: version %d (want %d), on %v", x.key, f.Version, x.base+1, f.IsEnabled)
		}
		var al auditList
		a.must(200, a.admin, "GET", "/api/v1/envs/"+env+"/audit?actor=schedule:"+x.id, nil).decode(t, &al)
		if al.Total != 2 { // the flag change and the schedule's "applied"
			t.Fatalf("%s: %d audit entries by the schedule: %+v", x.key, al.Total, al.Items)
		}
	}
	for id := range instances {
		if id != a.s.wf.Instance() && id != b.wf.Instance() {
			t.Fatalf("applied by unknown instance %q", id)
		}
	}
	t.Logf("schedules applied per instance: %v", instances)
}

func TestIntegrationWorkflowCompareAndCopy(t *testing.T) {
	l := newLive(t)
	dev, prod := l.env("dev"), l.env("prod")
	l.must(201, l.admin, "POST", "/api/v1/envs/"+dev+"/flags", betaFlag("cmp"))
	l.must(200, l.admin, "POST", "/api/v1/envs/"+dev+"/copy-flags", map[string]any{"targetEnvId": prod, "keys": []string{"cmp"}})
	var f codec.Flag
	l.must(200, l.admin, "GET", "/api/v1/envs/"+dev+"/flags/cmp", nil).decode(t, &f)
	f.Rules[0].Conditions[0].Value = `["FR","DE"]`
	f.Fallthrough.Variations = []codec.RolloutVariation{{ID: "off", Rollout: [2]float64{0, 1}}}
	l.must(200, l.admin, "PUT", "/api/v1/envs/"+dev+"/flags/cmp", f)
	var c compareResp
	l.must(200, l.admin, "GET", "/api/v1/envs/"+dev+"/flags/cmp/compare?targetEnvId="+prod, nil).decode(t, &c)
	if !slices.Equal(partNames(c), []string{"rules", "defaultRule"}) {
		t.Fatalf("compare %+v", c)
	}
	var pf codec.Flag
	l.must(200, l.admin, "GET", "/api/v1/envs/"+prod+"/flags/cmp", nil).decode(t, &pf)
	l.must(200, l.admin, "POST", "/api/v1/envs/"+dev+"/flags/cmp/copy-parts", map[string]any{"targetEnvId": prod, "parts": c.partList(), "targetVersion": pf.Version}).decode(t, &pf)
	l.must(200, l.admin, "GET", "/api/v1/envs/"+dev+"/flags/cmp/compare?targetEnvId="+prod, nil).decode(t, &c)
	if c.Status != "same" {
		t.Fatalf("after copy %+v", c)
	}
	waitFor(t, "the copy in the Redis snapshot", 30*time.Second, func() bool {
		sf := l.snapshotFlag(prod, "cmp")
		return sf != nil && sf.Version == pf.Version
	})
	// Another organization's environment: 403, nothing written.
	var org, proj, other struct{ ID string }
	l.must(201, l.admin, "POST", "/api/v1/orgs", map[string]any{"name": "Other"}).decode(t, &org)
	l.must(201, l.admin, "POST", "/api/v1/orgs/"+org.ID+"/projects", map[string]any{"name": "p"}).decode(t, &proj)
	l.must(201, l.admin, "POST", "/api/v1/projects/"+proj.ID+"/envs", map[string]any{"name": "x"}).decode(t, &other)
	r := l.do(l.admin, "POST", "/api/v1/envs/"+dev+"/copy-flags", map[string]any{"targetEnvId": other.ID, "keys": []string{"cmp"}})
	if code, field := r.errField(t); r.Code != 403 || code != "forbidden" || field != "targetEnvId" || !strings.Contains(string(r.Body), "another organization") {
		t.Fatalf("other org: %d %s", r.Code, r.Body)
	}
	var fl struct{ Total int }
	l.must(200, l.admin, "GET", "/api/v1/envs/"+other.ID+"/flags?status=all", nil).decode(t, &fl)
	if fl.Total != 0 {
		t.Fatalf("refused copy wrote %d flags", fl.Total)
	}
}

func (c compareResp) partList() []string { return partNames(c) }
