// Package audit describes changes in words for control's audit log: a
// field-level before/after diff of flags ("rule 'beta users': condition
// country IsOneOf [FR] → [FR, DE]"), segments and any other JSON-shaped
// resource. The functions are pure; control/internal/api records the
// results with who, when and why.
package audit

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/codec"
)

// Segment condition properties (FeatBit's names).
const (
	propInSegment    = "User is in segment"
	propNotInSegment = "User is not in segment"
)

// SegmentNamer returns a segment's name for its id ("" if unknown).
type SegmentNamer func(id string) string

// Flag returns the differences between two states of a flag in words.
// before nil: a creation; after nil: a deletion.
func Flag(before, after *codec.Flag, seg SegmentNamer) []string {
	if seg == nil {
		seg = func(string) string { return "" }
	}
	switch {
	case before == nil && after == nil:
		return nil
	case before == nil:
		out := []string{fmt.Sprintf("flag '%s' created (%s, %d variations, %s)", after.Key, after.VariationType, len(after.Variations), onOff(after.IsEnabled))}
		for _, r := range after.Rules {
			out = append(out, fmt.Sprintf("rule '%s' added: %s; serves %s", ruleName(r), conds(r.Conditions, seg), serve(after, r.Variations)))
		}
		return out
	case after == nil:
		return []string{fmt.Sprintf("flag '%s' deleted", before.Key)}
	}
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	if before.IsEnabled != after.IsEnabled {
		add("turned %s", onOff(after.IsEnabled))
	}
	if before.IsArchived != after.IsArchived {
		if after.IsArchived {
			add("archived")
		} else {
			add("restored")
		}
	}
	str("name", before.Name, after.Name, &out)
	str("description", before.Description, after.Description, &out)
	str("variation type", before.VariationType, after.VariationType, &out)
	if !slices.Equal(before.Tags, after.Tags) {
		add("tags %s → %s", list(before.Tags), list(after.Tags))
	}
	if before.ExptIncludeAllTargets != after.ExptIncludeAllTargets {
		add("experiment includes all targets: %v → %v", before.ExptIncludeAllTargets, after.ExptIncludeAllTargets)
	}
	out = append(out, variations(before, after)...)
	if vb, va := varName(before, before.DisabledVariationID), varName(after, after.DisabledVariationID); vb != va {
		add("off variation '%s' → '%s'", vb, va)
	}
	out = append(out, targeting(before, after)...)
	out = append(out, rules(before, after, seg)...)
	if sb, sa := serve(before, before.Fallthrough.Variations), serve(after, after.Fallthrough.Variations); sb != sa {
		add("default rule: serves %s → %s", sb, sa)
	}
	if before.Fallthrough.DispatchKey != after.Fallthrough.DispatchKey {
		add("default rule: dispatch key '%s' → '%s'", before.Fallthrough.DispatchKey, after.Fallthrough.DispatchKey)
	}
	return out
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func str(name, b, a string, out *[]string) {
	if b != a {
		*out = append(*out, fmt.Sprintf("%s '%s' → '%s'", name, b, a))
	}
}

// list formats a string list as [a, b] (bounded as names).
func list(xs []string) string { return "[" + names(xs) + "]" }

func varName(f *codec.Flag, id string) string {
	for _, v := range f.Variations {
		if v.ID == id {
			if v.Name != "" {
				return v.Name
			}
			return v.Value
		}
	}
	return id
}

func variations(b, a *codec.Flag) []string {
	var out []string
	old := map[string]codec.Variation{}
	for _, v := range b.Variations {
		old[v.ID] = v
	}
	seen := map[string]bool{}
	for _, v := range a.Variations {
		seen[v.ID] = true
		o, ok := old[v.ID]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("variation '%s' added (value %s)", label(v), v.Value))
		case o.Value != v.Value:
			out = append(out, fmt.Sprintf("variation '%s': value %s → %s", label(v), o.Value, v.Value))
		}
		if ok && o.Name != v.Name {
			out = append(out, fmt.Sprintf("variation '%s' renamed '%s'", o.Name, v.Name))
		}
	}
	for _, v := range b.Variations {
		if !seen[v.ID] {
			out = append(out, fmt.Sprintf("variation '%s' removed", label(v)))
		}
	}
	return out
}

func label(v codec.Variation) string {
	if v.Name != "" {
		return v.Name
	}
	return v.Value
}

func targeting(b, a *codec.Flag) []string {
	users := func(f *codec.Flag) map[string][]string {
		m := map[string][]string{}
		for _, t := range f.TargetUsers {
			m[t.VariationID] = append(m[t.VariationID], t.KeyIDs...)
		}
		return m
	}
	ub, ua := users(b), users(a)
	ids := slices.Sorted(maps.Keys(ub))
	for id := range ua {
		if _, ok := ub[id]; !ok {
			ids = append(ids, id)
		}
	}
	var out []string
	for _, id := range ids {
		added, removed := setDiff(ub[id], ua[id])
		if len(added) == 0 && len(removed) == 0 {
			continue
		}
		name := varName(a, id)
		if _, ok := ua[id]; !ok {
			name = varName(b, id)
		}
		var parts []string
		if len(added) > 0 {
			parts = append(parts, "added "+names(added))
		}
		if len(removed) > 0 {
			parts = append(parts, "removed "+names(removed))
		}
		out = append(out, fmt.Sprintf("individual targeting '%s': %s", name, strings.Join(parts, "; ")))
	}
	return out
}

