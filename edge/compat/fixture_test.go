//go:build integration

package compat

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/codec/secret"
	"github.com/switchyard/switchyard/edge/eval"
)

// user is an end user as the compat scripts take it: {"key","name","custom"}.
// Every fixture user sets every attribute the fixture's conditions read, so
// the SDKs' different handling of missing attributes (protocol notes 6.9)
// does not come into play.
type user struct {
	Key    string            `json:"key"`
	Name   string            `json:"name"`
	Custom map[string]string `json:"custom"`
	// RawCustom holds custom properties the JavaScript scripts pass to the
	// SDK as they are (numbers stay JSON numbers on the wire, as with Node's
	// UserBuilder.custom('age', 18) from FeatBit's README); the Python SDK
	// stringifies every value itself.
	RawCustom map[string]any `json:"rawCustom,omitempty"`
}

func newUser(key, plan, email, age, country string) user {
	return user{Key: key, Name: "Name of " + key, Custom: map[string]string{
		"plan": plan, "email": email, "age": age, "country": country,
	}}
}

func (u user) endUser() codec.EndUser {
	eu := codec.EndUser{KeyID: u.Key, Name: u.Name}
	for _, k := range []string{"plan", "email", "age", "country"} {
		if v, ok := u.Custom[k]; ok {
			eu.Props = append(eu.Props, codec.UserProp{Name: k, Value: v})
		}
	}
	for _, k := range sortedKeys(u.RawCustom) {
		eu.Props = append(eu.Props, codec.UserProp{Name: k, Value: fmt.Sprint(u.RawCustom[k])})
	}
	return eu
}

// Fixture flag keys.
const (
	flagBool     = "compat-bool"
	flagString   = "compat-string"
	flagNumber   = "compat-number"
	flagJSON     = "compat-json"
	flagRule     = "compat-rule"
	flagRollout  = "compat-rollout"
	flagDisabled = "compat-disabled"
	flagPush     = "compat-push"
	flagRegex    = "compat-regex"
	flagArchived = "compat-archived"
	flagDispatch = "compat-dispatch"
)

// flagTypes maps a fixture flag to the typed variation call the scripts use.
var flagTypes = map[string]string{
	flagBool: "bool", flagString: "string", flagNumber: "number", flagJSON: "json",
	flagRule: "string", flagRollout: "string", flagDisabled: "bool", flagPush: "string",
	flagRegex: "string", flagArchived: "bool", flagDispatch: "string",
}

// fixture is one demo environment: secrets, flags and a segment, plus the
// users the checks evaluate.
type fixture struct {
	EnvID        string
	ServerSecret string
	ClientSecret string
	Flags        map[string]*codec.Flag // by key
	Segments     []codec.Segment
	Version      int64 // environment version of the last snapshot or change
	Users        map[string]user
	RolloutUsers []user

	compiledSegs eval.Segments
}

func mustSecret(t *testing.T, envID string) string {
	t.Helper()
	s, err := secret.New(envID)
	if err != nil {
		t.Fatalf("secret.New(%s): %v", envID, err)
	}
	return s
}

func variations(values ...string) []codec.Variation {
	vs := make([]codec.Variation, len(values))
	for i, v := range values {
		vs[i] = codec.Variation{ID: secret.NewGUID(), Name: "v" + strconv.Itoa(i), Value: v}
	}
	return vs
}

func varID(f *codec.Flag, value string) string {
	for _, v := range f.Variations {
		if v.Value == value {
			return v.ID
		}
	}
	panic(fmt.Sprintf("flag %s has no variation %q", f.Key, value))
}

