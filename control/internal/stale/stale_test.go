package stale

import (
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/codec"
)

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func daysAgo(d int) int64 { return now.Add(-time.Duration(d) * 24 * time.Hour).UnixMilli() }

func boolFlag(key string, updatedDaysAgo int) *codec.Flag {
	return &codec.Flag{
		Key: key, Name: key, IsEnabled: true, DisabledVariationID: "off",
		Variations:  []codec.Variation{{ID: "on", Name: "On", Value: "true"}, {ID: "off", Name: "Off", Value: "false"}},
		Fallthrough: codec.Fallthrough{Variations: []codec.RolloutVariation{{ID: "on", Rollout: [2]float64{0, 0.5}}, {ID: "off", Rollout: [2]float64{0.5, 1}}}},
		CreatedAt:   daysAgo(200), UpdatedAt: daysAgo(updatedDaysAgo),
	}
}

func codes(r Report) string {
	var c []string
	for _, x := range r.Reasons {
		c = append(c, x.Code)
	}
	return strings.Join(c, ",")
}

func TestStaleRules(t *testing.T) {
	split := boolFlag("split", 90) // 50/50, evaluated both ways: in use

	allOn := boolFlag("all-on", 90)
	allOn.Fallthrough.Variations = []codec.RolloutVariation{{ID: "on", Rollout: [2]float64{0, 1}}}

	allOnMixed := boolFlag("all-on-mixed", 90) // config serves one, but SDKs still got both
	allOnMixed.Fallthrough.Variations = allOn.Fallthrough.Variations

	allOnRecent := boolFlag("all-on-recent", 3) // changed 3 days ago: not stale yet
	allOnRecent.Fallthrough.Variations = allOn.Fallthrough.Variations

	off := boolFlag("off", 45)
	off.IsEnabled = false

	targeted := boolFlag("targeted", 90) // rule present, but analytics saw only "off"
	targeted.Rules = []codec.Rule{{Name: "beta", Variations: []codec.RolloutVariation{{ID: "on", Rollout: [2]float64{0, 1}}}}}

	quiet := boolFlag("quiet", 90)

	young := boolFlag("young", 1) // created yesterday: no evaluations is expected
	young.CreatedAt = daysAgo(1)

	gone := boolFlag("gone", 90) // no code references left

	brandNew := boolFlag("brand-new", 0) // created a minute ago: not in code yet, not stale
	brandNew.CreatedAt = now.Add(-time.Minute).UnixMilli()
	brandNew.UpdatedAt = brandNew.CreatedAt

	archived := boolFlag("archived", 10)
	archived.IsArchived = true

	archivedClean := boolFlag("archived-clean", 10)
	archivedClean.IsArchived = true

	used := Usage{Known: true, Evaluation: map[string]int64{"on": 10, "off": 12}}
	in := []Input{
		{EnvName: "prod", Flag: split, Usage: used, Scanned: true, CodeRefs: 3},
		{EnvName: "prod", Flag: allOn, Usage: Usage{Known: true, Evaluation: map[string]int64{"on": 20}}, Scanned: true, CodeRefs: 1},
		{EnvName: "prod", Flag: allOnMixed, Usage: used, Scanned: true, CodeRefs: 1},
		{EnvName: "prod", Flag: allOnRecent, Usage: used, Scanned: true, CodeRefs: 1},
		{EnvName: "prod", Flag: off, Usage: Usage{Known: true, Evaluation: map[string]int64{"off": 5}}, Scanned: true, CodeRefs: 1},
		{EnvName: "prod", Flag: targeted, Usage: Usage{Known: true, Evaluation: map[string]int64{"off": 40, "on": 0}}, Scanned: true, CodeRefs: 2},
		{EnvName: "prod", Flag: quiet, Usage: Usage{Known: true, Evaluation: map[string]int64{}}, Scanned: true, CodeRefs: 2},
		{EnvName: "prod", Flag: young, Usage: Usage{Known: true}, Scanned: true, CodeRefs: 1},
		{EnvName: "prod", Flag: gone, Usage: used, Scanned: true, CodeRefs: 0},
		{EnvName: "prod", Flag: brandNew, Usage: Usage{Known: true}, Scanned: true, CodeRefs: 0},
		{EnvName: "prod", Flag: archived, Usage: used, Scanned: true, CodeRefs: 4},
		{EnvName: "prod", Flag: archivedClean, Usage: used, Scanned: true, CodeRefs: 0},
		{EnvName: "dev", Flag: boolFlag("unscanned", 90), Usage: Usage{}, Scanned: false},
	}
	got := map[string]Report{}
	for _, r := range Evaluate(in, 30, now) {
		got[r.FlagKey] = r
	}
	want := map[string]string{
		"all-on":   SingleVariation,
		"off":      SingleVariation,
		"targeted": SingleVariation,
		"quiet":    NoEvaluations,
		"gone":     NoCodeReferences,
		"archived": ArchivedInCode,
	}
	if len(got) != len(want) {
		t.Errorf("reported %d flags, want %d: %v", len(got), len(want), got)
	}
	for key, code := range want {
		r, ok := got[key]
		if !ok {
			t.Errorf("%s: not reported, want %s", key, code)
			continue
		}
		if codes(r) != code {
			t.Errorf("%s: reasons %s, want %s", key, codes(r), code)
		}
		for _, reason := range r.Reasons {
			if reason.Message == "" {
				t.Errorf("%s: reason %s has no message", key, reason.Code)
			}
		}
	}
	if r := got["archived"]; !r.Risk || r.Stale {
		t.Errorf("archived: risk=%v stale=%v, want a risk and not stale", r.Risk, r.Stale)
	}
	if r := got["off"]; !strings.Contains(r.Reasons[0].Message, `"Off"`) {
		t.Errorf("off: message %q does not name the variation served", r.Reasons[0].Message)
	}
	if r := got["targeted"]; !strings.Contains(r.Reasons[0].Message, `"Off"`) {
		t.Errorf("targeted: message %q does not name the variation seen", r.Reasons[0].Message)
	}
}

func TestSeveralReasons(t *testing.T) {
	f := boolFlag("legacy", 120)
	f.IsEnabled = false
	rs := Evaluate([]Input{{Flag: f, Usage: Usage{Known: true}, Scanned: true}}, 30, now)
	if len(rs) != 1 || codes(rs[0]) != SingleVariation+","+NoEvaluations+","+NoCodeReferences {
		t.Fatalf("got %+v", rs)
	}
}
