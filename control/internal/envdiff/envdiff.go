// Package envdiff compares a flag across two environments and copies
// selected parts of it. Environments have their own ids for variations,
// rules and segments, so parts are compared in a normalised form: variations
// by name and value, targeting and rollouts by variation value, segments by
// name. Copy maps the ids of the source onto the target's.
package envdiff

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/switchyard/switchyard/codec"
)

// Parts of a flag that can be compared and copied.
const (
	Variations  = "variations"  // variations and the off variation
	Targeting   = "targeting"   // individually targeted users
	Rules       = "rules"       // the ordered rules
	DefaultRule = "defaultRule" // the fallthrough rollout
	OnOff       = "onOff"       // isEnabled
)

// AllParts lists the parts in display order.
var AllParts = []string{Variations, Targeting, Rules, DefaultRule, OnOff}

// PartDiff is one differing part: its normalised form on both sides.
type PartDiff struct {
	Part   string `json:"part"`
	Source any    `json:"source"`
	Target any    `json:"target"`
}

// SegmentNamer returns a segment's name for its id ("" if unknown).
type SegmentNamer func(id string) string

// Compare returns the parts of src and dst that differ, in AllParts order.
func Compare(src, dst *codec.Flag, srcSeg, dstSeg SegmentNamer) []PartDiff {
	var out []PartDiff
	for _, p := range AllParts {
		a, b := Normal(src, p, srcSeg), Normal(dst, p, dstSeg)
		if !reflect.DeepEqual(jsonRound(a), jsonRound(b)) {
			out = append(out, PartDiff{Part: p, Source: a, Target: b})
		}
	}
	return out
}

func jsonRound(v any) any {
	b, _ := json.Marshal(v)
	var x any
	_ = json.Unmarshal(b, &x)
	return x
}

// NormVariation is a variation without its id.
type NormVariation struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// NormServe is one share of a rollout: the variation's value and the share
// as a [from, to] range.
type NormServe struct {
	Value   string     `json:"value"`
	Rollout [2]float64 `json:"rollout"`
	// ExptRollout is the share of the range's users sent to experiments,
	// when the rule is in the experiment.
	ExptRollout *float64 `json:"exptRollout,omitempty"`
}

// NormTarget is the users targeted with one variation (by value).
type NormTarget struct {
	Value  string   `json:"value"`
	KeyIDs []string `json:"keyIds"`
}

// NormCondition is a condition with segment ids replaced by names.
type NormCondition struct {
	Property string `json:"property"`
	Op       string `json:"op"`
	Value    string `json:"value"`
}

// NormRule is a rule without ids.
type NormRule struct {
	Name        string          `json:"name"`
	Conditions  []NormCondition `json:"conditions"`
	Serve       []NormServe     `json:"serve"`
	DispatchKey string          `json:"dispatchKey,omitempty"`
	InExpt      bool            `json:"includedInExpt,omitempty"`
}

// Normal returns the comparable form of one part of a flag.
func Normal(f *codec.Flag, part string, seg SegmentNamer) any {
	val := func(id string) string {
		for _, v := range f.Variations {
			if v.ID == id {
				return v.Value
			}
		}
		return "?" + id
	}
	// Experiment traffic (a rule's includedInExpt and its variations'
	// exptRollout, exptIncludeAllTargets) is part of the rules, the
	// default rule and the targeting: compared and copied with them.
	serve := func(rv []codec.RolloutVariation, inExpt bool) []NormServe {
		out := make([]NormServe, len(rv))
		for i, r := range rv {
			out[i] = NormServe{Value: val(r.ID), Rollout: r.Rollout}
			if inExpt {
				out[i].ExptRollout = &r.ExptRollout
			}
		}
		return out
	}
	switch part {
	case Variations:
		vs := make([]NormVariation, len(f.Variations))
		for i, v := range f.Variations {
			vs[i] = NormVariation{v.Name, v.Value}
		}
		return struct {
			Variations []NormVariation `json:"variations"`
			Off        string          `json:"offValue"`
		}{vs, val(f.DisabledVariationID)}
	case Targeting:
		var ts []NormTarget
		for _, t := range f.TargetUsers {
			if len(t.KeyIDs) == 0 {
				continue
			}
			k := slices.Clone(t.KeyIDs)
			slices.Sort(k)
			ts = append(ts, NormTarget{Value: val(t.VariationID), KeyIDs: k})
		}
		slices.SortFunc(ts, func(a, b NormTarget) int { return strings.Compare(a.Value, b.Value) })
		if f.ExptIncludeAllTargets {
			return struct {
				Targets           []NormTarget `json:"targets"`
				ExptIncludeAllTgt bool         `json:"exptIncludeAllTargets"`
			}{ts, true}
		}
		return ts
	case Rules:
		rs := make([]NormRule, len(f.Rules))
		for i, r := range f.Rules {
			cs := make([]NormCondition, len(r.Conditions))
			for j, c := range r.Conditions {
				cs[j] = NormCondition{c.Property, c.Op, segValue(c, seg)}
			}
			rs[i] = NormRule{Name: r.Name, Conditions: cs, Serve: serve(r.Variations, r.IncludedInExpt), DispatchKey: r.DispatchKey, InExpt: r.IncludedInExpt}
		}
		return rs
	case DefaultRule:
		return struct {
			Serve       []NormServe `json:"serve"`
			DispatchKey string      `json:"dispatchKey,omitempty"`
			InExpt      bool        `json:"includedInExpt,omitempty"`
		}{serve(f.Fallthrough.Variations, f.Fallthrough.IncludedInExpt), f.Fallthrough.DispatchKey, f.Fallthrough.IncludedInExpt}
	case OnOff:
		return f.IsEnabled
	}
	return nil
}

