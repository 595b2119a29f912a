package control

import (
	"context"
	"fmt"
	"testing"

	"github.com/switchyard/switchyard/codec"
)

func TestSegmentsBumpFlagsAndRefuseDeleteInUse(t *testing.T) {
	h := newHarness(t)
	env := h.env("dev")
	segURL := "/api/v1/envs/" + env + "/segments"
	var sg codec.Segment
	h.must(201, h.admin, "POST", segURL, map[string]any{"name": "VIP", "included": []string{"u1"},
		"rules": []map[string]any{{"conditions": []map[string]any{{"property": "plan", "op": "Equal", "value": "gold"}}}}}).decode(t, &sg)
	h.must(400, h.admin, "POST", segURL, map[string]any{"name": "vip"}) // names are unique per env
	r := h.must(400, h.admin, "POST", segURL, map[string]any{"name": "bad", "rules": []map[string]any{{"conditions": []map[string]any{{"property": "plan", "op": "Nope"}}}}})
	if _, field := r.errField(t); field != "rules[0].conditions[0].op" {
		t.Fatalf("segment field: %s", r.Body)
	}
	body := boolFlagBody("vip-only")
	body["rules"] = []map[string]any{{"conditions": []map[string]any{{"property": "User is in segment", "value": fmt.Sprintf(`[%q]`, sg.ID)}},
		"variations": []map[string]any{{"id": "placeholder", "rollout": []float64{0, 1}}}}}
	// Variation ids are generated for a new boolean flag, so name them.
	body["variations"] = []map[string]any{{"id": "on", "value": "true"}, {"id": "off", "value": "false"}}
	body["rules"].([]map[string]any)[0]["variations"] = []map[string]any{{"id": "on", "rollout": []float64{0, 1}}}
	var f codec.Flag
	h.must(201, h.admin, "POST", h.flagsURL(env), body).decode(t, &f)
	var used struct{ Items []codec.Flag }
	h.must(200, h.admin, "GET", segURL+"/"+sg.ID+"/flags", nil).decode(t, &used)
	if len(used.Items) != 1 || used.Items[0].Key != "vip-only" {
		t.Fatalf("used by: %+v", used)
	}
	h.must(409, h.admin, "DELETE", segURL+"/"+sg.ID, nil)
	h.must(409, h.admin, "POST", segURL+"/"+sg.ID+"/archive", map[string]any{"version": sg.Version})
	h.publish()
	n0 := len(h.sink.Events())

	sg.Included = append(sg.Included, "u2")
	h.must(200, h.admin, "PUT", segURL+"/"+sg.ID, sg).decode(t, &sg)
	h.must(409, h.admin, "PUT", segURL+"/"+sg.ID, map[string]any{"name": "VIP", "version": 1})
	var f2 codec.Flag
	h.must(200, h.admin, "GET", h.flagsURL(env)+"/vip-only", nil).decode(t, &f2)
	if f2.Version != f.Version+1 || f2.UpdatedAt < f.UpdatedAt {
		t.Fatalf("segment change did not bump the flag: v%d → v%d", f.Version, f2.Version)
	}
	h.publish()
	evs := h.sink.Events()[n0:]
	if len(evs) != 2 || evs[0].Kind != codec.KindSegment || len(evs[0].AffectedFlags) != 1 || evs[0].AffectedFlags[0] != f.ID ||
		evs[1].Kind != codec.KindFlag || evs[1].Version != f2.Version {
		t.Fatalf("segment events: %+v", evs)
	}
	// Unused, the segment can be archived and deleted; the delete is a tombstone.
	f2.Rules = nil
	h.must(200, h.admin, "PUT", h.flagsURL(env)+"/vip-only", f2)
	h.must(200, h.admin, "POST", segURL+"/"+sg.ID+"/archive", map[string]any{"version": sg.Version}).decode(t, &sg)
	h.must(204, h.admin, "DELETE", segURL+"/"+sg.ID, nil)
	h.publish()
	last := h.sink.Events()[len(h.sink.Events())-1]
	if last.Kind != codec.KindSegment || last.Op != codec.OpDelete || last.ID != sg.ID {
		t.Fatalf("last event %+v", last)
	}
}

