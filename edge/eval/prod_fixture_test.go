package eval

import (
	"testing"

	"github.com/switchyard/switchyard/codec"
)

// prodCase is a production-sized evaluation: 3 rules × 3 conditions (one a
// segment condition), a 36-character user id, and a percentage rollout with
// experiment sampling (half of each arm) on the matching rule, so two MD5 hashes run. The user fails rules 0 and 1 on
// their last condition, so every condition is evaluated.
func prodCase(t testing.TB) (*Flag, Segments, *User) {
	const segID = "9b2f6c1e-3d4a-4b5c-8e7f-0a1b2c3d4e5f"
	f := &codec.Flag{
		ID: "2516ebd3-7571-4fbc-9144-af98005e3b5a", Key: "checkout-page-redesign-2026", Name: "Checkout page redesign",
		VariationType: "string",
		Variations: []codec.Variation{
			{ID: "e43f54c0-5a6b-4c7d-8e9f-0a1b2c3d4e5f", Name: "control", Value: "control"},
			{ID: "94db52f0-1a2b-4c3d-9e4f-5a6b7c8d9e0f", Name: "treatment", Value: "treatment"},
		},
		IsEnabled: true, DisabledVariationID: "e43f54c0-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
		TargetUsers: []codec.TargetUser{{KeyIDs: []string{"3eacb184-2d79-49df-9ea7-edd4f10e4c6f", "qa-team-member-0001"},
			VariationID: "94db52f0-1a2b-4c3d-9e4f-5a6b7c8d9e0f"}},
		Rules: []codec.Rule{
			{ID: "r0", Name: "internal staff", Conditions: []codec.Condition{
				cond("email", OpEndsWith, "@example.com"),
				cond("country", OpIsOneOf, `["fr","de","es","it","nl","be","pt","pl","se","dk","fi","ie"]`),
				cond("role", OpEqual, "staff"),
			}, Variations: serve("94db52f0-1a2b-4c3d-9e4f-5a6b7c8d9e0f")},
			{ID: "r1", Name: "power users on new app", Conditions: []codec.Condition{
				cond("orders", OpBiggerEqualThan, "10"),
				cond("appVersion", OpSemVerGreaterEqualThan, "4.2.0"),
				cond("phone", OpMatchRegex, `^\+33[1-9][0-9]{8}$`),
			}, Variations: serve("94db52f0-1a2b-4c3d-9e4f-5a6b7c8d9e0f")},
			{ID: "r2", Name: "eu beta 50/50", DispatchKey: "keyId", IncludedInExpt: true, Conditions: []codec.Condition{
				{Property: PropInSegment, Value: `["` + segID + `"]`},
				cond("plan", OpNotEqual, "free"),
				cond("signupDate", OpBefore, "2026-06-01T00:00:00Z"),
			}, Variations: []codec.RolloutVariation{
				{ID: "e43f54c0-5a6b-4c7d-8e9f-0a1b2c3d4e5f", Rollout: [2]float64{0, 0.5}, ExptRollout: 0.25},
				{ID: "94db52f0-1a2b-4c3d-9e4f-5a6b7c8d9e0f", Rollout: [2]float64{0.5, 1}, ExptRollout: 0.25},
			}},
		},
		Fallthrough: codec.Fallthrough{Variations: serve("e43f54c0-5a6b-4c7d-8e9f-0a1b2c3d4e5f")},
	}
	seg := &codec.Segment{ID: segID, Name: "eu beta testers",
		Included: []string{"0d6f3a2b-8c4e-4f1a-9b7d-5e2c1a0f9e8d"},
		Excluded: []string{"7c1e9a3f-2b4d-4e6a-8f0c-1d3b5a7e9c2f"},
		Rules: []codec.SegmentRule{{Name: "eu", Conditions: []codec.Condition{
			cond("country", OpIsOneOf, `["fr","de","es","it","nl"]`),
			cond("betaOptIn", OpIsTrue, "IsTrue"),
		}}}}
	u := &User{KeyID: "5f2b8e4a-9c1d-4a7e-b3f6-8d0e2c4a6b19", Name: "Camille Martin", Props: []codec.UserProp{
		{Name: "email", Value: "camille.martin@example.com"},
		{Name: "country", Value: "fr"},
		{Name: "role", Value: "customer"},
		{Name: "orders", Value: "42"},
		{Name: "appVersion", Value: "4.3.1"},
		{Name: "phone", Value: "+4915112345678"},
		{Name: "betaOptIn", Value: "true"},
		{Name: "plan", Value: "pro"},
		{Name: "signupDate", Value: "2025-09-14T08:30:00Z"},
	}}
	return mustCompile(t, f), mustSegments(t, seg), u
}

func TestProdCaseTakesTheRolloutRule(t *testing.T) {
	f, segs, u := prodCase(t)
	got := Evaluate(f, segs, u)
	if got.Kind != ReasonRule || got.RuleIndex != 2 || got.MatchReason != "eu beta 50/50" || got.Variation == nil {
		t.Fatalf("got %+v", got)
	}
	b := refBucket(f.Src.Key + u.KeyID)
	want := "control"
	if b > 0.5 {
		want = "treatment"
	}
	if got.Variation.Value != want {
		t.Errorf("variation %q, want %q (bucket %v)", got.Variation.Value, want, b)
	}
	if wantExpt := refBucket("expt"+f.Src.Key+u.KeyID) <= 0.5; got.SendToExperiment != wantExpt {
		t.Errorf("SendToExperiment = %v, want %v", got.SendToExperiment, wantExpt)
	}
}

func TestEvaluateIsAllocationFree(t *testing.T) {
	f, segs, u := prodCase(t)
	targeted := *u
	targeted.KeyID = "3eacb184-2d79-49df-9ea7-edd4f10e4c6f"
	long := *u
	long.KeyID = string(make([]byte, 400)) // dispatch input beyond the stack scratch: pooled
	for _, tc := range []struct {
		name string
		u    *User
	}{{"rules+segment+rollout", u}, {"targeted", &targeted}, {"long key", &long}} {
		if raceEnabled && tc.u == &long {
			continue // the race detector makes sync.Pool drop buffers
		}
		for i := 0; i < 100; i++ { // warm up regexp and buffer pools
			Evaluate(f, segs, tc.u)
		}
		if n := testing.AllocsPerRun(1000, func() { Evaluate(f, segs, tc.u) }); n != 0 {
			t.Errorf("%s: Evaluate allocates %v times per run, want 0", tc.name, n)
		}
	}
}

// TestEvaluateConcurrent shares one compiled flag and segment set between
// goroutines (run with -race).
func TestEvaluateConcurrent(t *testing.T) {
	f, segs, u := prodCase(t)
	want := Evaluate(f, segs, u)
	errs := make(chan string, 4)
	for g := 0; g < 4; g++ {
		go func() {
			uu := *u
			for i := 0; i < 500; i++ {
				if got := Evaluate(f, segs, &uu); got != want {
					errs <- "different result"
					return
				}
				Explain(f, segs, &uu)
			}
			errs <- ""
		}()
	}
	for g := 0; g < 4; g++ {
		if e := <-errs; e != "" {
			t.Error(e)
		}
	}
}