// all serves one variation to 100% of the users.
func all(f *codec.Flag, value string) []codec.RolloutVariation {
	return []codec.RolloutVariation{{ID: varID(f, value), Rollout: [2]float64{0, 1}, ExptRollout: 1}}
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	env := secret.NewGUID()
	fx := &fixture{
		EnvID:        env,
		ServerSecret: mustSecret(t, env),
		ClientSecret: mustSecret(t, env),
		Flags:        map[string]*codec.Flag{},
		Version:      1,
		Users:        map[string]user{},
	}
	// Times are in the past so that a pushed change (now) is newer.
	base := time.Now().Add(-time.Hour).UnixMilli()
	add := func(key, typ string, values ...string) *codec.Flag {
		f := &codec.Flag{
			ID: secret.NewGUID(), EnvID: env, Name: key, Key: key, VariationType: typ,
			Variations: variations(values...), IsEnabled: true, ExptIncludeAllTargets: true,
			Tags: []string{"compat"}, CreatedAt: base, UpdatedAt: base + int64(len(fx.Flags)), Version: 1,
		}
		f.DisabledVariationID = f.Variations[len(f.Variations)-1].ID
		f.Fallthrough = codec.Fallthrough{IncludedInExpt: true, Variations: all(f, values[0])}
		fx.Flags[key] = f
		return f
	}

	vip := codec.Segment{
		ID: secret.NewGUID(), EnvID: env, Name: "vip", Description: "VIP customers",
		Included: []string{"u-vip"}, Excluded: []string{"u-banned"},
		Rules: []codec.SegmentRule{{ID: secret.NewGUID(), Name: "vip mail", Conditions: []codec.Condition{
			{ID: secret.NewGUID(), Property: "email", Op: "EndsWith", Value: "@vip.example"},
		}}},
		CreatedAt: base, UpdatedAt: base, Version: 1,
	}
	fx.Segments = []codec.Segment{vip}

	add(flagBool, "boolean", "true", "false")
	add(flagNumber, "number", "42", "7")
	add(flagJSON, "json", `{"color":"red","sizes":[1,2,3]}`, `{}`)

	s := add(flagString, "string", "blue", "green", "red")
	s.TargetUsers = []codec.TargetUser{{KeyIDs: []string{"u-green", "u-green-2"}, VariationID: varID(s, "green")}}

	r := add(flagRule, "string", "standard", "beta", "vip", "eu-adult")
	r.Rules = []codec.Rule{
		{ID: secret.NewGUID(), Name: "beta plan", IncludedInExpt: true,
			Conditions: []codec.Condition{{ID: secret.NewGUID(), Property: "plan", Op: "Equal", Value: "beta"}},
			Variations: all(r, "beta")},
		{ID: secret.NewGUID(), Name: "vip segment", IncludedInExpt: true,
			Conditions: []codec.Condition{{ID: secret.NewGUID(), Property: "User is in segment", Op: "", Value: `["` + vip.ID + `"]`}},
			Variations: all(r, "vip")},
		{ID: secret.NewGUID(), Name: "eu adults", IncludedInExpt: true,
			Conditions: []codec.Condition{
				{ID: secret.NewGUID(), Property: "age", Op: "BiggerEqualThan", Value: "18"},
				{ID: secret.NewGUID(), Property: "country", Op: "IsOneOf", Value: `["fr","de"]`},
			},
			Variations: all(r, "eu-adult")},
	}

	ro := add(flagRollout, "string", "A", "B")
	ro.Fallthrough = codec.Fallthrough{DispatchKey: "keyId", IncludedInExpt: true, Variations: []codec.RolloutVariation{
		{ID: varID(ro, "A"), Rollout: [2]float64{0, 0.5}, ExptRollout: 1},
		{ID: varID(ro, "B"), Rollout: [2]float64{0.5, 1}, ExptRollout: 1},
	}}

	d := add(flagDisabled, "boolean", "true", "false")
	d.IsEnabled = false

	add(flagPush, "string", "before", "after-1", "after-2", "after-3", "after-4", "after-5", "after-restart")

	// Flags where SDKs are known to differ from FeatBit's server (and so
	// from the edge): see quirkCases.
	rx := add(flagRegex, "string", "no", "yes")
	rx.Rules = []codec.Rule{{ID: secret.NewGUID(), Name: "example mail", IncludedInExpt: true,
		Conditions: []codec.Condition{{ID: secret.NewGUID(), Property: "email", Op: "MatchRegex", Value: `^[a-z]+@example\.com$`}},
		Variations: all(rx, "yes")}}
	ar := add(flagArchived, "boolean", "true", "false")
	ar.IsArchived = true
	dk := add(flagDispatch, "string", "A", "B")
	dk.Fallthrough = codec.Fallthrough{DispatchKey: "tenant", IncludedInExpt: true, Variations: []codec.RolloutVariation{
		{ID: varID(dk, "A"), Rollout: [2]float64{0, 0.5}, ExptRollout: 1},
		{ID: varID(dk, "B"), Rollout: [2]float64{0.5, 1}, ExptRollout: 1},
	}}

	for _, u := range []user{
		newUser("u-plain", "free", "plain@example.com", "30", "us"),
		newUser("u-green", "free", "green@example.com", "30", "us"),
		newUser("u-beta", "beta", "beta@example.com", "30", "fr"),
		newUser("u-vip", "free", "vip@example.com", "30", "us"),
		newUser("u-vipmail", "free", "someone@vip.example", "30", "us"),
		newUser("u-banned", "free", "banned@vip.example", "30", "us"),
		newUser("u-eu", "free", "eu@example.com", "30", "de"),
		newUser("u-young", "free", "young@example.com", "12", "fr"),
	} {
		fx.Users[u.Key] = u
	}
	// u-numeric's age is a JSON number on the wire (JS SDKs only): the edge
	// must accept it and compare it like "30".
	fx.Users["u-numeric"] = user{Key: "u-numeric", Name: "Numeric", Custom: map[string]string{
		"plan": "free", "email": "n@example.com", "country": "fr",
	}, RawCustom: map[string]any{"age": 30}}
	// Fixed keys, so the rollout checks are the same on every run (the
	// first 12, which the JS client uses, get both variations).
	for i := 0; i < 40; i++ {
		fx.RolloutUsers = append(fx.RolloutUsers, newUser(fmt.Sprintf("roll-%03d", i), "free", "r@example.com", "30", "us"))
	}

	fx.compiledSegs = eval.Segments{}
	for i := range fx.Segments {
		cs, errs := eval.CompileSegment(&fx.Segments[i])
		if len(errs) > 0 {
			t.Fatalf("fixture segment %s: %v", fx.Segments[i].Name, errs)
		}
		fx.compiledSegs[fx.Segments[i].ID] = cs
	}
	return fx
}

