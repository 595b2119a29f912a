package eval

import (
	"testing"

	"github.com/switchyard/switchyard/codec"
)

// TestSDKDisagreements pins Switchyard's choice on each row of
// docs/evaluation.md's "Where FeatBit's server and SDKs disagree" table. The
// comments name what the others do; Switchyard follows FeatBit's server
// everywhere except where the row says otherwise.
func TestSDKDisagreements(t *testing.T) {
	t.Run("missing attribute", func(t *testing.T) {
		// server: reads ""; Python: None, every positive operator false and
		// every negated one true; Node: undefined
		runOpCases(t, []opCase{
			{op: OpEqual, value: "", missing: true, want: true}, // "" == "" (Python, Node: false)
			{op: OpEqual, value: "x", missing: true, want: false},
			{op: OpNotEqual, value: "x", missing: true, want: true},
			{op: OpContains, value: "", missing: true, want: true}, // (Python: false; Node throws)
			{op: OpNotContain, value: "x", missing: true, want: true},
			{op: OpIsOneOf, value: `[""]`, missing: true, want: true}, // (Python, Node: false)
			{op: OpNotOneOf, value: `["x"]`, missing: true, want: true},
			{op: OpMatchRegex, value: `^$`, missing: true, want: true}, // (Python: false)
			{op: OpNotMatchRegex, value: `x`, missing: true, want: true},
			{op: OpBiggerEqualThan, value: "0", missing: true, want: false}, // "" is no number anywhere
			{op: OpIsFalse, value: "", missing: true, want: false},
		})
	})
	t.Run("regex", func(t *testing.T) {
		// the condition's value is the pattern and the user's value the
		// input (server, Python; Node swaps them), searched unanchored, RE2
		// syntax (server: .NET, Python: re)
		runOpCases(t, []opCase{
			{op: OpMatchRegex, value: `^[a-z]+@example\.com$`, user: "plain@example.com", want: true},
			{op: OpMatchRegex, value: `plain@example.com`, user: `^[a-z]+@example\.com$`, want: false}, // Node: true
			{op: OpMatchRegex, value: `example`, user: "plain@example.com", want: true},                // unanchored
			{op: OpNotMatchRegex, value: `^[0-9]+$`, user: "12a", want: true},
			{op: OpMatchRegex, value: `(?=a)a`, user: "a", want: false, err: ErrBadRegex}, // lookahead: .NET and Python only
			{op: OpNotMatchRegex, value: `(`, user: "a", want: false, err: ErrBadRegex},   // a bad pattern matches nothing
		})
	})
	t.Run("numeric strings", func(t *testing.T) {
		// .NET double.TryParse (server): Python's float() also takes "1_000",
		// "inf", "nan" and rounds to 5 decimals; Node's parseFloat reads the
		// leading number of "12abc" and "1,000"
		runOpCases(t, []opCase{
			{op: OpBiggerEqualThan, value: "18", user: " 18 ", want: true},
			{op: OpBiggerEqualThan, value: "1000", user: "1,000", want: true},  // Python: false; Node: 1 < 1000
			{op: OpBiggerEqualThan, value: "12", user: "12abc", want: false},   // Node: true
			{op: OpBiggerEqualThan, value: "1000", user: "1_000", want: false}, // Python: true
			{op: OpBiggerThan, value: "0", user: "inf", want: false},           // Python: true
			{op: OpBiggerThan, value: "0", user: "Infinity", want: true},
			{op: OpBiggerThan, value: "1.000001", user: "1.000002", want: true}, // Python rounds both to 1.0: false
			{op: OpEqual, value: "30", user: "30.0", want: false},               // Equal compares text everywhere
		})
	})
	t.Run("archived", func(t *testing.T) {
		// an archived flag is not found (server, Python; Node evaluates it)
		f := newFlag("archived")
		f.IsArchived = true
		res := Evaluate(mustCompile(t, f), nil, user("u1"))
		if res.Kind != ReasonArchived || res.Variation != nil || res.MatchReason != MatchArchived {
			t.Fatalf("archived flag: %+v", res)
		}
		// an archived segment still holds its users (server; Python treats
		// it as missing, so "in segment" is false there)
		seg := &codec.Segment{ID: "5a0d9c1e-2b3f-4c5d-8e9f-0a1b2c3d4e5f", Name: "old", IsArchived: true, Included: []string{"u1"}}
		g := newFlag("seg")
		g.Rules = []codec.Rule{{ID: "r1", Name: "in old", Conditions: []codec.Condition{cond("User is in segment", "", `["`+seg.ID+`"]`)}, Variations: serve(vTrue)}}
		if res := Evaluate(mustCompile(t, g), mustSegments(t, seg), user("u1")); variationID(res) != vTrue {
			t.Fatalf("user of an archived segment: %+v", res)
		}
	})
}
