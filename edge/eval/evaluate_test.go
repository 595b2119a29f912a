package eval

import (
	"fmt"
	"math"
	"testing"

	"github.com/switchyard/switchyard/codec"
)

func TestEvaluateOrder(t *testing.T) {
	f := newFlag("order-flag")
	f.ExptIncludeAllTargets = true
	f.TargetUsers = []codec.TargetUser{
		{KeyIDs: []string{"alice", "bob"}, VariationID: vTrue},
		{KeyIDs: []string{"bob", "carol"}, VariationID: vThird}, // bob: the first entry wins
	}
	f.Rules = []codec.Rule{
		{Name: "gold users", Conditions: []codec.Condition{cond("plan", OpEqual, "gold")}, Variations: serve(vThird)},
		{Name: "everyone else in fr", Conditions: []codec.Condition{cond("country", OpEqual, "fr")}, Variations: serve(vTrue)},
		{Name: "catch-all", Conditions: nil, Variations: serve(vTrue)}, // empty: matches
	}
	check := func(t *testing.T, f *codec.Flag, u *User, kind Reason, rule int, reason, variation string) {
		t.Helper()
		got := Evaluate(mustCompile(t, f), nil, u)
		if got.Kind != kind || got.RuleIndex != rule || got.MatchReason != reason || variationID(got) != variation {
			t.Errorf("Evaluate(%s) = {%v rule %d %q %s}, want {%v rule %d %q %s}", u.KeyID,
				got.Kind, got.RuleIndex, got.MatchReason, variationID(got), kind, rule, reason, variation)
		}
	}
	check(t, f, user("alice", "plan", "gold"), ReasonTargeted, -1, "targeted", vTrue)
	check(t, f, user("bob"), ReasonTargeted, -1, "targeted", vTrue)
	check(t, f, user("carol"), ReasonTargeted, -1, "targeted", vThird)
	check(t, f, user("Alice", "plan", "gold"), ReasonRule, 0, "gold users", vThird) // key ids are case-sensitive
	check(t, f, user("dave", "country", "fr", "plan", "gold"), ReasonRule, 0, "gold users", vThird)
	check(t, f, user("erin", "country", "fr"), ReasonRule, 1, "everyone else in fr", vTrue)
	check(t, f, user("frank"), ReasonRule, 2, "catch-all", vTrue)

	f.Rules = f.Rules[:2]
	check(t, f, user("frank"), ReasonFallthrough, -1, "default", vFalse)

	f.IsEnabled = false
	check(t, f, user("alice"), ReasonDisabled, -1, "flag disabled", vFalse)
	f.IsArchived = true
	check(t, f, user("alice"), ReasonArchived, -1, "flag archived", "<nil>")
	f.IsEnabled = true
	check(t, f, user("alice"), ReasonArchived, -1, "flag archived", "<nil>")
}

func TestEvaluateAllConditionsMustMatch(t *testing.T) {
	f := newFlag("and-flag")
	f.Rules = []codec.Rule{{Name: "r", Variations: serve(vTrue), Conditions: []codec.Condition{
		cond("age", OpBiggerThan, "22"), cond("country", OpIsOneOf, `["cn","us"]`), cond("member", OpIsTrue, "IsTrue"),
	}}}
	cf := mustCompile(t, f)
	for _, tc := range []struct {
		u    *User
		want string
	}{
		{user("u1", "age", "30", "country", "us", "member", "true"), vTrue},
		{user("u2", "age", "20", "country", "us", "member", "true"), vFalse},
		{user("u3", "age", "30", "country", "fr", "member", "true"), vFalse},
		{user("u4", "age", "30", "country", "us"), vFalse},
		{user("u5"), vFalse},
	} {
		if got := variationID(Evaluate(cf, nil, tc.u)); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.u.KeyID, got, tc.want)
		}
	}
}

func TestDisabledVariationMissing(t *testing.T) {
	f := newFlag("disabled-missing")
	f.IsEnabled = false
	f.DisabledVariationID = "no-such-variation"
	cf, errs := CompileFlag(f)
	if !hasErr(errs, ErrUnknownVariation) {
		t.Errorf("errors = %v, want ErrUnknownVariation", errs)
	}
	got := Evaluate(cf, nil, user("u"))
	if got.Variation != nil || got.Kind != ReasonDisabled || got.MatchReason != "flag disabled" || got.SendToExperiment {
		t.Errorf("got %+v", got)
	}
}

