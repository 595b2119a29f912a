package control

import (
	"reflect"
	"testing"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/store"
)

// Restore v2 after v3 and v4: the flag's content equals v2, its version is
// 5, the restore is audited with the version restored and published.
func TestRestoreFlagVersion(t *testing.T) {
	h := newHarness(t)
	env := h.env("dev")
	url := h.flagsURL(env) + "/checkout"
	var f, v2 codec.Flag
	h.must(201, h.admin, "POST", h.flagsURL(env), boolFlagBody("checkout")).decode(t, &f)
	f.Description, f.Tags = "second", []string{"beta"}
	h.must(200, h.admin, "PUT", url, f).decode(t, &v2)
	f = v2
	f.Description, f.Tags = "third", nil
	f.Fallthrough.Variations = []codec.RolloutVariation{{ID: f.Variations[0].ID, Rollout: [2]float64{0, 1}}}
	h.must(200, h.admin, "PUT", url, f).decode(t, &f)
	h.must(200, h.admin, "POST", url+"/toggle", map[string]any{"version": f.Version}).decode(t, &f)
	if f.Version != 4 || !f.IsEnabled {
		t.Fatalf("v4: %+v", f)
	}
	h.publish()
	before := len(h.sink.Events())

	var l struct{ Items []codec.Flag }
	h.must(200, h.admin, "GET", url+"/versions", nil).decode(t, &l)
	if len(l.Items) != 4 || l.Items[0].Version != 4 || l.Items[2].Description != "second" {
		t.Fatalf("history: %+v", l.Items)
	}

	var r codec.Flag
	h.must(200, h.admin, "POST", url+"/restore-version", map[string]any{"version": 2, "comment": "back to beta"}).decode(t, &r)
	if r.Version != 5 {
		t.Fatalf("restored version %d, want 5", r.Version)
	}
	same := func(a, b codec.Flag) bool {
		a.Version, a.UpdatedAt, b.Version, b.UpdatedAt = 0, 0, 0, 0
		return reflect.DeepEqual(a, b)
	}
	var got codec.Flag
	h.must(200, h.admin, "GET", url, nil).decode(t, &got)
	if !same(got, v2) {
		t.Fatalf("restored content\n%+v\nwant v2\n%+v", got, v2)
	}

	var al struct{ Items []store.AuditEntry }
	h.must(200, h.admin, "GET", "/api/v1/envs/"+env+"/audit?resource=checkout", nil).decode(t, &al)
	if len(al.Items) == 0 || al.Items[0].Action != "version_restored" || al.Items[0].Comment != "back to beta" ||
		al.Items[0].Changes[0] != "restored version 2" {
		t.Fatalf("audit: %+v", al.Items)
	}

	h.publish()
	var pub *codec.Flag
	for _, ev := range h.sink.Events()[before:] {
		if ev.ID != got.ID {
			continue
		}
		pub = new(codec.Flag)
		if _, err := pub.UnmarshalMsg(ev.Payload); err != nil {
			t.Fatal(err)
		}
	}
	if pub == nil || pub.Version != 5 || pub.IsEnabled || pub.Description != "second" {
		t.Fatalf("published: %+v", pub)
	}

	// Refusals name the field.
	for _, v := range []int64{0, 5, 9} {
		r := h.must(400, h.admin, "POST", url+"/restore-version", map[string]any{"version": v})
		if _, field := r.errField(t); field != "version" {
			t.Fatalf("version %d: %s", v, r.Body)
		}
	}
	// A restore that would turn the flag on or off needs flag:toggle.
	h.must(201, h.admin, "POST", "/api/v1/orgs/"+h.info.OrgID+"/policies", map[string]any{"name": "no toggles",
		"statements": []any{map[string]any{"effect": "deny", "actions": []string{"flag:toggle"}, "resources": []string{"*"}}},
		"principals": []string{}})
	ed := h.addMember(h.info.OrgID, "ed@example.com", "ed-password", "editor")
	u, _ := h.s.st.GetUserByEmail(t.Context(), "ed@example.com")
	var pols struct{ Items []store.Policy }
	h.must(200, h.admin, "GET", "/api/v1/orgs/"+h.info.OrgID+"/policies", nil).decode(t, &pols)
	p := pols.Items[0]
	h.must(200, h.admin, "PUT", "/api/v1/orgs/"+h.info.OrgID+"/policies/"+p.ID, map[string]any{"name": p.Name,
		"statements": p.Statements, "principals": []string{"user:" + u.ID}, "version": p.Version})
	h.must(403, ed, "POST", url+"/restore-version", map[string]any{"version": 4}) // v4 was on
	h.must(200, ed, "POST", url+"/restore-version", map[string]any{"version": 3})
}
