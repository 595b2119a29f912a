package featbit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/domain"
	"github.com/switchyard/switchyard/control/internal/store"
)

// Operations a Change reports.
const (
	OpCreate    = "create"
	OpUpdate    = "update"
	OpUnchanged = "unchanged"
)

// Change is what Import did (or, in a dry run, would do) with one item.
type Change struct {
	Kind   string   // codec.KindFlag or codec.KindSegment
	Name   string   // the flag's key or the segment's name
	Op     string   // OpCreate, OpUpdate or OpUnchanged
	Fields []string // for OpUpdate: the top-level fields that differ
}

// Report lists the changes of one Import, segments first, in the export's
// order.
type Report struct {
	EnvID   string
	Format  string
	DryRun  bool
	Changes []Change
}

// Count returns how many changes have the operation op.
func (r *Report) Count(op string) int {
	n := 0
	for _, c := range r.Changes {
		if c.Op == op {
			n++
		}
	}
	return n
}

// Print writes one line per create or update and a summary.
func (r *Report) Print(w io.Writer) {
	verb := ""
	if r.DryRun {
		verb = "would "
	}
	for _, c := range r.Changes {
		switch c.Op {
		case OpCreate:
			fmt.Fprintf(w, "%screate %s %q\n", verb, c.Kind, c.Name)
		case OpUpdate:
			fmt.Fprintf(w, "%supdate %s %q (%s)\n", verb, c.Kind, c.Name, strings.Join(c.Fields, ", "))
		}
	}
	mode := "imported"
	if r.DryRun {
		mode = "dry run, nothing written"
	}
	fmt.Fprintf(w, "FeatBit %s into environment %s (%s): %d created, %d updated, %d unchanged\n",
		r.Format, r.EnvID, mode, r.Count(OpCreate), r.Count(OpUpdate), r.Count(OpUnchanged))
}

// auditName is the actor name of the import's audit entries (actor
// domain.ImportActor).
const auditName = "FeatBit import"

// ErrInvalid marks an export whose items the API's validation refuses;
// nothing was written.
var ErrInvalid = errors.New("the export does not validate")

// Import makes environment envID hold the export's segments and flags:
// segments matched by name (ignoring case), flags by key; a missing one is
// created, a different one updated (its id and creation time stay), an
// equal one left alone, and nothing is deleted. Every item is validated by
// the API's rules before anything is written; if one fails, Import writes
// nothing and returns an error wrapping ErrInvalid that names each bad item
// and field. With dryRun it only reports. It returns whether it wrote
// anything: the caller then notifies the publisher of envID.
func Import(ctx context.Context, st *store.Store, envID string, ex *Export, dryRun bool) (*Report, bool, error) {
	if _, err := st.GetEnv(ctx, envID); err != nil {
		return nil, false, fmt.Errorf("environment %s: %w", envID, err)
	}
	dom := domain.New(st, domain.Options{})
	rep, err := run(ctx, st, dom, envID, ex, true)
	if err != nil || dryRun {
		return rep, false, err
	}
	rep, err = run(ctx, st, dom, envID, ex, false)
	wrote := false
	if rep != nil {
		wrote = rep.Count(OpCreate)+rep.Count(OpUpdate) > 0
	}
	return rep, wrote, err
}

