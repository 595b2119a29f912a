package edge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/edge"
	"github.com/switchyard/switchyard/edge/edgetest"
	"github.com/switchyard/switchyard/internal/tcpproxy"
)

// startRelay starts a relay edge taking env from upstream (host:port),
// with its event buffer in dir.
func startRelay(t *testing.T, upstream string, env *edgetest.DemoEnv, dir string) *edge.Server {
	t.Helper()
	s, err := edge.New(edge.Config{Addr: "127.0.0.1:0", DrainWindow: -1, AddrRate: -1, SecretRate: -1, EndUserRate: -1, MaxUnfinished: -1,
		RelayUpstream: "http://" + upstream, RelaySecrets: []string{env.ServerSecret}, RelayClientSecrets: []string{env.ClientSecret},
		RelayBufferDir: dir, ProbeInterval: 100 * time.Millisecond, ProbeTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s
}

// fullSync connects a server SDK to addr and returns its full sync, raw
// items keyed by flag key.
func fullSync(t *testing.T, addr, sec string) (*edgetest.Client, map[string]string, int) {
	t.Helper()
	c := edgetest.Dial(t, edgetest.StreamURL(addr, "server", sec))
	if err := c.Send(`{"messageType":"data-sync","data":{"timestamp":0}}`); err != nil {
		t.Fatal(err)
	}
	s := readServerSync(t, c)
	if s.EventType != "full" {
		t.Fatalf("first sync %q", s.EventType)
	}
	flags := map[string]string{}
	for _, f := range s.FeatureFlags {
		flags[flagKey(t, f)] = string(f)
	}
	return c, flags, len(s.Segments)
}

// trackBody is a FeatBit track body of n evaluation events of users
// "<prefix>-<i>".
func trackBody(prefix string, n int) string {
	var b strings.Builder
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"user":{"keyId":"%s-%d","name":"n%d"},"variations":[{"featureFlagKey":"demo-bool","sendToExperiment":true,"timestamp":%d,"variation":{"id":"v","value":"true"}}],"metrics":[]}`,
			prefix, i, i, time.Now().UnixMilli())
	}
	b.WriteByte(']')
	return b.String()
}

func countEvals(s *edgetest.Sink, prefix string) int {
	n := 0
	for _, e := range s.FlagEvents() {
		if strings.HasPrefix(e.UserKey, prefix+"-") {
			n++
		}
	}
	return n
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRelayServesAndForwards: a relay edge between an upstream edge and the
// SDKs. It serves what the upstream serves, byte for byte; a change on the
// upstream reaches the relay's SDKs; with the link cut it turns unready,
// keeps serving, spools the events it receives, survives a restart with
// them on disk, and when the link returns its SDKs converge on the change
// made meanwhile and every event reaches the upstream's sink.
func TestRelayServesAndForwards(t *testing.T) {
	up := edgetest.Run(t)
	env := up.Env(t)
	link := tcpproxy.New(t, up.Addr)
	dir := t.TempDir()
	relay := startRelay(t, link.Addr(), env, dir)
	rURL := "http://" + relay.Addr()
	waitReadyz(t, rURL, 200)

	// the same full sync as the upstream's, item for item
	_, want, wantSegs := fullSync(t, up.Addr, env.ServerSecret)
	sdk, got, gotSegs := fullSync(t, relay.Addr(), env.ServerSecret)
	if gotSegs != wantSegs || len(got) != len(want) {
		t.Fatalf("relay sync: %d flags %d segments, upstream %d %d", len(got), gotSegs, len(want), wantSegs)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("flag %s:\nrelay    %s\nupstream %s", k, got[k], v)
		}
	}
	// client SDKs with the client secret, evaluated on the relay
	cl := edgetest.Dial(t, edgetest.StreamURL(relay.Addr(), "client", env.ClientSecret))
	if err := cl.Send(`{"messageType":"data-sync","data":{"timestamp":0,"user":{"keyId":"u1","name":"u1","customizedProperties":[]}}}`); err != nil {
		t.Fatal(err)
	}
	if cs := readClientSync(t, cl); len(cs.FeatureFlags) == 0 {
		t.Fatal("client sync on the relay without flags")
	}

	// polling, OFREP and evaluate are served from the relayed data too
	if code, body, _ := do(t, "GET", rURL+"/api/public/sdk/server/latest-all", env.ServerSecret, ""); code != 200 || !strings.Contains(body, `"demo-string"`) {
		t.Fatalf("server polling on the relay: %d %.200s", code, body)
	}
	if code, body, _ := do(t, "POST", rURL+"/ofrep/v1/evaluate/flags/demo-string", "Bearer "+env.ClientSecret, `{"context":{"targetingKey":"u1","country":"FR"}}`); code != 200 || !strings.Contains(body, `"value":"fr"`) {
		t.Fatalf("OFREP on the relay: %d %s", code, body)
	}
	// a change on the upstream is pushed through the relay
	f := env.Snapshot.Flags[0]
	f.Version, f.UpdatedAt, f.IsEnabled = 2, time.Now().UnixMilli(), false
	produceFlag(t, up, env.ID, &f)
	p := readServerSync(t, sdk)
	if p.EventType != "patch" || len(p.FeatureFlags) != 1 || !bytes.Contains(p.FeatureFlags[0], []byte(`"isEnabled":false`)) {
		t.Fatalf("pushed through the relay: %+v", p)
	}

	// events while linked arrive upstream
	if code, body, _ := do(t, "POST", rURL+"/api/public/insight/track", env.ServerSecret, trackBody("linked", 10)); code != 200 {
		t.Fatalf("track %d %s", code, body)
	}
	waitUntil(t, 10*time.Second, "events forwarded while linked", func() bool { return countEvals(up.Sink, "linked") == 10 })

	// cut the link: unready, still serving
	link.Cut()
	r := waitReadyz(t, rURL, 503)
	if !strings.Contains(r.Checks["upstream"], env.ID) {
		t.Fatalf("unready without naming the environment: %+v", r)
	}
	if err := sdk.Send(`{"messageType":"ping","data":null}`); err != nil {
		t.Fatal(err)
	}
	if m, err := sdk.ReadJSON(wait); err != nil || m.MessageType != "pong" {
		t.Fatalf("relay SDK during the cut: %+v %v", m, err)
	}
	// a change made upstream and events sent to the relay meanwhile
	f2 := env.Snapshot.Flags[1]
	f2.Version, f2.UpdatedAt, f2.Name = 2, time.Now().UnixMilli(), "renamed during the cut"
	produceFlag(t, up, env.ID, &f2)
	const cutEvents = 3 * 40
	for range 3 {
		if code, body, _ := do(t, "POST", rURL+"/api/public/insight/track", env.ServerSecret, trackBody("cut", 40)); code != 200 {
			t.Fatalf("track during the cut %d %s", code, body)
		}
	}
	// and the relay restarts with them in its buffer
	if err := relay.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := countEvals(up.Sink, "cut"); n != 0 {
		t.Fatalf("%d events arrived upstream through a cut link", n)
	}
	relay = startRelay(t, link.Addr(), env, dir)
	rURL = "http://" + relay.Addr()

	link.Resume(t)
	waitReadyz2(t, rURL, 30*time.Second)
	_, got, _ = fullSync(t, relay.Addr(), env.ServerSecret)
	var g struct{ Name string }
	if err := json.Unmarshal([]byte(got[f2.Key]), &g); err != nil || g.Name != f2.Name {
		t.Fatalf("after the link returned the relay serves %s, want the change made during the cut (%q)", got[f2.Key], f2.Name)
	}
	waitUntil(t, 30*time.Second, "events spooled during the cut forwarded", func() bool { return countEvals(up.Sink, "cut") >= cutEvents })
	if n := countEvals(up.Sink, "cut"); n != cutEvents {
		t.Fatalf("%d events upstream, want %d", n, cutEvents)
	}
	if code, body, _ := do(t, "GET", rURL+"/metrics", "", ""); code != 200 || !strings.Contains(body, "sy_edge_relay_buffer_batches 0") {
		t.Errorf("relay metrics after the flush:\n%s", body)
	}
}

// waitReadyz2 waits up to d for /readyz 200 (a relay relinking after a
// backoff).
func waitReadyz2(t *testing.T, url string, d time.Duration) {
	t.Helper()
	waitUntil(t, d, "relay ready", func() bool {
		code, _ := getReadyz(t, url)
		return code == 200
	})
}

// TestRelayConfigIsChecked: bad relay settings are refused, naming them.
func TestRelayConfigIsChecked(t *testing.T) {
	for _, c := range []struct {
		cfg  edge.Config
		want string
	}{
		{edge.Config{RelayUpstream: "ftp://x:1", RelaySecrets: []string{"x"}}, "relay-upstream"},
		{edge.Config{RelayUpstream: "http://x:1"}, "relay-secrets"},
		{edge.Config{RelayUpstream: "http://x:1", RelaySecrets: []string{"not-a-secret"}}, "relay-secrets"},
		{edge.Config{RelaySecrets: []string{"x"}}, "relay-upstream"},
		{edge.Config{RelayUpstream: "http://x:1", RedisAddr: "r:1", KafkaBrokers: []string{"k:1"}}, "relay-upstream"},
	} {
		_, err := edge.New(c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error naming %s", c.cfg, err, c.want)
		}
	}
}

// TestRelayTwoEnvironments: one relay, two environments, each on its own
// link and secret: each serves its own flags, a secret of one does not open
// the other, and events go upstream under the environment they came in on.
func TestRelayTwoEnvironments(t *testing.T) {
	up := edgetest.Run(t)
	a, b := up.Env(t), up.Env(t)
	s, err := edge.New(edge.Config{Addr: "127.0.0.1:0", DrainWindow: -1, AddrRate: -1, SecretRate: -1, EndUserRate: -1, MaxUnfinished: -1,
		RelayUpstream: "ws://" + up.Addr, RelaySecrets: []string{a.ServerSecret, b.ServerSecret}, RelayClientSecrets: []string{b.ClientSecret},
		RelayBufferDir: t.TempDir(), ProbeInterval: 100 * time.Millisecond, ProbeTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	rURL := "http://" + s.Addr()
	waitReadyz(t, rURL, 200)
	for _, env := range []*edgetest.DemoEnv{a, b} {
		if code, body, _ := do(t, "GET", rURL+"/api/public/sdk/server/latest-all", env.ServerSecret, ""); code != 200 || !strings.Contains(body, env.Snapshot.Flags[0].ID) {
			t.Fatalf("env %s on the relay: %d %.200s", env.ID, code, body)
		}
		if code, _, _ := do(t, "POST", rURL+"/api/public/insight/track", env.ServerSecret, trackBody("env-"+env.ID, 5)); code != 200 {
			t.Fatalf("track %d", code)
		}
	}
	// a's client secret was not given to the relay; b's was
	if code, _, _ := do(t, "POST", rURL+"/ofrep/v1/evaluate/flags/demo-bool", "Bearer "+a.ClientSecret, `{"context":{"targetingKey":"u"}}`); code != 401 {
		t.Errorf("a client secret the relay was not given: %d, want 401", code)
	}
	if code, _, _ := do(t, "POST", rURL+"/ofrep/v1/evaluate/flags/demo-bool", "Bearer "+b.ClientSecret, `{"context":{"targetingKey":"u"}}`); code != 200 {
		t.Errorf("b's client secret: %d, want 200", code)
	}
	waitUntil(t, 10*time.Second, "events of both environments upstream", func() bool {
		return countEvals(up.Sink, "env-"+a.ID) == 5 && countEvals(up.Sink, "env-"+b.ID) == 5
	})
	for _, e := range up.Sink.FlagEvents() {
		if strings.HasPrefix(e.UserKey, "env-") && !strings.HasPrefix(e.UserKey, "env-"+e.EnvID+"-") {
			t.Errorf("event of user %s arrived under environment %s", e.UserKey, e.EnvID)
		}
	}
}