// flagType is the typed variation call the scripts use for flag key.
func flagType(key string) string {
	if strings.HasPrefix(key, "filler-") {
		return "string"
	}
	return flagTypes[key]
}

// addFillerFlags adds n string flags ("filler-NNNN") with a rule and targeting each, to make
// the environment's full sync large (about 1 KB of JSON per flag).
func (fx *fixture) addFillerFlags(n int) {
	base := time.Now().Add(-time.Hour).UnixMilli()
	for i := 0; i < n; i++ {
		key := fmt.Sprintf("filler-%04d", i)
		f := &codec.Flag{
			ID: secret.NewGUID(), EnvID: fx.EnvID, Name: "Filler flag " + key, Description: "a filler flag to make the environment large",
			Key: key, VariationType: "string", Variations: variations("alpha-"+key, "beta-"+key, "gamma-"+key),
			IsEnabled: true, Tags: []string{"compat", "filler"}, CreatedAt: base, UpdatedAt: base + int64(i%1000), Version: 1,
		}
		f.DisabledVariationID = f.Variations[2].ID
		f.TargetUsers = []codec.TargetUser{{KeyIDs: []string{"t-" + key}, VariationID: f.Variations[2].ID}}
		f.Rules = []codec.Rule{{ID: secret.NewGUID(), Name: "beta plan", IncludedInExpt: true,
			Conditions: []codec.Condition{{ID: secret.NewGUID(), Property: "plan", Op: "Equal", Value: "beta"}},
			Variations: all(f, "beta-"+key)}}
		f.Fallthrough = codec.Fallthrough{IncludedInExpt: true, Variations: all(f, "alpha-"+key)}
		fx.Flags[key] = f
	}
}

