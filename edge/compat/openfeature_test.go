//go:build integration

package compat

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/codec"
)

// ofSpec says how to start one OpenFeature provider's compat script. The
// scripts take COMPAT_EDGE_URL and COMPAT_SECRET and answer "eval" commands
// with the OpenFeature evaluation details.
type ofSpec struct {
	name  string
	start func(t *testing.T) (dir string, argv []string)
	// web: a browser provider. It gets the public client secret instead of
	// the server secret, is started with an "init" command carrying the
	// first context, evaluates from its cache (refreshed by bulk polling
	// with If-None-Match) and reports changes as "changed" events.
	web bool
	env []string // extra environment
	// featbitReasons: the provider reports FeatBit's match reasons ("fall
	// through all rules", "target match", …) as the OpenFeature reason, so
	// the reasons are not compared.
	featbitReasons bool
	// etag: the provider keeps the bulk ETag for If-None-Match; in a
	// browser it can read it only if the edge exposes the header
	// (Access-Control-Expose-Headers).
	etag bool
	// noErrorCodes: the provider answers a missing flag or a wrong type with
	// the default and no error code (it cannot tell them apart: FeatBit's
	// client SDK returns the default itself).
	noErrorCodes bool
}

var (
	ofNodeServer = ofSpec{name: "openfeature-ofrep-provider (node)", start: nodeScript("openfeature-server.js")}
	ofPython     = ofSpec{name: "openfeature-provider-ofrep (python)", start: func(t *testing.T) (string, []string) {
		py := pythonEnv(t)
		dir, err := filepath.Abs("python")
		if err != nil {
			t.Fatal(err)
		}
		return dir, []string{py, "-u", "openfeature_sdk.py"}
	}}
	ofFeatBitPython = ofSpec{name: "featbit-openfeature-server (python)", env: []string{"COMPAT_PROVIDER=featbit"}, featbitReasons: true, start: ofPython.start}
	ofWeb           = ofSpec{name: "openfeature-ofrep-web-provider (chromium)", web: true, etag: true, start: func(t *testing.T) (string, []string) {
		installChromium(t)
		return nodeDir(t), []string{"node", "openfeature-web.js"}
	}}
)

var ofFeatBitWeb = ofSpec{name: "featbit openfeature-provider-js-client (chromium)", web: true, featbitReasons: true, noErrorCodes: true,
	env: []string{"COMPAT_WEB_PROVIDER=featbit"}, start: ofWeb.start}

// TestCompatOpenFeatureFeatBitWeb runs @openfeature/web-sdk with FeatBit's
// own browser provider, @featbit/openfeature-provider-js-client (FeatBit's
// JS client SDK streaming from the edge), in headless Chromium.
func TestCompatOpenFeatureFeatBitWeb(t *testing.T) { runOpenFeature(t, ofFeatBitWeb) }