const (
	segGold   = "5e1d2c3b-0000-4a00-8000-00000000000a"
	segBeta   = "5e1d2c3b-0000-4a00-8000-00000000000b"
	segGone   = "5e1d2c3b-0000-4a00-8000-00000000000c"
	segBroken = "5e1d2c3b-0000-4a00-8000-00000000000d"
)

func testSegments(t *testing.T) Segments {
	gold := &codec.Segment{ID: segGold, Name: "gold",
		Included: []string{"in-1", "both-1"},
		Excluded: []string{"out-1", "both-1"},
		Rules: []codec.SegmentRule{
			{Name: "vip", Conditions: []codec.Condition{cond("plan", OpEqual, "vip"), cond("age", OpBiggerEqualThan, "18")}},
			{Name: "staff", Conditions: []codec.Condition{cond("email", OpEndsWith, "@switchyard.dev")}},
		}}
	beta := &codec.Segment{ID: segBeta, Name: "beta (archived)", IsArchived: true, Included: []string{"beta-1"}}
	segs := mustSegments(t, gold, beta)
	broken := &codec.Segment{ID: segBroken, Name: "broken", Rules: []codec.SegmentRule{
		{Name: "nested", Conditions: []codec.Condition{{Property: PropInSegment, Value: `["` + segGold + `"]`}}},
		{Name: "bad regex", Conditions: []codec.Condition{cond("email", OpMatchRegex, "([")}},
	}}
	cs, errs := CompileSegment(broken)
	if len(errs) != 2 || !hasErr(errs, ErrUnknownOperator) || !hasErr(errs, ErrBadRegex) {
		t.Fatalf("CompileSegment(broken) errors = %v", errs)
	}
	segs[segBroken] = cs
	return segs
}

func TestSegmentConditions(t *testing.T) {
	segs := testSegments(t)
	in := func(ids ...string) string { return jsonList(ids) }
	cases := []struct {
		prop, value string
		u           *User
		want        bool
	}{
		{PropInSegment, in(segGold), user("in-1"), true},
		{PropInSegment, in(segGold), user("out-1", "plan", "vip", "age", "40"), false}, // excluded wins over rules
		{PropInSegment, in(segGold), user("both-1"), false},                            // excluded wins over included
		{PropInSegment, in(segGold), user("r-1", "plan", "vip", "age", "18"), true},
		{PropInSegment, in(segGold), user("r-2", "plan", "vip", "age", "17"), false},
		{PropInSegment, in(segGold), user("r-3", "email", "ann@switchyard.dev"), true},
		{PropInSegment, in(segGold), user("nobody"), false},
		{PropInSegment, in(segBeta), user("beta-1"), true}, // archived segments still match
		{PropInSegment, in(segGone), user("in-1"), false},  // missing segment: no match
		{PropInSegment, in(segGone, segGold), user("in-1"), true},
		{PropInSegment, in(), user("in-1"), false},
		{PropInSegment, in(segBroken), user("in-1"), false}, // nested segment conditions do not recurse
		{PropNotInSegment, in(segGold), user("in-1"), false},
		{PropNotInSegment, in(segGold), user("nobody"), true},
		{PropNotInSegment, in(segGone), user("in-1"), true},
		{PropNotInSegment, in(segGone, segGold), user("in-1"), false},
		{PropNotInSegment, in(), user("in-1"), true},
	}
	for i, tc := range cases {
		for _, op := range []string{"", "Equal", "garbage"} { // op is ignored for segment conditions
			f := newFlag(fmt.Sprintf("segment-flag-%d", i))
			f.Rules = []codec.Rule{{Name: "seg", Conditions: []codec.Condition{{Property: tc.prop, Op: op, Value: tc.value}}, Variations: serve(vTrue)}}
			got := Evaluate(mustCompile(t, f), segs, tc.u).Kind == ReasonRule
			if got != tc.want {
				t.Errorf("case %d (%s %s, op %q, user %s) = %v, want %v", i, tc.prop, tc.value, op, tc.u.KeyID, got, tc.want)
			}
		}
	}
	// nil segments: everything is missing
	f := newFlag("nil-segments")
	f.Rules = []codec.Rule{{Name: "seg", Conditions: []codec.Condition{{Property: PropNotInSegment, Value: in(segGold)}}, Variations: serve(vTrue)}}
	if got := Evaluate(mustCompile(t, f), nil, user("in-1")); got.Kind != ReasonRule {
		t.Errorf("not-in with nil segments: %+v", got)
	}
}

