package eval

import "github.com/switchyard/switchyard/codec"

// Reason is the kind of evaluation result.
type Reason uint8

// Result kinds, in evaluation order.
const (
	ReasonArchived Reason = iota + 1
	ReasonDisabled
	ReasonTargeted
	ReasonRule
	ReasonFallthrough
)

// Match reasons on the wire (FeatBit's matchReason); a rule match sends the
// rule's name.
const (
	MatchArchived    = "flag archived"
	MatchDisabled    = "flag disabled"
	MatchTargeted    = "targeted"
	MatchFallthrough = "default"
)

var reasonNames = [...]string{
	ReasonArchived: "archived", ReasonDisabled: "disabled", ReasonTargeted: "targeted",
	ReasonRule: "rule", ReasonFallthrough: "fallthrough",
}

func (r Reason) String() string {
	if int(r) < len(reasonNames) && reasonNames[r] != "" {
		return reasonNames[r]
	}
	return "unknown"
}

// MarshalText encodes the reason as its String.
func (r Reason) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// Result is the outcome of one evaluation.
type Result struct {
	// Variation is nil when the flag is archived, when no rollout range
	// contains the user's bucket, or when the served variation id is not one
	// of the flag's variations (e.g. a missing disabled variation). It
	// points into the flag's Src.Variations.
	Variation *codec.Variation `json:"variation"`
	Kind      Reason           `json:"kind"`
	// RuleIndex is the index of the matching rule for ReasonRule, else -1.
	RuleIndex int `json:"ruleIndex"`
	// MatchReason is the wire string: "flag archived", "flag disabled",
	// "targeted", the rule's name, or "default".
	MatchReason      string `json:"matchReason"`
	SendToExperiment bool   `json:"sendToExperiment"`
}

// Evaluate returns the variation FeatBit's evaluation server serves u for f:
// archived, then disabled, then individual targeting, then the rules in order
// (first whose conditions all match), then the fallthrough. segs holds the
// environment's segments (a missing segment contains nobody; nil is allowed).
// f and u must not be nil. Evaluate does not allocate (dispatch inputs longer
// than 256 bytes use pooled buffers) and is safe for concurrent use.
func Evaluate(f *Flag, segs Segments, u *User) Result {
	if f.archived {
		return Result{Kind: ReasonArchived, RuleIndex: -1, MatchReason: MatchArchived}
	}
	if !f.enabled {
		return Result{Variation: f.disabled, Kind: ReasonDisabled, RuleIndex: -1, MatchReason: MatchDisabled}
	}
	if v, ok := f.targets[u.KeyID]; ok {
		return Result{Variation: v, Kind: ReasonTargeted, RuleIndex: -1, MatchReason: MatchTargeted, SendToExperiment: f.exptAll}
	}
	for i := range f.rules {
		r := &f.rules[i]
		if allMatch(r.conds, segs, u) {
			v, expt := f.dispatch(&r.ro, u)
			return Result{Variation: v, Kind: ReasonRule, RuleIndex: i, MatchReason: r.name, SendToExperiment: expt}
		}
	}
	v, expt := f.dispatch(&f.fall, u)
	return Result{Variation: v, Kind: ReasonFallthrough, RuleIndex: -1, MatchReason: MatchFallthrough, SendToExperiment: expt}
}

// dispatch picks the first rollout variation whose range contains u's bucket
// and decides experiment inclusion.
func (f *Flag) dispatch(ro *rollout, u *User) (*codec.Variation, bool) {
	attr := ro.attr(u)
	var b float64
	hashed := false
	for i := range ro.variations {
		rv := &ro.variations[i]
		if needsBucket(rv.lo, rv.hi) && !hashed {
			b, hashed = bucket3(f.key, attr, ""), true
		}
		if inRange(rv.lo, rv.hi, b) {
			return rv.v, f.sendToExperiment(ro, rv, attr)
		}
	}
	return nil, f.sendToExperiment(ro, nil, attr)
}

func (ro *rollout) attr(u *User) string {
	if ro.byKeyID {
		return u.KeyID
	}
	return ro.dispatch.get(u)
}

// sendToExperiment follows FeatBit: all targets when exptIncludeAllTargets,
// none when the rule is not in the experiment, otherwise the share
// exptRollout/width of the selected range, sampled with the "expt" prefix.
func (f *Flag) sendToExperiment(ro *rollout, rv *rolloutVariation, attr string) bool {
	if f.exptAll {
		return true
	}
	if !ro.inExpt || rv == nil {
		return false
	}
	upper, ok := exptUpper(rv)
	if !ok {
		return false
	}
	if !needsBucket(0, upper) {
		return inRange(0, upper, 0)
	}
	return inRange(0, upper, bucket3("expt", f.key, attr))
}

// exptUpper is the upper end of the experiment range [0, upper]; ok is false
// when the variation's exptRollout or width is 0.
func exptUpper(rv *rolloutVariation) (float64, bool) {
	width := rv.hi - rv.lo
	if rv.expt == 0 || width == 0 {
		return 0, false
	}
	return min(rv.expt/width, 1), true
}
