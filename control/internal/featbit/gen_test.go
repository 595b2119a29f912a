package featbit_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/featbit"
)

// The random data set of the import tests: FeatBit-format flags and
// segments using every operator on which FeatBit's Node server SDK and
// FeatBit's server (so Switchyard's edge) agree (docs/evaluation.md, "Where
// FeatBit's server and SDKs disagree"): all but MatchRegex/NotMatchRegex
// (the SDK swaps their arguments). Users carry every attribute a rule reads
// (a missing attribute is read differently), and no flag is archived (the
// SDK ignores isArchived).

var (
	countries = []string{"FR", "DE", "US", "JP", "BR", "IN"}
	plans     = []string{"free", "pro", "enterprise", "trial"}
	domains   = []string{"example.com", "corp.example.org", "mail.test", "shop.example.net"}
	betas     = []string{"true", "false", "TRUE", "False", "yes"}
)

// genUser is one random end user in FeatBit's JSON form.
type genUser struct {
	KeyID string           `json:"keyId"`
	Name  string           `json:"name"`
	Props []codec.UserProp `json:"customizedProperties"`
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func randomUsers(r *rand.Rand, n int) []genUser {
	us := make([]genUser, n)
	for i := range us {
		key := fmt.Sprintf("u%d-%08x", i, r.Uint32())
		age := strconv.Itoa(r.IntN(90))
		if r.IntN(4) == 0 {
			age += ".5"
		}
		us[i] = genUser{KeyID: key, Name: fmt.Sprintf("User %d", i), Props: []codec.UserProp{
			{Name: "country", Value: pick(r, countries)},
			{Name: "plan", Value: pick(r, plans)},
			{Name: "age", Value: age},
			{Name: "email", Value: key + "@" + pick(r, domains)},
			{Name: "beta", Value: pick(r, betas)},
			{Name: "tenant", Value: "t" + strconv.Itoa(r.IntN(10))},
		}}
	}
	return us
}

func jsonList(xs []string) string {
	b, _ := json.Marshal(xs)
	return string(b)
}

func someOf(r *rand.Rand, xs []string, max int) []string {
	n := 1 + r.IntN(max)
	out := make([]string, 0, n)
	for range n {
		out = append(out, pick(r, xs))
	}
	return out
}

// condition returns a random plain (non-segment) condition.
func condition(r *rand.Rand, users []genUser) featbit.Condition {
	switch r.IntN(9) {
	case 0:
		return featbit.Condition{Property: pick(r, []string{"country", "plan", "tenant"}), Op: pick(r, []string{"Equal", "NotEqual"}),
			Value: pick(r, append(append(countries[:3:3], plans[:2]...), "t3"))}
	case 1:
		return featbit.Condition{Property: "email", Op: pick(r, []string{"Contains", "NotContain"}), Value: pick(r, []string{"example", "@corp", "test", "u1"})}
	case 2:
		return featbit.Condition{Property: pick(r, []string{"email", "keyId"}), Op: "StartsWith", Value: pick(r, []string{"u1", "u2", "u", "x"})}
	case 3:
		return featbit.Condition{Property: "email", Op: "EndsWith", Value: pick(r, []string{".com", ".org", ".net", "test"})}
	case 4:
		return featbit.Condition{Property: pick(r, []string{"country", "plan"}), Op: pick(r, []string{"IsOneOf", "NotOneOf"}),
			Value: jsonList(someOf(r, append(countries[:4:4], plans...), 3))}
	case 5:
		v := strconv.Itoa(r.IntN(90))
		if r.IntN(3) == 0 {
			v += ".5"
		}
		return featbit.Condition{Property: "age", Op: pick(r, []string{"LessThan", "LessEqualThan", "BiggerThan", "BiggerEqualThan"}), Value: v}
	case 6:
		return featbit.Condition{Property: "beta", Op: pick(r, []string{"IsTrue", "IsFalse"}), Value: "IsTrue"}
	case 7:
		return featbit.Condition{Property: "name", Op: pick(r, []string{"Equal", "NotEqual", "StartsWith"}), Value: "User " + strconv.Itoa(r.IntN(20))}
	default:
		return featbit.Condition{Property: "keyId", Op: pick(r, []string{"IsOneOf", "NotOneOf"}),
			Value: jsonList([]string{pick(r, users).KeyID, pick(r, users).KeyID})}
	}
}

// rollout returns a random rollout over the variations vs that tiles [0, 1].
func rollout(r *rand.Rand, vs []featbit.Variation) []featbit.RolloutVariation {
	if r.IntN(3) == 0 {
		return []featbit.RolloutVariation{{ID: pick(r, vs).ID, Rollout: []float64{0, 1}, ExptRollout: 1}}
	}
	n := 2 + r.IntN(len(vs)-1)
	ks := r.Perm(99)[:n-1]
	slices.Sort(ks)
	cuts := []float64{0}
	for _, k := range ks {
		cuts = append(cuts, float64(k+1)/100)
	}
	cuts = append(cuts, 1)
	perm := r.Perm(len(vs))
	out := make([]featbit.RolloutVariation, n)
	for i := range n {
		out[i] = featbit.RolloutVariation{ID: vs[perm[i]].ID, Rollout: []float64{cuts[i], cuts[i+1]}, ExptRollout: float64(r.IntN(101)) / 100}
	}
	return out
}

func stamp(r *rand.Rand) string {
	return time.UnixMilli(1_700_000_000_000 + r.Int64N(50_000_000_000)).UTC().Format("2006-01-02T15:04:05.000Z")
}

// randomExport returns nFlags flags (string, boolean, number and json) and nSegs segments, keys
// prefixed with prefix (segment names too).
func randomExport(r *rand.Rand, prefix string, nFlags, nSegs int, users []genUser) *featbit.Export {
	ex := &featbit.Export{Format: featbit.FormatServerSync}
	guid := func() string {
		return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", r.Uint32(), r.IntN(1<<16), r.IntN(1<<12), r.IntN(1<<12), r.Int64N(1<<48))
	}
	for i := range nSegs {
		s := featbit.Segment{ID: guid(), EnvID: "fb-env", Name: fmt.Sprintf("%s segment %d", prefix, i), Description: "random",
			UpdatedAt: stamp(r), Tags: []string{}, Included: []string{}, Excluded: []string{}, Rules: []featbit.SegmentRule{}}
		for range r.IntN(6) {
			s.Included = append(s.Included, pick(r, users).KeyID)
		}
		for range r.IntN(3) {
			s.Excluded = append(s.Excluded, pick(r, users).KeyID)
		}
		for j := range r.IntN(3) {
			rule := featbit.SegmentRule{ID: guid(), Name: fmt.Sprintf("segment rule %d", j)}
			for range 1 + r.IntN(2) {
				rule.Conditions = append(rule.Conditions, condition(r, users))
			}
			s.Rules = append(s.Rules, rule)
		}
		ex.Segments = append(ex.Segments, s)
	}
	for i := range nFlags {
		f := featbit.Flag{ID: guid(), EnvID: "fb-env", Key: fmt.Sprintf("%s-flag-%d", prefix, i), Name: fmt.Sprintf("Flag %d", i),
			VariationType: pick(r, []string{"string", "string", "string", "boolean", "number", "json"}), IsEnabled: r.IntN(8) != 0, ExptIncludeAllTargets: r.IntN(2) == 0,
			Tags: []string{"import"}, UpdatedAt: stamp(r), TargetUsers: []featbit.TargetUser{}, Rules: []featbit.Rule{}}
		n := 2 + r.IntN(3)
		if f.VariationType == "boolean" {
			n = 2
		}
		for j := range n {
			v := fmt.Sprintf("%s-v%d", f.Key, j)
			switch f.VariationType {
			case "boolean":
				v = strconv.FormatBool(j == 0)
			case "number":
				v = strconv.Itoa(10*j+r.IntN(10)) + pick(r, []string{"", ".5", ".25"})
			case "json":
				v = fmt.Sprintf(`{"v":%d,"on":%t}`, j, j%2 == 0)
			}
			f.Variations = append(f.Variations, featbit.Variation{ID: guid(), Name: "v" + strconv.Itoa(j), Value: v})
		}
		f.DisabledVariationID = pick(r, f.Variations).ID
		for range r.IntN(3) {
			tu := featbit.TargetUser{VariationID: pick(r, f.Variations).ID}
			for range 1 + r.IntN(4) {
				tu.KeyIDs = append(tu.KeyIDs, pick(r, users).KeyID)
			}
			f.TargetUsers = append(f.TargetUsers, tu)
		}
		for j := range r.IntN(5) {
			rule := featbit.Rule{ID: guid(), Name: fmt.Sprintf("rule %d", j), IncludedInExpt: r.IntN(2) == 0}
			if r.IntN(3) == 0 {
				rule.DispatchKey = "tenant"
			}
			for range 1 + r.IntN(3) {
				if nSegs > 0 && r.IntN(4) == 0 {
					prop := pick(r, []string{"User is in segment", "User is not in segment"})
					ids := []string{pick(r, ex.Segments).ID}
					if r.IntN(3) == 0 {
						ids = append(ids, pick(r, ex.Segments).ID)
					}
					rule.Conditions = append(rule.Conditions, featbit.Condition{Property: prop, Value: jsonList(ids)})
				} else {
					rule.Conditions = append(rule.Conditions, condition(r, users))
				}
			}
			rule.Variations = rollout(r, f.Variations)
			f.Rules = append(f.Rules, rule)
		}
		f.Fallthrough = featbit.Fallthrough{IncludedInExpt: true, Variations: rollout(r, f.Variations)}
		if r.IntN(4) == 0 {
			f.Fallthrough.DispatchKey = "tenant"
		}
		ex.Flags = append(ex.Flags, f)
	}
	return ex
}