func isSegmentProp(p string) bool { return p == "User is in segment" || p == "User is not in segment" }

func segValue(c codec.Condition, seg SegmentNamer) string {
	if !isSegmentProp(c.Property) || seg == nil {
		return c.Value
	}
	var ids []string
	if json.Unmarshal([]byte(c.Value), &ids) != nil {
		return c.Value
	}
	names := make([]string, len(ids))
	for i, id := range ids {
		if n := seg(id); n != "" {
			names[i] = "segment:" + strings.ToLower(n)
		} else {
			names[i] = id
		}
	}
	b, _ := json.Marshal(names)
	return string(b)
}

// Error is a copy that cannot be made; Field names the offending part.
type Error struct {
	Field, Msg string
}

func (e *Error) Error() string { return e.Field + ": " + e.Msg }

// Copy returns dst with the listed parts of src. src's rules must already
// name dst's segments (the caller maps them). Variation ids are mapped by
// value: a copied rule, target or rollout whose variation value does not
// exist in dst is an error unless Variations is copied too (then dst's
// remaining references are mapped onto the new variations by value).
func Copy(src, dst *codec.Flag, parts []string) (*codec.Flag, error) {
	for i, p := range parts {
		if !slices.Contains(AllParts, p) {
			return nil, &Error{Field: fmt.Sprintf("parts[%d]", i), Msg: fmt.Sprintf("unknown part %q; parts: %s", p, strings.Join(AllParts, ", "))}
		}
	}
	out := dst.Clone()
	has := func(p string) bool { return slices.Contains(parts, p) }
	byValue := func(vs []codec.Variation) map[string]string {
		m := map[string]string{}
		for _, v := range vs {
			m[v.Value] = v.ID
		}
		return m
	}
	valueOf := func(vs []codec.Variation) map[string]string {
		m := map[string]string{}
		for _, v := range vs {
			m[v.ID] = v.Value
		}
		return m
	}
	if has(Variations) {
		if src.VariationType != dst.VariationType {
			out.VariationType = src.VariationType
		}
		// Remap dst's own references onto the new variations by value.
		oldVal, newID := valueOf(dst.Variations), byValue(src.Variations)
		remap := func(id, where string) (string, error) {
			if n, ok := newID[oldVal[id]]; ok {
				return n, nil
			}
			return "", &Error{Field: "parts", Msg: fmt.Sprintf("the target's %s uses variation %q, which the copied variations lack; copy that part too", where, oldVal[id])}
		}
		out.Variations = slices.Clone(src.Variations)
		out.DisabledVariationID = src.DisabledVariationID
		if !has(Targeting) {
			for i := range out.TargetUsers {
				id, err := remap(out.TargetUsers[i].VariationID, "individual targeting")
				if err != nil {
					return nil, err
				}
				out.TargetUsers[i].VariationID = id
			}
		}
		if !has(Rules) {
			for i := range out.Rules {
				for j := range out.Rules[i].Variations {
					id, err := remap(out.Rules[i].Variations[j].ID, "rule '"+out.Rules[i].Name+"'")
					if err != nil {
						return nil, err
					}
					out.Rules[i].Variations[j].ID = id
				}
			}
		}
		if !has(DefaultRule) {
			for j := range out.Fallthrough.Variations {
				id, err := remap(out.Fallthrough.Variations[j].ID, "default rule")
				if err != nil {
					return nil, err
				}
				out.Fallthrough.Variations[j].ID = id
			}
		}
	}
	// Map src variation ids onto out's by value.
	srcVal, outID := valueOf(src.Variations), byValue(out.Variations)
	mapID := func(id, where string) (string, error) {
		if n, ok := outID[srcVal[id]]; ok {
			return n, nil
		}
		return "", &Error{Field: "parts", Msg: fmt.Sprintf("%s serves variation %q, which the target flag lacks; copy the variations too", where, srcVal[id])}
	}
	if has(Targeting) {
		out.TargetUsers = nil
		for _, t := range src.TargetUsers {
			id, err := mapID(t.VariationID, "individual targeting")
			if err != nil {
				return nil, err
			}
			out.TargetUsers = append(out.TargetUsers, codec.TargetUser{KeyIDs: slices.Clone(t.KeyIDs), VariationID: id})
		}
		if out.TargetUsers == nil {
			out.TargetUsers = []codec.TargetUser{}
		}
		out.ExptIncludeAllTargets = src.ExptIncludeAllTargets
	}
	if has(Rules) {
		out.Rules = (&codec.Flag{Rules: src.Rules}).Clone().Rules
		for i := range out.Rules {
			for j := range out.Rules[i].Variations {
				id, err := mapID(out.Rules[i].Variations[j].ID, "rule '"+out.Rules[i].Name+"'")
				if err != nil {
					return nil, err
				}
				out.Rules[i].Variations[j].ID = id
			}
		}
		if out.Rules == nil {
			out.Rules = []codec.Rule{}
		}
	}
	if has(DefaultRule) {
		out.Fallthrough = (&codec.Flag{Fallthrough: src.Fallthrough}).Clone().Fallthrough
		for j := range out.Fallthrough.Variations {
			id, err := mapID(out.Fallthrough.Variations[j].ID, "the default rule")
			if err != nil {
				return nil, err
			}
			out.Fallthrough.Variations[j].ID = id
		}
	}
	if has(OnOff) {
		out.IsEnabled = src.IsEnabled
	}
	return out, nil
}