// snapshot returns the environment snapshot to write to the edge's source.
func (fx *fixture) snapshot() *codec.EnvSnapshot {
	snap := &codec.EnvSnapshot{
		EnvID:   fx.EnvID,
		Version: fx.Version,
		Secrets: []codec.EnvSecret{
			{EnvID: fx.EnvID, Type: codec.SecretServer, Value: fx.ServerSecret},
			{EnvID: fx.EnvID, Type: codec.SecretClient, Value: fx.ClientSecret},
		},
		Segments: append([]codec.Segment(nil), fx.Segments...),
	}
	for _, k := range sortedKeys(fx.Flags) {
		snap.Flags = append(snap.Flags, *fx.Flags[k])
	}
	return snap
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

// edgeEval evaluates flag key for u with the edge's own evaluator and
// returns the typed value an SDK should return (as JSON) and the wire match
// reason. When the edge serves no variation (an archived flag), the SDK
// returns the caller's default, defaultFor(key).
func (fx *fixture) edgeEval(t *testing.T, key string, u user) (json.RawMessage, string) {
	t.Helper()
	f := fx.Flags[key]
	cf, errs := eval.CompileFlag(f)
	if len(errs) > 0 {
		t.Fatalf("fixture flag %s: %v", key, errs)
	}
	eu := u.endUser()
	ev := eval.UserFrom(&eu)
	res := eval.Evaluate(cf, fx.compiledSegs, &ev)
	if res.Variation == nil {
		if !f.IsArchived {
			t.Fatalf("edge evaluator served no variation of %s to %s (%+v)", key, u.Key, res)
		}
		b, _ := json.Marshal(defaultFor(key))
		return b, res.MatchReason
	}
	return typedJSON(t, f.VariationType, res.Variation.Value), res.MatchReason
}

// typedJSON converts a variation value (always a string on the wire) to the
// JSON of the value an SDK's typed variation call returns.
func typedJSON(t *testing.T, variationType, value string) json.RawMessage {
	t.Helper()
	switch variationType {
	case "boolean":
		if value != "true" && value != "false" {
			t.Fatalf("boolean variation %q", value)
		}
		return json.RawMessage(value)
	case "number":
		n, err := strconv.ParseFloat(value, 64)
		if err != nil {
			t.Fatalf("number variation %q: %v", value, err)
		}
		b, _ := json.Marshal(n)
		return b
	case "json":
		if !json.Valid([]byte(value)) {
			t.Fatalf("json variation %q is not JSON", value)
		}
		return json.RawMessage(value)
	default:
		b, _ := json.Marshal(value)
		return b
	}
}

// sameJSON compares two JSON documents by value (so 42 and 42.0 are equal).
func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// evalCase is one expected evaluation. Want is written by hand from the
// fixture (what FeatBit's semantics give); the test also checks that the
// edge's evaluator agrees, so the table cannot drift from the edge.
type evalCase struct {
	Flag   string
	User   string
	Want   string // the variation value, as on the wire
	Reason string // the wire matchReason the edge sends to client SDKs
}

var evalCases = []evalCase{
	{flagBool, "u-plain", "true", "default"},
	{flagNumber, "u-plain", "42", "default"},
	{flagJSON, "u-plain", `{"color":"red","sizes":[1,2,3]}`, "default"},
	{flagString, "u-plain", "blue", "default"},
	{flagString, "u-green", "green", "targeted"},
	{flagDisabled, "u-plain", "false", "flag disabled"},
	{flagRule, "u-plain", "standard", "default"},
	{flagRule, "u-beta", "beta", "beta plan"},
	{flagRule, "u-vip", "vip", "vip segment"},
	{flagRule, "u-vipmail", "vip", "vip segment"},
	{flagRule, "u-banned", "standard", "default"},
	{flagRule, "u-eu", "eu-adult", "eu adults"},
	{flagRule, "u-young", "standard", "default"},
	{flagRule, "u-numeric", "eu-adult", "eu adults"}, // age is the JSON number 30
	{flagPush, "u-plain", "before", "default"},
}

// quirkCases are evaluations where some official SDKs are known to differ
// from FeatBit's evaluation server (protocol notes 6.9). The edge's
// evaluator (FeatBit's semantics) is the reference; knownQuirks lists the
// SDKs that differ. A server SDK evaluates locally, so a difference there is
// the SDK's, not the edge's; client SDKs show the edge's results.
var quirkCases = []evalCase{
	{flagRegex, "u-plain", "yes", "example mail"},
	{flagRegex, "u-vipmail", "no", "default"},
	{flagArchived, "u-plain", "", "flag archived"}, // archived: the caller's default
	{flagDispatch, "u-plain", "B", "default"},      // no "tenant" attribute: bucket of key+""
}

// knownReasonQuirks maps an SDK and a case ("flag/user") to the reason the
// SDK reports instead of the edge's matchReason, when the value is right.
var knownReasonQuirks = map[string]map[string]string{
	// The npm release 4.2.15 does not special-case "flag archived" (newer
	// sources do): the typed call fails to convert the null variation and
	// returns the caller's default with reason "type mismatch".
	"js-client-sdk": {flagArchived + "/u-plain": "type mismatch"},
}

// knownReconnectAfter4003 lists the SDKs that reconnect after the edge
// closes with 4003 (all FeatBit SDKs are meant to stop).
var knownReconnectAfter4003 = map[string]string{
	// websocket-client 1.9 (what pip installs for fb-python-sdk 1.2.1)
	// reports a received close frame through on_error before on_close; the
	// SDK treats the error as a network failure and its on_close then returns
	// early, so the 4003 check never runs and the SDK retries with backoff
	// for ever. websocket-client 1.8 calls on_close directly.
	"python-server-sdk": "fb-python-sdk 1.2.1 with websocket-client 1.9.2 reconnects after close code 4003",
}

// knownQuirks maps an SDK and a quirk case ("flag/user") to what the SDK
// does instead; docs/compat.md lists them.
var knownQuirks = map[string]map[string]string{
	"node-server-sdk": {
		flagRegex + "/u-plain":    "MatchRegex with swapped arguments: the user's value is compiled as the pattern and tested against the condition's value",
		flagArchived + "/u-plain": "isArchived is ignored: an archived flag is evaluated normally instead of being reported as not found",
		flagDispatch + "/u-plain": "a missing dispatch attribute hashes flagKey+\"undefined\" instead of flagKey+\"\", so the user lands in another bucket",
	},
}

// want returns the expected typed value of c, failing when the edge's own
// evaluator disagrees with the table.
func (fx *fixture) want(t *testing.T, c evalCase) json.RawMessage {
	t.Helper()
	f := fx.Flags[c.Flag]
	var want json.RawMessage
	if f.IsArchived {
		want, _ = json.Marshal(defaultFor(c.Flag))
	} else {
		want = typedJSON(t, f.VariationType, c.Want)
	}
	got, reason := fx.edgeEval(t, c.Flag, fx.Users[c.User])
	if !sameJSON(got, want) || reason != c.Reason {
		t.Fatalf("fixture table says %s for %s is %s (%q), the edge's evaluator says %s (%q)", c.Flag, c.User, want, c.Reason, got, reason)
	}
	return want
}

// change returns the ChangeEvent that sets flag key's fallthrough to value,
// with the flag's Version and UpdatedAt increased, and records the new flag
// in the fixture.
func (fx *fixture) change(t *testing.T, key, value string) *codec.ChangeEvent {
	t.Helper()
	old := fx.Flags[key]
	f := *old
	f.Fallthrough.Variations = all(old, value)
	f.Version = old.Version + 1
	now := time.Now().UnixMilli()
	f.UpdatedAt = max(now, old.UpdatedAt+1)
	fx.Flags[key] = &f
	fx.Version++
	payload, err := f.MarshalMsg(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &codec.ChangeEvent{
		EnvID: fx.EnvID, Kind: codec.KindFlag, Op: codec.OpUpsert, ID: f.ID,
		Version: f.Version, EnvVersion: fx.Version, At: now, Payload: payload,
	}
}

// changeSegment adds keyID to the included users of the fixture's segment
// the way control's store does it (control/internal/store UpdateSegment, and
// FeatBit's back-end): the segment's Version and UpdatedAt increase, every
// flag using it is touched (Version and UpdatedAt increase, so polling and
// reconnect cursors see it), and the events are the segment's (with
// AffectedFlags) followed by one per touched flag.
func (fx *fixture) changeSegment(t *testing.T, keyID string) []*codec.ChangeEvent {
	t.Helper()
	old := fx.Segments[0]
	sg := old
	sg.Included = append(append([]string(nil), old.Included...), keyID)
	sg.Version = old.Version + 1
	now := time.Now().UnixMilli()
	sg.UpdatedAt = max(now, old.UpdatedAt+1)
	fx.Segments = append([]codec.Segment{sg}, fx.Segments[1:]...)
	cs, errs := eval.CompileSegment(&fx.Segments[0])
	if len(errs) > 0 {
		t.Fatalf("segment %s: %v", sg.Name, errs)
	}
	fx.compiledSegs[sg.ID] = cs
	fx.Version++
	payload, err := sg.MarshalMsg(nil)
	if err != nil {
		t.Fatal(err)
	}
	segEv := &codec.ChangeEvent{
		EnvID: fx.EnvID, Kind: codec.KindSegment, Op: codec.OpUpsert, ID: sg.ID,
		Version: sg.Version, EnvVersion: fx.Version, At: now, Payload: payload,
	}
	evs := []*codec.ChangeEvent{segEv}
	for _, k := range sortedKeys(fx.Flags) {
		uses := false
		for _, r := range fx.Flags[k].Rules {
			for _, c := range r.Conditions {
				uses = uses || (c.Op == "" && strings.Contains(c.Value, sg.ID))
			}
		}
		if !uses {
			continue
		}
		f := *fx.Flags[k]
		f.Version++
		f.UpdatedAt = max(now, f.UpdatedAt+1)
		fx.Flags[k] = &f
		segEv.AffectedFlags = append(segEv.AffectedFlags, f.ID)
		payload, err := f.MarshalMsg(nil)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, &codec.ChangeEvent{
			EnvID: fx.EnvID, Kind: codec.KindFlag, Op: codec.OpUpsert, ID: f.ID,
			Version: f.Version, EnvVersion: fx.Version, At: now, Payload: payload,
		})
	}
	return evs
}
