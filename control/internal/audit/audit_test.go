package audit

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/codec"
)

func demo() *codec.Flag {
	return &codec.Flag{Key: "checkout", VariationType: "boolean",
		Variations:          []codec.Variation{{ID: "t", Name: "on", Value: "true"}, {ID: "f", Name: "off", Value: "false"}},
		DisabledVariationID: "f",
		Rules: []codec.Rule{{ID: "r1", Name: "beta users",
			Conditions: []codec.Condition{{ID: "c1", Property: "country", Op: "IsOneOf", Value: `["FR"]`}},
			Variations: []codec.RolloutVariation{{ID: "t", Rollout: [2]float64{0, 1}}}}},
		Fallthrough: codec.Fallthrough{Variations: []codec.RolloutVariation{{ID: "f", Rollout: [2]float64{0, 1}}}},
	}
}

func TestFlagDiffNamesRuleAndCondition(t *testing.T) {
	b, a := demo(), demo()
	a.Rules[0].Conditions = []codec.Condition{{ID: "c1", Property: "country", Op: "IsOneOf", Value: `["FR","DE"]`}}
	a.IsEnabled = true
	a.Fallthrough.Variations = []codec.RolloutVariation{{ID: "t", Rollout: [2]float64{0, 0.2}}, {ID: "f", Rollout: [2]float64{0.2, 1}}}
	a.TargetUsers = []codec.TargetUser{{VariationID: "t", KeyIDs: []string{"u1"}}}
	got := Flag(b, a, nil)
	want := []string{
		"turned on",
		"individual targeting 'on': added u1",
		"rule 'beta users': condition country IsOneOf [FR] → [FR, DE]",
		"default rule: serves 'off' → 'on' 20%, 'off' 80%",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("diff:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestFlagDiffRulesAddedRemovedSegments(t *testing.T) {
	b, a := demo(), demo()
	a.Rules = append(a.Rules, codec.Rule{ID: "r2", Name: "testers",
		Conditions: []codec.Condition{{ID: "c2", Property: propInSegment, Value: `["s1"]`}},
		Variations: []codec.RolloutVariation{{ID: "t", Rollout: [2]float64{0, 1}}}})
	seg := func(id string) string {
		if id == "s1" {
			return "Beta testers"
		}
		return ""
	}
	got := Flag(b, a, seg)
	if !slices.Equal(got, []string{"rule 'testers' added: User is in segment ['Beta testers']; serves 'on'"}) {
		t.Fatalf("added: %q", got)
	}
	got = Flag(a, b, seg)
	if !slices.Equal(got, []string{"rule 'testers' removed"}) {
		t.Fatalf("removed: %q", got)
	}
	if d := Flag(b, b, nil); len(d) != 0 {
		t.Fatalf("no change gave %q", d)
	}
	c := demo()
	c.Rules[0].Conditions[0] = codec.Condition{ID: "c1", Property: "city", Op: "Equal", Value: "Paris"}
	if got := Flag(b, c, nil); !slices.Equal(got, []string{"rule 'beta users': condition country IsOneOf [FR] → city Equal Paris"}) {
		t.Fatalf("changed property: %q", got)
	}
}

func TestSegmentAndGeneric(t *testing.T) {
	b := &codec.Segment{Name: "beta", Included: []string{"a"}}
	a := &codec.Segment{Name: "beta", Included: []string{"a", "b"}, Excluded: []string{"x"}}
	if got := Segment(b, a); !slices.Equal(got, []string{"included: added b", "excluded: added x"}) {
		t.Fatalf("segment: %q", got)
	}
	type env struct {
		Name    string `json:"name"`
		Key     string `json:"key"`
		Version int64  `json:"version"`
	}
	got := Generic(&env{"Dev", "dev", 1}, &env{"Development", "dev", 2})
	if !slices.Equal(got, []string{"name 'Dev' → 'Development'"}) {
		t.Fatalf("generic: %q", got)
	}
	if got := Generic(nil, &env{Name: "x"}); len(got) == 0 || !strings.Contains(got[1], "name set to 'x'") {
		t.Fatalf("generic create: %q", got)
	}
}

// TestSegmentDiffOfLargeMemberLists: a one-key change to a segment of
// 100,000 members is described in linear time, naming the key, and an
// import of 100,000 keys names 20 of them and counts the rest.
func TestSegmentDiffOfLargeMemberLists(t *testing.T) {
	keys := make([]string, 100000)
	for i := range keys {
		keys[i] = fmt.Sprintf("user-%06d", i)
	}
	before := &codec.Segment{Name: "big", Included: keys}
	after := &codec.Segment{Name: "big", Included: append(slices.Clone(keys), "new-user")}
	got := strings.Join(Segment(before, after), "\n")
	if got != "included: added new-user" {
		t.Fatalf("one key added to 100,000: %q", got)
	}
	got = strings.Join(Segment(&codec.Segment{Name: "big"}, before), "\n")
	if !strings.HasPrefix(got, "included: added user-000000, user-000001,") || !strings.HasSuffix(got, "user-000019 and 99980 more") {
		t.Fatalf("100,000 keys imported: %.200q…", got)
	}
}
