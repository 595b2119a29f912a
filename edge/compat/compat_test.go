//go:build integration

package compat

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/switchyard/switchyard/codec"
)

// Generous deadlines: machines are noisy, so nothing here asserts speed;
// the push delay is measured and logged.
const (
	readyTimeout    = 30 * time.Second
	pushDeadline    = 10 * time.Second
	insightDeadline = 20 * time.Second
	sdkRunTimeout   = 4 * time.Minute
	pushes          = 5
	// reconnectDeadline covers the SDKs' reconnect backoff (first retry
	// after about 1 s for all three).
	reconnectDeadline = 30 * time.Second
)

// sdkSpec says how to start one SDK's compat script.
type sdkSpec struct {
	name  string
	quirk string // the knownQuirks key (the SDK, whatever its mode)
	// start returns the working directory and argv of the script.
	start func(t *testing.T) (dir string, argv []string)
	env   []string // extra environment (options read by the scripts)
	// polling: the SDK syncs by HTTP polling instead of the WebSocket.
	polling bool
	// liveness: the SDK drops a connection that is silent for twice its
	// ping interval (the JS client), so an idle stretch tests pong replies.
	liveness time.Duration
}

func nodeScript(script string) func(t *testing.T) (string, []string) {
	return func(t *testing.T) (string, []string) { return nodeDir(t), []string{"node", script} }
}

var (
	// The Node SDK pings every 500 ms here (default 18 s) so the edge
	// answers many pings during the test.
	nodeServerSDK = sdkSpec{name: "node-server-sdk", quirk: "node-server-sdk", start: nodeScript("node-server.js"),
		env: []string{"COMPAT_PING_MS=500"}}
	nodeServerPolling = sdkSpec{name: "node-server-sdk-polling", quirk: "node-server-sdk", start: nodeScript("node-server.js"),
		env: []string{"COMPAT_SYNC_MODE=polling", "COMPAT_POLL_MS=250"}, polling: true}
	pythonServerSDK = sdkSpec{name: "python-server-sdk", quirk: "python-server-sdk", start: func(t *testing.T) (string, []string) {
		py := pythonEnv(t)
		dir, err := filepath.Abs("python")
		if err != nil {
			t.Fatal(err)
		}
		return dir, []string{py, "-u", "server_sdk.py"}
	}}
	// The JS client closes a connection silent for 2 × ping interval:
	// 3 s here (default 36 s), generous for a pong on a loaded machine.
	jsClientSDK = sdkSpec{name: "js-client-sdk", quirk: "js-client-sdk", start: nodeScript("js-client.js"),
		env: []string{"COMPAT_PING_MS=1500"}, liveness: 3 * time.Second}
	jsClientPolling = sdkSpec{name: "js-client-sdk-polling", quirk: "js-client-sdk", start: nodeScript("js-client.js"),
		env: []string{"COMPAT_SYNC_MODE=polling", "COMPAT_POLL_MS=250"}, polling: true}
)

// TestCompatNodeServerSDK runs @featbit/node-server-sdk against the edge.
func TestCompatNodeServerSDK(t *testing.T) { runServerSDK(t, nodeServerSDK) }

// TestCompatNodeServerSDKPolling runs @featbit/node-server-sdk in polling
// mode (GET /api/public/sdk/server/latest-all).
func TestCompatNodeServerSDKPolling(t *testing.T) { runServerSDK(t, nodeServerPolling) }

// TestCompatPythonServerSDK runs fb-python-sdk against the edge.
func TestCompatPythonServerSDK(t *testing.T) { runServerSDK(t, pythonServerSDK) }

// TestCompatJSClientSDK runs @featbit/js-client-sdk (under Node) against the
// edge.
func TestCompatJSClientSDK(t *testing.T) { runClientSDK(t, jsClientSDK) }

// TestCompatJSClientSDKPolling runs @featbit/js-client-sdk in polling mode
// (POST /api/public/sdk/client/latest-all).
func TestCompatJSClientSDKPolling(t *testing.T) { runClientSDK(t, jsClientPolling) }

func syncMode(spec sdkSpec) string {
	if spec.polling {
		return "HTTP polling"
	}
	return "WebSocket streaming"
}