// installChromium installs Debian's chromium when it is missing, with the
// control UI's script (shared apt lock).
func installChromium(t *testing.T) {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("..", "..", "control", "ui", "install-chromium.sh"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	run(t, ctx, ".", "bash", script)
}

// TestCompatOpenFeatureFeatBitPython runs openfeature-sdk with FeatBit's
// own provider, featbit-openfeature-server (FeatBit's Python server SDK
// streaming from the edge, evaluating locally).
func TestCompatOpenFeatureFeatBitPython(t *testing.T) { runOpenFeature(t, ofFeatBitPython) }

// TestCompatOpenFeatureWeb runs @openfeature/web-sdk with
// @openfeature/ofrep-web-provider in headless Chromium against the edge,
// cross-origin, with the client secret.
func TestCompatOpenFeatureWeb(t *testing.T) { runOpenFeature(t, ofWeb) }

// TestCompatOpenFeatureNodeServer runs @openfeature/server-sdk with
// @openfeature/ofrep-provider against the edge's OFREP endpoints.
func TestCompatOpenFeatureNodeServer(t *testing.T) { runOpenFeature(t, ofNodeServer) }

// TestCompatOpenFeaturePython runs openfeature-sdk with
// openfeature-provider-ofrep against the edge's OFREP endpoints.
func TestCompatOpenFeaturePython(t *testing.T) { runOpenFeature(t, ofPython) }

// ofContext is the OpenFeature evaluation context of a fixture user.
func ofContext(u user) map[string]any {
	c := map[string]any{"targetingKey": u.Key, "name": u.Name}
	for k, v := range u.Custom {
		c[k] = v
	}
	return c
}

// ofCase is one evaluation through a provider: the flag, the type it is
// asked as, the default, and the expected value (nil: the default) and
// OpenFeature error code.
type ofCase struct {
	flag, typ string
	def       any
	user      string
	want      any
	reason    string
	errorCode string
}

func ofCases() []ofCase {
	return []ofCase{
		{flag: flagBool, typ: "boolean", def: false, user: "u-plain", want: true, reason: "DEFAULT"},
		{flag: flagString, typ: "string", def: "x", user: "u-plain", want: "blue", reason: "DEFAULT"},
		{flag: flagString, typ: "string", def: "x", user: "u-green", want: "green", reason: "TARGETING_MATCH"},
		{flag: flagNumber, typ: "number", def: 0, user: "u-plain", want: 42.0, reason: "DEFAULT"},
		{flag: flagJSON, typ: "object", def: map[string]any{}, user: "u-plain", want: map[string]any{"color": "red", "sizes": []any{1.0, 2.0, 3.0}}, reason: "DEFAULT"},
		{flag: flagRule, typ: "string", def: "x", user: "u-beta", want: "beta", reason: "TARGETING_MATCH"},
		{flag: flagRule, typ: "string", def: "x", user: "u-vipmail", want: "vip", reason: "TARGETING_MATCH"},
		{flag: flagDisabled, typ: "boolean", def: true, user: "u-plain", want: false, reason: "DISABLED"},
		{flag: "compat-no-such-flag", typ: "boolean", def: true, user: "u-plain", errorCode: "FLAG_NOT_FOUND"},
		{flag: flagArchived, typ: "boolean", def: true, user: "u-plain", errorCode: "FLAG_NOT_FOUND"},
		{flag: flagString, typ: "boolean", def: true, user: "u-plain", errorCode: "TYPE_MISMATCH"},
		// a fractional default: Python's provider then asks for a float
		// (as an integer, Python's True is an int and passes its check)
		{flag: flagBool, typ: "number", def: 7.5, user: "u-plain", errorCode: "TYPE_MISMATCH"},
	}
}

func runOpenFeature(t *testing.T, spec ofSpec) {
	fx := newFixture(t)
	e := startEdge(t, fx)
	dir, argv := spec.start(t)
	key := fx.ServerSecret
	if spec.web {
		key = fx.ClientSecret
	}
	env := append([]string{"COMPAT_EDGE_URL=http://" + e.Addr, "COMPAT_STREAMING_URL=ws://" + e.Addr, "COMPAT_SECRET=" + key}, spec.env...)
	p := startSDK(t, t.Context(), spec.name, dir, env, argv...)
	ready := p.waitEvent("ready", 60*time.Second)
	t.Logf("%s %s ready", ready.SDK, ready.Version)
	if spec.web {
		init := p.call(map[string]any{"cmd": "init", "context": ofContext(fx.Users["u-plain"])})
		if spec.etag && init.ETag == "" {
			p.errorf("the provider kept no ETag from the bulk answer: it cannot poll with If-None-Match")
		}
	}

	eval := func(c ofCase) msg {
		return p.call(map[string]any{"cmd": "eval", "flag": c.flag, "type": c.typ, "default": c.def, "context": ofContext(fx.Users[c.user])})
	}
	for _, c := range ofCases() {
		got := eval(c)
		want := c.want
		if c.errorCode != "" {
			want = c.def
		}
		wb, _ := json.Marshal(want)
		if spec.noErrorCodes {
			c.errorCode = ""
		}
		if !sameJSON(got.Value, wb) || got.ErrorCode != c.errorCode || c.reason != "" && !spec.featbitReasons && got.Reason != c.reason {
			p.errorf("%s as %s for %s: value %s reason %q error %q, want %s reason %q error %q",
				c.flag, c.typ, c.user, got.Value, got.Reason, got.ErrorCode, wb, c.reason, c.errorCode)
		}
	}

	// a change published through the source is seen by the next
	// evaluations (server providers evaluate remotely on every call; the
	// web provider's poll gets a new ETag and reports the changed flag)
	u := fx.Users["u-plain"]
	if spec.web {
		eval(ofCase{flag: flagPush, typ: "string", def: "x", user: "u-plain"}) // back to u-plain's context
		// drop the change events of the context switches so far
		for {
			if _, ok := p.tryEvent("changed", 300*time.Millisecond); !ok {
				break
			}
		}
	}
	at := e.publish(t, fx, fx.change(t, flagPush, "after-1"))
	if spec.web {
		deadline := time.Now().Add(30 * time.Second)
		for {
			m := p.waitEvent("changed", time.Until(deadline))
			if strings.Contains(m.raw, flagPush) {
				t.Logf("%s: change event after %s", spec.name, time.Since(at).Round(time.Millisecond))
				break
			}
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := eval(ofCase{flag: flagPush, typ: "string", def: "x", user: "u-plain"})
		if sameJSON(got.Value, json.RawMessage(`"after-1"`)) {
			t.Logf("%s: change seen after %s", spec.name, time.Since(at).Round(time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			p.fatalf("%s still %s 30 s after the change", flagPush, got.Value)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// the evaluations reached insights and the end-user list
	e.Insights.waitFor(30*time.Second, "OFREP evaluation events", func(evals []codec.FlagEval, _ []codec.MetricEvent) bool {
		return hasEval(evals, fx.EnvID, flagBool, u.Key) && hasEval(evals, fx.EnvID, flagRule, "u-beta")
	})
	users := e.Users.waitFor(30*time.Second, fx.EnvID, u.Key, "u-beta")
	if got := users["u-beta"]; !hasProp(got.Props, "plan", "beta") {
		t.Errorf("end user u-beta %+v lacks plan=beta", got)
	}
}
