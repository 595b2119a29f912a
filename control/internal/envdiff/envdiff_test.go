package envdiff

import (
	"errors"
	"slices"
	"testing"

	"github.com/switchyard/switchyard/codec"
)

// flag builds a boolean flag whose variation ids carry a prefix, like two
// environments' copies of one flag created independently.
func flag(p string) *codec.Flag {
	return &codec.Flag{Key: "f", VariationType: "boolean",
		Variations:          []codec.Variation{{ID: p + "t", Name: "on", Value: "true"}, {ID: p + "f", Name: "off", Value: "false"}},
		DisabledVariationID: p + "f",
		TargetUsers:         []codec.TargetUser{{VariationID: p + "t", KeyIDs: []string{"b", "a"}}},
		Rules: []codec.Rule{{ID: p + "r", Name: "fr", Conditions: []codec.Condition{{ID: p + "c", Property: "country", Op: "IsOneOf", Value: `["FR"]`}},
			Variations: []codec.RolloutVariation{{ID: p + "t", Rollout: [2]float64{0, 1}}}}},
		Fallthrough: codec.Fallthrough{Variations: []codec.RolloutVariation{{ID: p + "f", Rollout: [2]float64{0, 1}}}},
	}
}

func parts(d []PartDiff) []string {
	var out []string
	for _, p := range d {
		out = append(out, p.Part)
	}
	return out
}

func TestCompareIgnoresIDs(t *testing.T) {
	a, b := flag("a-"), flag("b-")
	b.TargetUsers[0].KeyIDs = []string{"a", "b"} // order does not matter
	if d := Compare(a, b, nil, nil); len(d) != 0 {
		t.Fatalf("equal flags differ: %+v", d)
	}
	b.Fallthrough.Variations[0].ID = "b-t"
	b.IsEnabled = true
	if got := parts(Compare(a, b, nil, nil)); !slices.Equal(got, []string{DefaultRule, OnOff}) {
		t.Fatalf("parts %v", got)
	}
}

func TestCopyMapsVariationsByValue(t *testing.T) {
	src, dst := flag("a-"), flag("b-")
	src.Rules[0].Conditions[0].Value = `["FR","DE"]`
	src.Fallthrough.Variations[0].ID = "a-t"
	out, err := Copy(src, dst, []string{Rules, DefaultRule})
	if err != nil {
		t.Fatal(err)
	}
	if out.Rules[0].Variations[0].ID != "b-t" || out.Fallthrough.Variations[0].ID != "b-t" || out.Rules[0].Conditions[0].Value != `["FR","DE"]` {
		t.Fatalf("copied %+v", out)
	}
	if d := Compare(src, out, nil, nil); len(d) != 0 {
		t.Fatalf("after copy: %+v", d)
	}
	if dst.Fallthrough.Variations[0].ID != "b-f" {
		t.Fatal("Copy changed its input")
	}
	// A value the target lacks is an error unless variations are copied.
	src.Variations = append(src.Variations, codec.Variation{ID: "a-x", Name: "x", Value: "maybe"})
	src.Rules[0].Variations[0].ID = "a-x"
	var ce *Error
	if _, err := Copy(src, dst, []string{Rules}); !errors.As(err, &ce) || ce.Field != "parts" {
		t.Fatalf("missing variation: %v", err)
	}
	out, err = Copy(src, dst, []string{Variations, Rules})
	if err != nil {
		t.Fatal(err)
	}
	if out.Rules[0].Variations[0].ID != "a-x" || out.Fallthrough.Variations[0].ID != "a-f" || out.DisabledVariationID != "a-f" || out.TargetUsers[0].VariationID != "a-t" {
		t.Fatalf("variations copied, references remapped: %+v", out)
	}
	if _, err := Copy(src, dst, []string{"everything"}); !errors.As(err, &ce) || ce.Field != "parts[0]" {
		t.Fatalf("unknown part: %v", err)
	}
}

func TestCompareSegmentsByName(t *testing.T) {
	a, b := flag("a-"), flag("b-")
	a.Rules[0].Conditions = []codec.Condition{{Property: "User is in segment", Value: `["s-a"]`}}
	b.Rules[0].Conditions = []codec.Condition{{Property: "User is in segment", Value: `["s-b"]`}}
	na := func(id string) string { return map[string]string{"s-a": "Beta"}[id] }
	nb := func(id string) string { return map[string]string{"s-b": "beta"}[id] }
	if d := Compare(a, b, na, nb); len(d) != 0 {
		t.Fatalf("same segment by name differs: %+v", d)
	}
	if d := Compare(a, b, na, func(string) string { return "" }); !slices.Equal(parts(d), []string{Rules}) {
		t.Fatalf("unknown segment: %+v", d)
	}
}

// TestExperimentTrafficComparedAndCopied: a rule's and the default rule's
// experiment traffic and exptIncludeAllTargets are part of the rules, the
// default rule and the targeting: a difference shows, and a copy of those
// parts carries them.
func TestExperimentTrafficComparedAndCopied(t *testing.T) {
	a, b := flag("a-"), flag("b-")
	a.Rules[0].IncludedInExpt = true
	a.Rules[0].Variations[0].ExptRollout = 0.5
	a.Fallthrough.IncludedInExpt = true
	a.Fallthrough.Variations[0].ExptRollout = 1
	a.ExptIncludeAllTargets = true
	if got := parts(Compare(a, b, nil, nil)); !slices.Equal(got, []string{Targeting, Rules, DefaultRule}) {
		t.Fatalf("parts %v, want targeting, rules, defaultRule", got)
	}
	out, err := Copy(a, b, []string{Targeting, Rules, DefaultRule})
	if err != nil {
		t.Fatal(err)
	}
	if d := Compare(a, out, nil, nil); len(d) != 0 {
		t.Fatalf("after the copy: %+v", d)
	}
	if !out.Rules[0].IncludedInExpt || out.Rules[0].Variations[0].ExptRollout != 0.5 || !out.Fallthrough.IncludedInExpt || !out.ExptIncludeAllTargets {
		t.Fatalf("copied flag lacks the experiment traffic: %+v", out)
	}
	// a rule out of the experiment: its exptRollout does not matter
	b.Rules[0].Variations[0].ExptRollout = 0.3
	if d := Compare(flag("c-"), b, nil, nil); len(d) != 0 {
		t.Fatalf("exptRollout of a rule not in the experiment differs: %+v", d)
	}
}
