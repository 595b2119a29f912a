package eval

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/switchyard/switchyard/codec"
)

// fuzzReader turns fuzz bytes into choices, deterministically; when the
// bytes run out every choice is 0.
type fuzzReader struct{ b []byte }

func (r *fuzzReader) byte() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *fuzzReader) n(max int) int { return int(r.byte()) % max }

func (r *fuzzReader) bool() bool { return r.byte()&1 == 1 }

var fuzzSegIDs = []string{"seg-a", "seg-b", "seg-missing"}

var fuzzVocab = []string{
	"", " ", "keyId", "name", "age", "country", "plan", "version", "when", "x",
	PropInSegment, PropNotInSegment, "10", "-3.5", "1,000", "1e400", "NaN", "abc", "true", "FALSE",
	`["fr","de"]`, `[]`, `["seg-a"]`, `["seg-b","seg-missing"]`, `["seg-a","seg-b"]`, `[1]`, "null", "[",
	"(", "^a.*z$", `\d+`, "a(?=b)", "1.2.3", "1.2.3-rc.1+b", "v1", "2026-01-01T00:00:00Z", "1767225600000",
	"fr", "de", "日本語", "user-1", "user-2", "seg-a", "Infinity",
}

func (r *fuzzReader) str() string {
	k := r.byte()
	if k < 224 {
		return fuzzVocab[int(k)%len(fuzzVocab)]
	}
	l := r.n(40)
	if l > len(r.b) {
		l = len(r.b)
	}
	s := string(r.b[:l])
	r.b = r.b[l:]
	return s
}

func (r *fuzzReader) op() string {
	k := r.n(len(Operators) + 3)
	if k < len(Operators) {
		return Operators[k]
	}
	return r.str()
}

func (r *fuzzReader) float() float64 {
	vals := []float64{0, 1, 0.5, 0.25, 0.75, 0.999995, 1e-9, -1, 2, math.NaN(), math.Inf(1)}
	k := r.byte()
	if int(k) < len(vals) {
		return vals[k]
	}
	return float64(k) / 255
}

func (r *fuzzReader) conditions() []codec.Condition {
	cs := make([]codec.Condition, r.n(4))
	for i := range cs {
		cs[i] = codec.Condition{Property: r.str(), Op: r.op(), Value: r.str()}
	}
	return cs
}

func (r *fuzzReader) rollout(ids []string) []codec.RolloutVariation {
	vs := make([]codec.RolloutVariation, r.n(4))
	for i := range vs {
		vs[i] = codec.RolloutVariation{ID: ids[r.n(len(ids))], Rollout: [2]float64{r.float(), r.float()}, ExptRollout: r.float()}
	}
	return vs
}

// decodeFuzz builds a flag, two segments and a user from data.
func decodeFuzz(data []byte) (*codec.Flag, []*codec.Segment, *User) {
	r := &fuzzReader{b: data}
	ids := []string{"v0", "v1", "v2", "unknown"}
	f := &codec.Flag{
		Key: r.str(), IsEnabled: r.byte() != 0, IsArchived: r.byte() == 1, ExptIncludeAllTargets: r.bool(),
		DisabledVariationID: ids[r.n(len(ids))],
		Variations:          []codec.Variation{{ID: "v0", Value: "a"}, {ID: "v1", Value: "b"}, {ID: "v2", Value: "c"}},
	}
	for i := r.n(3); i > 0; i-- {
		f.TargetUsers = append(f.TargetUsers, codec.TargetUser{KeyIDs: []string{r.str(), r.str()}, VariationID: ids[r.n(len(ids))]})
	}
	for i := r.n(5); i > 0; i-- {
		f.Rules = append(f.Rules, codec.Rule{Name: r.str(), DispatchKey: r.str(), IncludedInExpt: r.bool(),
			Conditions: r.conditions(), Variations: r.rollout(ids)})
	}
	f.Fallthrough = codec.Fallthrough{DispatchKey: r.str(), IncludedInExpt: r.bool(), Variations: r.rollout(ids)}
	var segs []*codec.Segment
	for _, id := range fuzzSegIDs[:2] {
		s := &codec.Segment{ID: id, Name: id, IsArchived: r.bool(), Included: []string{r.str()}, Excluded: []string{r.str()}}
		for i := r.n(3); i > 0; i-- {
			s.Rules = append(s.Rules, codec.SegmentRule{Name: r.str(), Conditions: r.conditions()})
		}
		segs = append(segs, s)
	}
	u := &User{KeyID: r.str(), Name: r.str()}
	for i := r.n(5); i > 0; i-- {
		u.Props = append(u.Props, codec.UserProp{Name: r.str(), Value: r.str()})
	}
	return f, segs, u
}