func TestSegmentBadList(t *testing.T) {
	for _, prop := range []string{PropInSegment, PropNotInSegment} {
		for _, value := range []string{segGold, "null", `[1]`, ""} {
			f := newFlag("bad-seg-list")
			f.Rules = []codec.Rule{{Name: "seg", Conditions: []codec.Condition{{Property: prop, Value: value}}, Variations: serve(vTrue)}}
			cf, errs := CompileFlag(f)
			if !hasErr(errs, ErrBadList) {
				t.Errorf("%s %q: errors = %v", prop, value, errs)
			}
			if got := Evaluate(cf, testSegments(t), user("nobody")); got.Kind != ReasonFallthrough {
				t.Errorf("%s with bad list %q matched: %+v", prop, value, got)
			}
		}
	}
}

func TestSegmentIDs(t *testing.T) {
	f := newFlag("seg-ids")
	f.Rules = []codec.Rule{
		{Name: "a", Conditions: []codec.Condition{{Property: PropInSegment, Value: jsonList([]string{segGold, segBeta})}}},
		{Name: "b", Conditions: []codec.Condition{cond("x", OpEqual, "y"), {Property: PropNotInSegment, Value: jsonList([]string{segGold, segGone})}}},
	}
	got := mustCompile(t, f).SegmentIDs()
	want := []string{segGold, segBeta, segGone}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("SegmentIDs = %v, want %v", got, want)
	}
	if ids := mustCompile(t, newFlag("no-segs")).SegmentIDs(); len(ids) != 0 {
		t.Errorf("SegmentIDs = %v, want none", ids)
	}
}

func jsonList(ids []string) string {
	s := "["
	for i, id := range ids {
		if i > 0 {
			s += ","
		}
		s += fmt.Sprintf("%q", id)
	}
	return s + "]"
}

func TestRolloutBoundaries(t *testing.T) {
	const key = "checkout-redesign"
	const uid = "8d3c1e52-7a4b-4f09-b1d6-2e9f0a7c5b34"
	b := refBucket(key + uid)
	if b <= 0 || b >= 1 {
		t.Fatalf("fixture bucket %v", b)
	}
	below, above := math.Nextafter(b, 0), math.Nextafter(b, 1)
	split := func(ranges ...[2]float64) []codec.RolloutVariation {
		ids := []string{vTrue, vFalse, vThird}
		var out []codec.RolloutVariation
		for i, r := range ranges {
			out = append(out, codec.RolloutVariation{ID: ids[i], Rollout: r, ExptRollout: 1})
		}
		return out
	}
	for _, tc := range []struct {
		name string
		vars []codec.RolloutVariation
		want string
	}{
		{"shared boundary at bucket: first wins", split([2]float64{0, b}, [2]float64{b, 1}), vTrue},
		{"bucket is lower end", split([2]float64{0, below}, [2]float64{b, 1}), vFalse},
		{"bucket just above first range", split([2]float64{0, below}, [2]float64{below, 1}), vFalse},
		{"bucket just below second range", split([2]float64{0, b}, [2]float64{above, 1}), vTrue},
		{"gap around bucket", split([2]float64{0, below}, [2]float64{above, 1}), "<nil>"},
		{"point range", split([2]float64{0, 0}, [2]float64{b, b}), vFalse},
		{"[0,0] never, [0,1] always", split([2]float64{0, 0}, [2]float64{0, 1}), vFalse},
		{"[0,1] first", split([2]float64{0, 1}, [2]float64{0, 1}), vTrue},
		{"near-1 upper end counts as 1", split([2]float64{0, 0.999991}, [2]float64{0, 1}), vTrue},
		{"no variations", nil, "<nil>"},
		{"three-way", split([2]float64{0, 0}, [2]float64{0, below}, [2]float64{b, 1}), vThird},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFlag(key)
			f.Fallthrough.Variations = tc.vars
			got := Evaluate(mustCompile(t, f), nil, user(uid))
			if variationID(got) != tc.want || got.MatchReason != "default" || got.Kind != ReasonFallthrough {
				t.Errorf("got %s %q, want %s \"default\"", variationID(got), got.MatchReason, tc.want)
			}
			// the same rollout on a rule reports the rule name even with no variation
			f.Fallthrough.Variations = serve(vFalse)
			f.Rules = []codec.Rule{{Name: "rule with rollout", Variations: tc.vars}}
			got = Evaluate(mustCompile(t, f), nil, user(uid))
			if variationID(got) != tc.want || got.MatchReason != "rule with rollout" || got.RuleIndex != 0 {
				t.Errorf("rule: got %s %q, want %s", variationID(got), got.MatchReason, tc.want)
			}
		})
	}
}

