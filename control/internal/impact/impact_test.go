package impact

import (
	"context"
	"fmt"
	"testing"

	"github.com/switchyard/switchyard/codec"
)

func boolFlag() *codec.Flag {
	return &codec.Flag{ID: "f", Key: "checkout", VariationType: "string", IsEnabled: true, DisabledVariationID: "a",
		Variations:  []codec.Variation{{ID: "a", Name: "A", Value: "a"}, {ID: "b", Name: "B", Value: "b"}, {ID: "c", Name: "C", Value: "c"}},
		Fallthrough: codec.Fallthrough{Variations: []codec.RolloutVariation{{ID: "a", Rollout: [2]float64{0, 1}}}}}
}

// population is n users u0..u{n-1}: country fr for i%3==0, de for i%3==1,
// none for the rest; plan pro for i%5==0.
func population(n int) []codec.EndUser {
	us := make([]codec.EndUser, n)
	for i := range us {
		us[i] = codec.EndUser{KeyID: fmt.Sprint("u", i)}
		switch i % 3 {
		case 0:
			us[i].Props = append(us[i].Props, codec.UserProp{Name: "country", Value: "fr"})
		case 1:
			us[i].Props = append(us[i].Props, codec.UserProp{Name: "country", Value: "de"})
		}
		if i%5 == 0 {
			us[i].Props = append(us[i].Props, codec.UserProp{Name: "plan", Value: "pro"})
		}
	}
	return us
}

func scanOf(us []codec.EndUser) Scanner {
	return func(ctx context.Context, fn func(*codec.EndUser) error) error {
		for i := range us {
			if err := fn(&us[i]); err != nil {
				return err
			}
		}
		return nil
	}
}

// The expected counts are computed from the population's definition, not
// with the evaluator: current serves A to everyone except the targeted u1,
// u2 (B); the proposal targets only u1 with B, sends fr users to C with a
// rule and pro users (not fr) to B with a second rule.
func TestKnownPopulation(t *testing.T) {
	const n = 3000
	cur := boolFlag()
	cur.TargetUsers = []codec.TargetUser{{KeyIDs: []string{"u1", "u2"}, VariationID: "b"}}
	next := boolFlag()
	next.TargetUsers = []codec.TargetUser{{KeyIDs: []string{"u1"}, VariationID: "b"}}
	next.Rules = []codec.Rule{
		{ID: "r1", Name: "French", Conditions: []codec.Condition{{Property: "country", Op: "IsOneOf", Value: `["fr"]`}},
			Variations: []codec.RolloutVariation{{ID: "c", Rollout: [2]float64{0, 1}}}},
		{ID: "r2", Name: "Pro plan", Conditions: []codec.Condition{{Property: "plan", Op: "Equal", Value: "pro"}},
			Variations: []codec.RolloutVariation{{ID: "b", Rollout: [2]float64{0, 1}}}},
	}
	want := map[string]int{} // "from→to" → count
	wantReason := map[string]string{}
	for i := range n {
		from := "a"
		if i == 1 || i == 2 {
			from = "b"
		}
		to := "a"
		switch {
		case i == 1:
			to = "b"
		case i%3 == 0:
			to = "c"
		case i%5 == 0:
			to = "b"
		}
		if from != to {
			k := from + "→" + to
			want[k]++
			switch to {
			case "c":
				wantReason[k] = "French"
			case "b":
				wantReason[k] = "Pro plan"
			default:
				wantReason[k] = "default"
			}
		}
	}
	res, err := Compute(context.Background(), cur, next, nil, scanOf(population(n)), Options{Samples: 3})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	changed := 0
	for _, tr := range res.Transitions {
		k := tr.From.ID + "→" + tr.To.ID
		got[k] = tr.Count
		changed += tr.Count
		if len(tr.Reasons) != 1 || tr.Reasons[0].Reason != wantReason[k] || tr.Reasons[0].Count != tr.Count {
			t.Errorf("%s reasons %+v, want all %q", k, tr.Reasons, wantReason[k])
		}
		if len(tr.Samples) != min(3, tr.Count) {
			t.Errorf("%s: %d samples", k, len(tr.Samples))
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || res.Changed != changed || res.Users != n {
		t.Fatalf("transitions %v (changed %d of %d), want %v", got, res.Changed, res.Users, want)
	}
	for _, s := range res.Served {
		var before, after int
		for i := range n {
			if (i == 1 || i == 2) == (s.Variation.ID == "b") && (s.Variation.ID == "a" || s.Variation.ID == "b") {
				before++
			}
			to := "a"
			switch {
			case i == 1:
				to = "b"
			case i%3 == 0:
				to = "c"
			case i%5 == 0:
				to = "b"
			}
			if to == s.Variation.ID {
				after++
			}
		}
		if s.Before != before || s.After != after {
			t.Errorf("variation %s served before/after %d/%d, want %d/%d", s.Variation.ID, s.Before, s.After, before, after)
		}
	}
}

func TestNoChangeAndCaps(t *testing.T) {
	f := boolFlag()
	res, err := Compute(context.Background(), f, f, nil, scanOf(population(100)), Options{})
	if err != nil || res.Changed != 0 || len(res.Transitions) != 0 || res.Users != 100 {
		t.Fatalf("the same flag: %+v %v", res, err)
	}
	if _, err := Compute(context.Background(), f, f, nil, scanOf(population(100)), Options{MaxUsers: 99}); err != ErrTooMany {
		t.Fatalf("beyond MaxUsers: %v", err)
	}
	var progress []int
	if _, err := Compute(context.Background(), f, f, nil, scanOf(population(100)), Options{ProgressEvery: 30,
		Progress: func(n int) { progress = append(progress, n) }}); err != nil || fmt.Sprint(progress) != "[30 60 90]" {
		t.Fatalf("progress %v %v", progress, err)
	}
	// turning the flag off moves everyone to the disabled variation
	off := boolFlag()
	off.IsEnabled, off.DisabledVariationID = false, "c"
	res, _ = Compute(context.Background(), f, off, nil, scanOf(population(10)), Options{})
	if res.Changed != 10 || res.Transitions[0].Reasons[0].Reason != "flag disabled" {
		t.Fatalf("flag off: %+v", res.Transitions)
	}
}

// BenchmarkCompute is the evaluation cost per end user (the store scan
// is measured by BenchmarkImpactStore in control).
func BenchmarkCompute(b *testing.B) {
	cur := boolFlag()
	next := boolFlag()
	next.Rules = []codec.Rule{{ID: "r1", Name: "French", Conditions: []codec.Condition{{Property: "country", Op: "IsOneOf", Value: `["fr"]`}},
		Variations: []codec.RolloutVariation{{ID: "c", Rollout: [2]float64{0, 1}}}}}
	us := population(100_000)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := Compute(context.Background(), cur, next, nil, scanOf(us), Options{Samples: 5}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(us)), "ns/user")
}
