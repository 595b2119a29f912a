package domain

import (
	"encoding/json"
	"errors"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/codec/secret"
	"github.com/switchyard/switchyard/control/internal/store"
	"github.com/switchyard/switchyard/edge/eval"
)

// Variation types.
const (
	TypeBoolean = "boolean"
	TypeString  = "string"
	TypeNumber  = "number"
	TypeJSON    = "json"
)

var keyRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// ValidKey reports whether s is a valid key of a flag, organization,
// project or environment: 1-100 letters, digits, '.', '_' or '-',
// starting with a letter or digit.
func ValidKey(s string) bool { return keyRE.MatchString(s) }

// Limits of a flag definition.
const (
	maxVariations = 100
	maxRules      = 200
	maxConditions = 100
	maxTargets    = 10000
	MaxText       = 2000
)

// rolloutEps is the tolerance when checking that rollout ranges tile [0,1].
const rolloutEps = 1e-9

// FlagDefaults fills what a new flag may omit: name (= key), variation ids,
// boolean variations, the off variation, the default rule (serve the first
// variation, or "true" for booleans), rule and condition ids.
func FlagDefaults(f *codec.Flag) {
	if f.Name == "" {
		f.Name = f.Key
	}
	if f.VariationType == "" {
		f.VariationType = TypeBoolean
	}
	if f.VariationType == TypeBoolean && len(f.Variations) == 0 {
		f.Variations = []codec.Variation{{Name: "true", Value: "true"}, {Name: "false", Value: "false"}}
	}
	for i := range f.Variations {
		if f.Variations[i].ID == "" {
			f.Variations[i].ID = secret.NewGUID()
		}
		if f.Variations[i].Name == "" {
			f.Variations[i].Name = f.Variations[i].Value
		}
	}
	on, off := "", ""
	if len(f.Variations) > 0 {
		on, off = f.Variations[0].ID, f.Variations[len(f.Variations)-1].ID
	}
	if f.VariationType == TypeBoolean {
		for _, v := range f.Variations {
			switch v.Value {
			case "true":
				on = v.ID
			case "false":
				off = v.ID
			}
		}
	}
	if f.DisabledVariationID == "" {
		f.DisabledVariationID = off
	}
	if len(f.Fallthrough.Variations) == 0 && on != "" {
		f.Fallthrough.Variations = []codec.RolloutVariation{{ID: on, Rollout: [2]float64{0, 1}}}
	}
	FillIDs(f)
}

// FillIDs gives rules and conditions without an id a new one and turns
// nil lists into empty ones.
func FillIDs(f *codec.Flag) {
	// Empty lists, not null, in responses and stored documents.
	if f.Tags == nil {
		f.Tags = []string{}
	}
	if f.TargetUsers == nil {
		f.TargetUsers = []codec.TargetUser{}
	}
	if f.Rules == nil {
		f.Rules = []codec.Rule{}
	}
	for i := range f.Rules {
		if f.Rules[i].Conditions == nil {
			f.Rules[i].Conditions = []codec.Condition{}
		}
		if f.Rules[i].ID == "" {
			f.Rules[i].ID = secret.NewGUID()
		}
		for j := range f.Rules[i].Conditions {
			if f.Rules[i].Conditions[j].ID == "" {
				f.Rules[i].Conditions[j].ID = secret.NewGUID()
			}
		}
	}
}

