package control

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/store"
)

// protect marks env protected with n required approvals.
func (h *harness) protect(env string, n int) {
	h.t.Helper()
	h.must(200, h.admin, "PUT", "/api/v1/envs/"+env+"/workflow-settings", map[string]any{"protected": true, "requiredApprovals": n})
}

func crURL(env string) string { return "/api/v1/envs/" + env + "/change-requests" }

// wantGated checks a refusal by the protected-environment gate.
func wantGated(t *testing.T, r *resp, what string) {
	t.Helper()
	if code, _ := r.errField(t); r.Code != 409 || code != "change_request_required" || !strings.Contains(string(r.Body), "change-requests") {
		t.Fatalf("%s: %d %s, want 409 change_request_required", what, r.Code, r.Body)
	}
}

// publishedFlag returns the last published state of flag id after event
// index from (nil if none).
func (h *harness) publishedFlag(t *testing.T, id string, from int) *codec.Flag {
	t.Helper()
	h.publish()
	var pub *codec.Flag
	for _, ev := range h.sink.Events()[from:] {
		if ev.ID != id {
			continue
		}
		pub = new(codec.Flag)
		if _, err := pub.UnmarshalMsg(ev.Payload); err != nil {
			t.Fatal(err)
		}
	}
	return pub
}

func TestChangeRequestFlow(t *testing.T) {
	h := newHarness(t)
	env, other := h.env("prod"), h.env("dev")
	org := h.info.OrgID
	author := h.addMember(org, "author@example.com", "author-password", "admin")
	viewer := h.addMember(org, "viewer@example.com", "viewer-password", "viewer")
	var f codec.Flag
	h.must(201, h.admin, "POST", h.flagsURL(env), boolFlagBody("checkout")).decode(t, &f)
	h.must(201, h.admin, "POST", h.flagsURL(other), boolFlagBody("checkout"))
	// Standing ways around: a trigger and a pending schedule made before
	// the environment was protected.
	var tc struct{ Token string }
	h.must(201, h.admin, "POST", h.flagsURL(env)+"/checkout/triggers", map[string]any{"action": "off", "description": "alert"}).decode(t, &tc)
	draft := f
	draft.IsEnabled, draft.Description = true, "scheduled"
	at := time.Now().Add(200 * time.Millisecond)
	var sched store.Schedule
	h.must(201, h.admin, "POST", h.flagsURL(env)+"/checkout/schedules", map[string]any{"at": at.UnixMilli(), "draft": draft, "onConflict": "apply"}).decode(t, &sched)

	var wh struct{ ID string }
	h.must(201, h.admin, "POST", "/api/v1/orgs/"+org+"/webhooks", map[string]any{"name": "cr", "url": "https://hooks.example.com/cr",
		"events": []string{"change_request.created", "change_request.approved", "change_request.applied", "change_request.rebased", "flag.updated"}}).decode(t, &wh)
	h.protect(env, 1)

	// Direct writes are refused with a pointer to change requests.
	g := f
	g.Description = "direct"
	wantGated(t, h.do(author, "PUT", h.flagsURL(env)+"/checkout", g), "PUT")
	wantGated(t, h.do(author, "POST", h.flagsURL(env)+"/checkout/toggle", map[string]any{"version": f.Version}), "toggle")
	// Proposing needs the write action.
	r := h.do(viewer, "POST", crURL(env), map[string]any{"kind": "flag", "key": "checkout", "baseVersion": f.Version, "proposed": g})
	if code, _ := r.errField(t); r.Code != 403 || code != "forbidden" {
		t.Fatalf("viewer proposes: %d %s", r.Code, r.Body)
	}
	// Bad input names the field.
	r = h.do(author, "POST", crURL(env), map[string]any{"kind": "flag", "key": "checkout", "baseVersion": f.Version, "proposed": map[string]any{"nope": 1}})
	if _, field := r.errField(t); r.Code != 400 || field != "proposed.nope" {
		t.Fatalf("unknown field: %d %s", r.Code, r.Body)
	}
	r = h.do(author, "POST", crURL(env), map[string]any{"kind": "widget"})
	if _, field := r.errField(t); r.Code != 400 || field != "kind" {
		t.Fatalf("bad kind: %d %s", r.Code, r.Body)
	}

	// The author proposes turning the flag on with a new description.
	p := f
	p.IsEnabled, p.Description = true, "launch"
	var cr store.ChangeRequest
	h.must(201, author, "POST", crURL(env), map[string]any{"kind": "flag", "key": "checkout", "baseVersion": f.Version,
		"proposed": p, "comment": "launch checkout"}).decode(t, &cr)
	if cr.Status != store.CROpen || cr.BaseVersion != f.Version || cr.Comment != "launch checkout" || len(cr.Diff) == 0 || len(cr.Base) == 0 {
		t.Fatalf("created %+v", cr)
	}
	if !strings.Contains(strings.Join(cr.Diff, "\n"), "turned on") {
		t.Fatalf("diff %q", cr.Diff)
	}
	// Not applied before approval; the author cannot approve.
	r = h.do(author, "POST", crURL(env)+"/"+cr.ID+"/apply", nil)
	if r.Code != 409 {
		t.Fatalf("apply unapproved: %d %s", r.Code, r.Body)
	}
	r = h.do(author, "POST", crURL(env)+"/"+cr.ID+"/approve", nil)
	if r.Code != 403 || !strings.Contains(string(r.Body), "author") {
		t.Fatalf("author approves: %d %s", r.Code, r.Body)
	}
	// Nor with an access token of their own.
	var tok struct{ Token string }
	h.must(201, author, "POST", "/api/v1/orgs/"+org+"/tokens", map[string]any{"name": "ci", "role": "admin"}).decode(t, &tok)
	r = h.do(tok.Token, "POST", crURL(env)+"/"+cr.ID+"/approve", nil)
	if r.Code != 403 || !strings.Contains(string(r.Body), "author") {
		t.Fatalf("author's token approves: %d %s", r.Code, r.Body)
	}
	// A viewer lacks change:approve.
	if r := h.do(viewer, "POST", crURL(env)+"/"+cr.ID+"/approve", nil); r.Code != 403 {
		t.Fatalf("viewer approves: %d %s", r.Code, r.Body)
	}
	// A second member approves.
	h.must(200, h.admin, "POST", crURL(env)+"/"+cr.ID+"/approve", map[string]any{"comment": "lgtm"}).decode(t, &cr)
	if cr.Status != store.CRApproved || cr.Approvals != 1 || len(cr.Reviews) != 1 || cr.Reviews[0].Comment != "lgtm" {
		t.Fatalf("approved %+v", cr)
	}
	before := len(h.sink.Events())
	h.must(200, author, "POST", crURL(env)+"/"+cr.ID+"/apply", nil).decode(t, &cr)
	if cr.Status != store.CRApplied || cr.AppliedVersion != f.Version+1 {
		t.Fatalf("applied %+v", cr)
	}
	var got codec.Flag
	h.must(200, h.admin, "GET", h.flagsURL(env)+"/checkout", nil).decode(t, &got)
	if !got.IsEnabled || got.Description != "launch" || got.Version != f.Version+1 {
		t.Fatalf("flag after apply %+v", got)
	}
	// It reaches the SDKs through the publisher.
	if pub := h.publishedFlag(t, f.ID, before); pub == nil || !pub.IsEnabled || pub.Version != got.Version {
		t.Fatalf("published %+v", pub)
	}
	// Applied once only.
	if r := h.do(author, "POST", crURL(env)+"/"+cr.ID+"/apply", nil); r.Code != 409 {
		t.Fatalf("apply twice: %d %s", r.Code, r.Body)
	}
	// Every step is audited.
	var al struct{ Items []store.AuditEntry }
	h.must(200, h.admin, "GET", "/api/v1/envs/"+env+"/audit?type=change_request", nil).decode(t, &al)
	var steps []string
	for _, e := range al.Items {
		steps = append([]string{e.Action}, steps...)
	}
	if strings.Join(steps, ",") != "created,approved,applied" {
		t.Fatalf("change request audit: %v", steps)
	}
	// and queued for webhooks.
	var dl struct{ Items []struct{ Event string } }
	h.must(200, h.admin, "GET", "/api/v1/orgs/"+org+"/webhooks/"+wh.ID+"/deliveries?limit=50", nil).decode(t, &dl)
	var kinds []string
	for _, d := range dl.Items {
		kinds = append(kinds, d.Event)
	}
	slices.Sort(kinds)
	if strings.Join(kinds, ",") != "change_request.applied,change_request.approved,change_request.created,flag.updated" {
		t.Fatalf("webhook events: %v", kinds)
	}
	h.must(200, h.admin, "GET", "/api/v1/envs/"+env+"/audit?type=flag&resource=checkout", nil).decode(t, &al)
	if al.Items[0].Action != "updated" || al.Items[0].Comment != "launch checkout" || !strings.Contains(strings.Join(al.Items[0].Changes, "\n"), "change request "+cr.ID) {
		t.Fatalf("flag audit: %+v", al.Items[0])
	}

	// Two requests on the same base: the first applied makes the second
	// stale; it rebases and applies after a new approval.
	base := got
	a1, a2 := base, base
	a1.Description, a2.Description = "first", "second"
	var c1, c2 store.ChangeRequest
	h.must(201, author, "POST", crURL(env), map[string]any{"kind": "flag", "key": "checkout", "baseVersion": base.Version, "proposed": a1}).decode(t, &c1)
	h.must(201, author, "POST", crURL(env), map[string]any{"kind": "flag", "key": "checkout", "baseVersion": base.Version, "proposed": a2}).decode(t, &c2)
	h.must(200, h.admin, "POST", crURL(env)+"/"+c1.ID+"/approve", nil)
	h.must(200, h.admin, "POST", crURL(env)+"/"+c2.ID+"/approve", nil)
	h.must(200, author, "POST", crURL(env)+"/"+c1.ID+"/apply", nil)
	r = h.do(author, "POST", crURL(env)+"/"+c2.ID+"/apply", nil)
	if r.Code != 409 || !strings.Contains(string(r.Body), "stale") || !strings.Contains(string(r.Body), "rebase") {
		t.Fatalf("stale apply: %d %s", r.Code, r.Body)
	}
	h.must(200, h.admin, "GET", h.flagsURL(env)+"/checkout", nil).decode(t, &got)
	if got.Description != "first" {
		t.Fatalf("stale request wrote: %+v", got)
	}
	h.must(200, author, "POST", crURL(env)+"/"+c2.ID+"/rebase", nil).decode(t, &c2)
	if c2.Status != store.CROpen || c2.Approvals != 0 || c2.BaseVersion != got.Version {
		t.Fatalf("rebased %+v", c2)
	}
	h.must(200, h.admin, "POST", crURL(env)+"/"+c2.ID+"/approve", nil)
	h.must(200, author, "POST", crURL(env)+"/"+c2.ID+"/apply", nil).decode(t, &c2)
	h.must(200, h.admin, "GET", h.flagsURL(env)+"/checkout", nil).decode(t, &got)
	if got.Description != "second" || c2.AppliedVersion != got.Version {
		t.Fatalf("after rebase: %+v / %+v", got, c2)
	}

	// Nothing bypasses the gate: the trigger, the pending schedule and
	// copies from another environment are refused.
	ver := got.Version
	wantGated(t, h.do("", "POST", "/api/v1/triggers/run/"+tc.Token, nil), "trigger run")
	wantGated(t, h.do(h.admin, "POST", h.flagsURL(env)+"/checkout/triggers", map[string]any{"action": "off"}), "new trigger")
	wantGated(t, h.do(h.admin, "POST", h.flagsURL(env)+"/checkout/schedules", map[string]any{"at": time.Now().Add(time.Hour).UnixMilli(), "draft": got}), "new schedule")
	time.Sleep(time.Until(at.Add(50 * time.Millisecond)))
	deadline := time.Now().Add(10 * time.Second)
	for sched.Status == store.SchedPending || sched.Status == store.SchedApplying {
		if time.Now().After(deadline) {
			t.Fatalf("schedule still %s", sched.Status)
		}
		h.s.wf.ApplyDueSchedules(context.Background())
		h.must(200, h.admin, "GET", "/api/v1/envs/"+env+"/schedules/"+sched.ID, nil).decode(t, &sched)
	}
	if sched.Status != store.SchedFailed || !strings.Contains(sched.Reason, "protected") {
		t.Fatalf("schedule in a protected environment: %+v", sched)
	}
	var src codec.Flag
	h.must(200, h.admin, "GET", h.flagsURL(other)+"/checkout", nil).decode(t, &src)
	wantGated(t, h.do(h.admin, "POST", h.flagsURL(other)+"/checkout/copy", map[string]any{"targetEnvId": env, "overwrite": true, "targetVersion": ver}), "copy")
	wantGated(t, h.do(h.admin, "POST", h.flagsURL(other)+"/checkout/copy-parts", map[string]any{"targetEnvId": env, "parts": []string{"onOff"}, "targetVersion": ver}), "copy-parts")
	h.must(201, h.admin, "POST", h.flagsURL(other), boolFlagBody("fresh"))
	r = h.do(h.admin, "POST", "/api/v1/envs/"+other+"/copy-flags", map[string]any{"targetEnvId": env, "keys": []string{"fresh"}})
	if r.Code == 200 && !strings.Contains(string(r.Body), "change_request") && !strings.Contains(string(r.Body), "protected") {
		t.Fatalf("copy-flags: %d %s", r.Code, r.Body)
	}
	if h.do(h.admin, "GET", h.flagsURL(env)+"/fresh", nil).Code != 404 {
		t.Fatal("copy-flags created a flag in the protected environment")
	}
	h.must(200, h.admin, "GET", h.flagsURL(env)+"/checkout", nil).decode(t, &got)
	if got.Version != ver {
		t.Fatalf("flag changed behind the gate: version %d → %d", ver, got.Version)
	}
}

