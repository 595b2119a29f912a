//go:build integration && !fakeedge

package compat

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/edge/edgetest"
)

// TestCompatReactClientSDK runs FeatBit's React SDK
// (@featbit/react-client-sdk, React 18) in headless Chromium against the
// edge, cross-origin, with the client secret: a React app reads the flags
// with the SDK's useFlags hook and renders them; what it rendered (read
// back from the DOM) equals edge/eval for its user, a change published
// through the source is re-rendered, and the SDK's evaluation events reach
// the edge's sink.
func TestCompatReactClientSDK(t *testing.T) {
	installChromium(t)
	fx := newFixture(t)
	e := edgetest.Run(t)
	ctx, cancel := context.WithTimeout(context.Background(), sdkRunTimeout)
	defer cancel()
	if err := e.Source.WriteSnapshot(ctx, fx.snapshot()); err != nil {
		t.Fatal(err)
	}
	u := fx.Users["u-beta"]
	eu := u.endUser()
	userJSON, err := json.Marshal(eu)
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{flagBool, flagString, flagNumber, flagJSON, flagRule, flagDisabled, flagPush}
	p := startSDK(t, ctx, "react-client-sdk (chromium)", nodeDir(t), []string{
		"COMPAT_SECRET=" + fx.ClientSecret,
		"COMPAT_STREAMING_URL=ws://" + e.Addr,
		"COMPAT_EDGE_URL=http://" + e.Addr,
		"COMPAT_USER=" + string(userJSON),
		"COMPAT_FLAGS=" + strings.Join(keys, ","),
	}, "node", "react-client.js")
	ready := p.waitEvent("ready", readyTimeout)
	t.Logf("%s %s initialised in %d ms", ready.SDK, ready.Version, ready.InitMs)

	rendered := func(m msg) map[string]json.RawMessage {
		var v map[string]json.RawMessage
		if err := json.Unmarshal(m.Value, &v); err != nil {
			p.fatalf("rendered values %s: %v", m.Value, err)
		}
		return v
	}
	// the first render may come before the flags: poll until every flag
	// has a value, then compare
	deadline := time.Now().Add(readyTimeout)
	var got map[string]json.RawMessage
	for {
		got = rendered(p.call(map[string]any{"cmd": "values"}))
		missing := ""
		for _, k := range keys {
			if v, ok := got[k]; !ok || string(v) == "null" {
				missing = k
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			p.fatalf("the React app never rendered %s (rendered %v)", missing, got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, k := range keys {
		want, _ := fx.edgeEval(t, k, u)
		if !sameJSON(got[k], want) {
			p.errorf("React rendered %s = %s for %s, edge/eval says %s", k, got[k], u.Key, want)
		}
	}

	// a pushed change is re-rendered
	ev := fx.change(t, flagPush, "after-1")
	if err := e.Source.WriteSnapshot(ctx, fx.snapshot()); err != nil {
		t.Fatal(err)
	}
	at := time.Now()
	if err := e.Source.Produce(ctx, ev); err != nil {
		t.Fatal(err)
	}
	want := typedJSON(t, "string", "after-1")
	end := at.Add(pushDeadline)
	for {
		m, ok := p.tryEvent("render", time.Until(end))
		if !ok {
			p.fatalf("the change to %s was not re-rendered within %s (now %s)", flagPush, pushDeadline, rendered(p.call(map[string]any{"cmd": "values"}))[flagPush])
		}
		if sameJSON(rendered(m)[flagPush], want) {
			t.Logf("change published → re-rendered by the React app: %.1f ms", float64(time.Since(at).Microseconds())/1000)
			break
		}
	}

	// the flag reads of the render are sent as evaluation events
	deadline = time.Now().Add(insightDeadline)
	for {
		n := 0
		for _, fe := range e.Sink.FlagEvents() {
			if fe.UserKey == u.Key && fe.EnvID == fx.EnvID {
				n++
			}
		}
		if n > 0 {
			t.Logf("%d evaluation events of %s at the edge's sink", n, u.Key)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no evaluation event of %s reached the edge within %s", u.Key, insightDeadline)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