func TestRolloutDistribution(t *testing.T) {
	f := newFlag("pricing-page-v2")
	f.Fallthrough.Variations = []codec.RolloutVariation{
		{ID: vTrue, Rollout: [2]float64{0, 0.25}}, {ID: vFalse, Rollout: [2]float64{0.25, 0.75}}, {ID: vThird, Rollout: [2]float64{0.75, 1}},
	}
	cf := mustCompile(t, f)
	counts := map[string]int{}
	for i := 0; i < 4000; i++ {
		uid := fmt.Sprintf("%08x-1111-4222-8333-%012x", i*7919, i)
		b := refBucket(f.Key + uid)
		want := vThird
		if b <= 0.25 {
			want = vTrue
		} else if b <= 0.75 {
			want = vFalse
		}
		got := Evaluate(cf, nil, user(uid))
		if variationID(got) != want {
			t.Fatalf("%s (bucket %v): got %s, want %s", uid, b, variationID(got), want)
		}
		counts[want]++
	}
	if counts[vTrue] == 0 || counts[vFalse] == 0 || counts[vThird] == 0 {
		t.Errorf("degenerate distribution %v", counts)
	}
}

func TestDispatchKey(t *testing.T) {
	const key = "search-ranking"
	// a 50/50 split decided by a custom attribute
	f := newFlag(key)
	f.Fallthrough.Variations = []codec.RolloutVariation{
		{ID: vTrue, Rollout: [2]float64{0, 0.5}}, {ID: vFalse, Rollout: [2]float64{0.5, 1}},
	}
	pick := func(b float64) string {
		if b <= 0.5 {
			return vTrue
		}
		return vFalse
	}
	discriminating := 0 // cases where using keyId instead would change the answer
	for _, tc := range []struct {
		dispatchKey string
		u           *User
		input       string
	}{
		{"", user("user-a", "company", "acme"), key + "user-a"},
		{"  ", user("user-a", "company", "acme"), key + "user-a"}, // blank: keyId
		{"keyId", user("user-a", "company", "acme"), key + "user-a"},
		{"company", user("user-a", "company", "acme"), key + "acme"},
		{"company", user("user-b", "company", "acme"), key + "acme"}, // same company, same bucket
		{"company", user("user-c", "company", "globex"), key + "globex"},
		{"company", user("user-d"), key}, // missing attribute reads as ""
		{"name", &User{KeyID: "user-e", Name: "Eve"}, key + "Eve"},
	} {
		if tc.input != key+tc.u.KeyID && pick(refBucket(tc.input)) != pick(refBucket(key+tc.u.KeyID)) {
			discriminating++
		}
		f.Fallthrough.DispatchKey = tc.dispatchKey
		f.Rules = []codec.Rule{{Name: "r", DispatchKey: tc.dispatchKey, Conditions: []codec.Condition{cond("rule", OpEqual, "yes")}, Variations: f.Fallthrough.Variations}}
		cf := mustCompile(t, f)
		want := pick(refBucket(tc.input))
		if got := Evaluate(cf, nil, tc.u); variationID(got) != want {
			t.Errorf("fallthrough dispatchKey %q user %s: got %s, want %s", tc.dispatchKey, tc.u.KeyID, variationID(got), want)
		}
		ru := *tc.u
		ru.Props = append([]codec.UserProp{{Name: "rule", Value: "yes"}}, ru.Props...)
		if got := Evaluate(cf, nil, &ru); variationID(got) != want || got.Kind != ReasonRule {
			t.Errorf("rule dispatchKey %q user %s: got %s, want %s", tc.dispatchKey, tc.u.KeyID, variationID(got), want)
		}
	}
	if discriminating == 0 {
		t.Error("fixture cannot tell a custom dispatch key from keyId; pick other values")
	}
}