// checkConnections asserts how many WebSocket connections the SDK opened so
// far: one (no reconnect during the test) when streaming, none when polling.
// With idle, an SDK with a liveness check first stays idle for 2.5 × its
// timeout, so a missing pong would make it reconnect.
func checkConnections(t *testing.T, p *sdkProc, spec sdkSpec, idle bool) {
	t.Helper()
	if idle && spec.liveness > 0 {
		time.Sleep(spec.liveness * 5 / 2)
	}
	want := 1
	if spec.polling {
		want = 0
	}
	if got := p.call(map[string]any{"cmd": "stats"}).Connects; got != want {
		t.Errorf("%s: the SDK opened %d WebSocket connections, want %d (a reconnect means the edge closed or went silent)", spec.name, got, want)
	}
}

func evalCmd(flag string, u user) map[string]any {
	return map[string]any{"cmd": "eval", "flag": flag, "type": flagType(flag), "user": u, "default": defaultFor(flag)}
}

// defaultFor is the default value passed to a typed variation call; it is
// never a value the fixture serves, so a default in a reply is visible.
func defaultFor(flag string) any {
	switch flagType(flag) {
	case "bool":
		return flag == flagDisabled // the opposite of what the fixture serves
	case "number":
		return -1
	case "json":
		return map[string]any{"default": true}
	default:
		return "<default>"
	}
}

// checkEval compares one reply with the expected value and, when
// wantReason is not empty, the reason (client SDKs report the edge's
// matchReason as is; server SDKs have their own reason strings).
func checkEval(t *testing.T, sdk string, c evalCase, got, want json.RawMessage, reason, wantReason string) {
	t.Helper()
	if !sameJSON(got, want) {
		t.Errorf("%s: %s for %s = %s (reason %q), want %s", sdk, c.Flag, c.User, got, reason, want)
	}
	if wantReason != "" && reason != wantReason {
		t.Errorf("%s: %s for %s: reason %q, want %q", sdk, c.Flag, c.User, reason, wantReason)
	}
}

// checkQuirks runs quirkCases: a result must equal the edge's evaluator
// unless knownQuirks lists it for sdk, and a listed quirk must still
// reproduce (so docs/compat.md stays true when an SDK version changes).
func checkQuirks(t *testing.T, sdk, quirkKey string, fx *fixture, eval func(c evalCase) msg, checkReason bool) {
	t.Helper()
	for _, c := range quirkCases {
		want := fx.want(t, c)
		got := eval(c)
		quirk := knownQuirks[quirkKey][c.Flag+"/"+c.User]
		same := sameJSON(got.Value, want)
		switch {
		case same && quirk != "":
			t.Errorf("%s: known quirk no longer reproduces for %s/%s (got %s like the edge): the SDK changed, or the edge "+
				"stopped sending this flag; update knownQuirks and docs/compat.md (quirk: %s)", sdk, c.Flag, c.User, got.Value, quirk)
		case !same && quirk == "":
			t.Errorf("%s: %s for %s = %s (reason %q), the edge's evaluator says %s", sdk, c.Flag, c.User, got.Value, got.Reason, want)
		case !same:
			t.Logf("%s: known quirk on %s for %s: got %s, FeatBit's server gives %s: %s", sdk, c.Flag, c.User, got.Value, want, quirk)
		}
		if checkReason && got.Reason != c.Reason {
			t.Errorf("%s: %s for %s: reason %q, want %q", sdk, c.Flag, c.User, got.Reason, c.Reason)
		}
	}
}

// checkRollout evaluates the rollout flag for users with eval and compares
// each value with the edge's evaluator; both variations must occur.
func checkRollout(t *testing.T, sdk string, fx *fixture, users []user, eval func(u user) msg) {
	t.Helper()
	seen := map[string]int{}
	for _, u := range users {
		want, _ := fx.edgeEval(t, flagRollout, u)
		got := eval(u)
		if !sameJSON(got.Value, want) {
			t.Errorf("%s: %s for %s = %s, the edge's evaluator serves %s", sdk, flagRollout, u.Key, got.Value, want)
		}
		seen[string(got.Value)]++
	}
	if len(seen) < 2 {
		t.Errorf("%s: the 50/50 rollout served only %v to %d users", sdk, seen, len(users))
	}
	t.Logf("%s: rollout over %d users: %v (all equal to the edge's evaluator)", sdk, len(users), seen)
}