// TestSecurityProtectedEnvGatesEveryWriteRoute walks the route table: every
// route of an environment that needs a flag or segment write action is
// refused in a protected environment, whatever its body.
func TestSecurityProtectedEnvGatesEveryWriteRoute(t *testing.T) {
	h := newHarness(t)
	env := h.env("prod")
	var f codec.Flag
	h.must(201, h.admin, "POST", h.flagsURL(env), boolFlagBody("gated")).decode(t, &f)
	var sg codec.Segment
	h.must(201, h.admin, "POST", "/api/v1/envs/"+env+"/segments", map[string]any{"name": "gated segment"}).decode(t, &sg)
	var tr struct{ ID string }
	h.must(201, h.admin, "POST", h.flagsURL(env)+"/gated/triggers", map[string]any{"action": "on"}).decode(t, &tr)
	h.protect(env, 2)
	ev, _ := h.envVersion(env)
	n := 0
	for _, rt := range h.s.api.Routes() {
		if !strings.Contains(rt.Path, "{envId}") || rt.Method == "GET" {
			continue
		}
		switch rt.Action {
		case "flag:write", "flag:toggle", "segment:write":
		default:
			continue
		}
		path := strings.NewReplacer("{envId}", env, "{key}", "gated", "{id}", pickID(rt.Path, sg.ID, tr.ID)).Replace(rt.Path)
		wantGated(t, h.do(h.admin, rt.Method, path, map[string]any{}), rt.Method+" "+rt.Path)
		n++
	}
	if n < 15 {
		t.Fatalf("only %d gated routes walked", n)
	}
	if v, _ := h.envVersion(env); v != ev {
		t.Fatalf("environment version %d → %d", ev, v)
	}
	// Unprotected again, writes go through directly.
	h.must(200, h.admin, "PUT", "/api/v1/envs/"+env+"/workflow-settings", map[string]any{"protected": false})
	h.must(200, h.admin, "POST", h.flagsURL(env)+"/gated/toggle", map[string]any{"version": f.Version})
}

