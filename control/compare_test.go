package control

import (
	"slices"
	"testing"

	"github.com/switchyard/switchyard/codec"
)

type compareResp struct {
	Key    string
	Status string
	Parts  []struct{ Part string }
}

func partNames(c compareResp) []string {
	var out []string
	for _, p := range c.Parts {
		out = append(out, p.Part)
	}
	return out
}

// segmentID returns the id of the segment with the name in an environment.
func (h *harness) segmentID(env, name string) string {
	var l struct{ Items []codec.Segment }
	h.must(200, h.admin, "GET", "/api/v1/envs/"+env+"/segments", nil).decode(h.t, &l)
	for _, s := range l.Items {
		if s.Name == name {
			return s.ID
		}
	}
	h.t.Fatalf("no segment %s in %s", name, env)
	return ""
}

func compareFlagBody(key, segID string) map[string]any {
	b := betaFlag(key)
	b["rules"] = append(b["rules"].([]map[string]any), map[string]any{"name": "testers",
		"conditions": []map[string]any{{"property": "User is in segment", "value": `["` + segID + `"]`}},
		"variations": []map[string]any{{"id": "on", "rollout": []float64{0, 1}}}})
	b["fallthrough"] = map[string]any{"variations": []map[string]any{{"id": "on", "rollout": []float64{0, 0.5}}, {"id": "off", "rollout": []float64{0.5, 1}}}}
	return b
}

