package featbit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/domain"
	"github.com/switchyard/switchyard/control/internal/featbit"
	"github.com/switchyard/switchyard/control/internal/store"
	"github.com/switchyard/switchyard/control/internal/store/bolt"
	"github.com/switchyard/switchyard/edge/eval"
)

// newEnv opens an embedded store in a temporary directory with one
// environment.
func newEnv(t testing.TB) (*store.Store, string) {
	t.Helper()
	st, envID, closeFn, err := openEnv(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeFn)
	return st, envID
}

// openEnv is newEnv in dir, for fuzz targets (no testing.TB inside them).
func openEnv(dir string) (*store.Store, string, func(), error) {
	b, err := bolt.Open(dir, store.Schema)
	if err != nil {
		return nil, "", nil, err
	}
	closeFn := func() { b.Close(context.Background()) }
	st := store.New(b)
	ctx := context.Background()
	p := &store.Project{ID: "p1", OrgID: "o1", Name: "P", Key: "p"}
	if err := st.CreateProject(ctx, p); err != nil {
		closeFn()
		return nil, "", nil, err
	}
	e, err := domain.New(st, domain.Options{}).CreateEnv(ctx, p, "dev", "dev", "")
	if err != nil {
		closeFn()
		return nil, "", nil, err
	}
	return st, e.ID, closeFn, nil
}

func mustDecode(t *testing.T, doc []byte) *featbit.Export {
	t.Helper()
	ex, err := featbit.DecodeBytes(doc, featbit.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

func versions(t *testing.T, st *store.Store, envID string) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	out := map[string]int64{}
	fs, err := st.AllFlags(ctx, envID)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		out["flag "+f.Key] = f.Version
	}
	ss, err := st.AllSegments(ctx, envID)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ss {
		out["segment "+s.Name] = s.Version
	}
	e, err := st.GetEnv(ctx, envID)
	if err != nil {
		t.Fatal(err)
	}
	out["env"] = e.Version
	return out
}