// setDiff returns the elements of a not in b (added) and of b not in a
// (removed), in their order. Linear in the sizes: segment member lists hold
// up to 100,000 keys.
func setDiff(b, a []string) (added, removed []string) {
	inB := make(map[string]struct{}, len(b))
	for _, x := range b {
		inB[x] = struct{}{}
	}
	inA := make(map[string]struct{}, len(a))
	for _, x := range a {
		inA[x] = struct{}{}
		if _, ok := inB[x]; !ok {
			added = append(added, x)
		}
	}
	for _, x := range b {
		if _, ok := inA[x]; !ok {
			removed = append(removed, x)
		}
	}
	return added, removed
}

// maxListed bounds the keys one diff line names; the rest are counted.
const maxListed = 20

// names joins up to maxListed of xs and counts the others ("a, b and 3
// more"), so an import of 100,000 members makes a one-line entry, not a
// megabyte.
func names(xs []string) string {
	if len(xs) <= maxListed {
		return strings.Join(xs, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(xs[:maxListed], ", "), len(xs)-maxListed)
}

func ruleName(r codec.Rule) string {
	if r.Name != "" {
		return r.Name
	}
	return r.ID
}

func rules(b, a *codec.Flag, seg SegmentNamer) []string {
	var out []string
	match := func(r codec.Rule, in []codec.Rule) int {
		for i, x := range in {
			if r.ID != "" && x.ID == r.ID {
				return i
			}
		}
		for i, x := range in {
			if r.ID == "" && x.ID == "" && x.Name == r.Name {
				return i
			}
		}
		return -1
	}
	var orderB, orderA []string
	for _, r := range a.Rules {
		i := match(r, b.Rules)
		if i < 0 {
			out = append(out, fmt.Sprintf("rule '%s' added: %s; serves %s", ruleName(r), conds(r.Conditions, seg), serve(a, r.Variations)))
			continue
		}
		orderA = append(orderA, r.ID+"\x00"+r.Name)
		o := b.Rules[i]
		name := ruleName(r)
		if o.Name != r.Name {
			out = append(out, fmt.Sprintf("rule '%s' renamed '%s'", ruleName(o), r.Name))
		}
		for _, d := range conditions(o.Conditions, r.Conditions, seg) {
			out = append(out, fmt.Sprintf("rule '%s': %s", name, d))
		}
		if sb, sa := serve(b, o.Variations), serve(a, r.Variations); sb != sa {
			out = append(out, fmt.Sprintf("rule '%s': serves %s → %s", name, sb, sa))
		}
		if o.DispatchKey != r.DispatchKey {
			out = append(out, fmt.Sprintf("rule '%s': dispatch key '%s' → '%s'", name, o.DispatchKey, r.DispatchKey))
		}
	}
	for _, r := range b.Rules {
		if match(r, a.Rules) < 0 {
			out = append(out, fmt.Sprintf("rule '%s' removed", ruleName(r)))
			continue
		}
		orderB = append(orderB, r.ID+"\x00"+r.Name)
	}
	if !slices.Equal(orderA, orderB) {
		names := make([]string, len(a.Rules))
		for i, r := range a.Rules {
			names[i] = "'" + ruleName(r) + "'"
		}
		out = append(out, "rules reordered: "+strings.Join(names, ", "))
	}
	return out
}

func conditions(b, a []codec.Condition, seg SegmentNamer) []string {
	var out []string
	find := func(c codec.Condition, in []codec.Condition, i int) int {
		for j, x := range in {
			if c.ID != "" && x.ID == c.ID {
				return j
			}
		}
		if c.ID == "" && i < len(in) && in[i].ID == "" {
			return i
		}
		return -1
	}
	for i, c := range a {
		j := find(c, b, i)
		if j < 0 {
			out = append(out, "condition added: "+cond(c, seg))
			continue
		}
		o := b[j]
		if o == c {
			continue
		}
		if o.Property == c.Property && o.Op == c.Op {
			out = append(out, fmt.Sprintf("condition %s %s → %s", condHead(c), value(o, seg), value(c, seg)))
		} else {
			out = append(out, fmt.Sprintf("condition %s → %s", cond(o, seg), cond(c, seg)))
		}
	}
	for i, c := range b {
		if find(c, a, i) < 0 {
			out = append(out, "condition removed: "+cond(c, seg))
		}
	}
	return out
}

// condHead is "property op" of a condition (the property alone for segment
// conditions, whose op is empty).
func condHead(c codec.Condition) string {
	if c.Op == "" {
		return c.Property
	}
	return c.Property + " " + c.Op
}

func cond(c codec.Condition, seg SegmentNamer) string { return condHead(c) + " " + value(c, seg) }

func conds(cs []codec.Condition, seg SegmentNamer) string {
	if len(cs) == 0 {
		return "(no condition)"
	}
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = cond(c, seg)
	}
	return strings.Join(parts, " and ")
}

