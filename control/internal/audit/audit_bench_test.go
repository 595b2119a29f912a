package audit

import (
	"fmt"
	"testing"

	"github.com/switchyard/switchyard/codec"
)

// BenchmarkFlagDiff diffs a flag with 20 rules of 3 conditions where one
// condition changed (the audit log's work per flag write).
func BenchmarkFlagDiff(b *testing.B) {
	mk := func() *codec.Flag {
		f := demo()
		f.Rules = nil
		for i := range 20 {
			r := codec.Rule{ID: fmt.Sprint("r", i), Name: fmt.Sprint("rule ", i), Variations: []codec.RolloutVariation{{ID: "t", Rollout: [2]float64{0, 1}}}}
			for j := range 3 {
				r.Conditions = append(r.Conditions, codec.Condition{ID: fmt.Sprint("c", i, j), Property: "country", Op: "IsOneOf", Value: `["FR","DE","IT"]`})
			}
			f.Rules = append(f.Rules, r)
		}
		return f
	}
	before, after := mk(), mk()
	after.Rules[7].Conditions[1].Value = `["FR"]`
	b.ReportAllocs()
	for b.Loop() {
		if d := Flag(before, after, nil); len(d) != 1 {
			b.Fatal(d)
		}
	}
}