// TestImportIdempotent imports a random export, checks that every imported
// flag evaluates like the original (with segment ids mapped), then imports
// it again: the second run reports every item unchanged and no version
// moves. A dry run writes nothing.
func TestImportIdempotent(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	users := randomUsers(r, 50)
	ex := randomExport(r, "idem", 40, 8, users)
	ex.Flags[3].IsArchived = true
	ex.Segments[2].IsArchived = true
	// A flag may not newly reference an archived segment (the API's rule):
	// drop conditions naming it.
	for i := range ex.Flags {
		for j := range ex.Flags[i].Rules {
			cs := ex.Flags[i].Rules[j].Conditions[:0]
			for _, c := range ex.Flags[i].Rules[j].Conditions {
				if !strings.Contains(c.Value, ex.Segments[2].ID) {
					cs = append(cs, c)
				}
			}
			ex.Flags[i].Rules[j].Conditions = cs
		}
	}
	doc, err := ex.ServerSync()
	if err != nil {
		t.Fatal(err)
	}
	st, envID := newEnv(t)
	ctx := context.Background()

	before := versions(t, st, envID)
	rep, wrote, err := featbit.Import(ctx, st, envID, mustDecode(t, doc), true)
	if err != nil {
		t.Fatal(err)
	}
	if wrote || rep.Count(featbit.OpCreate) != 48 || !rep.DryRun {
		t.Fatalf("dry run: wrote=%v creates=%d, want no write and 48 creates", wrote, rep.Count(featbit.OpCreate))
	}
	if after := versions(t, st, envID); len(after) != len(before) || after["env"] != before["env"] {
		t.Fatalf("the dry run wrote: %v -> %v", before, after)
	}
	var out bytes.Buffer
	rep.Print(&out)
	if !strings.Contains(out.String(), `would create flag "idem-flag-0"`) || !strings.Contains(out.String(), "48 created, 0 updated, 0 unchanged") {
		t.Fatalf("dry-run report:\n%s", out.String())
	}

	rep, wrote, err = featbit.Import(ctx, st, envID, mustDecode(t, doc), false)
	if err != nil {
		t.Fatal(err)
	}
	if !wrote || rep.Count(featbit.OpCreate) != 48 {
		t.Fatalf("first import: wrote=%v creates=%d", wrote, rep.Count(featbit.OpCreate))
	}
	first := versions(t, st, envID)
	checkEquivalent(t, st, envID, ex, users)
	audits := func() int {
		_, n, err := st.ListAudit(ctx, store.AuditFilter{OrgID: "o1", EnvID: envID, Actor: domain.ImportActor, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := audits(); n != 48 {
		t.Fatalf("%d audit entries by %s after the first import, want 48", n, domain.ImportActor)
	}

	rep, wrote, err = featbit.Import(ctx, st, envID, mustDecode(t, doc), false)
	if err != nil {
		t.Fatal(err)
	}
	if wrote || rep.Count(featbit.OpUnchanged) != 48 {
		out.Reset()
		rep.Print(&out)
		t.Fatalf("second import changed something:\n%s", out.String())
	}
	if second := versions(t, st, envID); !equalMaps(first, second) {
		t.Fatalf("versions moved on the second import:\n%v\n%v", first, second)
	}
	if n := audits(); n != 48 {
		t.Fatalf("%d audit entries after the unchanged import, want still 48", n)
	}

	// A change in the source is an update of that flag only, in place.
	ex.Flags[5].IsEnabled = !ex.Flags[5].IsEnabled
	ex.Segments[0].Included = append(ex.Segments[0].Included, "new-user")
	doc, _ = ex.ServerSync()
	old, _ := st.GetFlagByKey(ctx, envID, ex.Flags[5].Key)
	rep, _, err = featbit.Import(ctx, st, envID, mustDecode(t, doc), false)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Count(featbit.OpUpdate) != 2 {
		out.Reset()
		rep.Print(&out)
		t.Fatalf("want 2 updates:\n%s", out.String())
	}
	if n := audits(); n != 50 {
		t.Fatalf("%d audit entries after 2 updates, want 50", n)
	}
	cur, _ := st.GetFlagByKey(ctx, envID, ex.Flags[5].Key)
	if cur.ID != old.ID || cur.IsEnabled != ex.Flags[5].IsEnabled || cur.Version <= old.Version {
		t.Fatalf("flag not updated in place: %+v -> %+v", old, cur)
	}
	archived, _ := st.GetFlagByKey(ctx, envID, ex.Flags[3].Key)
	if !archived.IsArchived {
		t.Fatal("an archived FeatBit flag was imported live")
	}
}

func equalMaps(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// checkEquivalent evaluates every imported flag for every user with
// edge/eval and compares with the original data evaluated the same way
// (segment ids as in the source): the conversion must not change meaning.
func checkEquivalent(t *testing.T, st *store.Store, envID string, ex *featbit.Export, users []genUser) {
	t.Helper()
	ctx := context.Background()
	segs := eval.Segments{}
	ss, _ := st.AllSegments(ctx, envID)
	for _, s := range ss {
		c, _ := eval.CompileSegment(s)
		segs[s.ID] = c
	}
	orig := eval.Segments{}
	for _, s := range ex.Segments {
		c, _ := eval.CompileSegment(rawSegment(t, s))
		orig[s.ID] = c
	}
	for _, ff := range ex.Flags {
		imp, err := st.GetFlagByKey(ctx, envID, ff.Key)
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := eval.CompileFlag(imp)
		fo, _ := eval.CompileFlag(rawFlag(t, ff))
		for _, u := range users {
			eu := eval.UserFrom(&codec.EndUser{KeyID: u.KeyID, Name: u.Name, Props: u.Props})
			a, b := eval.Evaluate(fo, orig, &eu), eval.Evaluate(fi, segs, &eu)
			if val(a) != val(b) || a.MatchReason != b.MatchReason {
				t.Fatalf("flag %s user %s: original %q (%s), imported %q (%s)", ff.Key, u.KeyID, val(a), a.MatchReason, val(b), b.MatchReason)
			}
		}
	}
}

func val(r eval.Result) string {
	if r.Variation == nil {
		return "<none>"
	}
	return r.Variation.Value
}

// rawFlag reads a FeatBit flag as codec.Flag without the importer (the
// JSON field names are FeatBit's).
func rawFlag(t *testing.T, f featbit.Flag) *codec.Flag {
	t.Helper()
	f.UpdatedAt = ""
	b, _ := json.Marshal(f)
	var out codec.Flag
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

func rawSegment(t *testing.T, s featbit.Segment) *codec.Segment {
	t.Helper()
	s.UpdatedAt = ""
	b, _ := json.Marshal(s)
	var out codec.Segment
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

// TestImportRefusesInvalidAsAWhole: one bad flag among good ones means
// nothing is written, and the error names the item and the field.
func TestImportRefusesInvalidAsAWhole(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	users := randomUsers(r, 10)
	ex := randomExport(r, "bad", 5, 2, users)
	ex.Flags[4].Rules = append(ex.Flags[4].Rules, featbit.Rule{ID: "r-bad", Name: "bad",
		Conditions: []featbit.Condition{{Property: "age", Op: "Approximately", Value: "3"}},
		Variations: []featbit.RolloutVariation{{ID: ex.Flags[4].Variations[0].ID, Rollout: []float64{0, 1}}}})
	doc, _ := ex.ServerSync()
	st, envID := newEnv(t)
	before := versions(t, st, envID)
	_, wrote, err := featbit.Import(context.Background(), st, envID, mustDecode(t, doc), false)
	if !errors.Is(err, featbit.ErrInvalid) || wrote {
		t.Fatalf("err = %v, wrote = %v; want ErrInvalid and no write", err, wrote)
	}
	for _, want := range []string{`featureFlags[4] ("bad-flag-4")`, "op", `unknown operator "Approximately"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if after := versions(t, st, envID); !equalMaps(before, after) {
		t.Fatalf("something was written: %v -> %v", before, after)
	}
}

func TestImportUnknownEnv(t *testing.T) {
	st, _ := newEnv(t)
	_, _, err := featbit.Import(context.Background(), st, "no-such-env", &featbit.Export{}, false)
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
}

// TestDecodeFormats: both FeatBit formats decode to the same export; the
// remote-sync form of the same items equals the data-sync form.
func TestDecodeFormats(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	ex := randomExport(r, "fmt", 3, 2, randomUsers(r, 5))
	sync, _ := ex.ServerSync()
	remote, _ := json.Marshal(ex)
	a, b := mustDecode(t, sync), mustDecode(t, append([]byte("\xef\xbb\xbf \n"), remote...))
	if a.Format != featbit.FormatServerSync || b.Format != featbit.FormatRemoteSync {
		t.Fatalf("formats %q, %q", a.Format, b.Format)
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if !bytes.Equal(ja, jb) {
		t.Fatalf("the two formats decode differently:\n%s\n%s", ja, jb)
	}
}

// TestSecurityImportDecodeLimits: size and item caps, and the errors
// naming the field, for hostile or broken files.
func TestSecurityImportDecodeLimits(t *testing.T) {
	flag := `{"id":"f","key":"k%d","variations":[{"id":"a","value":"x"}],"fallthrough":{"variations":[{"id":"a","rollout":[0,1]}]}}`
	many := func(n int) string {
		var b strings.Builder
		b.WriteString(`{"featureFlags":[`)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strings.Replace(flag, "%d", strings.Repeat("x", i%7)+string(rune('a'+i%26))+strings.Repeat("y", i/26), 1))
		}
		b.WriteString(`]}`)
		return b.String()
	}
	cases := []struct {
		name, doc string
		lim       featbit.Limits
		want      string
	}{
		{"too large", many(3), featbit.Limits{MaxBytes: 100}, "larger than 100 bytes"},
		{"too many flags", many(30), featbit.Limits{MaxFlags: 20}, "featureFlags: 30 flags, at most 20"},
		{"too many segments", `{"segments":[{"id":"a","name":"a"},{"id":"b","name":"b"}]}`, featbit.Limits{MaxSegments: 1}, "segments: 2 segments, at most 1"},
		{"not an object", `[1,2]`, featbit.Limits{}, "must be a JSON object"},
		{"empty", ``, featbit.Limits{}, "must be a JSON object"},
		{"neither", `{"foo":1}`, featbit.Limits{}, "neither data.featureFlags"},
		{"both", `{"data":{"featureFlags":[]},"featureFlags":[]}`, featbit.Limits{}, "both data and top-level"},
		{"wrong message", `{"messageType":"ping","data":{}}`, featbit.Limits{}, `messageType: "ping"`},
		{"type error", `{"featureFlags":[{"key":7}]}`, featbit.Limits{}, "featureFlags.key: a JSON number"},
		{"syntax", `{"featureFlags":[{]}`, featbit.Limits{}, "malformed JSON at offset"},
		{"no key", `{"featureFlags":[{"id":"x"}]}`, featbit.Limits{}, "featureFlags[0].key: missing"},
		{"dup key", `{"featureFlags":[{"key":"a"},{"key":"a"}]}`, featbit.Limits{}, `featureFlags[1].key: "a" is also the key of featureFlags[0]`},
		{"no variation id", `{"featureFlags":[{"key":"a","variations":[{"value":"x"}]}]}`, featbit.Limits{}, "featureFlags[0].variations[0].id: missing"},
		{"rollout arity", `{"featureFlags":[{"key":"a","fallthrough":{"variations":[{"id":"v","rollout":[0,0.5,1]}]}}]}`, featbit.Limits{}, "featureFlags[0].fallthrough.variations[0].rollout: must be [start, end], got 3 numbers"},
		{"unknown segment", `{"featureFlags":[{"key":"a","rules":[{"conditions":[{"property":"User is in segment","value":"[\"zz\"]"}]}]}]}`, featbit.Limits{}, `featureFlags[0].rules[0].conditions[0].value: segment "zz" is not in the export`},
		{"bad segment list", `{"featureFlags":[{"key":"a","rules":[{"conditions":[{"property":"User is not in segment","value":"zz"}]}]}]}`, featbit.Limits{}, `must be a JSON array of segment ids`},
		{"dup segment name", `{"segments":[{"id":"a","name":"Beta"},{"id":"b","name":" beta "}]}`, featbit.Limits{}, `segments[1].name: " beta " is also the name of segments[0]`},
		{"dup segment id", `{"segments":[{"id":"a","name":"x"},{"id":"a","name":"y"}]}`, featbit.Limits{}, `segments[1].id: duplicate segment id "a"`},
		{"segment without id", `{"segments":[{"name":"x"}]}`, featbit.Limits{}, `segments[0].id: missing`},
		{"deep nesting", `{"featureFlags":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`, featbit.Limits{}, "featBit export"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := featbit.Decode(strings.NewReader(c.doc), c.lim)
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, featbit.ErrFormat) {
				t.Errorf("%v does not wrap ErrFormat", err)
			}
			if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(c.want)) {
				t.Errorf("error %q, want it to contain %q", err, c.want)
			}
		})
	}
}

// TestImportFeatBitDocument imports a document in the exact shape FeatBit's
// evaluation server sends (nulls for empty texts, dispatch keys and segment
// condition ops, extra fields such as revision, creatorId, disabledVariation,
// segment key/type/scopes, ISO times) and checks what each user gets.
func TestImportFeatBitDocument(t *testing.T) {
	doc, err := os.ReadFile("testdata/latest-all.json")
	if err != nil {
		t.Fatal(err)
	}
	st, envID := newEnv(t)
	ctx := context.Background()
	ex := mustDecode(t, doc)
	if ex.Format != featbit.FormatServerSync {
		t.Fatalf("format %q", ex.Format)
	}
	if _, _, err := featbit.Import(ctx, st, envID, ex, false); err != nil {
		t.Fatal(err)
	}
	segs := eval.Segments{}
	ss, _ := st.AllSegments(ctx, envID)
	for _, s := range ss {
		c, _ := eval.CompileSegment(s)
		segs[s.ID] = c
	}
	get := func(key string) *eval.Flag {
		f, err := st.GetFlagByKey(ctx, envID, key)
		if err != nil {
			t.Fatal(err)
		}
		c, errs := eval.CompileFlag(f)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		return c
	}
	checkout, banner := get("new-checkout"), get("banner-text")
	user := func(key, email, country, age string) *eval.User {
		u := eval.UserFrom(&codec.EndUser{KeyID: key, Name: key, Props: []codec.UserProp{{Name: "email", Value: email}, {Name: "country", Value: country}, {Name: "age", Value: age}}})
		return &u
	}
	for _, c := range []struct {
		u            *eval.User
		want, reason string
	}{
		{user("qa-1", "qa@else.org", "US", "40"), "true", "targeted"},
		{user("alice", "alice@else.org", "US", "40"), "true", "Beta segment"},
		{user("bob", "bob@example.com", "US", "40"), "true", "Beta segment"},
		{user("mallory", "mallory@example.com", "US", "40"), "false", "default"},
		{user("carol", "carol@else.org", "FR", "12"), "false", "default"},
	} {
		r := eval.Evaluate(checkout, segs, c.u)
		if val(r) != c.want || r.MatchReason != c.reason {
			t.Errorf("new-checkout for %s: %q (%s), want %q (%s)", c.u.KeyID, val(r), r.MatchReason, c.want, c.reason)
		}
	}
	fr := 0
	for i := range 200 {
		r := eval.Evaluate(checkout, segs, user(fmt.Sprintf("fr-%d", i), "x@else.org", "FR", "30"))
		if r.MatchReason != "Half of France" {
			t.Fatalf("French adult: reason %q", r.MatchReason)
		}
		if val(r) == "true" {
			fr++
		}
	}
	if fr < 60 || fr > 140 {
		t.Errorf("%d of 200 French adults got true, want about half", fr)
	}
	if r := eval.Evaluate(banner, segs, user("anyone", "", "", "")); val(r) != "Hi" || r.MatchReason != "flag disabled" {
		t.Errorf("banner-text: %q (%s), want the disabled variation", val(r), r.MatchReason)
	}
	f, _ := st.GetFlagByKey(ctx, envID, "new-checkout")
	if f.Rules[0].ID != "c9d8e7f6-0002-4000-8000-000000000001" || f.Rules[1].Conditions[1].ID != "c9d8e7f6-0002-4000-8000-0000000000b2" ||
		f.Variations[0].Name != "true" || f.Tags[0] != "checkout" || f.Description != "" {
		t.Errorf("imported flag: %+v", f)
	}
}
