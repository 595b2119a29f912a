//go:build integration

package ui_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The browser steps of the delivery features (e2e/delivery.mjs): the
// delivery progress after a save, the blast-radius preview and the live
// SDK view. seedDelivery prepares them and returns their environment
// variables.

// impactTier is the tier of seeded end user i: a fixed, uneven population.
func impactTier(i int) string {
	switch i % 5 {
	case 0:
		return "gold"
	case 1, 2:
		return "silver"
	}
	return "bronze"
}

const impactUsers = 90

// seedDelivery creates the flag impact-demo (boolean, on; rule 1 "Gold
// tier": e2etier Equal gold serves false; rule 2 "Tiered": e2etier IsOneOf
// [gold, silver] serves true; the default serves false) and sends 90 end
// users impact-000..impact-089 with an e2etier property through the edge's
// track endpoint, as an SDK would. The browser removes rule 1 and previews:
// the expected transitions are computed here from the population, without
// the evaluator. It also opens a change request with that change (the
// preview on the review page). streams is the number of SDK connections the test holds
// open to the edge (what a receipt of a change must reach).
func seedDelivery(t *testing.T, p *platform, streams int) []string {
	t.Helper()
	base := "http://" + p.ctlAddr
	var login struct {
		Token string `json:"token"`
	}
	apiCall(t, base, "", "POST", "/api/v1/auth/login", map[string]string{"email": "admin@switchyard.local", "password": p.adminPassword}, &login)
	tok := "Bearer " + login.Token
	var orgs, projects, envs struct{ Items []idItem }
	apiCall(t, base, tok, "GET", "/api/v1/orgs", nil, &orgs)
	apiCall(t, base, tok, "GET", "/api/v1/orgs/"+orgs.Items[0].ID+"/projects", nil, &projects)
	apiCall(t, base, tok, "GET", "/api/v1/projects/"+projects.Items[0].ID+"/envs", nil, &envs)
	env := ""
	for _, e := range envs.Items {
		if e.Key == "dev" {
			env = e.ID
		}
	}
	flags := "/api/v1/envs/" + env + "/flags"
	apiCall(t, base, tok, "POST", flags, map[string]any{"key": "impact-demo", "name": "Impact demo", "variationType": "boolean"}, nil)
	var f map[string]any
	apiCall(t, base, tok, "GET", flags+"/impact-demo", nil, &f)
	ids := map[string]string{} // value -> variation id
	for _, v := range f["variations"].([]any) {
		m := v.(map[string]any)
		ids[m["value"].(string)] = m["id"].(string)
	}
	serve := func(value string) []any {
		return []any{map[string]any{"id": ids[value], "rollout": []float64{0, 1}, "exptRollout": 1}}
	}
	f["rules"] = []any{
		map[string]any{"name": "Gold tier", "conditions": []any{map[string]any{"property": "e2etier", "op": "Equal", "value": "gold"}}, "variations": serve("false")},
		map[string]any{"name": "Tiered", "conditions": []any{map[string]any{"property": "e2etier", "op": "IsOneOf", "value": `["gold","silver"]`}}, "variations": serve("true")},
	}
	f["fallthrough"] = map[string]any{"dispatchKey": "", "includedInExpt": false, "variations": serve("false")}
	f["disabledVariationId"] = ids["false"]
	var saved idItem
	apiCall(t, base, tok, "PUT", flags+"/impact-demo", f, &saved)
	apiCall(t, base, tok, "POST", flags+"/impact-demo/toggle", map[string]any{"isEnabled": true, "version": saved.Version}, nil)

	// a change request proposing the same change the browser makes on the
	// flag page (rule 1 removed), for the preview on its review page: dev is
	// protected only while it is created, the request stays open
	apiCall(t, base, tok, "GET", flags+"/impact-demo", nil, &f)
	f["rules"] = f["rules"].([]any)[1:]
	settings := "/api/v1/envs/" + env + "/workflow-settings"
	apiCall(t, base, tok, "PUT", settings, map[string]any{"requireComment": false, "protected": true, "requiredApprovals": 1}, nil)
	apiCall(t, base, tok, "POST", "/api/v1/envs/"+env+"/change-requests", map[string]any{"kind": "flag", "key": "impact-demo", "baseVersion": f["version"], "proposed": f}, nil)
	apiCall(t, base, tok, "PUT", settings, map[string]any{"requireComment": false, "protected": false}, nil)

	type user struct {
		KeyID string              `json:"keyId"`
		Name  string              `json:"name"`
		Props []map[string]string `json:"customizedProperties"`
	}
	type eval struct {
		Key       string            `json:"featureFlagKey"`
		Variation map[string]string `json:"variation"`
		Timestamp int64             `json:"timestamp"`
	}
	type insight struct {
		User       user   `json:"user"`
		Variations []eval `json:"variations"`
	}
	var body []insight
	now := time.Now().UnixMilli()
	for i := range impactUsers {
		body = append(body, insight{
			User:       user{KeyID: fmt.Sprintf("impact-%03d", i), Name: fmt.Sprintf("Impact %d", i), Props: []map[string]string{{"name": "e2etier", "value": impactTier(i)}}},
			Variations: []eval{{Key: "impact-demo", Variation: map[string]string{"id": ids["false"], "value": "false"}, Timestamp: now}},
		})
	}
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", "http://"+p.edgeAddr+"/api/public/insight/track", strings.NewReader(string(b)))
	req.Header.Set("Authorization", p.devServerSecret)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("track: %d", res.StatusCode)
	}
	// the end users reach the store asynchronously
	deadline := time.Now().Add(60 * time.Second)
	for {
		var l struct{ Total int }
		apiCall(t, base, tok, "GET", "/api/v1/envs/"+env+"/end-users?q=impact-&limit=1", nil, &l)
		if l.Total >= impactUsers {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of the %d impact end users stored 60 s after the track request", l.Total, impactUsers)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Expected preview of removing rule 1, from the population: before, gold
	// gets false (Gold tier), silver true (Tiered), the rest false (default);
	// after, gold and silver get true (Tiered).
	before := func(tier string) string {
		switch tier {
		case "gold":
			return "false"
		case "silver":
			return "true"
		}
		return "false"
	}
	after := func(tier string) string {
		if tier == "gold" || tier == "silver" {
			return "true"
		}
		return "false"
	}
	moves := map[string]int{}
	changed := 0
	for i := range impactUsers {
		if b, a := before(impactTier(i)), after(impactTier(i)); a != b {
			moves[b+">"+a]++
			changed++
		}
	}
	var want []string
	for k, n := range moves {
		want = append(want, k+":"+strconv.Itoa(n))
	}
	return []string{
		"SY_DELIVERY_STREAMS=" + strconv.Itoa(streams),
		"SY_IMPACT_CHANGED=" + strconv.Itoa(changed),
		"SY_IMPACT_MOVES=" + strings.Join(want, ","), // from>to:count, reason "Tiered"
		// at least the end users this test sent (seed's 240 and these)
		"SY_IMPACT_MIN_USERS=" + strconv.Itoa(240+impactUsers),
	}
}