// run plans (dry) or applies the import.
func run(ctx context.Context, st *store.Store, dom *domain.Service, envID string, ex *Export, dry bool) (*Report, error) {
	rep := &Report{EnvID: envID, Format: ex.Format, DryRun: dry}
	cur, err := st.AllSegments(ctx, envID)
	if err != nil {
		return nil, err
	}
	byName := map[string]*codec.Segment{}
	for _, s := range cur {
		byName[strings.ToLower(strings.TrimSpace(s.Name))] = s
	}
	var bad []string
	segMap := map[string]string{} // FeatBit segment id -> Switchyard id
	live := map[string]bool{}     // Switchyard ids a flag may reference
	for i := range ex.Segments {
		fs := &ex.Segments[i]
		want := toSegment(fs, envID)
		old := byName[segName(fs)]
		ch := Change{Kind: codec.KindSegment, Name: want.Name}
		if old != nil {
			want.ID = old.ID
		}
		if err := domain.ValidateSegment(want); err != nil {
			bad = append(bad, fmt.Sprintf("%s (%q): %v", at("segments", i), fs.Name, err))
			continue
		}
		switch {
		case old == nil:
			ch.Op = OpCreate
			if dry {
				want.ID = "new-segment:" + fs.ID
			} else {
				if err := createSegment(ctx, dom, want); err != nil {
					return rep, fmt.Errorf("segment %q: %w", want.Name, err)
				}
				dom.RecordImport(ctx, codec.KindSegment, auditName, nil, want)
			}
		default:
			ch.Fields = diff(segContent(old), segContent(want))
			if len(ch.Fields) == 0 {
				ch.Op = OpUnchanged
			} else {
				ch.Op = OpUpdate
				if !dry {
					if _, err := dom.SaveSegment(ctx, want, old.Version); err != nil {
						return rep, fmt.Errorf("segment %q: %w", want.Name, err)
					}
					dom.RecordImport(ctx, codec.KindSegment, auditName, old, want)
				}
			}
		}
		segMap[fs.ID] = want.ID
		if !want.IsArchived {
			live[want.ID] = true
		}
		rep.Changes = append(rep.Changes, ch)
	}
	for i := range ex.Flags {
		ff := &ex.Flags[i]
		want := toFlag(ff, envID, segMap)
		domain.FlagDefaults(want)
		old, err := st.GetFlagByKey(ctx, envID, want.Key)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return rep, err
		}
		if err != nil {
			old = nil
		}
		if err := domain.ValidateFlag(want, func(id string) bool { return live[id] }); err != nil {
			bad = append(bad, fmt.Sprintf("%s (%q): %v", at("featureFlags", i), ff.Key, err))
			continue
		}
		ch := Change{Kind: codec.KindFlag, Name: want.Key}
		switch {
		case old == nil:
			ch.Op = OpCreate
			if !dry {
				if err := createFlag(ctx, dom, want); err != nil {
					return rep, fmt.Errorf("flag %q: %w", want.Key, err)
				}
				dom.RecordImport(ctx, codec.KindFlag, auditName, nil, want)
			}
		default:
			want.ID = old.ID
			ch.Fields = diff(flagContent(old), flagContent(want))
			if len(ch.Fields) == 0 {
				ch.Op = OpUnchanged
			} else {
				ch.Op = OpUpdate
				if !dry {
					if _, err := dom.UpdateFlag(ctx, want, old.Version); err != nil {
						return rep, fmt.Errorf("flag %q: %w", want.Key, err)
					}
					dom.RecordImport(ctx, codec.KindFlag, auditName, old, want)
				}
			}
		}
		rep.Changes = append(rep.Changes, ch)
	}
	if len(bad) > 0 {
		const show = 20
		more := ""
		if len(bad) > show {
			more = fmt.Sprintf("\n  … and %d more", len(bad)-show)
			bad = bad[:show]
		}
		return rep, fmt.Errorf("%w (nothing was written):\n  %s%s", ErrInvalid, strings.Join(bad, "\n  "), more)
	}
	return rep, nil
}

// createFlag creates want (archived ones are created, then archived: the
// API's create makes live flags).
func createFlag(ctx context.Context, dom *domain.Service, want *codec.Flag) error {
	archived, enabled := want.IsArchived, want.IsEnabled
	if _, err := dom.CreateFlag(ctx, want.EnvID, want); err != nil {
		return err
	}
	if !archived {
		return nil
	}
	want.IsArchived, want.IsEnabled = true, enabled
	_, err := dom.UpdateFlag(ctx, want, want.Version)
	return err
}

func createSegment(ctx context.Context, dom *domain.Service, want *codec.Segment) error {
	archived := want.IsArchived
	if _, err := dom.CreateSegment(ctx, want.EnvID, want); err != nil {
		return err
	}
	if !archived {
		return nil
	}
	want.IsArchived = true
	_, err := dom.SaveSegment(ctx, want, want.Version)
	return err
}

// ruleID keeps FeatBit's id, or derives one from the position so that a
// second import compares equal.
func ruleID(id string, i int) string {
	if id != "" {
		return id
	}
	return fmt.Sprintf("rule-%d", i)
}

