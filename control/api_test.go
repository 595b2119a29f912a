package control

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/codec"
)

func TestBootstrapIdempotentAndPersistent(t *testing.T) {
	h := newHarness(t)
	if !h.info.FirstRun || h.info.AdminPassword != "admin-password" || len(h.info.Envs) != 2 {
		t.Fatalf("first run: %+v", h.info)
	}
	for _, e := range h.info.Envs {
		if len(e.ServerSecret) != 44 || len(e.ClientSecret) != 44 || e.ServerSecret == e.ClientSecret {
			t.Fatalf("secrets of %s: %q %q", e.Name, e.ServerSecret, e.ClientSecret)
		}
	}
	again, err := h.s.Bootstrap(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if again.FirstRun || again.AdminPassword != "" || len(again.Envs) != 2 || again.Envs[0].ServerSecret != h.info.Envs[0].ServerSecret {
		t.Fatalf("second run: %+v", again)
	}
	// Demo flags exist and publish.
	var l struct {
		Items []codec.Flag
		Total int
	}
	h.must(200, h.admin, "GET", h.flagsURL(h.env("dev")), nil).decode(t, &l)
	if l.Total != 4 {
		t.Fatalf("demo flags: %d", l.Total)
	}
	h.publish()
	snap := h.sink.Snapshot(h.env("prod"))
	if snap == nil || len(snap.Flags) != 4 || len(snap.Segments) != 1 || len(snap.Secrets) != 2 {
		t.Fatalf("prod snapshot %+v", snap)
	}
	// Reopen on the same data directory: data is kept.
	dir := h.s.cfg.DataDir
	_ = h.s.Shutdown(context.Background())
	s2, err := New(Config{DataDir: dir, AdminPassword: "other"})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Shutdown(context.Background())
	info, err := s2.Bootstrap(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.FirstRun || info.Envs[0].ServerSecret != h.info.Envs[0].ServerSecret {
		t.Fatalf("after reopen: %+v", info)
	}
}

func TestFlagLifecycleIsPublished(t *testing.T) {
	h := newHarness(t)
	env := h.env("dev")
	h.publish()
	before := len(h.sink.Events())

	var f codec.Flag
	h.must(201, h.admin, "POST", h.flagsURL(env), boolFlagBody("new-checkout")).decode(t, &f)
	if f.Version != 1 || len(f.Variations) != 2 || f.DisabledVariationID == "" {
		t.Fatalf("created %+v", f)
	}
	f.Description = "changed"
	h.must(200, h.admin, "PUT", h.flagsURL(env)+"/new-checkout", f).decode(t, &f)
	h.must(200, h.admin, "POST", h.flagsURL(env)+"/new-checkout/toggle", map[string]any{"version": f.Version}).decode(t, &f)
	if !f.IsEnabled || f.Version != 3 {
		t.Fatalf("toggled %+v", f)
	}
	h.publish()
	snap := h.sink.Snapshot(env)
	var got *codec.Flag
	for i := range snap.Flags {
		if snap.Flags[i].Key == "new-checkout" {
			got = &snap.Flags[i]
		}
	}
	if got == nil || !got.IsEnabled || got.Version != 3 || got.Description != "changed" {
		t.Fatalf("snapshot flag %+v", got)
	}
	h.must(200, h.admin, "POST", h.flagsURL(env)+"/new-checkout/archive", map[string]any{"version": 3}).decode(t, &f)
	h.publish()
	if snap := h.sink.Snapshot(env); len(snap.Flags) != 5 {
		t.Fatalf("archived flags stay in the snapshot: %d flags", len(snap.Flags))
	}
	h.must(409, h.admin, "POST", h.flagsURL(env)+"/new-checkout/toggle", map[string]any{"version": 4})
	h.must(409, h.admin, "PUT", h.flagsURL(env)+"/new-checkout", f) // archived: restore first
	h.must(204, h.admin, "DELETE", h.flagsURL(env)+"/new-checkout?version=4", nil)
	h.must(404, h.admin, "GET", h.flagsURL(env)+"/new-checkout", nil)
	h.publish()

	evs := h.sink.Events()[before:]
	var ops []string
	for _, ev := range evs {
		if ev.ID != f.ID {
			continue
		}
		var pf codec.Flag
		if _, err := pf.UnmarshalMsg(ev.Payload); err != nil {
			t.Fatal(err)
		}
		if ev.EnvID != env || ev.Kind != codec.KindFlag || ev.Version != pf.Version || pf.Key != "new-checkout" {
			t.Fatalf("event %+v payload %+v", ev, pf)
		}
		ops = append(ops, ev.Op+":"+strconv.FormatInt(pf.Version, 10)+":"+strconv.FormatBool(pf.IsArchived))
	}
	// Each event carries the item's state at its own change; the three
	// writes before the first publish collapse into the last (version 3):
	// the earlier two are superseded, and publishing version 3 in their
	// place would let a later timestamp overtake changes between them. The
	// archive is an upsert with IsArchived, the delete a tombstone carrying
	// the last state.
	want := "upsert:3:false upsert:4:true delete:5:true"
	if strings.Join(ops, " ") != want {
		t.Fatalf("events:\n got %s\nwant %s", strings.Join(ops, " "), want)
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].EnvVersion <= evs[i-1].EnvVersion {
			t.Fatalf("env versions not increasing: %d then %d", evs[i-1].EnvVersion, evs[i].EnvVersion)
		}
	}
	e, _ := h.s.st.GetEnv(context.Background(), env)
	if e.PublishedVersion != e.Version || len(e.Outbox) != 0 {
		t.Fatalf("publish state %d/%d outbox %d", e.PublishedVersion, e.Version, len(e.Outbox))
	}
}

func TestStaleVersionGets409(t *testing.T) {
	h := newHarness(t)
	env := h.env("dev")
	var f codec.Flag
	h.must(201, h.admin, "POST", h.flagsURL(env), boolFlagBody("race")).decode(t, &f)
	a, b := f, f
	a.Name = "first writer"
	h.must(200, h.admin, "PUT", h.flagsURL(env)+"/race", a)
	b.Name = "second writer"
	r := h.must(409, h.admin, "PUT", h.flagsURL(env)+"/race", b)
	if code, field := r.errField(t); code != "conflict" || field != "version" {
		t.Fatalf("409 body %s", r.Body)
	}
	h.must(409, h.admin, "POST", h.flagsURL(env)+"/race/toggle", map[string]any{"version": 1})
	h.must(200, h.admin, "GET", h.flagsURL(env)+"/race", nil).decode(t, &f)
	if f.Name != "first writer" || f.Version != 2 {
		t.Fatalf("stale write overwrote: %+v", f)
	}
	// A missing version is a 400 naming the field.
	r = h.must(400, h.admin, "POST", h.flagsURL(env)+"/race/toggle", map[string]any{})
	if _, field := r.errField(t); field != "version" {
		t.Fatalf("missing version: %s", r.Body)
	}
}

func TestBadInputNamesFieldAndWritesNothing(t *testing.T) {
	h := newHarness(t)
	env := h.env("dev")
	h.must(201, h.admin, "POST", h.flagsURL(env), boolFlagBody("taken"))
	rule := func(cond map[string]any, vars []map[string]any) map[string]any {
		b := boolFlagBody("k1")
		b["variations"] = []map[string]any{{"id": "t", "value": "true"}, {"id": "f", "value": "false"}}
		b["rules"] = []map[string]any{{"conditions": []map[string]any{cond}, "variations": vars}}
		return b
	}
	okCond := map[string]any{"property": "country", "op": "Equal", "value": "FR"}
	full := []map[string]any{{"id": "t", "rollout": []float64{0, 1}}}
	big := `{"key":"big","name":"` + strings.Repeat("x", 2<<20) + `"}`
	cases := []struct {
		name   string
		body   any
		status int
		code   string
		field  string
	}{
		{"unknown operator", rule(map[string]any{"property": "country", "op": "Resembles", "value": "FR"}, full), 400, "invalid", "rules[0].conditions[0].op"},
		{"rollout under 100%", rule(okCond, []map[string]any{{"id": "t", "rollout": []float64{0, 0.5}}, {"id": "f", "rollout": []float64{0.5, 0.9}}}), 400, "invalid", "rules[0].variations"},
		{"rollout overlap", rule(okCond, []map[string]any{{"id": "t", "rollout": []float64{0, 0.6}}, {"id": "f", "rollout": []float64{0.5, 1}}}), 400, "invalid", "rules[0].variations"},
		{"unknown variation in rule", rule(okCond, []map[string]any{{"id": "nope", "rollout": []float64{0, 1}}}), 400, "invalid", "rules[0].variations[0].id"},
		{"unknown off variation", map[string]any{"key": "k2", "variationType": "boolean", "disabledVariationId": "nope"}, 400, "invalid", "disabledVariationId"},
		{"duplicate key", boolFlagBody("taken"), 400, "duplicate", "key"},
		{"bad key", boolFlagBody("has space"), 400, "invalid", "key"},
		{"number variation", map[string]any{"key": "n", "variationType": "number", "variations": []map[string]any{{"value": "ten"}}}, 400, "invalid", "variations[0].value"},
		{"json variation", map[string]any{"key": "j", "variationType": "json", "variations": []map[string]any{{"value": "{"}}}, 400, "invalid", "variations[0].value"},
		{"unknown segment", rule(map[string]any{"property": "User is in segment", "value": `["nope"]`}, full), 400, "invalid", "rules[0].conditions[0].value"},
		{"bad regex", rule(map[string]any{"property": "email", "op": "MatchRegex", "value": "(("}, full), 400, "invalid", "rules[0].conditions[0]"},
		{"unknown field", map[string]any{"key": "u", "colour": "red"}, 400, "invalid", "colour"},
		{"wrong type", map[string]any{"key": "w", "isEnabled": "yes"}, 400, "invalid", "isEnabled"},
		{"malformed JSON", `{"key":`, 400, "invalid", ""},
		{"oversized body", big, 413, "too_large", ""},
	}
	v0, n0 := h.envVersion(env)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := h.do(h.admin, "POST", h.flagsURL(env), c.body)
			if r.Code != c.status {
				t.Fatalf("status %d, want %d: %s", r.Code, c.status, r.Body)
			}
			code, field := r.errField(t)
			if code != c.code || field != c.field {
				t.Fatalf("code %q field %q, want %q %q: %s", code, field, c.code, c.field, r.Body)
			}
		})
	}
	if v, n := h.envVersion(env); v != v0 || n != n0 {
		t.Fatalf("rejected requests changed the environment: version %d→%d, flags %d→%d", v0, v, n0, n)
	}
	// An update with a bad rule leaves the stored flag unchanged.
	var f codec.Flag
	h.must(200, h.admin, "GET", h.flagsURL(env)+"/taken", nil).decode(t, &f)
	bad := f
	bad.Rules = []codec.Rule{{Conditions: []codec.Condition{{Property: "x", Op: "Nope", Value: "1"}},
		Variations: []codec.RolloutVariation{{ID: f.Variations[0].ID, Rollout: [2]float64{0, 1}}}}}
	r := h.must(400, h.admin, "PUT", h.flagsURL(env)+"/taken", bad)
	if _, field := r.errField(t); field != "rules[0].conditions[0].op" {
		t.Fatalf("update field: %s", r.Body)
	}
	var after codec.Flag
	h.must(200, h.admin, "GET", h.flagsURL(env)+"/taken", nil).decode(t, &after)
	if after.Version != f.Version || len(after.Rules) != 0 {
		t.Fatalf("rejected update changed the flag: %+v", after)
	}
}

