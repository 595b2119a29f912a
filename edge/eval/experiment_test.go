package eval

import (
	"fmt"
	"testing"

	"github.com/switchyard/switchyard/codec"
)

func exptUsers(n int) []*User {
	us := make([]*User, n)
	for i := range us {
		us[i] = user(fmt.Sprintf("c0ffee%02x-5b7d-4c1e-a2f3-%012d", i%256, i))
	}
	return us
}

func TestSendToExperiment(t *testing.T) {
	const key = "onboarding-experiment"
	users := exptUsers(2000)
	// refExpt is FeatBit's rule, computed with the reference bucket.
	refExpt := func(f *codec.Flag, inExpt bool, rv *codec.RolloutVariation, u *User) bool {
		if f.ExptIncludeAllTargets {
			return true
		}
		if !inExpt || rv == nil {
			return false
		}
		w := rv.Rollout[1] - rv.Rollout[0]
		if rv.ExptRollout == 0 || w == 0 {
			return false
		}
		upper := rv.ExptRollout / w
		if upper > 1 {
			upper = 1
		}
		if 1-upper < 1e-5 {
			return true
		}
		b := refBucket("expt" + key + u.KeyID)
		return b <= upper
	}
	for _, tc := range []struct {
		name       string
		all, in    bool
		vars       []codec.RolloutVariation
		wantSome   bool // some users are sent
		wantNotAll bool // some users are not sent
	}{
		{"include all targets", true, false, serve(vTrue), true, false},
		{"not included", false, false, serve(vTrue), false, true},
		{"exptRollout 0", false, true, []codec.RolloutVariation{{ID: vTrue, Rollout: [2]float64{0, 1}, ExptRollout: 0}}, false, true},
		{"everyone", false, true, serve(vTrue), true, false},
		{"partial 30%", false, true, []codec.RolloutVariation{{ID: vTrue, Rollout: [2]float64{0, 1}, ExptRollout: 0.3}}, true, true},
		{"split with partial expt", false, true, []codec.RolloutVariation{
			{ID: vTrue, Rollout: [2]float64{0, 0.5}, ExptRollout: 0.1},
			{ID: vFalse, Rollout: [2]float64{0.5, 1}, ExptRollout: 0.5}}, true, true},
		{"exptRollout above width is capped", false, true, []codec.RolloutVariation{
			{ID: vTrue, Rollout: [2]float64{0, 0.2}, ExptRollout: 0.9},
			{ID: vFalse, Rollout: [2]float64{0.2, 1}, ExptRollout: 0}}, true, true},
		{"no range contains the bucket", false, true, []codec.RolloutVariation{{ID: vTrue, Rollout: [2]float64{0, 0}, ExptRollout: 1}}, false, true},
		{"no range, include all", true, true, []codec.RolloutVariation{{ID: vTrue, Rollout: [2]float64{0, 0}, ExptRollout: 1}}, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, where := range []string{"fallthrough", "rule"} {
				f := newFlag(key)
				f.ExptIncludeAllTargets = tc.all
				if where == "fallthrough" {
					f.Fallthrough = codec.Fallthrough{IncludedInExpt: tc.in, Variations: tc.vars}
				} else {
					// the rule's own includedInExpt counts, not the fallthrough's
					f.Fallthrough = codec.Fallthrough{IncludedInExpt: !tc.in, Variations: serve(vThird)}
					f.Rules = []codec.Rule{{Name: "r", IncludedInExpt: tc.in, Variations: tc.vars}}
				}
				cf := mustCompile(t, f)
				sent := 0
				for _, u := range users {
					got := Evaluate(cf, nil, u)
					var rv *codec.RolloutVariation
					b := refBucket(key + u.KeyID)
					for i := range tc.vars {
						if inRange(tc.vars[i].Rollout[0], tc.vars[i].Rollout[1], b) {
							rv = &tc.vars[i]
							break
						}
					}
					if want := refExpt(f, tc.in, rv, u); got.SendToExperiment != want {
						t.Fatalf("%s %s: SendToExperiment = %v, want %v", where, u.KeyID, got.SendToExperiment, want)
					}
					if got.SendToExperiment {
						sent++
					}
				}
				if tc.wantSome != (sent > 0) || tc.wantNotAll != (sent < len(users)) {
					t.Errorf("%s: %d of %d sent", where, sent, len(users))
				}
			}
		})
	}
}

func TestSendToExperimentTargetedDisabledArchived(t *testing.T) {
	for _, all := range []bool{false, true} {
		f := newFlag("expt-targets")
		f.ExptIncludeAllTargets = all
		f.Fallthrough.IncludedInExpt = true
		f.TargetUsers = []codec.TargetUser{{KeyIDs: []string{"t"}, VariationID: vTrue}}
		if got := Evaluate(mustCompile(t, f), nil, user("t")); got.SendToExperiment != all {
			t.Errorf("targeted, exptIncludeAllTargets=%v: %v", all, got.SendToExperiment)
		}
		f.IsEnabled = false
		if got := Evaluate(mustCompile(t, f), nil, user("t")); got.SendToExperiment {
			t.Errorf("disabled, exptIncludeAllTargets=%v: sent", all)
		}
		f.IsArchived = true
		if got := Evaluate(mustCompile(t, f), nil, user("t")); got.SendToExperiment {
			t.Errorf("archived, exptIncludeAllTargets=%v: sent", all)
		}
	}
}
