package wire

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/codec"
)

// goldenFlag is hand-written: the expected bytes below were typed, not
// produced by the encoder.
var goldenFlag = &codec.Flag{
	ID: "5a0e4c1d-2b3f-4e6a-9c8d-7f1e2d3c4b5a", EnvID: "0d9c8b7a-6f5e-4d3c-2b1a-0f9e8d7c6b5a",
	Name: "New <checkout> & \"cart\"", Description: "", Key: "new-checkout", VariationType: "boolean",
	Variations: []codec.Variation{
		{ID: "v-on", Name: "On", Value: "true"},
		{ID: "v-off", Name: "Off", Value: "false"},
	},
	TargetUsers: []codec.TargetUser{{KeyIDs: []string{"alice", "bob"}, VariationID: "v-on"}},
	Rules: []codec.Rule{{
		ID: "r1", Name: "Adults in FR", DispatchKey: "", IncludedInExpt: false,
		Conditions: []codec.Condition{
			{ID: "c1", Property: "age", Op: "BiggerThan", Value: "22"},
			{Property: "User is in segment", Value: `["seg-1"]`},
		},
		Variations: []codec.RolloutVariation{
			{ID: "v-on", Rollout: [2]float64{0, 0.1}, ExptRollout: 1},
			{ID: "v-off", Rollout: [2]float64{0.1, 1}, ExptRollout: 0.25},
		},
	}},
	IsEnabled: true, DisabledVariationID: "v-off",
	Fallthrough: codec.Fallthrough{DispatchKey: "keyId", IncludedInExpt: true,
		Variations: []codec.RolloutVariation{{ID: "v-on", Rollout: [2]float64{0, 1}, ExptRollout: 1}}},
	ExptIncludeAllTargets: true,
	UpdatedAt:             1674885575885, // 2023-01-28T05:59:35.885Z
	IsArchived:            false,
}

const goldenFlagJSON = `{"id":"5a0e4c1d-2b3f-4e6a-9c8d-7f1e2d3c4b5a","envId":"0d9c8b7a-6f5e-4d3c-2b1a-0f9e8d7c6b5a",` +
	`"name":"New <checkout> & \"cart\"","description":"","key":"new-checkout","variationType":"boolean",` +
	`"variations":[{"id":"v-on","name":"On","value":"true"},{"id":"v-off","name":"Off","value":"false"}],` +
	`"targetUsers":[{"keyIds":["alice","bob"],"variationId":"v-on"}],` +
	`"rules":[{"id":"r1","name":"Adults in FR","dispatchKey":null,"includedInExpt":false,` +
	`"conditions":[{"id":"c1","property":"age","op":"BiggerThan","value":"22"},` +
	`{"id":"","property":"User is in segment","op":null,"value":"[\"seg-1\"]"}],` +
	`"variations":[{"id":"v-on","rollout":[0,0.1],"exptRollout":1},{"id":"v-off","rollout":[0.1,1],"exptRollout":0.25}]}],` +
	`"isEnabled":true,"disabledVariationId":"v-off",` +
	`"fallthrough":{"dispatchKey":"keyId","includedInExpt":true,"variations":[{"id":"v-on","rollout":[0,1],"exptRollout":1}]},` +
	`"exptIncludeAllTargets":true,"tags":[],"updatedAt":"2023-01-28T05:59:35.885Z","isArchived":false}`

var goldenSegment = &codec.Segment{
	ID: "seg-1", EnvID: "env-1", Name: "Beta", Description: "beta users",
	Included: []string{"alice"},
	Rules: []codec.SegmentRule{{ID: "sr1", Name: "Rule 1", Conditions: []codec.Condition{
		{Property: "country", Op: "IsOneOf", Value: `["cn","us"]`},
	}}},
	UpdatedAt: 0, IsArchived: true,
}

const goldenSegmentJSON = `{"id":"seg-1","envId":"env-1","name":"Beta","description":"beta users",` +
	`"included":["alice"],"excluded":[],` +
	`"rules":[{"id":"sr1","name":"Rule 1","conditions":[{"id":"","property":"country","op":"IsOneOf","value":"[\"cn\",\"us\"]"}]}],` +
	`"updatedAt":"1970-01-01T00:00:00.000Z","isArchived":true}`