func TestCloneAndCopy(t *testing.T) {
	h := newHarness(t)
	dev, prod := h.env("dev"), h.env("prod")
	var c codec.Flag
	h.must(201, h.admin, "POST", h.flagsURL(dev)+"/checkout-flow/clone", map[string]string{"key": "checkout-flow-2"}).decode(t, &c)
	if c.Key != "checkout-flow-2" || c.Version != 1 || c.IsEnabled || len(c.Rules) != 1 {
		t.Fatalf("clone %+v", c)
	}
	h.must(400, h.admin, "POST", h.flagsURL(dev)+"/checkout-flow/clone", map[string]string{"key": "checkout-flow-2"})
	h.must(400, h.admin, "POST", h.flagsURL(dev)+"/checkout-flow-2/copy", map[string]any{"targetEnvId": dev})
	h.must(400, h.admin, "POST", h.flagsURL(dev)+"/checkout-flow-2/copy", map[string]any{"targetEnvId": "nope"})
	var cp codec.Flag
	h.must(200, h.admin, "POST", h.flagsURL(dev)+"/checkout-flow-2/copy", map[string]any{"targetEnvId": prod}).decode(t, &cp)
	if cp.EnvID != prod || cp.Key != "checkout-flow-2" {
		t.Fatalf("copy %+v", cp)
	}
	// The segment reference was mapped to prod's segment of the same name.
	seg := ""
	for _, e := range []string{prod} {
		all, _ := h.s.st.AllSegments(context.Background(), e)
		seg = all[0].ID
	}
	if want := fmt.Sprintf(`[%q]`, seg); cp.Rules[0].Conditions[0].Value != want {
		t.Fatalf("segment not mapped: %s, want %s", cp.Rules[0].Conditions[0].Value, want)
	}
	var cur codec.Flag
	h.must(200, h.admin, "GET", h.flagsURL(prod)+"/checkout-flow-2", nil).decode(t, &cur)
	// Now the key exists in prod: copying again needs overwrite + the target's version.
	h.must(400, h.admin, "POST", h.flagsURL(dev)+"/checkout-flow-2/copy", map[string]any{"targetEnvId": prod})
	h.must(409, h.admin, "POST", h.flagsURL(dev)+"/checkout-flow-2/copy", map[string]any{"targetEnvId": prod, "overwrite": true, "targetVersion": cur.Version + 5})
	h.must(200, h.admin, "POST", h.flagsURL(dev)+"/checkout-flow-2/copy", map[string]any{"targetEnvId": prod, "overwrite": true, "targetVersion": cur.Version})

	// An environment of another organization is refused, even for a user
	// who belongs to both, and nothing is written there.
	var orgB, projB, envB struct{ ID string }
	h.must(201, h.admin, "POST", "/api/v1/orgs", map[string]string{"name": "Org B"}).decode(t, &orgB)
	h.must(201, h.admin, "POST", "/api/v1/orgs/"+orgB.ID+"/projects", map[string]string{"name": "P"}).decode(t, &projB)
	h.must(201, h.admin, "POST", "/api/v1/projects/"+projB.ID+"/envs", map[string]string{"name": "B"}).decode(t, &envB)
	if code, field := h.must(403, h.admin, "POST", h.flagsURL(dev)+"/checkout-flow-2/copy", map[string]any{"targetEnvId": envB.ID}).errField(t); code != "forbidden" || field != "targetEnvId" {
		t.Fatalf("copy to another organization: %s %s", code, field)
	}
	h.must(404, h.admin, "GET", h.flagsURL(envB.ID)+"/checkout-flow-2", nil)
}

func TestFlagListFilters(t *testing.T) {
	h := newHarness(t)
	env := h.env("dev")
	for i := range 12 {
		b := boolFlagBody(fmt.Sprintf("page-flag-%02d", i))
		b["tags"] = []string{"paged", fmt.Sprintf("t%d", i%3)}
		b["isEnabled"] = i%2 == 0
		h.must(201, h.admin, "POST", h.flagsURL(env), b)
	}
	var l struct {
		Items []codec.Flag
		Total int
	}
	h.must(200, h.admin, "GET", h.flagsURL(env)+"?tag=paged&limit=5&offset=10", nil).decode(t, &l)
	if l.Total != 12 || len(l.Items) != 2 {
		t.Fatalf("paging: total %d items %d", l.Total, len(l.Items))
	}
	h.must(200, h.admin, "GET", h.flagsURL(env)+"?tag=paged&tag=t1", nil).decode(t, &l)
	if l.Total != 4 {
		t.Fatalf("two tags: %d", l.Total)
	}
	h.must(200, h.admin, "GET", h.flagsURL(env)+"?q=PAGE-FLAG-0&status=enabled", nil).decode(t, &l)
	if l.Total != 5 { // 00 02 04 06 08
		t.Fatalf("search+status: %d", l.Total)
	}
	h.must(400, h.admin, "GET", h.flagsURL(env)+"?status=weird", nil)
	h.must(400, h.admin, "GET", h.flagsURL(env)+"?limit=-1", nil)
}