// checkPushes pushes `pushes` changes of the push flag through the edge's
// source and waits (pushDeadline each) until the SDK evaluates the new value
// for u; it returns the measured delays.
func checkPushes(t *testing.T, p *sdkProc, e *testEdge, fx *fixture, u user) []time.Duration {
	t.Helper()
	var delays []time.Duration
	for i := 1; i <= pushes; i++ {
		value := fmt.Sprintf("after-%d", i)
		want := typedJSON(t, "string", value)
		w := p.call(map[string]any{"cmd": "watch", "flag": flagPush, "type": "string", "user": u, "want": value, "default": defaultFor(flagPush)})
		if sameJSON(w.Value, want) {
			p.fatalf("push %d: the SDK already evaluates %s to %s before the change", i, flagPush, w.Value)
		}
		ev := fx.change(t, flagPush, value)
		pushedAt := e.publish(t, fx, ev)
		seen := waitSeen(t, p, pushDeadline, value, u, fmt.Sprintf("push %d", i))
		if seen.ID != w.ID || !sameJSON(seen.Value, want) {
			p.fatalf("push %d: unexpected seen event %s (watch %d, want %s)", i, seen.raw, w.ID, want)
		}
		d := time.Duration(seen.AtUs-pushedAt.UnixMicro()) * time.Microsecond
		delays = append(delays, d)
	}
	return delays
}

// checkSegmentPush adds u to the "vip" segment (a segment change event,
// then the touched flags' events, as control publishes them) and waits until the SDK evaluates the rule flag to "vip" for u:
// server SDKs get the segment and re-evaluate locally, client SDKs get the
// affected flag re-evaluated by the edge. It returns the measured delay.
func checkSegmentPush(t *testing.T, p *sdkProc, e *testEdge, fx *fixture, u user) time.Duration {
	t.Helper()
	before, _ := fx.edgeEval(t, flagRule, u)
	w := p.call(map[string]any{"cmd": "watch", "flag": flagRule, "type": "string", "user": u, "want": "vip", "default": defaultFor(flagRule)})
	if !sameJSON(w.Value, before) {
		p.fatalf("segment push: the SDK evaluates %s to %s for %s before the change, the edge's evaluator %s", flagRule, w.Value, u.Key, before)
	}
	evs := fx.changeSegment(t, u.Key)
	if want, _ := fx.edgeEval(t, flagRule, u); !sameJSON(want, typedJSON(t, "string", "vip")) {
		t.Fatalf("fixture: after the segment change the edge's evaluator gives %s for %s", want, u.Key)
	}
	pushedAt := e.publish(t, fx, evs...)
	seen, ok := p.tryEvent("seen", pushDeadline)
	if !ok {
		now := p.call(evalCmd(flagRule, u))
		p.fatalf("segment push: %s for %s did not become \"vip\" within %s after a segment change (segment event with affectedFlags %v, then %d flag events); the SDK evaluates %s",
			flagRule, u.Key, pushDeadline, evs[0].AffectedFlags, len(evs)-1, now.Value)
	}
	if seen.ID != w.ID {
		p.fatalf("segment push: unexpected seen event %s (watch %d)", seen.raw, w.ID)
	}
	return time.Duration(seen.AtUs-pushedAt.UnixMicro()) * time.Microsecond
}

// waitSeen waits for the SDK to report (through its own change
// notification) that the push flag evaluates to value for u. On timeout it
// asks the SDK for the flag's current value, to tell a change that never
// arrived from one the SDK stored without notifying.
func waitSeen(t *testing.T, p *sdkProc, timeout time.Duration, value string, u user, what string) msg {
	t.Helper()
	seen, ok := p.tryEvent("seen", timeout)
	if ok {
		return seen
	}
	now := p.call(evalCmd(flagPush, u))
	if sameJSON(now.Value, typedJSON(t, "string", value)) {
		p.fatalf("%s: the SDK evaluates %s to %s, but its change notification did not fire within %s", what, flagPush, now.Value, timeout)
	}
	p.fatalf("%s: the change to %s = %q did not reach the SDK within %s (it still evaluates %s)", what, flagPush, value, timeout, now.Value)
	return msg{}
}

