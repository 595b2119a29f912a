package eval

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/codec"
)

func TestExplain(t *testing.T) {
	f, segs, u := prodCase(t)
	e := Explain(f, segs, u)
	if e.Result != Evaluate(f, segs, u) {
		t.Fatalf("Explain.Result %+v differs from Evaluate", e.Result)
	}
	if len(e.Rules) != 3 || e.Rules[0].Matched || e.Rules[1].Matched || !e.Rules[2].Matched {
		t.Fatalf("rules trace %+v", e.Rules)
	}
	r0 := e.Rules[0].Conditions
	if !r0[0].Matched || r0[0].UserValue != "camille.martin@example.com" || !r0[1].Matched || r0[2].Matched || r0[2].UserValue != "customer" {
		t.Errorf("rule 0 conditions %+v", r0)
	}
	seg := e.Rules[2].Conditions[0]
	if len(seg.Segments) != 1 || !seg.Segments[0].Matched || seg.Segments[0].By != "rule" || seg.Segments[0].Name != "eu beta testers" {
		t.Errorf("segment trace %+v", seg)
	}
	d := e.Dispatch
	if d == nil || d.Input != f.Src.Key+u.KeyID || d.Bucket != refBucket(d.Input) || d.Selected < 0 || !d.IncludedInExpt {
		t.Fatalf("dispatch trace %+v", d)
	}
	if d.Variations[d.Selected].ID != e.Result.Variation.ID {
		t.Errorf("selected %s, served %s", d.Variations[d.Selected].ID, e.Result.Variation.ID)
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"matchReason":"eu beta 50/50"`, `"kind":"rule"`, `"by":"rule"`, `"evaluated":true`, `"bucket":`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s: %s", want, b)
		}
	}
}

func TestExplainShortCircuitAndErrors(t *testing.T) {
	fl := newFlag("explain-errors")
	fl.Rules = []codec.Rule{{Name: "r", Variations: serve(vTrue), Conditions: []codec.Condition{
		cond("email", OpMatchRegex, "(["), cond("plan", OpEqual, "gold"),
	}}}
	cf, errs := CompileFlag(fl)
	if len(errs) != 1 || !hasErr(errs, ErrBadRegex) || !strings.Contains(errs[0].Error(), "rules[0].conditions[0]") {
		t.Fatalf("errors %v", errs)
	}
	e := Explain(cf, nil, user("u", "plan", "gold"))
	c := e.Rules[0].Conditions
	if c[0].Error == "" || c[0].Matched || !c[0].Evaluated || c[1].Evaluated {
		t.Errorf("conditions %+v", c)
	}
	if e.Result.Kind != ReasonFallthrough || e.Dispatch == nil || e.Dispatch.Selected != 0 {
		t.Errorf("explanation %+v", e)
	}
	fl.TargetUsers = []codec.TargetUser{{KeyIDs: []string{"x"}}, {KeyIDs: []string{"u"}, VariationID: vTrue}}
	e = Explain(mustCompileAllowing(t, fl), nil, user("u"))
	if e.TargetedBy != 1 || e.Dispatch != nil || len(e.Rules) != 0 {
		t.Errorf("targeted explanation %+v", e)
	}
}

func mustCompileAllowing(t *testing.T, f *codec.Flag) *Flag {
	cf, _ := CompileFlag(f)
	return cf
}