func pickID(path, segID, triggerID string) string {
	if strings.Contains(path, "/triggers/") {
		return triggerID
	}
	return segID
}

// TestChangeRequestSettings: the protection settings are validated and kept
// when a client sends only requireComment.
func TestChangeRequestSettings(t *testing.T) {
	h := newHarness(t)
	env := h.env("dev")
	u := "/api/v1/envs/" + env + "/workflow-settings"
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"requiredApprovals": 0}, "requiredApprovals"},
		{map[string]any{"requiredApprovals": 11}, "requiredApprovals"},
		{map[string]any{"approvers": []string{"bob"}}, "approvers[0]"},
		{map[string]any{"approvers": []string{"user:nobody"}}, "approvers[0]"},
		{map[string]any{"approvers": []string{"group:nogroup"}}, "approvers[0]"},
	} {
		r := h.do(h.admin, "PUT", u, c.body)
		if _, field := r.errField(t); r.Code != 400 || field != c.field {
			t.Fatalf("%v: %d %s", c.body, r.Code, r.Body)
		}
	}
	h.protect(env, 2)
	var es store.EnvSettings
	h.must(200, h.admin, "PUT", u, map[string]any{"requireComment": true}).decode(t, &es)
	if !es.Protected || es.RequiredApprovals != 2 || !es.RequireComment {
		t.Fatalf("settings %+v", es)
	}
	// A request in an unprotected environment is refused: write directly.
	r := h.do(h.admin, "POST", crURL(h.env("prod")), map[string]any{"kind": "flag", "proposed": boolFlagBody("x")})
	if r.Code != 409 || !strings.Contains(string(r.Body), "not protected") {
		t.Fatalf("request in an unprotected environment: %d %s", r.Code, r.Body)
	}
}