// value renders a condition value: JSON lists as [a, b] (segment ids by
// name), anything else as is.
func value(c codec.Condition, seg SegmentNamer) string {
	var xs []string
	if strings.HasPrefix(strings.TrimSpace(c.Value), "[") && json.Unmarshal([]byte(c.Value), &xs) == nil {
		if c.Property == propInSegment || c.Property == propNotInSegment {
			for i, id := range xs {
				if n := seg(id); n != "" {
					xs[i] = "'" + n + "'"
				}
			}
		}
		return list(xs)
	}
	return c.Value
}

// serve renders a rollout: "'on'" or "'on' 20%, 'off' 80%".
func serve(f *codec.Flag, rv []codec.RolloutVariation) string {
	if len(rv) == 0 {
		return "nothing"
	}
	if len(rv) == 1 && rv[0].Rollout[1]-rv[0].Rollout[0] >= 1 {
		return "'" + varName(f, rv[0].ID) + "'"
	}
	parts := make([]string, len(rv))
	for i, v := range rv {
		pct := (v.Rollout[1] - v.Rollout[0]) * 100
		parts[i] = "'" + varName(f, v.ID) + "' " + strconv.FormatFloat(pct, 'f', -1, 64) + "%"
	}
	return strings.Join(parts, ", ")
}

// Segment returns the differences between two states of a segment.
func Segment(before, after *codec.Segment) []string {
	switch {
	case before == nil && after == nil:
		return nil
	case before == nil:
		return []string{fmt.Sprintf("segment '%s' created", after.Name)}
	case after == nil:
		return []string{fmt.Sprintf("segment '%s' deleted", before.Name)}
	}
	var out []string
	if before.IsArchived != after.IsArchived {
		if after.IsArchived {
			out = append(out, "archived")
		} else {
			out = append(out, "restored")
		}
	}
	str("name", before.Name, after.Name, &out)
	str("description", before.Description, after.Description, &out)
	for _, l := range []struct {
		name string
		b, a []string
	}{{"included", before.Included, after.Included}, {"excluded", before.Excluded, after.Excluded}, {"tags", before.Tags, after.Tags}} {
		added, removed := setDiff(l.b, l.a)
		if len(added) > 0 {
			out = append(out, fmt.Sprintf("%s: added %s", l.name, names(added)))
		}
		if len(removed) > 0 {
			out = append(out, fmt.Sprintf("%s: removed %s", l.name, names(removed)))
		}
	}
	toRules := func(rs []codec.SegmentRule) []codec.Rule {
		out := make([]codec.Rule, len(rs))
		for i, r := range rs {
			out[i] = codec.Rule{ID: r.ID, Name: r.Name, Conditions: r.Conditions}
		}
		return out
	}
	fb, fa := &codec.Flag{Rules: toRules(before.Rules)}, &codec.Flag{Rules: toRules(after.Rules)}
	for _, d := range rules(fb, fa, nil) {
		out = append(out, strings.Replace(d, "; serves nothing", "", 1))
	}
	return out
}

// Generic returns the differences between two JSON-encodable values, field
// by field ("name 'a' → 'b'"); nested objects are named by path. Fields in
// skip (and "version", "updatedAt", "rev") are ignored.
func Generic(before, after any, skip ...string) []string {
	mb, ma := asMap(before), asMap(after)
	skip = append(skip, "version", "updatedAt", "rev")
	var out []string
	walk("", mb, ma, skip, &out)
	return out
}

func asMap(v any) map[string]any {
	if v == nil || (reflect.ValueOf(v).Kind() == reflect.Pointer && reflect.ValueOf(v).IsNil()) {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

func walk(prefix string, b, a map[string]any, skip []string, out *[]string) {
	keys := slices.Sorted(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		if slices.Contains(skip, k) {
			continue
		}
		vb, okb := b[k]
		va, oka := a[k]
		name := prefix + k
		if mb, ok := vb.(map[string]any); ok {
			if ma, ok := va.(map[string]any); ok {
				walk(name+".", mb, ma, skip, out)
				continue
			}
		}
		if reflect.DeepEqual(vb, va) {
			continue
		}
		switch {
		case !okb:
			*out = append(*out, fmt.Sprintf("%s set to %s", name, show(va)))
		case !oka:
			*out = append(*out, fmt.Sprintf("%s removed (was %s)", name, show(vb)))
		default:
			*out = append(*out, fmt.Sprintf("%s %s → %s", name, show(vb), show(va)))
		}
	}
}

func show(v any) string {
	switch x := v.(type) {
	case string:
		return "'" + x + "'"
	case nil:
		return "none"
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			if s, ok := e.(string); ok {
				parts[i] = s
			} else {
				b, _ := json.Marshal(e)
				parts[i] = string(b)
			}
		}
		return list(parts)
	}
	b, _ := json.Marshal(v)
	return string(b)
}
