//go:build integration

package compat

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/codec/secret"
)

// TestCompatRejectedSecret starts each streaming SDK with a secret the edge
// must reject: a secret of an unknown environment, and the environment's
// secret of the other type (a client secret with type=server and the other
// way round). The edge closes with 4003, which every SDK treats as final: it
// does not initialise, serves the caller's default, and does not reconnect.
//
// The Python SDK only sees the 4003 if it can read the close frame and send
// its close reply: websocket-client answers a close frame with its own close
// frame, and when that write fails (the server already closed the TCP
// connection) it reports an error instead of the close code, so the SDK
// retries with backoff for ever. The edge must therefore keep the connection
// open after its close frame (reading and discarding what the client sends,
// e.g. the data-sync it sends right after the upgrade) until the client's
// close frame or a short timeout, as RFC 6455 7.1.1 asks.
func TestCompatRejectedSecret(t *testing.T) {
	fx := newFixture(t)
	e := startEdge(t, fx)
	unknown := mustSecret(t, secret.NewGUID())
	cases := []struct {
		spec   sdkSpec
		secret string
		what   string
	}{
		{nodeServerSDK, unknown, "an unknown environment's secret"},
		{nodeServerSDK, fx.ClientSecret, "a client secret with type=server"},
		{pythonServerSDK, unknown, "an unknown environment's secret"},
		{pythonServerSDK, fx.ClientSecret, "a client secret with type=server"},
		{jsClientSDK, unknown, "an unknown environment's secret"},
		{jsClientSDK, fx.ServerSecret, "a server secret with type=client"},
	}
	for _, c := range cases {
		t.Run(c.spec.name+"/"+strings.ReplaceAll(strings.ReplaceAll(c.what, " ", "_"), "'", ""), func(t *testing.T) {
			dir, argv := c.spec.start(t)
			ctx, cancel := context.WithTimeout(context.Background(), sdkRunTimeout)
			defer cancel()
			u := fx.Users["u-plain"]
			userJSON, _ := json.Marshal(u)
			p := startSDK(t, ctx, c.spec.name, dir, append([]string{
				"COMPAT_SECRET=" + c.secret,
				"COMPAT_STREAMING_URL=ws://" + e.Addr,
				"COMPAT_EVENTS_URL=http://" + e.Addr,
				"COMPAT_USER=" + string(userJSON),
				"COMPAT_ALLOW_UNINITIALIZED=1",
				"COMPAT_INIT_TIMEOUT_MS=2000",
			}, c.spec.env...), argv...)
			ready := p.waitEvent("ready", readyTimeout)
			if ready.Initialized == nil || *ready.Initialized {
				p.fatalf("the SDK initialised with a rejected secret (%s)", c.what)
			}
			r := p.call(evalCmd(flagString, u))
			if want, _ := json.Marshal(defaultFor(flagString)); !sameJSON(r.Value, want) {
				t.Errorf("%s: uninitialised SDK evaluated %s to %s, want the default %s", c.spec.name, flagString, r.Value, want)
			}
			// The SDKs' first retry would come after about 1 s; wait 3 s more.
			time.Sleep(3 * time.Second)
			if n := p.call(map[string]any{"cmd": "stats"}).Connects; n != 1 {
				t.Errorf("%s with %s: %d WebSocket connections, want 1 (close code 4003 is final for FeatBit SDKs; "+
					"more connections mean the SDK did not see the 4003: see the test's doc comment)", c.spec.name, c.what, n)
			}
			p.call(map[string]any{"cmd": "close"})
		})
	}
}
