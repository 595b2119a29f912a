//go:build integration

package compat

import (
	"context"
	"encoding/json"
	"fmt"
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
// The edge's part is checked on every connection: it must end with a 4003
// close frame the SDK read. An edge that closes the TCP connection right
// after its close frame can make a client miss it: websocket-client answers
// a close frame with its own and reports "Broken pipe" instead of the code
// when that write fails; the ws package reports 1006 when it read no close
// frame. The SDK's part (no reconnect) is a known quirk for Python: see
// knownReconnectAfter4003.
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
			st := p.call(map[string]any{"cmd": "stats"})
			// The edge's part: every connection ended with a close frame
			// carrying 4003 that the SDK read.
			for i, code := range st.CloseCodes {
				if code == nil || *code != 4003 {
					p.errorf("with %s: connection %d of %d ended with close code %v, want 4003 read from a close frame "+
						"(1006 or null: the SDK read no close frame before the connection ended)", c.what, i+1, st.Connects, fmtCode(code))
				}
			}
			if len(st.CloseCodes) == 0 {
				p.errorf("with %s: no connection was closed", c.what)
			}
			// The SDK's part: 4003 is final.
			switch quirk := knownReconnectAfter4003[c.spec.quirk]; {
			case st.Connects == 1 && quirk != "":
				t.Errorf("%s: known quirk no longer reproduces (the SDK stopped after 4003): update knownReconnectAfter4003 and docs/compat.md (%s)", c.spec.name, quirk)
			case st.Connects > 1 && quirk != "":
				t.Logf("%s: known quirk: %d connections in 4 s, each closed with 4003: %s", c.spec.name, st.Connects, quirk)
			case st.Connects != 1:
				p.errorf("with %s: %d WebSocket connections, want 1 (close code 4003 is final for FeatBit SDKs)", c.what, st.Connects)
			}
			p.call(map[string]any{"cmd": "close"})
		})
	}
}

func fmtCode(c *int) string {
	if c == nil {
		return "null"
	}
	return fmt.Sprint(*c)
}

func fmtCodes(cs []*int) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = fmtCode(c)
	}
	return "[" + strings.Join(s, " ") + "]"
}