// checkInsights waits until the insight topic holds the evaluations of
// compat-bool for u-plain and compat-rule for u-beta and the metric for
// u-plain, then checks their content: env id, variation id and value,
// metric value, app type and timestamps.
func checkInsights(t *testing.T, e *testEdge, fx *fixture, sdk, metric string, value float64) {
	t.Helper()
	start := time.Now()
	e.Insights.waitFor(insightDeadline, "evaluation and metric events", func(evs []codec.FlagEval, ms []codec.MetricEvent) bool {
		return hasEval(evs, fx.EnvID, flagBool, "u-plain") && hasEval(evs, fx.EnvID, flagRule, "u-beta") &&
			hasMetric(ms, fx.EnvID, metric, "u-plain")
	})
	t.Logf("%s: track/flush → InsightBatch on %s within %s", sdk, e.Insights.topic, time.Since(start).Round(time.Millisecond))
	sane := func(ms int64) bool { // the SDK's clock is this host's
		return ms > start.Add(-10*time.Minute).UnixMilli() && ms < time.Now().Add(time.Minute).UnixMilli()
	}
	e.Insights.mu.Lock()
	defer e.Insights.mu.Unlock()
	for _, ev := range e.Insights.evals {
		if ev.FlagKey == flagBool && ev.UserKey == "u-plain" {
			if ev.VariationID != varID(fx.Flags[flagBool], "true") || ev.Value != "true" || !sane(ev.Timestamp) {
				t.Errorf("%s: evaluation event %+v: want variation %s (\"true\") and a current timestamp", sdk, ev, varID(fx.Flags[flagBool], "true"))
			}
		}
	}
	for _, m := range e.Insights.mets {
		if m.EventName == metric {
			if m.UserKey != "u-plain" || m.NumericValue != value || m.AppType == "" || !sane(m.Timestamp) {
				t.Errorf("%s: metric event %+v: want user u-plain, value %g, an app type and a current timestamp", sdk, m, value)
			}
		}
	}
	if e.Insights.bad > 0 {
		t.Errorf("%d records on %s are not msgp InsightBatch", e.Insights.bad, e.Insights.topic)
	}
}

// checkNumericEvents tracks a metric for u-numeric, whose custom property
// "age" the JavaScript SDKs send as a JSON number: the edge must accept the
// events (a 4xx other than 400/408/429 makes the JS SDKs stop sending events
// for good, protocol notes 4.2) and they must reach Kafka. withUser says
// whether the SDK's track takes the user (server SDKs) or uses the client's
// current one.
func checkNumericEvents(t *testing.T, p *sdkProc, e *testEdge, fx *fixture, sdk string, withUser bool) {
	t.Helper()
	metric := "compat-numeric-" + sdk
	cmd := map[string]any{"cmd": "track", "event": metric, "value": 1}
	if withUser {
		cmd["user"] = fx.Users["u-numeric"]
	}
	p.call(cmd)
	p.call(map[string]any{"cmd": "flush"})
	e.Insights.waitFor(insightDeadline, "metric of the user with a numeric custom property", func(_ []codec.FlagEval, ms []codec.MetricEvent) bool {
		return hasMetric(ms, fx.EnvID, metric, "u-numeric")
	})
}

// checkRestart shuts the edge down (SDK connections get the edge's shutdown
// close code), changes the push flag while no edge runs, and starts a new
// edge on the same address: the SDK must reconnect, send its data-sync with
// its cursor, and get the change in the patch.
func checkRestart(t *testing.T, p *sdkProc, e *testEdge, fx *fixture, u user) {
	t.Helper()
	value := "after-restart"
	want := typedJSON(t, "string", value)
	w := p.call(map[string]any{"cmd": "watch", "flag": flagPush, "type": "string", "user": u, "want": value, "default": defaultFor(flagPush)})
	start := time.Now()
	e.restart(t, fx, func() { fx.change(t, flagPush, value) })
	seen := waitSeen(t, p, reconnectDeadline, value, u, "restart")
	if seen.ID != w.ID || !sameJSON(seen.Value, want) {
		p.fatalf("restart: unexpected seen event %s (watch %d, want %s)", seen.raw, w.ID, want)
	}
	t.Logf("%s: edge restarted on %s; the SDK came back, re-synced and saw the change made while the edge was down %.0f ms after the shutdown",
		p.name, e.Addr, float64(time.Duration(seen.AtUs-start.UnixMicro())*time.Microsecond)/float64(time.Millisecond))
	// A streaming SDK's first connection ended with the edge's shutdown
	// code, read from its close frame: 1012 (edge.Config.ShutdownCode's
	// default), never 1000, after which .NET, Go and Java SDKs would not
	// reconnect.
	if st := p.call(map[string]any{"cmd": "stats"}); st.Connects > 0 {
		if len(st.CloseCodes) == 0 || st.CloseCodes[0] == nil || *st.CloseCodes[0] != 1012 {
			code := "none"
			if len(st.CloseCodes) > 0 {
				code = fmtCode(st.CloseCodes[0])
			}
			p.errorf("restart: the first connection ended with close code %s, want 1012 (service restart) from the edge's shutdown", code)
		}
	}
}