func TestAppendFlagGolden(t *testing.T) {
	got := AppendFlag([]byte("prefix"), goldenFlag)
	if string(got) != "prefix"+goldenFlagJSON {
		t.Fatalf("AppendFlag:\n got %s\nwant %s", got[6:], goldenFlagJSON)
	}
	checkJSON(t, got[6:])
}

func TestAppendFlagEmptySlices(t *testing.T) {
	got := string(AppendFlag(nil, &codec.Flag{}))
	want := `{"id":"","envId":"","name":"","description":"","key":"","variationType":"","variations":[],` +
		`"targetUsers":[],"rules":[],"isEnabled":false,"disabledVariationId":"",` +
		`"fallthrough":{"dispatchKey":null,"includedInExpt":false,"variations":[]},` +
		`"exptIncludeAllTargets":false,"tags":[],"updatedAt":"1970-01-01T00:00:00.000Z","isArchived":false}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestAppendSegmentGolden(t *testing.T) {
	got := AppendSegment(nil, goldenSegment)
	if string(got) != goldenSegmentJSON {
		t.Fatalf("AppendSegment:\n got %s\nwant %s", got, goldenSegmentJSON)
	}
	checkJSON(t, got)
}

func TestAppendServerSyncGolden(t *testing.T) {
	want := `{"messageType":"data-sync","data":{"eventType":"full","featureFlags":[` + goldenFlagJSON + `,` + goldenFlagJSON +
		`],"segments":[` + goldenSegmentJSON + `]}}`
	got := AppendServerSync(nil, EventFull, []*codec.Flag{goldenFlag, nil, goldenFlag}, []*codec.Segment{goldenSegment})
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	checkJSON(t, got)
	raw := AppendServerSyncRaw(nil, EventFull,
		[][]byte{AppendFlag(nil, goldenFlag), nil, AppendFlag(nil, goldenFlag)},
		[][]byte{AppendSegment(nil, goldenSegment)})
	if string(raw) != want {
		t.Fatalf("raw got %s\nwant %s", raw, want)
	}
	empty := AppendServerSync(nil, EventPatch, nil, nil)
	if string(empty) != `{"messageType":"data-sync","data":{"eventType":"patch","featureFlags":[],"segments":[]}}` {
		t.Fatalf("empty patch: %s", empty)
	}
	if string(AppendServerSyncRaw(nil, EventPatch, nil, nil)) != string(empty) {
		t.Fatal("raw empty patch differs")
	}
}

func TestAppendClientSyncGolden(t *testing.T) {
	flags := []ClientFlag{
		{Key: "returns-true", Value: "true", VariationType: "boolean", VariationID: "v1", MatchReason: "default",
			Options:          []codec.Variation{{ID: "v1", Name: "ignored", Value: "true"}, {ID: "v2", Value: "false"}},
			SendToExperiment: true, Timestamp: 1674871495616},
		{Key: "gone", ValueNull: true, Value: "x", VariationID: "v9", MatchReason: "flag archived", Timestamp: 1},
	}
	want := `{"messageType":"data-sync","data":{"eventType":"full","userKeyId":"u-123","featureFlags":[` +
		`{"id":"returns-true","variation":"true","variationType":"boolean","variationId":"v1","matchReason":"default",` +
		`"variationOptions":[{"id":"v1","value":"true"},{"id":"v2","value":"false"}],"sendToExperiment":true,"timestamp":1674871495616},` +
		`{"id":"gone","variation":null,"variationType":"string","variationId":null,"matchReason":"flag archived",` +
		`"variationOptions":[],"sendToExperiment":false,"timestamp":1}]}}`
	got := AppendClientSync(nil, EventFull, "u-123", flags)
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	checkJSON(t, got)
	// pre-encoded options give the same bytes
	flags[0].OptionsJSON = AppendVariationOptions(nil, flags[0].Options)
	flags[0].Options = nil
	flags[1].OptionsJSON = AppendVariationOptions(nil, nil)
	if again := AppendClientSync(nil, EventFull, "u-123", flags); string(again) != want {
		t.Fatalf("with OptionsJSON: %s", again)
	}
	if got := string(AppendClientSync(nil, EventPatch, "u", nil)); got != `{"messageType":"data-sync","data":{"eventType":"patch","userKeyId":"u","featureFlags":[]}}` {
		t.Fatalf("empty: %s", got)
	}
}

func TestAppendPongEcho(t *testing.T) {
	if got := string(AppendPong([]byte("x"))); got != `x{"messageType":"pong","data":{}}` {
		t.Fatal(got)
	}
	var m Message
	if err := m.Parse([]byte(`{"messageType":"echo","data": {"a":[1,"\u00e9"]} }`)); err != nil {
		t.Fatal(err)
	}
	if got := string(AppendEcho(nil, m.Data)); got != `{"messageType":"echo","data":{"a":[1,"\u00e9"]}}` {
		t.Fatal(got)
	}
	if got := string(AppendEcho(nil, nil)); got != `{"messageType":"echo","data":null}` {
		t.Fatal(got)
	}
}

func TestAppendStringEscaping(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", `""`},
		{"plain", `"plain"`},
		{`a"b\c`, `"a\"b\\c"`},
		{"\n\r\t\b\f", `"\n\r\t\b\f"`},
		{"\x00\x01\x1f\x7f", `"\u0000\u0001\u001f` + "\x7f" + `"`},
		{"<a href='x'>&amp;</a>", `"<a href='x'>&amp;</a>"`},
		{"héllo €𝄞", `"héllo €𝄞"`},
		{"bad\xffutf8\xc3", `"bad\ufffdutf8\ufffd"`},
		{"\xed\xa0\x80", `"\ufffd\ufffd\ufffd"`}, // encoded surrogate: invalid UTF-8
		{"line\u2028sep\u2029", `"line\u2028sep\u2029"`},
		{"/", `"/"`},
	}
	for _, c := range cases {
		got := string(AppendString(nil, c.in))
		if got != c.want {
			t.Errorf("AppendString(%q) = %s, want %s", c.in, got, c.want)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("AppendString(%q) = %s is not valid JSON", c.in, got)
		}
		if ref := stdString(c.in); got != ref {
			t.Errorf("AppendString(%q) = %s, encoding/json writes %s", c.in, got, ref)
		}
	}
}

// stdString is encoding/json's encoding of s without HTML escaping.
func stdString(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(buf.String(), "\n")
}

func TestAppendFloat(t *testing.T) {
	cases := []struct {
		in   float64
		want string
	}{
		{0, "0"}, {1, "1"}, {0.1, "0.1"}, {0.25, "0.25"}, {1.0 / 3, "0.3333333333333333"},
		{-2.5, "-2.5"}, {1e-7, "1e-7"}, {1e21, "1e+21"}, {123456789012, "123456789012"},
		{math.NaN(), "0"}, {math.Inf(1), "0"}, {math.Copysign(0, -1), "-0"},
	}
	for _, c := range cases {
		if got := string(AppendFloat(nil, c.in)); got != c.want {
			t.Errorf("AppendFloat(%v) = %s, want %s", c.in, got, c.want)
		}
	}
	for i := 0; i < 2000; i++ {
		f := math.Float64frombits(rand.Uint64())
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		got := AppendFloat(nil, f)
		ref, _ := json.Marshal(f)
		if string(got) != string(ref) {
			t.Fatalf("AppendFloat(%v) = %s, encoding/json %s", f, got, ref)
		}
	}
}

func TestAppendTime(t *testing.T) {
	cases := []struct {
		ms   int64
		want string
	}{
		{0, `"1970-01-01T00:00:00.000Z"`},
		{1674885575885, `"2023-01-28T05:59:35.885Z"`},
		{1674885575005, `"2023-01-28T05:59:35.005Z"`},
		{253402300799999, `"9999-12-31T23:59:59.999Z"`},
		{-1, `"1969-12-31T23:59:59.999Z"`},
	}
	for _, c := range cases {
		if got := string(AppendTime(nil, c.ms)); got != c.want {
			t.Errorf("AppendTime(%d) = %s, want %s", c.ms, got, c.want)
		}
	}
	for i := 0; i < 1000; i++ {
		ms := rand.Int64N(253402300799999)
		want := `"` + time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00") + `"`
		if got := string(AppendTime(nil, ms)); got != want {
			t.Fatalf("AppendTime(%d) = %s, want %s", ms, got, want)
		}
	}
}