func TestMetricsExperimentsEndUsers(t *testing.T) {
	h := newHarness(t)
	env := h.env("dev")
	base := "/api/v1/envs/" + env
	var m struct {
		ID      string
		Version int64
	}
	h.must(201, h.admin, "POST", base+"/metrics", map[string]any{"name": "Purchases", "eventName": "purchase"}).decode(t, &m)
	h.must(400, h.admin, "POST", base+"/metrics", map[string]any{"name": "x", "eventName": "y", "eventType": "telepathy"})
	var f codec.Flag
	h.must(200, h.admin, "GET", h.flagsURL(env)+"/checkout-flow", nil).decode(t, &f)
	var x struct {
		ID      string
		Status  string
		Version int64
	}
	h.must(400, h.admin, "POST", base+"/experiments", map[string]any{"flagId": f.ID, "metricIds": []string{"nope"}})
	h.must(201, h.admin, "POST", base+"/experiments", map[string]any{"flagId": f.ID, "metricIds": []string{m.ID}}).decode(t, &x)
	h.must(200, h.admin, "POST", base+"/experiments/"+x.ID+"/start", map[string]any{"version": x.Version}).decode(t, &x)
	if x.Status != "running" {
		t.Fatalf("status %s", x.Status)
	}
	h.must(409, h.admin, "DELETE", base+"/metrics/"+m.ID, nil)
	h.must(409, h.admin, "DELETE", base+"/experiments/"+x.ID, nil)
	h.must(200, h.admin, "POST", base+"/experiments/"+x.ID+"/stop", map[string]any{"version": x.Version}).decode(t, &x)
	h.must(409, h.admin, "POST", base+"/experiments/"+x.ID+"/stop", map[string]any{"version": x.Version})
	h.must(204, h.admin, "DELETE", base+"/experiments/"+x.ID, nil)
	h.must(204, h.admin, "DELETE", base+"/metrics/"+m.ID, nil)

	// End users arrive through IngestEndUsers (the embedded path).
	err := h.s.IngestEndUsers(context.Background(), &codec.EndUserBatch{EnvID: env, Users: []codec.EndUser{
		{KeyID: "user-1", Name: "Ann", Props: []codec.UserProp{{Name: "plan", Value: "gold"}}},
		{KeyID: "user-2", Name: "Ben"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var us struct {
		Items []codec.EndUser
		Total int
	}
	h.must(200, h.admin, "GET", base+"/end-users?q=ann", nil).decode(t, &us)
	if us.Total != 1 || us.Items[0].KeyID != "user-1" || us.Items[0].FirstSeen == 0 {
		t.Fatalf("end users: %+v", us)
	}
	var u codec.EndUser
	h.must(200, h.admin, "GET", base+"/end-users/user-1", nil).decode(t, &u)
	if len(u.Props) != 1 {
		t.Fatalf("user %+v", u)
	}
	var props struct{ Items []string }
	h.must(200, h.admin, "GET", base+"/end-user-properties", nil).decode(t, &props)
	if len(props.Items) != 3 || props.Items[2] != "plan" {
		t.Fatalf("props %v", props.Items)
	}
}

func TestEnvironmentsAndSecretRotation(t *testing.T) {
	h := newHarness(t)
	var envs struct{ Items []struct{ ID, Name string } }
	h.must(200, h.admin, "GET", "/api/v1/projects/"+h.info.ProjectID+"/envs", nil).decode(t, &envs)
	if len(envs.Items) != 2 {
		t.Fatalf("envs %+v", envs)
	}
	env := h.env("dev")
	h.publish()
	var e struct {
		Secrets          []codec.EnvSecret
		Version          int64
		PublishedVersion int64
	}
	h.must(200, h.admin, "POST", "/api/v1/envs/"+env+"/secrets/server/rotate", nil).decode(t, &e)
	if e.Secrets[0].Value == h.info.Envs[0].ServerSecret && e.Secrets[0].Value == h.info.Envs[1].ServerSecret {
		t.Fatal("secret not rotated")
	}
	h.must(400, h.admin, "POST", "/api/v1/envs/"+env+"/secrets/root/rotate", nil)
	h.publish()
	if snap := h.sink.Snapshot(env); snap.Secrets[0].Value != e.Secrets[0].Value {
		t.Fatalf("snapshot secrets %+v", snap.Secrets)
	}
	last := h.sink.Events()[len(h.sink.Events())-1]
	if last.Kind != codec.KindSecrets {
		t.Fatalf("last event %+v", last)
	}
	// Deleting an environment publishes an env tombstone and purges it.
	h.must(204, h.admin, "DELETE", "/api/v1/envs/"+env, nil)
	h.must(404, h.admin, "GET", h.flagsURL(env), nil)
	h.publish()
	last = h.sink.Events()[len(h.sink.Events())-1]
	if last.Kind != codec.KindEnv || last.Op != codec.OpDelete || last.EnvID != env {
		t.Fatalf("env delete event %+v", last)
	}
	if fs, _ := h.s.st.AllFlags(context.Background(), env); len(fs) != 0 {
		t.Fatalf("flags of a deleted env remain: %d", len(fs))
	}
}

func TestOutageOfSinksDeliversLater(t *testing.T) {
	h := newHarness(t)
	env := h.env("dev")
	h.publish()
	n0 := len(h.sink.Events())
	h.sink.SetDown(true)
	var f codec.Flag
	h.must(201, h.admin, "POST", h.flagsURL(env), boolFlagBody("during-outage")).decode(t, &f)
	h.must(200, h.admin, "POST", h.flagsURL(env)+"/during-outage/toggle", map[string]any{"version": 1})
	if left := h.s.PublishPending(context.Background()); left == 0 {
		t.Fatal("publish succeeded with the sinks down")
	}
	e, _ := h.s.st.GetEnv(context.Background(), env)
	if e.PublishedVersion >= e.Version || len(e.Outbox) != 2 {
		t.Fatalf("publish state during outage: %d/%d outbox %d", e.PublishedVersion, e.Version, len(e.Outbox))
	}
	h.sink.SetDown(false)
	h.s.pub.Notify(env) // clears the backoff, as a new write would
	h.publish()
	evs := h.sink.Events()[n0:]
	// the create is superseded by the toggle: one event, at version 2
	if len(evs) != 1 || evs[0].ID != f.ID || evs[0].Version != 2 {
		t.Fatalf("events after recovery: %+v", evs)
	}
	if snap := h.sink.Snapshot(env); snap.Version != e.Version {
		t.Fatalf("snapshot version %d, want %d", snap.Version, e.Version)
	}
}

func TestEvaluatePreview(t *testing.T) {
	h := newHarness(t)
	env := h.env("dev")
	var x struct {
		Rules  []struct{ Matched bool }
		Result struct {
			Variation   *codec.Variation
			MatchReason string
			RuleIndex   int
		}
	}
	h.must(200, h.admin, "POST", h.flagsURL(env)+"/max-items/evaluate",
		map[string]any{"keyId": "u9", "customizedProperties": []map[string]string{{"name": "country", "value": "FR"}}}).decode(t, &x)
	if x.Result.Variation == nil || x.Result.Variation.Value != "25" || x.Result.RuleIndex != 0 || len(x.Rules) != 1 || !x.Rules[0].Matched {
		t.Fatalf("explanation %+v", x)
	}
	// Segment rule: alice is in "Beta testers".
	h.must(200, h.admin, "POST", h.flagsURL(env)+"/checkout-flow/evaluate", map[string]any{"keyId": "alice"}).decode(t, &x)
	if x.Result.Variation == nil || x.Result.Variation.Value != "one-page" {
		t.Fatalf("segment explanation %+v", x.Result)
	}
	r := h.must(400, h.admin, "POST", h.flagsURL(env)+"/max-items/evaluate", map[string]any{"name": "no key"})
	if _, field := r.errField(t); field != "keyId" {
		t.Fatalf("%s", r.Body)
	}
}