func summarize(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }
	return fmt.Sprintf("n=%d min=%s median=%s max=%s", len(s), ms(s[0]), ms(s[len(s)/2]), ms(s[len(s)-1]))
}

func runServerSDK(t *testing.T, spec sdkSpec) {
	fx := newFixture(t)
	e := startEdge(t, fx)
	dir, argv := spec.start(t)
	ctx, cancel := context.WithTimeout(context.Background(), sdkRunTimeout)
	defer cancel()
	p := startSDK(t, ctx, spec.name, dir, append([]string{
		"COMPAT_SECRET=" + fx.ServerSecret,
		"COMPAT_STREAMING_URL=ws://" + e.Addr,
		"COMPAT_EVENTS_URL=http://" + e.Addr,
	}, spec.env...), argv...)

	ready := p.waitEvent("ready", readyTimeout)
	t.Logf("%s: %s %s initialized (%s) in %d ms", spec.name, ready.SDK, ready.Version, syncMode(spec), ready.InitMs)

	// Flag values: every type, targeting, rules, a segment, disabled.
	for _, c := range evalCases {
		want := fx.want(t, c)
		got := p.call(evalCmd(c.Flag, fx.Users[c.User]))
		checkEval(t, spec.name, c, got.Value, want, got.Reason, "")
	}
	checkRollout(t, spec.name, fx, fx.RolloutUsers, func(u user) msg { return p.call(evalCmd(flagRollout, u)) })
	checkQuirks(t, spec.name, spec.quirk, fx, func(c evalCase) msg { return p.call(evalCmd(c.Flag, fx.Users[c.User])) }, false)

	// A change pushed through the edge's source reaches the SDK.
	delays := checkPushes(t, p, e, fx, fx.Users["u-plain"])
	t.Logf("%s: push delay (LocalSource.Produce → SDK sees the new value): %s", spec.name, summarize(delays))
	d := checkSegmentPush(t, p, e, fx, fx.Users["u-plain"])
	t.Logf("%s: segment change → rule flag re-evaluated by the SDK: %.2f ms", spec.name, float64(d.Microseconds())/1000)

	// Events: evaluations (above) and a custom metric arrive on Kafka.
	p.call(map[string]any{"cmd": "track", "user": fx.Users["u-plain"], "event": "compat-checkout-" + spec.name, "value": 1.5})
	p.call(map[string]any{"cmd": "flush"})
	checkInsights(t, e, fx, spec.name, "compat-checkout-"+spec.name, 1.5)

	checkNumericEvents(t, p, e, fx, spec.name, true)
	checkConnections(t, p, spec, true)

	// The SDK comes back after an edge restart and re-syncs.
	checkRestart(t, p, e, fx, fx.Users["u-plain"])
	p.call(map[string]any{"cmd": "close"})
}

