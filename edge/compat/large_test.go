//go:build integration

package compat

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"testing"
)

// TestCompatLargeEnvironment runs every SDK against an environment of 1,000
// flags (a full sync of about 1 MB for server SDKs), with a JS client user
// carrying 200 custom properties (a data-sync request of about 10 KB): the
// SDK initialises, evaluates, gets a pushed change and does not reconnect.
func TestCompatLargeEnvironment(t *testing.T) {
	for _, spec := range []sdkSpec{nodeServerSDK, pythonServerSDK, jsClientSDK} {
		t.Run(spec.name, func(t *testing.T) {
			fx := newFixture(t)
			fx.addFillerFlags(1000)
			u := fx.Users["u-beta"]
			u.Custom = maps.Clone(u.Custom)
			for i := 0; i < 200; i++ {
				u.Custom[fmt.Sprintf("attr-%03d", i)] = fmt.Sprintf("value of custom attribute number %03d", i)
			}
			snapJSON, _ := json.Marshal(fx.snapshot())
			e := startEdge(t, fx)
			dir, argv := spec.start(t)
			ctx, cancel := context.WithTimeout(context.Background(), sdkRunTimeout)
			defer cancel()
			secretFor := fx.ServerSecret
			userJSON, _ := json.Marshal(u)
			if strings.HasPrefix(spec.name, "js-client") {
				secretFor = fx.ClientSecret
			}
			p := startSDK(t, ctx, spec.name, dir, append([]string{
				"COMPAT_SECRET=" + secretFor,
				"COMPAT_STREAMING_URL=ws://" + e.Addr,
				"COMPAT_EVENTS_URL=http://" + e.Addr,
				"COMPAT_USER=" + string(userJSON),
			}, spec.env...), argv...)
			ready := p.waitEvent("ready", readyTimeout)
			t.Logf("%s: %d flags (snapshot ≈ %d KB as Go JSON), user with %d custom properties: initialized in %d ms",
				spec.name, len(fx.Flags), len(snapJSON)>>10, len(u.Custom), ready.InitMs)
			for _, c := range []evalCase{{flagRule, "u-beta", "beta", "beta plan"}, {"filler-0999", "u-beta", "beta-filler-0999", "beta plan"}} {
				want := typedJSON(t, "string", c.Want)
				if got, _ := fx.edgeEval(t, c.Flag, u); !sameJSON(got, want) {
					t.Fatalf("fixture: edge evaluator gives %s for %s", got, c.Flag)
				}
				r := p.call(evalCmd(c.Flag, u))
				checkEval(t, spec.name, c, r.Value, want, r.Reason, "")
			}
			delays := checkPushes(t, p, e, fx, u)
			t.Logf("%s: push delay with 1,000 flags: %s", spec.name, summarize(delays))
			checkConnections(t, p, spec, false)
			p.call(map[string]any{"cmd": "close"})
		})
	}
}