// TestChangeRequestApprovers: the approver list limits who may approve;
// raising the required approvals applies to requests already open; a
// member approves once.
func TestChangeRequestApprovers(t *testing.T) {
	h := newHarness(t)
	env := h.env("prod")
	org := h.info.OrgID
	author := h.addMember(org, "author@example.com", "author-password", "editor")
	second := h.addMember(org, "second@example.com", "second-password", "admin")
	var me struct{ User struct{ ID string } }
	h.must(200, second, "GET", "/api/v1/auth/me", nil).decode(t, &me)
	var f codec.Flag
	h.must(201, h.admin, "POST", h.flagsURL(env), boolFlagBody("gate")).decode(t, &f)
	h.protect(env, 1)
	h.must(200, h.admin, "PUT", "/api/v1/envs/"+env+"/workflow-settings", map[string]any{"approvers": []string{"user:" + me.User.ID}})
	p := f
	p.Description = "needs two"
	var cr store.ChangeRequest
	h.must(201, author, "POST", crURL(env), map[string]any{"kind": "flag", "key": "gate", "baseVersion": f.Version, "proposed": p}).decode(t, &cr)
	// The instance admin is not on the list.
	if r := h.do(h.admin, "POST", crURL(env)+"/"+cr.ID+"/approve", nil); r.Code != 403 || !strings.Contains(string(r.Body), "approvers") {
		t.Fatalf("approver not listed: %d %s", r.Code, r.Body)
	}
	// Two approvals are required now, and the list is lifted.
	h.must(200, h.admin, "PUT", "/api/v1/envs/"+env+"/workflow-settings", map[string]any{"requiredApprovals": 2, "approvers": []string{}})
	h.must(200, second, "POST", crURL(env)+"/"+cr.ID+"/approve", nil).decode(t, &cr)
	if cr.Status != store.CROpen || cr.Approvals != 1 || cr.Required != 2 {
		t.Fatalf("one of two: %+v", cr)
	}
	if r := h.do(second, "POST", crURL(env)+"/"+cr.ID+"/approve", nil); r.Code != 409 {
		t.Fatalf("second approval by the same member: %d %s", r.Code, r.Body)
	}
	if r := h.do(author, "POST", crURL(env)+"/"+cr.ID+"/apply", nil); r.Code != 409 {
		t.Fatalf("apply with one of two: %d %s", r.Code, r.Body)
	}
	h.must(200, h.admin, "POST", crURL(env)+"/"+cr.ID+"/approve", nil).decode(t, &cr)
	if cr.Status != store.CRApproved {
		t.Fatalf("two of two: %+v", cr)
	}
	h.must(200, author, "POST", crURL(env)+"/"+cr.ID+"/apply", nil)
	var l struct {
		Items []store.ChangeRequest
		Total int
	}
	h.must(200, h.admin, "GET", crURL(env)+"?status=applied&limit=1", nil).decode(t, &l)
	if l.Total != 1 || len(l.Items) != 1 || l.Items[0].ID != cr.ID {
		t.Fatalf("applied list: %+v", l)
	}
	if r := h.do(h.admin, "GET", crURL(env)+"?limit=501", nil); r.Code != 400 {
		t.Fatalf("limit over the cap: %d", r.Code)
	}
}

