//go:build integration

package compat

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchyard/switchyard/codec"
)

// TestCompatKeyRotationWithoutDowntime rotates the server key of an
// environment with FeatBit's Node server SDK connected on it (issue 16),
// through control's API, on the all-in-one binary (control and the real edge
// in one process, as `make run`):
//   - `POST envs/{id}/secrets/server/rotate {"expiresIn": …}` returns the new
//     key and gives the old one an expiry;
//   - until the expiry the SDK on the old key keeps its connection and keeps
//     receiving changes, and a second SDK on the new key connects and
//     evaluates;
//   - at the expiry the old key's connection is closed with the retryable
//     1012 (never 4003, after which an SDK gives up before it could be given
//     the new key), the SDK's reconnect with the old key is refused with
//     4003, and so is a new SDK started on the old key; the SDK on the new key
//     is untouched and still receives changes.
func TestCompatKeyRotationWithoutDowntime(t *testing.T) {
	// Long enough for a change and a second SDK's start on a loaded
	// machine; checked below, so a slow run fails rather than passing
	// without having tested the grace period.
	const expiresIn = 15 * time.Second

	bin := filepath.Join(t.TempDir(), "switchyard")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/switchyard")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctlAddr, edgeAddr := freeAddr(t), freeAddr(t)
	const password = "rotation-password"
	run := startAllInOne(t, bin, t.TempDir(), ctlAddr, edgeAddr, password)
	defer run.stop(t)
	oldKey := run.secret(t, "dev", "server")

	dir, argv := nodeServerSDK.start(t)
	ctx, cancel := context.WithTimeout(context.Background(), sdkRunTimeout)
	defer cancel()
	startNode := func(name, key string, extra ...string) *sdkProc {
		return startSDK(t, ctx, name, dir, append([]string{
			"COMPAT_SECRET=" + key, "COMPAT_STREAMING_URL=ws://" + edgeAddr, "COMPAT_EVENTS_URL=http://" + edgeAddr, "COMPAT_PING_MS=500",
		}, extra...), argv...)
	}
	oldSDK := startNode("node-server-sdk-old-key", oldKey)
	oldSDK.waitEvent("ready", readyTimeout)

	api := &apiClient{t: t, base: "http://" + ctlAddr}
	api.login("admin@switchyard.local", password)
	env := api.envID("dev")
	u := user{Key: "rotation-user", Name: "R"}
	const flag = "welcome-banner"
	// toggle sets the flag through the API and waits until every SDK sees
	// the new value through its own change notification.
	toggle := func(what string, on bool, sdks ...*sdkProc) {
		t.Helper()
		for _, p := range sdks {
			p.call(map[string]any{"cmd": "watch", "flag": flag, "type": "bool", "user": u, "want": on, "default": !on})
		}
		start := time.Now()
		api.toggle(env, flag, on)
		for _, p := range sdks {
			seen, ok := p.tryEvent("seen", pushDeadline)
			if !ok {
				now := p.call(map[string]any{"cmd": "eval", "flag": flag, "type": "bool", "user": u, "default": nil})
				p.fatalf("%s: toggling %s to %v did not reach the SDK within %s (it evaluates %s)", what, flag, on, pushDeadline, now.Value)
			}
			if string(seen.Value) != fmt.Sprint(on) {
				p.fatalf("%s: seen %s, want %v", what, seen.Value, on)
			}
			t.Logf("%s: %s saw %s = %v %s after the API call", what, p.name, flag, on, time.Since(start).Round(time.Millisecond))
		}
	}
	eval := func(p *sdkProc) string {
		return string(p.call(map[string]any{"cmd": "eval", "flag": flag, "type": "bool", "user": u, "default": nil}).Value)
	}

	// Rotate.
	var view struct{ Secrets []codec.EnvSecret }
	api.do("POST", "/api/v1/envs/"+env+"/secrets/server/rotate", map[string]string{"expiresIn": expiresIn.String()}, &view)
	rotatedAt := time.Now()
	var newKey string
	var expiresAt int64
	for _, s := range view.Secrets {
		switch {
		case s.Type == codec.SecretServer && s.Value == oldKey:
			expiresAt = s.ExpiresAt
		case s.Type == codec.SecretServer && s.ExpiresAt == 0 && newKey == "":
			newKey = s.Value
		}
	}
	if newKey == "" || newKey == oldKey {
		t.Fatalf("the rotation returned no new server key: %+v", view.Secrets)
	}
	if expiresAt == 0 {
		t.Fatalf("after the rotation the old server key has no expiry (or is gone): %+v", view.Secrets)
	}
	expiry := time.UnixMilli(expiresAt)
	t.Logf("rotated: the old key expires %s after the call", expiry.Sub(rotatedAt).Round(time.Millisecond))

	// Grace period: the old-key SDK keeps receiving changes, a new-key SDK
	// connects and evaluates.
	toggle("after the rotation, before the expiry", false, oldSDK)
	newSDK := startNode("node-server-sdk-new-key", newKey)
	newSDK.waitEvent("ready", readyTimeout)
	if got := eval(newSDK); got != "false" {
		t.Fatalf("the SDK on the new key evaluates %s to %s, want false", flag, got)
	}
	toggle("both keys, before the expiry", true, oldSDK, newSDK)
	if time.Now().After(expiry) {
		t.Fatalf("the grace-period checks ended %s after the old key's expiry (machine too slow for expiresIn=%s): they did not test the grace period",
			time.Since(expiry).Round(time.Millisecond), expiresIn)
	}
	if st := oldSDK.call(map[string]any{"cmd": "stats"}); st.Connects != 1 || len(st.CloseCodes) != 0 {
		oldSDK.fatalf("before the expiry the SDK on the old key had %d connections, close codes %s; want 1 open connection", st.Connects, fmtCodes(st.CloseCodes))
	}

	// The expiry: 1012 on the open connection, then 4003 on the SDK's
	// reconnect with the old key.
	deadline := expiry.Add(reconnectDeadline)
	var st msg
	for {
		st = oldSDK.call(map[string]any{"cmd": "stats"})
		if len(st.CloseCodes) >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(st.CloseCodes) == 0 {
		oldSDK.fatalf("the old key's connection was not closed within %s of its expiry", reconnectDeadline)
	}
	if c := st.CloseCodes[0]; c == nil || *c != 1012 {
		oldSDK.errorf("at the old key's expiry its connection closed with %s, want 1012 (retryable: an SDK reconnects and can be given the new key)", fmtCode(c))
	}
	if len(st.CloseCodes) < 2 {
		oldSDK.fatalf("the SDK did not reconnect with the old key after the 1012 close within %s (close codes %s)", reconnectDeadline, fmtCodes(st.CloseCodes))
	}
	if c := st.CloseCodes[1]; c == nil || *c != 4003 {
		oldSDK.errorf("the reconnect with the expired key ended with close code %s, want 4003", fmtCode(c))
	}
	t.Logf("after the expiry the old-key SDK's connections closed with %s, %s (connections: %d)", fmtCode(st.CloseCodes[0]), fmtCode(st.CloseCodes[1]), st.Connects)
	oldSDK.call(map[string]any{"cmd": "close"})

	// A new SDK on the expired key is refused.
	late := startNode("node-server-sdk-expired-key", oldKey, "COMPAT_ALLOW_UNINITIALIZED=1", "COMPAT_INIT_TIMEOUT_MS=3000")
	if r := late.waitEvent("ready", readyTimeout); r.Initialized == nil || *r.Initialized {
		late.fatalf("an SDK started on the expired key initialised")
	}
	if st := late.call(map[string]any{"cmd": "stats"}); len(st.CloseCodes) == 0 || st.CloseCodes[0] == nil || *st.CloseCodes[0] != 4003 {
		late.errorf("an SDK started on the expired key: close codes %s, want 4003", fmtCodes(st.CloseCodes))
	}
	late.call(map[string]any{"cmd": "close"})

	// The new-key SDK was not disturbed and still receives changes.
	toggle("new key, after the expiry", false, newSDK)
	if st := newSDK.call(map[string]any{"cmd": "stats"}); st.Connects != 1 || len(st.CloseCodes) != 0 {
		newSDK.errorf("the SDK on the new key had %d connections, close codes %s; want its one connection open throughout", st.Connects, fmtCodes(st.CloseCodes))
	}
	newSDK.call(map[string]any{"cmd": "close"})
}