func conds(ruleID string, cs []Condition, segMap map[string]string) []codec.Condition {
	out := make([]codec.Condition, len(cs))
	for j, c := range cs {
		id := c.ID
		if id == "" {
			id = fmt.Sprintf("%s-c%d", ruleID, j)
		}
		v := c.Value
		if segMap != nil && domain.IsSegmentProp(c.Property) {
			var ids []string
			_ = json.Unmarshal([]byte(c.Value), &ids) // checked by Decode
			for k := range ids {
				ids[k] = segMap[ids[k]]
			}
			b, _ := json.Marshal(ids)
			v = string(b)
		}
		out[j] = codec.Condition{ID: id, Property: c.Property, Op: c.Op, Value: v}
	}
	return out
}

func rollouts(vs []RolloutVariation) []codec.RolloutVariation {
	out := make([]codec.RolloutVariation, len(vs))
	for k, v := range vs {
		out[k] = codec.RolloutVariation{ID: v.ID, ExptRollout: v.ExptRollout}
		copy(out[k].Rollout[:], v.Rollout) // two numbers, checked by Decode
	}
	return out
}

func toSegment(s *Segment, envID string) *codec.Segment {
	sg := &codec.Segment{EnvID: envID, Name: strings.TrimSpace(s.Name), Description: s.Description,
		Included: slices.Clone(s.Included), Excluded: slices.Clone(s.Excluded), Tags: dedupe(s.Tags), IsArchived: s.IsArchived}
	for i, r := range s.Rules {
		id := ruleID(r.ID, i)
		sg.Rules = append(sg.Rules, codec.SegmentRule{ID: id, Name: r.Name, Conditions: conds(id, r.Conditions, nil)})
	}
	return sg
}

func toFlag(f *Flag, envID string, segMap map[string]string) *codec.Flag {
	out := &codec.Flag{EnvID: envID, Name: f.Name, Description: f.Description, Key: f.Key,
		VariationType: f.VariationType, IsEnabled: f.IsEnabled, DisabledVariationID: f.DisabledVariationID,
		ExptIncludeAllTargets: f.ExptIncludeAllTargets, Tags: dedupe(f.Tags), IsArchived: f.IsArchived,
		Fallthrough: codec.Fallthrough{DispatchKey: f.Fallthrough.DispatchKey, IncludedInExpt: f.Fallthrough.IncludedInExpt,
			Variations: rollouts(f.Fallthrough.Variations)}}
	for _, v := range f.Variations {
		out.Variations = append(out.Variations, codec.Variation{ID: v.ID, Name: v.Name, Value: v.Value})
	}
	for _, t := range f.TargetUsers {
		out.TargetUsers = append(out.TargetUsers, codec.TargetUser{KeyIDs: slices.Clone(t.KeyIDs), VariationID: t.VariationID})
	}
	for i, r := range f.Rules {
		id := ruleID(r.ID, i)
		out.Rules = append(out.Rules, codec.Rule{ID: id, Name: r.Name, DispatchKey: r.DispatchKey,
			IncludedInExpt: r.IncludedInExpt, Conditions: conds(id, r.Conditions, segMap), Variations: rollouts(r.Variations)})
	}
	return out
}

func dedupe(xs []string) []string {
	out := []string{}
	for _, x := range xs {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// flagContent is what an import compares: everything but identity,
// versions and times, as JSON fields (null and [] compare equal).
func flagContent(f *codec.Flag) map[string]any {
	c := *f
	c.ID, c.EnvID, c.Version, c.CreatedAt, c.UpdatedAt = "", "", 0, 0, 0
	return content(&c)
}

func segContent(s *codec.Segment) map[string]any {
	c := *s
	c.ID, c.EnvID, c.Version, c.CreatedAt, c.UpdatedAt = "", "", 0, 0, 0
	return content(&c)
}

func content(v any) map[string]any {
	b, err := json.Marshal(v)
	if err != nil {
		panic("BUG: " + err.Error())
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		panic("BUG: " + err.Error())
	}
	return normalize(m).(map[string]any)
}

// normalize turns empty arrays into null, so that nil and empty lists
// compare equal.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
		return x
	case []any:
		if len(x) == 0 {
			return nil
		}
		for i, e := range x {
			x[i] = normalize(e)
		}
		return x
	}
	return v
}

// diff lists the top-level fields that differ, sorted.
func diff(a, b map[string]any) []string {
	var out []string
	for k, v := range a {
		if !reflect.DeepEqual(v, b[k]) {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
