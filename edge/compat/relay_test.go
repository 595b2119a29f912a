//go:build integration && !fakeedge

package compat

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/edge"
	"github.com/switchyard/switchyard/edge/edgetest"
	"github.com/switchyard/switchyard/internal/tcpproxy"
)

// TestCompatRelay is relay mode with FeatBit's Node server SDK (issue 19):
// an upstream edge, a relay edge taking the environment from it through a
// TCP proxy (the link), and the SDK connected to the relay only. The SDK
// sees a change made upstream; then the link is cut, a change is made
// upstream and the SDK sends events (evaluations and custom events) to the
// relay, which spools them; the link is restored: the SDK converges on the
// change and every event reaches the upstream's sink, none twice.
func TestCompatRelay(t *testing.T) {
	fx := newFixture(t)
	up := edgetest.Run(t)
	ctx, cancel := context.WithTimeout(context.Background(), sdkRunTimeout)
	defer cancel()
	if err := up.Source.WriteSnapshot(ctx, fx.snapshot()); err != nil {
		t.Fatal(err)
	}
	publish := func(value string) time.Time {
		ev := fx.change(t, flagPush, value)
		if err := up.Source.WriteSnapshot(ctx, fx.snapshot()); err != nil {
			t.Fatal(err)
		}
		at := time.Now()
		if err := up.Source.Produce(ctx, ev); err != nil {
			t.Fatal(err)
		}
		return at
	}
	link := tcpproxy.New(t, up.Addr)
	relay, err := edge.New(edge.Config{Addr: "127.0.0.1:0", DrainWindow: -1,
		RelayUpstream: "http://" + link.Addr(), RelaySecrets: []string{fx.ServerSecret}, RelayClientSecrets: []string{fx.ClientSecret},
		RelayBufferDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := relay.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = relay.Shutdown(context.Background()) })

	dir, argv := nodeServerSDK.start(t)
	p := startSDK(t, ctx, "node-server-sdk(relay)", dir, append([]string{
		"COMPAT_SECRET=" + fx.ServerSecret,
		"COMPAT_STREAMING_URL=ws://" + relay.Addr(),
		"COMPAT_EVENTS_URL=http://" + relay.Addr(),
	}, nodeServerSDK.env...), argv...)
	p.waitEvent("ready", readyTimeout)
	u := fx.Users["u-plain"]
	for _, key := range []string{flagBool, flagString, flagNumber, flagJSON, flagRule} {
		for _, uk := range []string{"u-plain", "u-beta"} {
			want, _ := fx.edgeEval(t, key, fx.Users[uk])
			if got := p.call(evalCmd(key, fx.Users[uk])); !sameJSON(got.Value, want) {
				p.fatalf("through the relay %s for %s = %s, want %s", key, uk, got.Value, want)
			}
		}
	}

	// a change upstream, pushed through the relay
	w := p.call(map[string]any{"cmd": "watch", "flag": flagPush, "type": "string", "user": u, "want": "after-1", "default": defaultFor(flagPush)})
	at := publish("after-1")
	seen := waitSeen(t, p, pushDeadline, "after-1", u, "linked")
	if seen.ID != w.ID {
		p.fatalf("seen %s, want watch %d", seen.raw, w.ID)
	}
	t.Logf("change upstream → seen by the SDK on the relay: %.1f ms", float64(seen.AtUs-at.UnixMicro())/1000)

	// events: some while linked, some while the link is cut
	const perPhase = 25
	sendEvents := func(phase string) {
		for i := range perPhase {
			ev := fmt.Sprintf("relay-%s", phase)
			p.call(map[string]any{"cmd": "track", "user": newUser(fmt.Sprintf("relay-%s-%d", phase, i), "free", "", "30", "FR"), "event": ev, "value": i})
			p.call(evalCmd(flagBool, newUser(fmt.Sprintf("relay-%s-%d", phase, i), "free", "", "30", "FR")))
		}
		if r := p.call(map[string]any{"cmd": "flush"}); r.Result != nil && !*r.Result {
			p.fatalf("flush to the relay failed (%s)", phase)
		}
	}
	count := func(phase string) (metrics, evals int) {
		for _, b := range up.Sink.InsightBatches() {
			for _, m := range b.Metrics {
				if m.EventName == "relay-"+phase {
					metrics++
				}
			}
			for _, e := range b.Evals {
				if strings.HasPrefix(e.UserKey, "relay-"+phase+"-") {
					evals++
				}
			}
		}
		return
	}
	waitCount := func(phase string) {
		deadline := time.Now().Add(insightDeadline)
		for {
			m, e := count(phase)
			if m >= perPhase && e >= perPhase {
				if m != perPhase || e != perPhase {
					t.Fatalf("%s: %d custom events and %d evaluations upstream, want %d each (duplicates)", phase, m, e, perPhase)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d custom events and %d evaluations upstream after %s, want %d each", phase, m, e, insightDeadline, perPhase)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	sendEvents("linked")
	waitCount("linked")

	link.Cut()
	w = p.call(map[string]any{"cmd": "watch", "flag": flagPush, "type": "string", "user": u, "want": "after-2", "default": defaultFor(flagPush)})
	publish("after-2")
	sendEvents("cut")
	// the relay holds them: nothing crosses a cut link
	time.Sleep(500 * time.Millisecond)
	if m, e := count("cut"); m+e != 0 {
		t.Fatalf("%d events crossed the cut link", m+e)
	}
	if got := p.call(evalCmd(flagPush, u)); sameJSON(got.Value, typedJSON(t, "string", "after-2")) {
		t.Fatal("the SDK saw the change made during the cut before the link returned")
	}
	restored := time.Now()
	link.Resume(t)
	seen = waitSeen(t, p, reconnectDeadline+30*time.Second, "after-2", u, "after the link returned")
	if seen.ID != w.ID {
		p.fatalf("seen %s, want watch %d", seen.raw, w.ID)
	}
	t.Logf("link restored → the SDK on the relay converged on the change made during the cut: %.1f ms (includes the relay's reconnect backoff)",
		float64(seen.AtUs-restored.UnixMicro())/1000)
	waitCount("cut")
	if st := p.call(map[string]any{"cmd": "stats"}); st.Connects != 1 {
		p.errorf("the SDK on the relay made %d WebSocket connections, want 1 (the relay kept serving it through the cut)", st.Connects)
	}
	p.call(map[string]any{"cmd": "close"})
}
