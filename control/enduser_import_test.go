package control

import (
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/codec"
)

// TestEndUserImportAndEvaluateAll: a CSV import stores the end users (merged
// into existing ones) and is audited; the playground route evaluates every
// flag for a user.
func TestEndUserImportAndEvaluateAll(t *testing.T) {
	h := newHarness(t)
	env := h.env("dev")
	base := "/api/v1/envs/" + env
	var res struct {
		Imported   int
		Properties []string
	}
	h.must(200, h.admin, "POST", base+"/end-users/import", map[string]any{"csv": "keyId,name,country,plan\nu-csv-1,Ann,FR,pro\nu-csv-2,,DE,\n"}).decode(t, &res)
	if res.Imported != 2 || strings.Join(res.Properties, ",") != "country,plan" {
		t.Fatalf("import result %+v", res)
	}
	var u codec.EndUser
	h.must(200, h.admin, "GET", base+"/end-users/u-csv-1", nil).decode(t, &u)
	if u.Name != "Ann" || len(u.Props) != 2 || u.Props[0].Name != "country" || u.Props[0].Value != "FR" {
		t.Fatalf("imported user %+v", u)
	}
	// a second import merges: the name stays, plan changes
	h.must(200, h.admin, "POST", base+"/end-users/import", map[string]any{"csv": "keyId,plan\nu-csv-1,team\n"})
	h.must(200, h.admin, "GET", base+"/end-users/u-csv-1", nil).decode(t, &u)
	if u.Name != "Ann" || len(u.Props) != 2 || u.Props[1].Value != "team" {
		t.Fatalf("merged user %+v", u)
	}
	var audit struct {
		Items []struct{ Action, ResourceType, EnvID string }
	}
	h.must(200, h.admin, "GET", base+"/audit?type=end_user", nil).decode(t, &audit)
	if len(audit.Items) != 2 || audit.Items[0].Action != "imported" || audit.Items[0].EnvID != env {
		t.Fatalf("audit %+v", audit.Items)
	}

	var all struct {
		Items []struct {
			FlagKey string
			Result  struct {
				Kind        string
				RuleIndex   int
				MatchReason string
				Variation   *codec.Variation
			}
		}
	}
	h.must(200, h.admin, "POST", base+"/evaluate", map[string]any{"keyId": "u9", "customizedProperties": []map[string]string{{"name": "country", "value": "FR"}}}).decode(t, &all)
	if len(all.Items) < 3 {
		t.Fatalf("%d flags evaluated", len(all.Items))
	}
	found := false
	for i, it := range all.Items {
		if i > 0 && all.Items[i-1].FlagKey >= it.FlagKey {
			t.Fatalf("not sorted by key: %s before %s", all.Items[i-1].FlagKey, it.FlagKey)
		}
		if it.FlagKey == "max-items" {
			found = true
			if it.Result.Kind != "rule" || it.Result.RuleIndex != 0 || it.Result.Variation == nil || it.Result.Variation.Value != "25" {
				t.Fatalf("max-items for a French user: %+v", it.Result)
			}
		}
	}
	if !found {
		t.Fatal("max-items not evaluated")
	}
	r := h.must(400, h.admin, "POST", base+"/evaluate", map[string]any{"name": "no key"})
	if _, field := r.errField(t); field != "keyId" {
		t.Fatalf("%s", r.Body)
	}
}

// TestSecurityEndUserImportRefusesOversizedAndMalformed: oversized and
// malformed CSV is refused with a 400 naming the field (nothing stored), a
// body over the route's limit with 413, an editor (no env:manage) with 403,
// and an environment that requires change comments refuses an import
// without one.
func TestSecurityEndUserImportRefusesOversizedAndMalformed(t *testing.T) {
	h := newHarness(t)
	env := h.env("dev")
	base := "/api/v1/envs/" + env
	for name, csv := range map[string]string{
		"too big":         "keyId\n" + strings.Repeat("a", 1<<20),
		"unterminated":    "keyId,name\nu1,\"Ann\n",
		"no keyId":        "name\nAnn\n",
		"too many fields": "keyId\nu1,extra\n",
		"empty":           "",
	} {
		r := h.must(400, h.admin, "POST", base+"/end-users/import", map[string]any{"csv": csv})
		if _, field := r.errField(t); field != "csv" {
			t.Errorf("%s: %s", name, r.Body)
		}
	}
	var us struct{ Total int }
	h.must(200, h.admin, "GET", base+"/end-users", nil).decode(t, &us)
	if us.Total != 0 {
		t.Fatalf("refused imports stored %d end users", us.Total)
	}
	h.must(413, h.admin, "POST", base+"/end-users/import", map[string]any{"csv": strings.Repeat("k", 3<<20)})

	ed := h.addMember(h.info.OrgID, "ed@example.com", "editor-password", "editor")
	h.must(403, ed, "POST", base+"/end-users/import", map[string]any{"csv": "keyId\nu1\n"})

	h.must(200, h.admin, "PUT", base+"/workflow-settings", map[string]any{"requireComment": true})
	r := h.must(400, h.admin, "POST", base+"/end-users/import", map[string]any{"csv": "keyId\nu1\n"})
	if _, field := r.errField(t); field != "comment" {
		t.Fatalf("import without the required comment: %s", r.Body)
	}
	h.must(200, h.admin, "POST", base+"/end-users/import", map[string]any{"csv": "keyId\nu1\n", "comment": "CRM sync"})
}

// TestScheduleAuditListsFieldsNotTheDraft: a schedule's audit entry lists
// the flag diff and the schedule's own fields, not its whole draft as JSON.
func TestScheduleAuditListsFieldsNotTheDraft(t *testing.T) {
	h := newHarness(t)
	env := h.env("dev")
	var f codec.Flag
	h.must(200, h.admin, "GET", h.flagsURL(env)+"/checkout-flow", nil).decode(t, &f)
	draft := f
	draft.Description = "scheduled"
	h.must(201, h.admin, "POST", h.flagsURL(env)+"/checkout-flow/schedules", map[string]any{"at": time.Now().Add(time.Hour).UnixMilli(), "draft": draft, "onConflict": "fail"})
	var l struct {
		Items []struct {
			Action  string
			Changes []string
		}
	}
	h.must(200, h.admin, "GET", "/api/v1/envs/"+env+"/audit?type=schedule", nil).decode(t, &l)
	if len(l.Items) != 1 || l.Items[0].Action != "created" {
		t.Fatalf("schedule audit %+v", l.Items)
	}
	all := strings.Join(l.Items[0].Changes, "\n")
	for _, want := range []string{"description 'A/B test of the checkout flow' → 'scheduled'", "onConflict set to 'fail'", "at set to "} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q in\n%s", want, all)
		}
	}
	if strings.Contains(all, "draft") || strings.Contains(all, `"rules"`) {
		t.Errorf("the draft as JSON in\n%s", all)
	}
}
