package eval

import (
	"slices"
	"strconv"

	"github.com/switchyard/switchyard/codec"
)

// Flag is a compiled flag. It is immutable after CompileFlag and safe for
// concurrent use; Src must not be modified after compiling.
type Flag struct {
	Src *codec.Flag

	key       string
	archived  bool
	enabled   bool
	exptAll   bool
	disabled  *codec.Variation // nil when DisabledVariationID is unknown
	targets   map[string]*codec.Variation
	rules     []rule
	fall      rollout
	segmentID []string
}

type rule struct {
	name  string
	conds []condition
	ro    rollout
}

// rollout is a compiled dispatch: rule or fallthrough variations.
type rollout struct {
	dispatchKey string // as stored
	dispatch    prop   // attribute read when byKeyID is false
	byKeyID     bool   // dispatchKey is empty or blank
	inExpt      bool
	variations  []rolloutVariation
}

type rolloutVariation struct {
	lo, hi, expt float64
	v            *codec.Variation // nil when the id is unknown
	src          *codec.RolloutVariation
}

// CompileFlag compiles f once, when it is loaded. The flag is always usable;
// the errors (each a *CompileError) list conditions that can never match and
// references to unknown variations, for control to show.
func CompileFlag(f *codec.Flag) (*Flag, []error) {
	var errs []error
	cf := &Flag{
		Src:      f,
		key:      f.Key,
		archived: f.IsArchived,
		enabled:  f.IsEnabled,
		exptAll:  f.ExptIncludeAllTargets,
	}
	variation := func(id, path string) *codec.Variation {
		for i := range f.Variations {
			if f.Variations[i].ID == id {
				return &f.Variations[i]
			}
		}
		errs = append(errs, &CompileError{Path: path, Err: ErrUnknownVariation, Detail: strconv.Quote(id)})
		return nil
	}
	cf.disabled = variation(f.DisabledVariationID, "disabledVariationId")
	for i, t := range f.TargetUsers {
		v := variation(t.VariationID, "targetUsers["+strconv.Itoa(i)+"].variationId")
		for _, k := range t.KeyIDs {
			if cf.targets == nil {
				cf.targets = make(map[string]*codec.Variation)
			}
			if _, dup := cf.targets[k]; !dup { // the first entry wins
				cf.targets[k] = v
			}
		}
	}
	compileRollout := func(dispatchKey string, inExpt bool, vars []codec.RolloutVariation, path string) rollout {
		ro := rollout{dispatchKey: dispatchKey, dispatch: compileProp(dispatchKey), byKeyID: isBlank(dispatchKey), inExpt: inExpt}
		ro.variations = make([]rolloutVariation, len(vars))
		for i := range vars {
			rv := &vars[i]
			ro.variations[i] = rolloutVariation{
				lo: rv.Rollout[0], hi: rv.Rollout[1], expt: rv.ExptRollout, src: rv,
				v: variation(rv.ID, path+".variations["+strconv.Itoa(i)+"].id"),
			}
		}
		return ro
	}
	var segIDs []string
	cf.rules = make([]rule, len(f.Rules))
	for i := range f.Rules {
		r := &f.Rules[i]
		path := "rules[" + strconv.Itoa(i) + "]"
		cr := rule{name: r.Name, conds: make([]condition, len(r.Conditions))}
		for j := range r.Conditions {
			c := compileCondition(&r.Conditions[j], false, path+".conditions["+strconv.Itoa(j)+"]")
			if c.err != nil {
				errs = append(errs, c.err)
			}
			segIDs = append(segIDs, c.segs...)
			cr.conds[j] = c
		}
		cr.ro = compileRollout(r.DispatchKey, r.IncludedInExpt, r.Variations, path)
		cf.rules[i] = cr
	}
	cf.fall = compileRollout(f.Fallthrough.DispatchKey, f.Fallthrough.IncludedInExpt, f.Fallthrough.Variations, "fallthrough")
	slices.Sort(segIDs)
	cf.segmentID = slices.Compact(segIDs)
	return cf, errs
}

// SegmentIDs returns the sorted, distinct ids of the segments the flag's
// conditions reference (the edge re-evaluates the flag when one changes).
// The slice is shared: do not modify it.
func (f *Flag) SegmentIDs() []string { return f.segmentID }