func runClientSDK(t *testing.T, spec sdkSpec) {
	fx := newFixture(t)
	e := startEdge(t, fx)
	dir, argv := spec.start(t)
	ctx, cancel := context.WithTimeout(context.Background(), sdkRunTimeout)
	defer cancel()
	first := fx.Users["u-beta"]
	userJSON, _ := json.Marshal(first)
	p := startSDK(t, ctx, spec.name, dir, append([]string{
		"COMPAT_SECRET=" + fx.ClientSecret,
		"COMPAT_STREAMING_URL=ws://" + e.Addr,
		"COMPAT_EVENTS_URL=http://" + e.Addr,
		"COMPAT_USER=" + string(userJSON),
	}, spec.env...), argv...)

	ready := p.waitEvent("ready", readyTimeout)
	t.Logf("%s: %s %s initialized (%s) in %d ms", spec.name, ready.SDK, ready.Version, syncMode(spec), ready.InitMs)

	// The client holds the flags the edge evaluated for its user: all of them.
	all := p.call(map[string]any{"cmd": "all"})
	var got struct {
		Flags []struct {
			Flag   string `json:"flag"`
			Value  string `json:"value"`
			Reason string `json:"reason"`
		} `json:"flags"`
	}
	if err := json.Unmarshal([]byte(all.raw), &got); err != nil {
		t.Fatalf("all: %v (%s)", err, all.raw)
	}
	keys := map[string]bool{}
	for _, g := range got.Flags {
		keys[g.Flag] = true
		if fx.Flags[g.Flag] == nil {
			t.Errorf("%s: the client's flag list has %s, which is not in the environment", spec.name, g.Flag)
			continue
		}
		if fx.Flags[g.Flag].IsArchived {
			if g.Value != "" || g.Reason != "flag archived" {
				t.Errorf("%s: the client's flag list has archived %s = %q (%q), want no value and reason \"flag archived\"", spec.name, g.Flag, g.Value, g.Reason)
			}
			continue
		}
		want, reason := fx.edgeEval(t, g.Flag, first)
		if !sameJSON(typedJSON(t, fx.Flags[g.Flag].VariationType, g.Value), want) || g.Reason != reason {
			t.Errorf("%s: the client's flag list has %s = %q (%q) for %s, the edge's evaluator says %s (%q)",
				spec.name, g.Flag, g.Value, g.Reason, first.Key, want, reason)
		}
	}
	for k, f := range fx.Flags {
		if !keys[k] && !f.IsArchived {
			t.Errorf("%s: the client's flag list for %s lacks %s (has %v)", spec.name, first.Key, k, sortedKeys(keys))
		}
	}

	// Values for each user (identify switches the connection's user).
	current := first.Key
	done := map[string]bool{}
	for _, u := range append([]string{first.Key}, sortedKeys(fx.Users)...) {
		if done[u] {
			continue
		}
		done[u] = true
		cases := slices.DeleteFunc(slices.Concat(evalCases, quirkCases), func(c evalCase) bool { return c.User != u })
		if len(cases) == 0 {
			continue
		}
		if u != current {
			p.call(map[string]any{"cmd": "identify", "user": fx.Users[u]})
			current = u
		}
		for _, c := range cases {
			want := fx.want(t, c)
			r := p.call(evalCmd(c.Flag, fx.Users[c.User]))
			wantReason := c.Reason
			if q := knownReasonQuirks[spec.quirk][c.Flag+"/"+c.User]; q != "" {
				if r.Reason == c.Reason {
					t.Errorf("%s: known reason quirk no longer reproduces for %s/%s (reason %q): update knownReasonQuirks and docs/compat.md", spec.name, c.Flag, c.User, r.Reason)
				}
				t.Logf("%s: known quirk on %s for %s: reason %q where the edge sent %q", spec.name, c.Flag, c.User, r.Reason, c.Reason)
				wantReason = q
			}
			checkEval(t, spec.name, c, r.Value, want, r.Reason, wantReason)
		}
	}
	checkRollout(t, spec.name, fx, fx.RolloutUsers[:12], func(u user) msg {
		p.call(map[string]any{"cmd": "identify", "user": u})
		return p.call(evalCmd(flagRollout, u))
	})

	// A pushed change reaches the client for its current user.
	plain := fx.Users["u-plain"]
	p.call(map[string]any{"cmd": "identify", "user": plain})
	p.call(evalCmd(flagBool, plain)) // an evaluation event for u-plain
	delays := checkPushes(t, p, e, fx, plain)
	t.Logf("%s: push delay (LocalSource.Produce → SDK sees the new value): %s", spec.name, summarize(delays))
	d := checkSegmentPush(t, p, e, fx, plain)
	t.Logf("%s: segment change → affected flag re-evaluated by the edge and pushed: %.2f ms", spec.name, float64(d.Microseconds())/1000)

	p.call(map[string]any{"cmd": "track", "event": "compat-checkout-" + spec.name, "value": 2})
	p.call(map[string]any{"cmd": "flush"})
	checkInsights(t, e, fx, spec.name, "compat-checkout-"+spec.name, 2)

	p.call(map[string]any{"cmd": "identify", "user": fx.Users["u-numeric"]})
	checkNumericEvents(t, p, e, fx, spec.name, false)
	p.call(map[string]any{"cmd": "identify", "user": plain})

	// The edge reports the client's users (first, identified) on the
	// end-user topic, with their attributes.
	users := e.Users.waitFor(insightDeadline, fx.EnvID, first.Key, "u-green", "u-numeric", plain.Key)
	if u := users["u-numeric"]; u.Name != fx.Users["u-numeric"].Name || !hasProp(u.Props, "age", "30") {
		t.Errorf("%s: end user u-numeric on %s = %+v, want name %q and age \"30\"", spec.name, e.Users.topic, u, fx.Users["u-numeric"].Name)
	}

	checkConnections(t, p, spec, true)
	checkRestart(t, p, e, fx, plain)
	p.call(map[string]any{"cmd": "close"})
}

func hasProp(props []codec.UserProp, name, value string) bool {
	for _, p := range props {
		if p.Name == name && p.Value == value {
			return true
		}
	}
	return false
}
