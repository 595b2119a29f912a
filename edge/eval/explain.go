package eval

// Explanation is the path one evaluation took, for previews and debugging
// (control's "why does this user get this variation"). Result is exactly
// what Evaluate returns.
type Explanation struct {
	FlagKey   string `json:"flagKey"`
	UserKeyID string `json:"userKeyId"`
	Archived  bool   `json:"archived"`
	Enabled   bool   `json:"enabled"`
	// TargetedBy is the index of the first targetUsers entry listing the
	// user's keyId, or -1 (also when the flag is archived or disabled).
	TargetedBy int `json:"targetedBy"`
	// Rules are the rules evaluated, in order, up to the first that matched.
	Rules []RuleTrace `json:"rules"`
	// Dispatch is the rollout of the matching rule or of the fallthrough
	// (nil for archived, disabled and targeted results).
	Dispatch *DispatchTrace `json:"dispatch,omitempty"`
	Result   Result         `json:"result"`
}

// RuleTrace is one evaluated flag or segment rule.
type RuleTrace struct {
	Index      int              `json:"index"`
	ID         string           `json:"id"`
	Name       string           `json:"name"`
	Matched    bool             `json:"matched"`
	Conditions []ConditionTrace `json:"conditions"`
}

// ConditionTrace is one condition of a rule. Conditions after the first that
// failed are listed with Evaluated false (rules short-circuit).
type ConditionTrace struct {
	Property  string `json:"property"`
	Op        string `json:"op"`
	Value     string `json:"value"`
	Evaluated bool   `json:"evaluated"`
	// UserValue is the attribute value compared ("" when missing); empty for
	// segment conditions.
	UserValue string `json:"userValue"`
	Matched   bool   `json:"matched"`
	// Error is the compile error that makes this condition never match.
	Error    string         `json:"error,omitempty"`
	Segments []SegmentTrace `json:"segments,omitempty"`
}

// SegmentTrace is one segment looked up by a segment condition.
type SegmentTrace struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Found    bool   `json:"found"`
	Archived bool   `json:"archived"`
	Matched  bool   `json:"matched"`
	// By says why: "missing", "excluded", "included", "rule" (see Rules) or
	// "no rule matched".
	By    string      `json:"by"`
	Rules []RuleTrace `json:"rules,omitempty"`
}

// DispatchTrace is a percentage rollout and its experiment sampling.
type DispatchTrace struct {
	DispatchKey string         `json:"dispatchKey"`
	Attribute   string         `json:"attribute"` // the value appended to the flag key
	Input       string         `json:"input"`     // flag key + attribute, hashed
	Bucket      float64        `json:"bucket"`
	Variations  []RolloutTrace `json:"variations"`
	// Selected is the index of the first variation whose range contains
	// the bucket, or -1.
	Selected              int     `json:"selected"`
	ExptIncludeAllTargets bool    `json:"exptIncludeAllTargets"`
	IncludedInExpt        bool    `json:"includedInExpt"`
	ExptUpper             float64 `json:"exptUpper"`  // 0 when not sampled
	ExptBucket            float64 `json:"exptBucket"` // bucket of "expt" + Input, when sampled
	SendToExperiment      bool    `json:"sendToExperiment"`
}

// RolloutTrace is one rollout variation.
type RolloutTrace struct {
	ID          string     `json:"id"`
	Rollout     [2]float64 `json:"rollout"`
	ExptRollout float64    `json:"exptRollout"`
	Contains    bool       `json:"contains"` // the range contains the bucket
}

// Explain evaluates f for u like Evaluate and records the path taken. It
// allocates; use Evaluate on hot paths.
func Explain(f *Flag, segs Segments, u *User) Explanation {
	e := Explanation{
		FlagKey: f.key, UserKeyID: u.KeyID, Archived: f.archived, Enabled: f.enabled,
		TargetedBy: -1, Rules: []RuleTrace{}, Result: Evaluate(f, segs, u),
	}
	if f.archived || !f.enabled {
		return e
	}
	for i, t := range f.Src.TargetUsers {
		for _, k := range t.KeyIDs {
			if k == u.KeyID {
				e.TargetedBy = i
				return e
			}
		}
	}
	for i := range f.rules {
		r := &f.rules[i]
		rt := traceRule(i, f.Src.Rules[i].ID, r.name, r.conds, segs, u)
		e.Rules = append(e.Rules, rt)
		if rt.Matched {
			e.Dispatch = f.traceDispatch(&r.ro, u)
			return e
		}
	}
	e.Dispatch = f.traceDispatch(&f.fall, u)
	return e
}

func traceRule(index int, id, name string, conds []condition, segs Segments, u *User) RuleTrace {
	rt := RuleTrace{Index: index, ID: id, Name: name, Matched: true, Conditions: make([]ConditionTrace, len(conds))}
	for j := range conds {
		c := &conds[j]
		ct := ConditionTrace{Property: c.src.Property, Op: c.src.Op, Value: c.src.Value, Evaluated: rt.Matched}
		if c.err != nil {
			ct.Error = c.err.Error()
		}
		if rt.Matched {
			switch c.op {
			case opInSegment, opNotInSegment:
				if !c.never {
					for _, sid := range c.segs {
						ct.Segments = append(ct.Segments, traceSegment(sid, segs, u))
					}
				}
			default:
				ct.UserValue = c.prop.get(u)
			}
			ct.Matched = c.match(segs, u)
			rt.Matched = ct.Matched
		}
		rt.Conditions[j] = ct
	}
	return rt
}

func traceSegment(id string, segs Segments, u *User) SegmentTrace {
	st := SegmentTrace{ID: id, By: "missing"}
	s := segs[id]
	if s == nil {
		return st
	}
	st.Found, st.Name, st.Archived = true, s.Src.Name, s.Src.IsArchived
	switch {
	case s.excluded.has(u.KeyID):
		st.By = "excluded"
	case s.included.has(u.KeyID):
		st.By, st.Matched = "included", true
	default:
		st.By = "no rule matched"
		for i := range s.rules {
			rt := traceRule(i, s.Src.Rules[i].ID, s.Src.Rules[i].Name, s.rules[i], nil, u)
			st.Rules = append(st.Rules, rt)
			if rt.Matched {
				st.By, st.Matched = "rule", true
				break
			}
		}
	}
	return st
}

func (f *Flag) traceDispatch(ro *rollout, u *User) *DispatchTrace {
	attr := ro.attr(u)
	d := &DispatchTrace{
		DispatchKey: ro.dispatchKey, Attribute: attr, Input: f.key + attr, Bucket: bucket3(f.key, attr, ""),
		Variations: make([]RolloutTrace, len(ro.variations)), Selected: -1,
		ExptIncludeAllTargets: f.exptAll, IncludedInExpt: ro.inExpt,
	}
	var selected *rolloutVariation
	for i := range ro.variations {
		rv := &ro.variations[i]
		src := rv.src
		d.Variations[i] = RolloutTrace{ID: src.ID, Rollout: src.Rollout, ExptRollout: src.ExptRollout,
			Contains: inRange(rv.lo, rv.hi, d.Bucket)}
		if d.Variations[i].Contains && selected == nil {
			d.Selected, selected = i, rv
		}
	}
	if !f.exptAll && ro.inExpt && selected != nil {
		if upper, ok := exptUpper(selected); ok {
			d.ExptUpper = upper
			d.ExptBucket = bucket3("expt", f.key, attr)
		}
	}
	d.SendToExperiment = f.sendToExperiment(ro, selected, attr)
	return d
}