func FuzzEvaluate(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x05\x01\x00\x01\x02\x02\x04\x02\x0a\x0c\x0b\x02"))
	f.Add([]byte{39, 1, 0, 0, 1, 1, 40, 41, 1, 2, 9, 3, 3, 12, 0, 12, 2, 0, 5, 5, 7, 1, 3, 6, 2, 9, 3, 10, 20})
	for i := 0; i < 16; i++ {
		seed := make([]byte, 64)
		for j := range seed {
			seed[j] = byte(i*37 + j*11)
		}
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		src, segSrc, u := decodeFuzz(data)
		flag, _ := CompileFlag(src)
		segs := Segments{}
		for _, s := range segSrc {
			cs, _ := CompileSegment(s)
			segs[s.ID] = cs
		}
		got := Evaluate(flag, segs, u)
		if again := Evaluate(flag, segs, u); again != got {
			t.Fatalf("not deterministic: %+v then %+v", got, again)
		}
		checkResult(t, flag, got)
		ex := Explain(flag, segs, u)
		if ex.Result != got {
			t.Fatalf("Explain.Result %+v != Evaluate %+v", ex.Result, got)
		}
		checkExplanation(t, flag, ex)
		if _, err := json.Marshal(ex); err != nil && !hasNonFinite(ex) {
			t.Fatalf("explanation does not marshal: %v", err)
		}
	})
}

func checkResult(t *testing.T, f *Flag, r Result) {
	t.Helper()
	if r.Variation != nil {
		ok := false
		for i := range f.Src.Variations {
			ok = ok || r.Variation == &f.Src.Variations[i]
		}
		if !ok {
			t.Fatalf("variation %p is not one of the flag's", r.Variation)
		}
	}
	switch r.Kind {
	case ReasonArchived:
		if !f.Src.IsArchived || r.Variation != nil || r.MatchReason != MatchArchived || r.SendToExperiment || r.RuleIndex != -1 {
			t.Fatalf("bad archived result %+v", r)
		}
	case ReasonDisabled:
		if f.Src.IsArchived || f.Src.IsEnabled || r.MatchReason != MatchDisabled || r.SendToExperiment {
			t.Fatalf("bad disabled result %+v", r)
		}
	case ReasonTargeted:
		if r.MatchReason != MatchTargeted || r.SendToExperiment != f.Src.ExptIncludeAllTargets {
			t.Fatalf("bad targeted result %+v", r)
		}
	case ReasonRule:
		if r.RuleIndex < 0 || r.RuleIndex >= len(f.Src.Rules) || r.MatchReason != f.Src.Rules[r.RuleIndex].Name {
			t.Fatalf("bad rule result %+v", r)
		}
	case ReasonFallthrough:
		if r.MatchReason != MatchFallthrough || r.RuleIndex != -1 {
			t.Fatalf("bad fallthrough result %+v", r)
		}
	default:
		t.Fatalf("unknown kind %v", r.Kind)
	}
	if f.Src.ExptIncludeAllTargets && (r.Kind == ReasonRule || r.Kind == ReasonFallthrough) && !r.SendToExperiment {
		t.Fatalf("exptIncludeAllTargets but not sent: %+v", r)
	}
}

func checkExplanation(t *testing.T, f *Flag, e Explanation) {
	t.Helper()
	r := e.Result
	if (r.Kind == ReasonTargeted) != (e.TargetedBy >= 0) {
		t.Fatalf("TargetedBy %d for %v", e.TargetedBy, r.Kind)
	}
	for i, rt := range e.Rules {
		last := i == len(e.Rules)-1
		if rt.Matched && (!last || r.Kind != ReasonRule || r.RuleIndex != rt.Index) {
			t.Fatalf("trace rule %d matched but result is %+v", rt.Index, r)
		}
	}
	if r.Kind == ReasonRule || r.Kind == ReasonFallthrough {
		d := e.Dispatch
		if d == nil {
			t.Fatalf("no dispatch trace for %+v", r)
		}
		if d.SendToExperiment != r.SendToExperiment {
			t.Fatalf("dispatch trace expt %v, result %v", d.SendToExperiment, r.SendToExperiment)
		}
		if d.Selected < 0 && r.Variation != nil {
			t.Fatalf("no selected rollout but variation %v", r.Variation.ID)
		}
		if d.Selected >= 0 && r.Variation != nil && d.Variations[d.Selected].ID != r.Variation.ID {
			t.Fatalf("selected %s, served %s", d.Variations[d.Selected].ID, r.Variation.ID)
		}
		if d.Bucket != refBucket(d.Input) {
			t.Fatalf("bucket %v of %q, want %v", d.Bucket, d.Input, refBucket(d.Input))
		}
	} else if e.Dispatch != nil {
		t.Fatalf("dispatch trace for %v", r.Kind)
	}
}

// hasNonFinite reports whether the trace holds NaN or ±Inf (fuzzed rollout
// ranges), which encoding/json cannot encode.
func hasNonFinite(e Explanation) bool {
	if e.Dispatch == nil {
		return false
	}
	bad := func(x float64) bool { return math.IsNaN(x) || math.IsInf(x, 0) }
	for _, v := range e.Dispatch.Variations {
		if bad(v.Rollout[0]) || bad(v.Rollout[1]) || bad(v.ExptRollout) {
			return true
		}
	}
	return bad(e.Dispatch.ExptUpper)
}