func TestRolesAndOrgIsolation(t *testing.T) {
	h := newHarnessWith(t, func(c *Config) { c.OrgCreation = "anyone" })
	env := h.env("dev")
	org := h.info.OrgID
	// A viewer can read but not write.
	viewer := h.addMember(org, "vera@example.com", "viewer-password", "viewer")
	h.must(200, viewer, "GET", h.flagsURL(env), nil)
	r := h.must(403, viewer, "POST", h.flagsURL(env), boolFlagBody("nope"))
	if code, _ := r.errField(t); code != "forbidden" {
		t.Fatalf("viewer write: %s", r.Body)
	}
	h.must(403, viewer, "POST", h.flagsURL(env)+"/welcome-banner/toggle", map[string]any{"version": 1})
	h.must(403, viewer, "POST", "/api/v1/orgs/"+org+"/tokens", map[string]string{"name": "x", "role": "viewer"})
	// An editor cannot grant admin.
	ed := h.addMember(org, "ed@example.com", "editor-password", "editor")
	h.must(201, ed, "POST", h.flagsURL(env), boolFlagBody("by-editor"))
	h.must(403, ed, "POST", "/api/v1/orgs/"+org+"/invitations", map[string]string{"email": "x@example.com", "role": "admin"})
	h.must(403, ed, "POST", "/api/v1/orgs/"+org+"/members", map[string]string{"email": "vera@example.com", "role": "admin"})

	// Organization B with its own environment.
	var orgB struct{ ID string }
	h.must(201, ed, "POST", "/api/v1/orgs", map[string]string{"name": "Org B"}).decode(t, &orgB)
	var projB struct{ ID string }
	h.must(201, ed, "POST", "/api/v1/orgs/"+orgB.ID+"/projects", map[string]string{"name": "P"}).decode(t, &projB)
	var envB struct{ ID string }
	h.must(201, ed, "POST", "/api/v1/projects/"+projB.ID+"/envs", map[string]string{"name": "B env"}).decode(t, &envB)

	// An access token of organization A cannot read organization B.
	var tok struct {
		Token string
		ID    string
	}
	h.must(201, h.admin, "POST", "/api/v1/orgs/"+org+"/tokens", map[string]string{"name": "ci", "role": "editor"}).decode(t, &tok)
	if !strings.HasPrefix(tok.Token, "syt_") {
		t.Fatalf("token %q", tok.Token)
	}
	h.must(200, tok.Token, "GET", h.flagsURL(env), nil)
	h.must(201, tok.Token, "POST", h.flagsURL(env), boolFlagBody("by-token"))
	h.must(403, tok.Token, "GET", h.flagsURL(envB.ID), nil)
	h.must(403, tok.Token, "GET", "/api/v1/orgs/"+orgB.ID+"/projects", nil)
	h.must(403, tok.Token, "GET", "/api/v1/projects/"+projB.ID+"/envs", nil)
	// The admin of A is not a member of B either.
	h.must(403, h.admin, "GET", h.flagsURL(envB.ID), nil)
	// Token listing never shows the value; a revoked token stops working.
	r = h.must(200, h.admin, "GET", "/api/v1/orgs/"+org+"/tokens", nil)
	if strings.Contains(string(r.Body), tok.Token) || strings.Contains(string(r.Body), "hash") {
		t.Fatalf("token list leaks: %s", r.Body)
	}
	h.must(204, h.admin, "DELETE", "/api/v1/orgs/"+org+"/tokens/"+tok.ID, nil)
	h.must(401, tok.Token, "GET", h.flagsURL(env), nil)
	// No token, a garbage token, a logged-out session.
	h.must(401, "", "GET", h.flagsURL(env), nil)
	h.must(401, "syt_garbage", "GET", h.flagsURL(env), nil)
	h.must(204, viewer, "POST", "/api/v1/auth/logout", nil)
	h.must(401, viewer, "GET", h.flagsURL(env), nil)
}

func TestLoginRefusedAndThrottled(t *testing.T) {
	h := newHarness(t)
	body := map[string]string{"email": h.info.AdminEmail, "password": "wrong-password"}
	for i := range 4 {
		if r := h.do("", "POST", "/api/v1/auth/login", body); r.Code != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d %s", i, r.Code, r.Body)
		}
	}
	r := h.do("", "POST", "/api/v1/auth/login", body)
	if r.Code != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("5th failure: %d %v %s", r.Code, r.Header, r.Body)
	}
	// Locked: even the right password is refused until the delay passes.
	r = h.do("", "POST", "/api/v1/auth/login", map[string]string{"email": h.info.AdminEmail, "password": "admin-password"})
	if r.Code != http.StatusTooManyRequests {
		t.Fatalf("locked login: %d", r.Code)
	}
	// Unknown accounts are refused the same way.
	if r := h.do("", "POST", "/api/v1/auth/login", map[string]string{"email": "ghost@example.com", "password": "x"}); r.Code != 401 {
		t.Fatalf("unknown account: %d", r.Code)
	}
}