// TestChangeRequestSegment: segments go through change requests too
// (update and create), and a flag can be created by one.
func TestChangeRequestSegment(t *testing.T) {
	h := newHarness(t)
	env := h.env("prod")
	org := h.info.OrgID
	author := h.addMember(org, "author@example.com", "author-password", "editor")
	var sg codec.Segment
	h.must(201, h.admin, "POST", "/api/v1/envs/"+env+"/segments", map[string]any{"name": "vip"}).decode(t, &sg)
	h.protect(env, 1)
	segURL := "/api/v1/envs/" + env + "/segments"
	wantGated(t, h.do(author, "PUT", segURL+"/"+sg.ID, map[string]any{"name": "vip", "included": []string{"u1"}, "version": sg.Version}), "segment PUT")

	p := sg
	p.Included = []string{"u1", "u2"}
	var cr store.ChangeRequest
	h.must(201, author, "POST", crURL(env), map[string]any{"kind": "segment", "key": sg.ID, "baseVersion": sg.Version, "proposed": p}).decode(t, &cr)
	h.must(200, h.admin, "POST", crURL(env)+"/"+cr.ID+"/approve", nil)
	h.must(200, author, "POST", crURL(env)+"/"+cr.ID+"/apply", nil).decode(t, &cr)
	var got codec.Segment
	h.must(200, h.admin, "GET", segURL+"/"+sg.ID, nil).decode(t, &got)
	if len(got.Included) != 2 || got.Version != sg.Version+1 || cr.AppliedVersion != got.Version {
		t.Fatalf("segment after apply %+v (request %+v)", got, cr)
	}

	// Creations: a segment and a flag.
	h.must(201, author, "POST", crURL(env), map[string]any{"kind": "segment", "proposed": map[string]any{"name": "new seg", "included": []string{"a"}}}).decode(t, &cr)
	h.must(200, h.admin, "POST", crURL(env)+"/"+cr.ID+"/approve", nil)
	h.must(200, author, "POST", crURL(env)+"/"+cr.ID+"/apply", nil)
	var sl struct{ Items []codec.Segment }
	h.must(200, h.admin, "GET", segURL+"?q=new", nil).decode(t, &sl)
	if len(sl.Items) != 1 || sl.Items[0].Name != "new seg" {
		t.Fatalf("created segment: %+v", sl.Items)
	}
	wantGated(t, h.do(author, "POST", h.flagsURL(env), boolFlagBody("brand-new")), "flag create")
	h.must(201, author, "POST", crURL(env), map[string]any{"kind": "flag", "proposed": boolFlagBody("brand-new")}).decode(t, &cr)
	if cr.Op != store.CROpCreate || cr.ItemKey != "brand-new" {
		t.Fatalf("create request %+v", cr)
	}
	r := h.do(author, "POST", crURL(env), map[string]any{"kind": "flag", "proposed": boolFlagBody("brand-new")})
	if r.Code != 201 {
		t.Fatalf("second create request: %d %s", r.Code, r.Body)
	}
	var cr2 store.ChangeRequest
	r.decode(t, &cr2)
	h.must(200, h.admin, "POST", crURL(env)+"/"+cr.ID+"/approve", nil)
	h.must(200, h.admin, "POST", crURL(env)+"/"+cr2.ID+"/approve", nil)
	h.must(200, author, "POST", crURL(env)+"/"+cr.ID+"/apply", nil)
	h.must(200, h.admin, "GET", h.flagsURL(env)+"/brand-new", nil)
	// The second creation of the same key is stale.
	if r := h.do(author, "POST", crURL(env)+"/"+cr2.ID+"/apply", nil); r.Code != 409 || !strings.Contains(string(r.Body), "stale") {
		t.Fatalf("second create applied: %d %s", r.Code, r.Body)
	}
	h.must(200, author, "POST", crURL(env)+"/"+cr2.ID+"/close", nil).decode(t, &cr2)
	if cr2.Status != store.CRClosed {
		t.Fatalf("closed %+v", cr2)
	}
}