// At names element i of the list at path: "rules[3]".
func At(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// ValidateFlag checks a flag definition; segExists reports whether a segment
// id exists in the flag's environment. The error is a *store.FieldError
// (ErrInvalid) naming the first bad field. The last check compiles the flag
// with the edge's evaluator, the one authority on operators, regular
// expressions and versions; the compiled form is not kept (the edge compiles
// what it receives).
func ValidateFlag(f *codec.Flag, segExists func(id string) bool) error {
	if !keyRE.MatchString(f.Key) {
		return store.Invalid("key", "must be 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	if err := Text("name", f.Name, 1, 200); err != nil {
		return err
	}
	if err := Text("description", f.Description, 0, MaxText); err != nil {
		return err
	}
	switch f.VariationType {
	case TypeBoolean, TypeString, TypeNumber, TypeJSON:
	default:
		return store.Invalid("variationType", "must be boolean, string, number or json")
	}
	if len(f.Variations) == 0 || len(f.Variations) > maxVariations {
		return store.Invalid("variations", "must have 1 to %d variations", maxVariations)
	}
	ids := map[string]bool{}
	values := map[string]bool{}
	for i, v := range f.Variations {
		p := At("variations", i)
		if v.ID == "" || len(v.ID) > 100 {
			return store.Invalid(p+".id", "must be 1-100 characters")
		}
		if ids[v.ID] {
			return store.Invalid(p+".id", "duplicate variation id %q", v.ID)
		}
		ids[v.ID] = true
		if err := Text(p+".name", v.Name, 0, 200); err != nil {
			return err
		}
		if err := variationValue(f.VariationType, v.Value); err != nil {
			return store.Invalid(p+".value", "%v", err)
		}
		if values[v.Value] {
			return store.Invalid(p+".value", "duplicate variation value %q", v.Value)
		}
		values[v.Value] = true
		if len(v.Value) > 64<<10 {
			return store.Invalid(p+".value", "longer than 64 KiB")
		}
	}
	if f.VariationType == TypeBoolean && (len(f.Variations) != 2 || !values["true"] || !values["false"]) {
		return store.Invalid("variations", "a boolean flag has exactly the variations \"true\" and \"false\"")
	}
	if !ids[f.DisabledVariationID] {
		return store.Invalid("disabledVariationId", "variation id %q does not exist", f.DisabledVariationID)
	}
	if len(f.TargetUsers) > maxVariations {
		return store.Invalid("targetUsers", "at most %d entries", maxVariations)
	}
	for i, t := range f.TargetUsers {
		p := At("targetUsers", i)
		if !ids[t.VariationID] {
			return store.Invalid(p+".variationId", "variation id %q does not exist", t.VariationID)
		}
		if len(t.KeyIDs) > maxTargets {
			return store.Invalid(p+".keyIds", "at most %d users", maxTargets)
		}
		for j, k := range t.KeyIDs {
			if k == "" || len(k) > 512 {
				return store.Invalid(At(p+".keyIds", j), "must be 1-512 characters")
			}
		}
	}
	if len(f.Rules) > maxRules {
		return store.Invalid("rules", "at most %d rules", maxRules)
	}
	ruleIDs := map[string]bool{}
	for i := range f.Rules {
		r := &f.Rules[i]
		p := At("rules", i)
		if r.ID == "" || ruleIDs[r.ID] {
			return store.Invalid(p+".id", "must be set and unique")
		}
		ruleIDs[r.ID] = true
		if err := Text(p+".name", r.Name, 0, 200); err != nil {
			return err
		}
		if err := Text(p+".dispatchKey", r.DispatchKey, 0, 200); err != nil {
			return err
		}
		if err := conditions(p, r.Conditions, segExists); err != nil {
			return err
		}
		if err := rollout(p+".variations", r.Variations, ids); err != nil {
			return err
		}
	}
	if err := Text("fallthrough.dispatchKey", f.Fallthrough.DispatchKey, 0, 200); err != nil {
		return err
	}
	if err := rollout("fallthrough.variations", f.Fallthrough.Variations, ids); err != nil {
		return err
	}
	if err := tags(f.Tags); err != nil {
		return err
	}
	if _, errs := eval.CompileFlag(f); len(errs) > 0 {
		return compileErr(errs[0])
	}
	return nil
}

func compileErr(err error) error {
	var ce *eval.CompileError
	if errors.As(err, &ce) {
		msg := ce.Err.Error()
		if ce.Detail != "" {
			msg += ": " + ce.Detail
		}
		return store.Invalid(ce.Path, "%s", msg)
	}
	return store.Invalid("", "%v", err)
}

// Text checks that s has lo to hi characters (runes), naming field.
func Text(field, s string, lo, hi int) error {
	n := len([]rune(s))
	if n < lo || n > hi {
		if lo > 0 {
			return store.Invalid(field, "must be %d to %d characters", lo, hi)
		}
		return store.Invalid(field, "must be at most %d characters", hi)
	}
	return nil
}

func tags(ts []string) error {
	if len(ts) > 50 {
		return store.Invalid("tags", "at most 50 tags")
	}
	for i, t := range ts {
		if t == "" || len(t) > 64 {
			return store.Invalid(At("tags", i), "must be 1-64 characters")
		}
	}
	return nil
}

func variationValue(typ, v string) error {
	switch typ {
	case TypeBoolean:
		if v != "true" && v != "false" {
			return errors.New(`must be "true" or "false"`)
		}
	case TypeNumber:
		n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || math.IsInf(n, 0) || math.IsNaN(n) {
			return errors.New("must be a finite number")
		}
	case TypeJSON:
		if !json.Valid([]byte(v)) {
			return errors.New("must be a JSON document")
		}
	}
	return nil
}

// IsSegmentProp reports whether a condition property tests segment
// membership (its value is a JSON array of segment ids).
func IsSegmentProp(p string) bool { return p == store.PropInSegment || p == store.PropNotInSegment }

func conditions(p string, cs []codec.Condition, segExists func(string) bool) error {
	if len(cs) > maxConditions {
		return store.Invalid(p+".conditions", "at most %d conditions", maxConditions)
	}
	for j, c := range cs {
		cp := At(p+".conditions", j)
		if c.Property == "" || len(c.Property) > 200 {
			return store.Invalid(cp+".property", "must be 1-200 characters")
		}
		if len(c.Value) > 64<<10 {
			return store.Invalid(cp+".value", "longer than 64 KiB")
		}
		if IsSegmentProp(c.Property) {
			if segExists == nil {
				return store.Invalid(cp+".property", "segment conditions are not allowed here")
			}
			var ids []string
			if err := json.Unmarshal([]byte(c.Value), &ids); err != nil || len(ids) == 0 {
				return store.Invalid(cp+".value", "must be a JSON array of segment ids")
			}
			for _, id := range ids {
				if !segExists(id) {
					return store.Invalid(cp+".value", "segment %q does not exist in this environment", id)
				}
			}
			continue
		}
		if !eval.IsKnownOperator(c.Op) {
			return store.Invalid(cp+".op", "unknown operator %q", c.Op)
		}
	}
	return nil
}

// rollout checks that the ranges reference existing variations and tile
// [0, 1] exactly (together they serve 100% of the users).
func rollout(p string, vs []codec.RolloutVariation, ids map[string]bool) error {
	if len(vs) == 0 {
		return store.Invalid(p, "must serve at least one variation")
	}
	type rng struct{ lo, hi float64 }
	rs := make([]rng, 0, len(vs))
	seen := map[string]bool{}
	for k, v := range vs {
		vp := At(p, k)
		if !ids[v.ID] {
			return store.Invalid(vp+".id", "variation id %q does not exist", v.ID)
		}
		if seen[v.ID] {
			return store.Invalid(vp+".id", "variation %q appears twice", v.ID)
		}
		seen[v.ID] = true
		lo, hi := v.Rollout[0], v.Rollout[1]
		if !(lo >= 0 && hi <= 1 && lo <= hi) {
			return store.Invalid(vp+".rollout", "must be [start, end] with 0 <= start <= end <= 1")
		}
		if !(v.ExptRollout >= 0 && v.ExptRollout <= 1) {
			return store.Invalid(vp+".exptRollout", "must be between 0 and 1")
		}
		if hi > lo {
			rs = append(rs, rng{lo, hi})
		}
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].lo < rs[j].lo })
	sum := 0.0
	for _, r := range rs {
		sum += r.hi - r.lo
	}
	pos := 0.0
	for _, r := range rs {
		if math.Abs(r.lo-pos) > rolloutEps {
			return store.Invalid(p, "rollout ranges must tile 0..100%% without gaps or overlaps (they sum to %s%%)", pct(sum))
		}
		pos = r.hi
	}
	if math.Abs(pos-1) > rolloutEps {
		return store.Invalid(p, "rollout ranges must sum to 100%% (they sum to %s%%)", pct(sum))
	}
	return nil
}