func TestCompareShowsDifferingPartsAndCopyMakesEqual(t *testing.T) {
	h := newHarness(t)
	dev, prod := h.env("dev"), h.env("prod")
	var f codec.Flag
	h.must(201, h.admin, "POST", h.flagsURL(dev), compareFlagBody("cmp", h.segmentID(dev, "Beta testers"))).decode(t, &f)
	var cl struct {
		Items []struct{ Key, Result string }
	}
	h.must(200, h.admin, "POST", "/api/v1/envs/"+dev+"/copy-flags", map[string]any{"targetEnvId": prod, "keys": []string{"cmp"}}).decode(t, &cl)
	if len(cl.Items) != 1 || cl.Items[0].Result != "created" {
		t.Fatalf("copy-flags %+v", cl)
	}
	cmpURL := h.flagsURL(dev) + "/cmp/compare?targetEnvId=" + prod
	var c compareResp
	h.must(200, h.admin, "GET", cmpURL, nil).decode(t, &c)
	if c.Status != "same" || len(c.Parts) != 0 {
		t.Fatalf("after copy: %+v", c)
	}
	// Change targeting, one rule condition and on/off in dev.
	f.TargetUsers = []codec.TargetUser{{VariationID: "on", KeyIDs: []string{"u1"}}}
	f.Rules[0].Conditions[0].Value = `["FR","DE"]`
	h.must(200, h.admin, "PUT", h.flagsURL(dev)+"/cmp", f).decode(t, &f)
	h.must(200, h.admin, "POST", h.flagsURL(dev)+"/cmp/toggle", map[string]any{"version": f.Version}).decode(t, &f)
	h.must(200, h.admin, "GET", cmpURL, nil).decode(t, &c)
	if c.Status != "different" || !slices.Equal(partNames(c), []string{"targeting", "rules", "onOff"}) {
		t.Fatalf("compare: %+v", c)
	}
	var all struct {
		Items     []compareResp
		Different int
	}
	h.must(200, h.admin, "GET", "/api/v1/envs/"+dev+"/compare?targetEnvId="+prod+"&key=cmp&key=welcome-banner", nil).decode(t, &all)
	if len(all.Items) != 2 || all.Items[0].Key != "cmp" || all.Items[0].Status != "different" || all.Different < 1 {
		t.Fatalf("env compare %+v", all)
	}
	var pf codec.Flag
	h.must(200, h.admin, "GET", h.flagsURL(prod)+"/cmp", nil).decode(t, &pf)
	// Copy two parts: only on/off still differs; then copy it too.
	h.must(200, h.admin, "POST", h.flagsURL(dev)+"/cmp/copy-parts", map[string]any{"targetEnvId": prod, "parts": []string{"rules", "targeting"}, "targetVersion": pf.Version}).decode(t, &pf)
	h.must(200, h.admin, "GET", cmpURL, nil).decode(t, &c)
	if !slices.Equal(partNames(c), []string{"onOff"}) {
		t.Fatalf("after copying rules and targeting: %+v", c)
	}
	if pf.Rules[1].Conditions[0].Value != `["`+h.segmentID(prod, "Beta testers")+`"]` {
		t.Fatalf("segment not mapped: %+v", pf.Rules[1])
	}
	h.must(200, h.admin, "POST", h.flagsURL(dev)+"/cmp/copy-parts", map[string]any{"targetEnvId": prod, "parts": []string{"onOff"}, "targetVersion": pf.Version}).decode(t, &pf)
	h.must(200, h.admin, "GET", cmpURL, nil).decode(t, &c)
	if c.Status != "same" || !pf.IsEnabled {
		t.Fatalf("after copying on/off: %+v", c)
	}
	var l auditList
	h.must(200, h.admin, "GET", "/api/v1/envs/"+prod+"/audit?resource=cmp&limit=2", nil).decode(t, &l)
	if l.Items[0].Action != "copied" || !slices.Contains(l.Items[0].Changes, "turned on") || !slices.Contains(l.Items[1].Changes, "rule 'beta users': condition country IsOneOf [FR] → [FR, DE]") {
		t.Fatalf("copy audit %+v", l.Items)
	}

	// Bad input writes nothing: unknown part, stale target version, unknown
	// key among good ones, another organization's environment (403).
	ver, n := h.envVersion(prod)
	r := h.do(h.admin, "POST", h.flagsURL(dev)+"/cmp/copy-parts", map[string]any{"targetEnvId": prod, "parts": []string{"everything"}, "targetVersion": pf.Version})
	if _, field := r.errField(t); r.Code != 400 || field != "parts[0]" {
		t.Fatalf("unknown part: %d %s", r.Code, r.Body)
	}
	r = h.do(h.admin, "POST", h.flagsURL(dev)+"/cmp/copy-parts", map[string]any{"targetEnvId": prod, "parts": []string{"onOff"}, "targetVersion": pf.Version - 1})
	if _, field := r.errField(t); r.Code != 409 || field != "targetVersion" {
		t.Fatalf("stale: %d %s", r.Code, r.Body)
	}
	h.must(201, h.admin, "POST", h.flagsURL(dev), boolFlagBody("fresh"))
	r = h.do(h.admin, "POST", "/api/v1/envs/"+dev+"/copy-flags", map[string]any{"targetEnvId": prod, "keys": []string{"fresh", "nope"}})
	if _, field := r.errField(t); r.Code != 400 || field != "keys[1]" {
		t.Fatalf("unknown key: %d %s", r.Code, r.Body)
	}
	var org struct{ ID string }
	h.must(201, h.admin, "POST", "/api/v1/orgs", map[string]any{"name": "Other"}).decode(t, &org)
	var proj struct{ ID string }
	h.must(201, h.admin, "POST", "/api/v1/orgs/"+org.ID+"/projects", map[string]any{"name": "p"}).decode(t, &proj)
	var other struct{ ID string }
	h.must(201, h.admin, "POST", "/api/v1/projects/"+proj.ID+"/envs", map[string]any{"name": "x"}).decode(t, &other)
	otherVer, otherN := h.envVersion(other.ID)
	for _, try := range []struct {
		path string
		body map[string]any
	}{
		{"/api/v1/envs/" + dev + "/copy-flags", map[string]any{"targetEnvId": other.ID, "keys": []string{"cmp"}}},
		{h.flagsURL(dev) + "/cmp/copy-parts", map[string]any{"targetEnvId": other.ID, "parts": []string{"rules"}, "targetVersion": 1}},
	} {
		r = h.do(h.admin, "POST", try.path, try.body)
		if code, field := r.errField(t); r.Code != 403 || code != "forbidden" || field != "targetEnvId" {
			t.Fatalf("%s to another org: %d %s", try.path, r.Code, r.Body)
		}
	}
	h.must(403, h.admin, "GET", h.flagsURL(dev)+"/cmp/compare?targetEnvId="+other.ID, nil)
	if v2, n2 := h.envVersion(prod); v2 != ver || n2 != n {
		t.Fatalf("refused copies changed prod: version %d → %d, flags %d → %d", ver, v2, n, n2)
	}
	if v2, n2 := h.envVersion(other.ID); v2 != otherVer || n2 != otherN {
		t.Fatalf("refused copies changed the other org: version %d → %d, flags %d → %d", otherVer, v2, otherN, n2)
	}
}
