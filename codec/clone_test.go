package codec

import (
	"reflect"
	"testing"
)

func TestFlagCloneSharesNothing(t *testing.T) {
	f := &Flag{ID: "f", Key: "k", Tags: []string{"a"},
		Variations:  []Variation{{ID: "v1", Value: "true"}, {ID: "v2", Value: "false"}},
		TargetUsers: []TargetUser{{VariationID: "v1", KeyIDs: []string{"u1"}}},
		Rules: []Rule{{ID: "r", Conditions: []Condition{{ID: "c", Property: "p", Op: "Equal", Value: "x"}},
			Variations: []RolloutVariation{{ID: "v1", Rollout: [2]float64{0, 1}}}}}}
	c := f.Clone()
	if !reflect.DeepEqual(f, c) {
		t.Fatalf("clone differs:\n%+v\n%+v", f, c)
	}
	c.Tags[0], c.Variations[0].Value, c.TargetUsers[0].KeyIDs[0] = "b", "x", "u2"
	c.Rules[0].Conditions[0].Value, c.Rules[0].Variations[0].Rollout[1] = "y", 0.5
	if f.Tags[0] != "a" || f.Variations[0].Value != "true" || f.TargetUsers[0].KeyIDs[0] != "u1" ||
		f.Rules[0].Conditions[0].Value != "x" || f.Rules[0].Variations[0].Rollout[1] != 1 {
		t.Fatalf("writing the clone changed the original: %+v", f)
	}
}