// Mirrors of the wire shapes (sections 5.1, 5.2), in field order, so that
// encoding/json produces the reference bytes.
type (
	jVariation struct {
		ID    string `json:"id"`
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	jTarget struct {
		KeyIDs      []string `json:"keyIds"`
		VariationID string   `json:"variationId"`
	}
	jCond struct {
		ID       string  `json:"id"`
		Property string  `json:"property"`
		Op       *string `json:"op"`
		Value    string  `json:"value"`
	}
	jRoll struct {
		ID          string     `json:"id"`
		Rollout     [2]float64 `json:"rollout"`
		ExptRollout float64    `json:"exptRollout"`
	}
	jRule struct {
		ID             string  `json:"id"`
		Name           string  `json:"name"`
		DispatchKey    *string `json:"dispatchKey"`
		IncludedInExpt bool    `json:"includedInExpt"`
		Conditions     []jCond `json:"conditions"`
		Variations     []jRoll `json:"variations"`
	}
	jFall struct {
		DispatchKey    *string `json:"dispatchKey"`
		IncludedInExpt bool    `json:"includedInExpt"`
		Variations     []jRoll `json:"variations"`
	}
	jFlag struct {
		ID                    string       `json:"id"`
		EnvID                 string       `json:"envId"`
		Name                  string       `json:"name"`
		Description           string       `json:"description"`
		Key                   string       `json:"key"`
		VariationType         string       `json:"variationType"`
		Variations            []jVariation `json:"variations"`
		TargetUsers           []jTarget    `json:"targetUsers"`
		Rules                 []jRule      `json:"rules"`
		IsEnabled             bool         `json:"isEnabled"`
		DisabledVariationID   string       `json:"disabledVariationId"`
		Fallthrough           jFall        `json:"fallthrough"`
		ExptIncludeAllTargets bool         `json:"exptIncludeAllTargets"`
		Tags                  []string     `json:"tags"`
		UpdatedAt             string       `json:"updatedAt"`
		IsArchived            bool         `json:"isArchived"`
	}
	jSegRule struct {
		ID         string  `json:"id"`
		Name       string  `json:"name"`
		Conditions []jCond `json:"conditions"`
	}
	jSegment struct {
		ID          string     `json:"id"`
		EnvID       string     `json:"envId"`
		Name        string     `json:"name"`
		Description string     `json:"description"`
		Included    []string   `json:"included"`
		Excluded    []string   `json:"excluded"`
		Rules       []jSegRule `json:"rules"`
		UpdatedAt   string     `json:"updatedAt"`
		IsArchived  bool       `json:"isArchived"`
	}
)

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func strs(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}

func isoMs(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

func mirrorConds(cs []codec.Condition) []jCond {
	out := []jCond{}
	for _, c := range cs {
		out = append(out, jCond{c.ID, c.Property, nullable(c.Op), c.Value})
	}
	return out
}

func mirrorRolls(vs []codec.RolloutVariation) []jRoll {
	out := []jRoll{}
	for _, v := range vs {
		out = append(out, jRoll(v))
	}
	return out
}

func mirrorFlag(f *codec.Flag) jFlag {
	j := jFlag{ID: f.ID, EnvID: f.EnvID, Name: f.Name, Description: f.Description, Key: f.Key,
		VariationType: f.VariationType, Variations: []jVariation{}, TargetUsers: []jTarget{}, Rules: []jRule{},
		IsEnabled: f.IsEnabled, DisabledVariationID: f.DisabledVariationID,
		Fallthrough:           jFall{nullable(f.Fallthrough.DispatchKey), f.Fallthrough.IncludedInExpt, mirrorRolls(f.Fallthrough.Variations)},
		ExptIncludeAllTargets: f.ExptIncludeAllTargets, Tags: strs(f.Tags), UpdatedAt: isoMs(f.UpdatedAt), IsArchived: f.IsArchived}
	for _, v := range f.Variations {
		j.Variations = append(j.Variations, jVariation(v))
	}
	for _, tu := range f.TargetUsers {
		j.TargetUsers = append(j.TargetUsers, jTarget{strs(tu.KeyIDs), tu.VariationID})
	}
	for _, r := range f.Rules {
		j.Rules = append(j.Rules, jRule{r.ID, r.Name, nullable(r.DispatchKey), r.IncludedInExpt, mirrorConds(r.Conditions), mirrorRolls(r.Variations)})
	}
	return j
}

func mirrorSegment(s *codec.Segment) jSegment {
	j := jSegment{ID: s.ID, EnvID: s.EnvID, Name: s.Name, Description: s.Description, Included: strs(s.Included),
		Excluded: strs(s.Excluded), Rules: []jSegRule{}, UpdatedAt: isoMs(s.UpdatedAt), IsArchived: s.IsArchived}
	for _, r := range s.Rules {
		j.Rules = append(j.Rules, jSegRule{r.ID, r.Name, mirrorConds(r.Conditions)})
	}
	return j
}

func stdJSON(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// checkJSON asserts b is valid JSON that encoding/json decodes and
// re-encodes to the same value.
func checkJSON(t *testing.T, b []byte) {
	t.Helper()
	if !json.Valid(b) {
		t.Fatalf("invalid JSON: %s", b)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	var w any
	if err := json.Unmarshal(stdJSON(t, v), &w); err != nil {
		t.Fatal(err)
	}
	if !jsonEqual(v, w) {
		t.Fatalf("round trip changed the value of %s", b)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestEncodersMatchEncodingJSON(t *testing.T) {
	flags, segs := realisticFlags(60)
	// add hostile strings
	r := rand.New(rand.NewPCG(9, 9))
	for i := 0; i < 20; i++ {
		f := realisticFlag(r, weird(r), i)
		f.Name, f.Description, f.Key = weird(r), weird(r), weird(r)
		f.Variations[0].Value = weird(r)
		f.Rules[0].Conditions[0].Value = weird(r)
		f.Rules[1].DispatchKey = weird(r)
		f.Rules[0].Variations[0].Rollout[1] = r.Float64()
		f.Rules[0].Variations[0].ExptRollout = r.Float64() * 1e-8
		f.Tags = nil
		f.UpdatedAt = r.Int64N(4102444800000)
		flags = append(flags, f)
	}
	for _, f := range flags {
		got := AppendFlag(nil, f)
		want := stdJSON(t, mirrorFlag(f))
		if !bytes.Equal(got, want) {
			t.Fatalf("flag %q:\n got %s\nwant %s", f.Key, got, want)
		}
		checkJSON(t, got)
	}
	for _, s := range segs {
		got := AppendSegment(nil, s)
		if want := stdJSON(t, mirrorSegment(s)); !bytes.Equal(got, want) {
			t.Fatalf("segment:\n got %s\nwant %s", got, want)
		}
	}
	msg := AppendServerSync(nil, EventFull, flags, segs)
	checkJSON(t, msg)
	var env struct {
		MessageType string `json:"messageType"`
		Data        struct {
			EventType    string            `json:"eventType"`
			FeatureFlags []json.RawMessage `json:"featureFlags"`
			Segments     []json.RawMessage `json:"segments"`
		} `json:"data"`
	}
	if err := json.Unmarshal(msg, &env); err != nil {
		t.Fatal(err)
	}
	if env.MessageType != "data-sync" || env.Data.EventType != "full" || len(env.Data.FeatureFlags) != len(flags) || len(env.Data.Segments) != len(segs) {
		t.Fatalf("envelope: %s %s %d %d", env.MessageType, env.Data.EventType, len(env.Data.FeatureFlags), len(env.Data.Segments))
	}
	cl := AppendClientSync(nil, EventPatch, weird(r), clientFlags(5))
	checkJSON(t, cl)
}

func weird(r *rand.Rand) string {
	parts := []string{"a", "\"", "\\", "\n", "\x00", "\x1f", "<", ">", "&", "é", "€", "𝄞", "\xff", "\xc3", "\u2028", "\u2029", " ", "/", "\t"}
	var sb strings.Builder
	for n := r.IntN(12); n > 0; n-- {
		sb.WriteString(parts[r.IntN(len(parts))])
	}
	return sb.String()
}

func TestAppendClientSyncIsAllocationFree(t *testing.T) {
	flags := clientFlags(20)
	buf := AppendClientSync(nil, EventFull, "3f1c2a7e-9b0d-4c55-8e2f-6a7b8c9d0e1f", flags)
	allocs := testing.AllocsPerRun(100, func() {
		buf = AppendClientSync(buf[:0], EventFull, "3f1c2a7e-9b0d-4c55-8e2f-6a7b8c9d0e1f", flags)
	})
	if allocs != 0 {
		t.Fatalf("AppendClientSync of 20 flags: %v allocs, want 0", allocs)
	}
	checkJSON(t, buf)
}

func TestAppendServerSyncIsAllocationFree(t *testing.T) {
	flags, segs := realisticFlags(50)
	buf := AppendServerSync(nil, EventFull, flags, segs)
	allocs := testing.AllocsPerRun(20, func() {
		buf = AppendServerSync(buf[:0], EventFull, flags, segs)
	})
	if allocs != 0 {
		t.Fatalf("AppendServerSync: %v allocs, want 0", allocs)
	}
}
