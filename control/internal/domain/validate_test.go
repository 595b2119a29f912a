package domain

import (
	"errors"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/store"
)

func TestRolloutTiling(t *testing.T) {
	ids := map[string]bool{"a": true, "b": true, "c": true}
	rv := func(id string, lo, hi float64) codec.RolloutVariation {
		return codec.RolloutVariation{ID: id, Rollout: [2]float64{lo, hi}}
	}
	cases := []struct {
		name string
		vs   []codec.RolloutVariation
		ok   bool
	}{
		{"one full", []codec.RolloutVariation{rv("a", 0, 1)}, true},
		{"halves, any order", []codec.RolloutVariation{rv("b", 0.5, 1), rv("a", 0, 0.5)}, true},
		{"thirds with float error", []codec.RolloutVariation{rv("a", 0, 1.0/3), rv("b", 1.0/3, 2.0/3), rv("c", 2.0/3, 1)}, true},
		{"zero-width share ignored", []codec.RolloutVariation{rv("a", 0, 1), rv("b", 0, 0)}, true},
		{"gap", []codec.RolloutVariation{rv("a", 0, 0.4), rv("b", 0.5, 1)}, false},
		{"overlap", []codec.RolloutVariation{rv("a", 0, 0.6), rv("b", 0.5, 1)}, false},
		{"short", []codec.RolloutVariation{rv("a", 0, 0.9)}, false},
		{"not from zero", []codec.RolloutVariation{rv("a", 0.1, 1)}, false},
		{"out of range", []codec.RolloutVariation{rv("a", -0.5, 1)}, false},
		{"reversed", []codec.RolloutVariation{rv("a", 1, 0)}, false},
		{"unknown id", []codec.RolloutVariation{rv("z", 0, 1)}, false},
		{"same id twice", []codec.RolloutVariation{rv("a", 0, 0.5), rv("a", 0.5, 1)}, false},
		{"empty", nil, false},
	}
	for _, c := range cases {
		err := rollout("fallthrough.variations", c.vs, ids)
		if (err == nil) != c.ok {
			t.Errorf("%s: err = %v", c.name, err)
		}
		if err != nil && !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: not ErrInvalid: %v", c.name, err)
		}
	}
}

func TestFlagDefaultsAreValid(t *testing.T) {
	for _, typ := range []string{TypeBoolean, TypeString, TypeNumber, TypeJSON} {
		f := &codec.Flag{Key: "k", VariationType: typ}
		if typ != TypeBoolean {
			f.Variations = []codec.Variation{{Value: "1"}, {Value: "2"}}
		}
		FlagDefaults(f)
		if err := ValidateFlag(f, nil); err != nil {
			t.Errorf("%s: defaults invalid: %v", typ, err)
		}
		if f.Rules == nil || f.Tags == nil || f.TargetUsers == nil {
			t.Errorf("%s: nil lists", typ)
		}
	}
}

func TestRolloutMessageRoundsTheSum(t *testing.T) {
	ids := map[string]bool{"a": true, "b": true}
	err := rollout("rules[0].variations", []codec.RolloutVariation{
		{ID: "a", Rollout: [2]float64{0, 0.3}}, {ID: "b", Rollout: [2]float64{0.3, 0.3 + 0.6}}}, ids)
	if err == nil || !strings.Contains(err.Error(), "(they sum to 90%)") {
		t.Fatalf("err = %v, want the sum shown as 90%%", err)
	}
}