// pct formats a share as a percentage for messages, rounded to 4 decimals
// (0.3+0.6 reads "90%", not "90.00000000000001%").
func pct(x float64) string {
	return strconv.FormatFloat(math.Round(x*100*1e4)/1e4, 'f', -1, 64)
}

// ValidateSegment checks a segment definition.
func ValidateSegment(sg *codec.Segment) error {
	if err := Text("name", strings.TrimSpace(sg.Name), 1, 200); err != nil {
		return err
	}
	if err := Text("description", sg.Description, 0, MaxText); err != nil {
		return err
	}
	for _, l := range []struct {
		name string
		keys []string
	}{{"included", sg.Included}, {"excluded", sg.Excluded}} {
		if len(l.keys) > 100000 {
			return store.Invalid(l.name, "at most 100000 users")
		}
		for i, k := range l.keys {
			if k == "" || len(k) > 512 {
				return store.Invalid(At(l.name, i), "must be 1-512 characters")
			}
		}
	}
	if len(sg.Rules) > maxRules {
		return store.Invalid("rules", "at most %d rules", maxRules)
	}
	for i, r := range sg.Rules {
		p := At("rules", i)
		if r.ID == "" {
			return store.Invalid(p+".id", "must be set")
		}
		if err := conditions(p, r.Conditions, nil); err != nil {
			return err
		}
	}
	if err := tags(sg.Tags); err != nil {
		return err
	}
	if _, errs := eval.CompileSegment(sg); len(errs) > 0 {
		return compileErr(errs[0])
	}
	return nil
}

// SegmentDefaults fills rule and condition ids and drops repeated tags.
func SegmentDefaults(sg *codec.Segment) {
	for i := range sg.Rules {
		if sg.Rules[i].ID == "" {
			sg.Rules[i].ID = secret.NewGUID()
		}
		for j := range sg.Rules[i].Conditions {
			if sg.Rules[i].Conditions[j].ID == "" {
				sg.Rules[i].Conditions[j].ID = secret.NewGUID()
			}
		}
	}
	sg.Tags = Dedupe(sg.Tags)
}

// Dedupe returns xs without repeats, in first-seen order (a new slice).
func Dedupe(xs []string) []string {
	out := xs[:0:0]
	for _, x := range xs {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}