// TestSecurityChangeRequestFourEyes: the ways an author might approve or
// apply their own change: a token they created, a token created by that
// token, another environment's path; a policy can grant or deny
// change:approve; two concurrent applies write once.
func TestSecurityChangeRequestFourEyes(t *testing.T) {
	h := newHarness(t)
	env, dev := h.env("prod"), h.env("dev")
	org := h.info.OrgID
	author := h.addMember(org, "author@example.com", "author-password", "admin")
	editor := h.addMember(org, "editor@example.com", "editor-password", "editor")
	var ed struct{ User struct{ ID string } }
	h.must(200, editor, "GET", "/api/v1/auth/me", nil).decode(t, &ed)
	var f codec.Flag
	h.must(201, h.admin, "POST", h.flagsURL(env), boolFlagBody("eyes")).decode(t, &f)
	h.protect(env, 1)
	h.protect(dev, 1)
	p := f
	p.Description = "mine"
	var cr store.ChangeRequest
	h.must(201, author, "POST", crURL(env), map[string]any{"kind": "flag", "key": "eyes", "baseVersion": f.Version, "proposed": p}).decode(t, &cr)

	var t1, t2 struct{ Token string }
	h.must(201, author, "POST", "/api/v1/orgs/"+org+"/tokens", map[string]any{"name": "t1", "role": "admin"}).decode(t, &t1)
	h.must(201, t1.Token, "POST", "/api/v1/orgs/"+org+"/tokens", map[string]any{"name": "t2", "role": "admin"}).decode(t, &t2)
	for name, tok := range map[string]string{"author": author, "token": t1.Token, "token of a token": t2.Token} {
		if r := h.do(tok, "POST", crURL(env)+"/"+cr.ID+"/approve", nil); r.Code != 403 {
			t.Fatalf("%s approves: %d %s", name, r.Code, r.Body)
		}
	}
	// Another environment's path does not find the request.
	if r := h.do(h.admin, "POST", crURL(dev)+"/"+cr.ID+"/approve", nil); r.Code != 404 {
		t.Fatalf("approve under another environment: %d %s", r.Code, r.Body)
	}
	// An editor may not approve, until a policy allows it.
	if r := h.do(editor, "POST", crURL(env)+"/"+cr.ID+"/approve", nil); r.Code != 403 || !strings.Contains(string(r.Body), "change:approve") {
		t.Fatalf("editor approves: %d %s", r.Code, r.Body)
	}
	h.must(201, h.admin, "POST", "/api/v1/orgs/"+org+"/policies", map[string]any{"name": "approvers",
		"statements": []map[string]any{{"effect": "allow", "actions": []string{"change:approve"}, "resources": []string{"project/*/env/dev"}}},
		"principals": []string{"user:" + ed.User.ID}})
	if r := h.do(editor, "POST", crURL(env)+"/"+cr.ID+"/approve", nil); r.Code != 403 {
		t.Fatalf("editor approves outside the policy's environments: %d %s", r.Code, r.Body)
	}
	// A deny on the approving admin wins.
	second := h.addMember(org, "second@example.com", "second-password", "admin")
	var se struct{ User struct{ ID string } }
	h.must(200, second, "GET", "/api/v1/auth/me", nil).decode(t, &se)
	h.must(201, h.admin, "POST", "/api/v1/orgs/"+org+"/policies", map[string]any{"name": "no approvals",
		"statements": []map[string]any{{"effect": "deny", "actions": []string{"change:approve"}, "resources": []string{"*"}}},
		"principals": []string{"user:" + se.User.ID}})
	if r := h.do(second, "POST", crURL(env)+"/"+cr.ID+"/approve", nil); r.Code != 403 {
		t.Fatalf("denied admin approves: %d %s", r.Code, r.Body)
	}
	h.must(200, h.admin, "POST", crURL(env)+"/"+cr.ID+"/approve", nil)

	// Two applies at once: one write.
	codes := make(chan int, 2)
	for range 2 {
		go func() { codes <- h.do(author, "POST", crURL(env)+"/"+cr.ID+"/apply", nil).Code }()
	}
	ok := 0
	for range 2 {
		if <-codes == 200 {
			ok++
		}
	}
	var got codec.Flag
	h.must(200, h.admin, "GET", h.flagsURL(env)+"/eyes", nil).decode(t, &got)
	if ok != 1 || got.Version != f.Version+1 || got.Description != "mine" {
		t.Fatalf("concurrent applies: %d succeeded, flag version %d", ok, got.Version)
	}
}
