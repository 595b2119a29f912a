package edge_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/codec/secret"
	"github.com/switchyard/switchyard/edge"
	"github.com/switchyard/switchyard/edge/edgetest"
)

func expectClose(t *testing.T, c *edgetest.Client, want ws.StatusCode) {
	t.Helper()
	code, err := c.ExpectClose(wait)
	if err != nil {
		t.Fatalf("want close %d: %v", want, err)
	}
	if code != want {
		t.Fatalf("close code %d, want %d", code, want)
	}
}

func TestBadRequestsClose4003(t *testing.T) {
	e := edgetest.Run(t)
	env := e.Env(t)
	now := time.Now().UnixMilli()
	other, _ := secret.New(secret.NewGUID()) // well-formed, unknown env
	wrongKey, _ := secret.New(env.ID)        // right env, not one of its secrets
	cases := map[string]string{
		"malformed token":            "ws://" + e.Addr + "/streaming?type=server&token=abc",
		"missing token":              "ws://" + e.Addr + "/streaming?type=server",
		"expired token":              "ws://" + e.Addr + "/streaming?type=server&token=" + secret.EncodeToken(env.ServerSecret, now-31_000, 5),
		"future token":               "ws://" + e.Addr + "/streaming?type=server&token=" + secret.EncodeToken(env.ServerSecret, now+31_000, 5),
		"client secret, type=server": edgetest.StreamURL(e.Addr, "server", env.ClientSecret),
		"server secret, type=client": edgetest.StreamURL(e.Addr, "client", env.ServerSecret),
		"unknown env":                edgetest.StreamURL(e.Addr, "server", other),
		"unknown secret":             edgetest.StreamURL(e.Addr, "server", wrongKey),
		"bad type":                   edgetest.StreamURL(e.Addr, "relay-proxy", env.ServerSecret),
		"bad version":                edgetest.StreamURL(e.Addr, "server", env.ServerSecret) + "&version=3",
	}
	for name, url := range cases {
		t.Run(name, func(t *testing.T) {
			c := edgetest.Dial(t, url) // the upgrade is accepted first, like FeatBit
			expectClose(t, c, 4003)
		})
	}
	// accepted variants: either parameter order, versions 1 and 2
	good := []string{
		"ws://" + e.Addr + "/streaming?token=" + secret.EncodeToken(env.ServerSecret, now, 3) + "&type=server&version=2",
		edgetest.StreamURL(e.Addr, "server", env.ServerSecret) + "&version=1",
		"ws://" + e.Addr + "/STREAMING?type=client&token=" + secret.EncodeToken(env.ClientSecret, now-29_000, 40),
	}
	for _, url := range good {
		c := edgetest.Dial(t, url)
		if err := c.Send(`{"messageType":"ping","data":null}`); err != nil {
			t.Fatal(err)
		}
		if m, err := c.ReadJSON(wait); err != nil || m.MessageType != "pong" {
			t.Fatalf("%s: %+v %v", url, m, err)
		}
	}
}

// failingSource is unavailable until ok is set.
type failingSource struct {
	*edge.LocalSource
	ok chan struct{}
}

func (f *failingSource) Snapshot(ctx context.Context, env string) (*codec.EnvSnapshot, error) {
	select {
	case <-f.ok:
		return f.LocalSource.Snapshot(ctx, env)
	default:
		return nil, errors.New("redis is down")
	}
}

func TestUnavailableSourceCloses1011(t *testing.T) {
	src := &failingSource{LocalSource: edge.NewLocalSource(), ok: make(chan struct{})}
	s, err := edge.New(edge.Config{Addr: "127.0.0.1:0"}, edge.WithSource(src))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	snap := edgetest.DemoSnapshot(secret.NewGUID())
	_ = src.WriteSnapshot(context.Background(), snap)
	url := edgetest.StreamURL(s.Addr(), "server", snap.Secrets[0].Value)
	c := edgetest.Dial(t, url)
	expectClose(t, c, 1011)
	close(src.ok) // back: the next connection loads the environment
	c = edgetest.Dial(t, edgetest.StreamURL(s.Addr(), "server", snap.Secrets[0].Value))
	if err := c.Send(`{"messageType":"data-sync","data":{"timestamp":0}}`); err != nil {
		t.Fatal(err)
	}
	if s := readServerSync(t, c); s.EventType != "full" {
		t.Fatalf("after recovery: %+v", s)
	}
}

func TestOtherEnvSeesNothing(t *testing.T) {
	e := edgetest.Run(t)
	a, b := e.Env(t), e.Env(t)
	ca := edgetest.Dial(t, edgetest.StreamURL(e.Addr, "server", a.ServerSecret))
	cb := edgetest.Dial(t, edgetest.StreamURL(e.Addr, "server", b.ServerSecret))
	for _, c := range []*edgetest.Client{ca, cb} {
		_ = c.Send(`{"messageType":"data-sync","data":{"timestamp":0}}`)
		readServerSync(t, c)
	}
	f := a.Snapshot.Flags[1]
	f.Version++
	f.UpdatedAt++
	produceFlag(t, e, a.ID, &f)
	if s := readServerSync(t, ca); s.EventType != "patch" || len(s.FeatureFlags) != 1 {
		t.Fatalf("env a: %+v", s)
	}
	// b gets its pong and nothing before it
	_ = cb.Send(`{"messageType":"ping","data":null}`)
	if m, err := cb.ReadJSON(wait); err != nil || m.MessageType != "pong" {
		t.Fatalf("env b got %+v %v before its pong", m, err)
	}
}

func TestClientGetsOnlyChangedResults(t *testing.T) {
	e := edgetest.Run(t)
	env := e.Env(t)
	dial := func(user string) *edgetest.Client {
		c := edgetest.Dial(t, edgetest.StreamURL(e.Addr, "client", env.ClientSecret))
		_ = c.Send(`{"messageType":"data-sync","data":{"timestamp":0,"user":` + user + `}}`)
		return c
	}
	fr := dial(`{"keyId":"u-fr","name":"Fr","customizedProperties":[{"name":"country","value":"FR"}]}`)
	de := dial(`{"keyId":"u-de","name":"De","customizedProperties":[{"name":"country","value":"DE"}]}`)
	beta := dial(`{"keyId":"u-beta","name":"Beta","customizedProperties":[]}`)
	for _, c := range []*edgetest.Client{fr, de, beta} {
		s := readClientSync(t, c)
		if s.EventType != "full" || len(s.FeatureFlags) != len(env.Snapshot.Flags) {
			t.Fatalf("client full sync: %+v", s)
		}
		for _, f := range s.FeatureFlags {
			switch f.ID {
			case edgetest.FlagArchived:
				if f.Variation != nil || f.VariationID != nil || f.MatchReason != "flag archived" {
					t.Fatalf("archived flag: %+v", f)
				}
			case edgetest.FlagString:
				want := "default"
				if *s.UserKeyID == "u-fr" {
					want = "fr"
				}
				if *f.Variation != want {
					t.Fatalf("%s: %s = %s, want %s", *s.UserKeyID, f.ID, *f.Variation, want)
				}
			}
		}
	}

	// the France rule now serves "default" too: only u-fr's result changes
	f := env.Snapshot.Flags[1]
	f.Rules = append([]codec.Rule(nil), f.Rules...)
	f.Rules[0].Variations = []codec.RolloutVariation{{ID: f.Variations[0].ID, Rollout: [2]float64{0, 1}, ExptRollout: 1}}
	f.Version++
	f.UpdatedAt = time.Now().UnixMilli()
	produceFlag(t, e, env.ID, &f)
	s := readClientSync(t, fr)
	if s.EventType != "patch" || len(s.FeatureFlags) != 1 || s.FeatureFlags[0].ID != edgetest.FlagString || *s.FeatureFlags[0].Variation != "default" {
		t.Fatalf("u-fr patch: %+v", s)
	}

	// segment change: u-de joins "beta": only u-de's demo-segment result changes
	sg := env.Snapshot.Segments[0]
	sg.Included = []string{"u-beta", "u-de"}
	sg.Version++
	sg.UpdatedAt = time.Now().UnixMilli()
	produceSegment(t, e, env.ID, &sg)
	s = readClientSync(t, de)
	if len(s.FeatureFlags) != 1 || s.FeatureFlags[0].ID != edgetest.FlagSegment || *s.FeatureFlags[0].Variation != "true" {
		t.Fatalf("u-de segment patch: %+v", s)
	}
	// neither u-fr (unchanged since) nor u-beta (still in the segment) got anything: their next message is the pong
	for _, c := range []*edgetest.Client{fr, beta} {
		_ = c.Send(`{"messageType":"ping","data":null}`)
		if m, err := c.ReadJSON(wait); err != nil || m.MessageType != "pong" {
			t.Fatalf("unexpected %+v %v", m, err)
		}
	}

	// identify: a new user on the same socket gets a full evaluation for that user
	_ = beta.Send(`{"messageType":"data-sync","data":{"timestamp":0,"user":{"keyId":"u-new","name":"","customizedProperties":[{"name":"country","value":"FR"}]}}}`)
	s = readClientSync(t, beta)
	if *s.UserKeyID != "u-new" || s.EventType != "full" {
		t.Fatalf("identify: %+v", s)
	}
	// the end users reach the sink
	deadline := time.Now().Add(wait)
	for {
		seen := map[string]bool{}
		for _, b := range e.Sink.EndUserBatches() {
			for _, u := range b.Users {
				if b.EnvID == env.ID {
					seen[u.KeyID] = true
				}
			}
		}
		if seen["u-fr"] && seen["u-de"] && seen["u-beta"] && seen["u-new"] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("end users seen: %v", seen)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestClientWithoutUserGetsNoReply(t *testing.T) {
	e := edgetest.Run(t)
	env := e.Env(t)
	c := edgetest.Dial(t, edgetest.StreamURL(e.Addr, "client", env.ClientSecret))
	_ = c.Send(`{"messageType":"data-sync","data":{"timestamp":0}}`)
	_ = c.Send(`{"messageType":"data-sync","data":{"timestamp":0,"user":{"keyId":"  "}}}`)
	_ = c.Send(`{"messageType":"ping","data":null}`)
	if m, err := c.ReadJSON(wait); err != nil || m.MessageType != "pong" {
		t.Fatalf("got %+v %v, want only the pong", m, err)
	}
}

func TestGarbageIsIgnored(t *testing.T) {
	e := edgetest.Run(t)
	env := e.Env(t)
	c := edgetest.Dial(t, edgetest.StreamURL(e.Addr, "server", env.ServerSecret))
	for _, m := range []string{`not json`, `{"messageType":"ping"}`, `{"data":{}}`, `[1,2]`, `{"messageType":"nope","data":1}`, `{"messageType":"data-sync","data":{"timestamp":"x"}}`} {
		_ = c.Send(m)
	}
	_ = wsutil.WriteClientBinary(c.Conn, []byte{0xc1})
	_ = c.Send(`{"messageType":"echo","data":{"a":[1,"b"]}}`)
	m, err := c.ReadJSON(wait)
	if err != nil || m.MessageType != "echo" || string(m.Data) != `{"a":[1,"b"]}` {
		t.Fatalf("echo: %+v %v", m, err)
	}
	// a null timestamp counts as 0
	_ = c.Send(`{"messageType":"Data-Sync","data":{"timestamp":null}}`)
	if s := readServerSync(t, c); s.EventType != "full" {
		t.Fatalf("null timestamp: %+v", s)
	}
}

func TestLimitsDoNotAffectOthers(t *testing.T) {
	e := edgetest.Run(t, edge.Config{MaxMessageBytes: 4096, HandshakeTimeout: 1500 * time.Millisecond})
	env := e.Env(t)
	good := edgetest.Dial(t, edgetest.StreamURL(e.Addr, "server", env.ServerSecret))

	// oversized frame → 1009
	big := edgetest.Dial(t, edgetest.StreamURL(e.Addr, "server", env.ServerSecret))
	_ = big.Send(`{"messageType":"ping","data":"` + strings.Repeat("x", 5000) + `"}`)
	expectClose(t, big, ws.StatusMessageTooBig)

	// oversized fragmented message → 1009
	frag := edgetest.Dial(t, edgetest.StreamURL(e.Addr, "server", env.ServerSecret))
	for i := 0; i < 3; i++ {
		op := ws.OpContinuation
		if i == 0 {
			op = ws.OpText
		}
		fr := ws.NewFrame(op, false, []byte(strings.Repeat("y", 2000)))
		_ = ws.WriteFrame(frag.Conn, ws.MaskFrame(fr))
	}
	expectClose(t, frag, ws.StatusMessageTooBig)

	// a fragmented message within the limit works
	ok := edgetest.Dial(t, edgetest.StreamURL(e.Addr, "server", env.ServerSecret))
	parts := []string{`{"messageType":"pi`, `ng","data"`, `:null}`}
	for i, p := range parts {
		op := ws.OpContinuation
		if i == 0 {
			op = ws.OpText
		}
		_ = ws.WriteFrame(ok.Conn, ws.MaskFrame(ws.NewFrame(op, i == len(parts)-1, []byte(p))))
	}
	if m, err := ok.ReadJSON(wait); err != nil || m.MessageType != "pong" {
		t.Fatalf("fragmented ping: %+v %v", m, err)
	}

	// unmasked frame → 1002
	raw := edgetest.Dial(t, edgetest.StreamURL(e.Addr, "server", env.ServerSecret))
	_ = ws.WriteFrame(raw.Conn, ws.NewTextFrame([]byte(`{"messageType":"ping","data":null}`)))
	expectClose(t, raw, ws.StatusProtocolError)

	// a WebSocket ping frame gets a pong frame
	_ = wsutil.WriteClientMessage(good.Conn, ws.OpPing, []byte("hi"))
	h, err := ws.ReadHeader(good.Conn)
	if err != nil || h.OpCode != ws.OpPong || h.Length != 2 {
		t.Fatalf("pong frame: %+v %v", h, err)
	}
	p := make([]byte, 2)
	_, _ = good.Conn.Read(p)

	// slow handshakes are cut off: half a request, and a silent connection
	half, err := net.Dial("tcp", e.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer half.Close()
	_, _ = half.Write([]byte("GET /streaming?type=server HTTP/1.1\r\nHost: x\r\n"))
	silent, err := net.Dial("tcp", e.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	for _, c := range []net.Conn{half, silent} {
		_ = c.SetReadDeadline(time.Now().Add(wait))
		n, err := c.Read(make([]byte, 1))
		if err == nil || n != 0 || isTimeout(err) {
			t.Fatalf("slow handshake not cut off: %d %v", n, err)
		}
	}

	// the good connection never noticed
	_ = good.Send(`{"messageType":"ping","data":null}`)
	if m, err := good.ReadJSON(wait); err != nil || m.MessageType != "pong" {
		t.Fatalf("good connection: %+v %v", m, err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestIdleTimeoutAndShutdownCode(t *testing.T) {
	e := edgetest.Run(t, edge.Config{IdleTimeout: 500 * time.Millisecond})
	env := e.Env(t)
	idle := edgetest.Dial(t, edgetest.StreamURL(e.Addr, "server", env.ServerSecret))
	expectClose(t, idle, ws.StatusGoingAway)

	e2 := edgetest.Run(t)
	env2 := e2.Env(t)
	c := edgetest.Dial(t, edgetest.StreamURL(e2.Addr, "server", env2.ServerSecret))
	_ = c.Send(`{"messageType":"ping","data":null}`)
	if _, err := c.ReadJSON(wait); err != nil {
		t.Fatal(err)
	}
	go func() { _ = e2.Server.Shutdown(context.Background()) }()
	expectClose(t, c, 1012)
}

// TestClosingHandshake: after its close frame the edge keeps the TCP
// connection until the client's close reply (RFC 6455 7.1.1), discarding
// what the client sends meanwhile, then closes; without a reply it closes
// after the close timeout.
func TestClosingHandshake(t *testing.T) {
	e := edgetest.Run(t, edge.Config{CloseTimeout: 3 * time.Second})
	env := e.Env(t)
	for _, reply := range []bool{true, false} {
		c := edgetest.Dial(t, edgetest.StreamURL(e.Addr, "server", env.ClientSecret))
		_ = c.Send(`{"messageType":"data-sync","data":{"timestamp":0}}`) // what an SDK sends right away
		expectClose(t, c, 4003)
		// still open a moment later (the old behaviour closed at once)
		_ = c.Conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if n, err := c.Conn.Read(make([]byte, 1)); !isTimeout(err) {
			t.Fatalf("reply=%v: connection closed right after the close frame: %d %v", reply, n, err)
		}
		if reply {
			if err := ws.WriteFrame(c.Conn, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(4003, "")))); err != nil {
				t.Fatalf("close reply after the server's close frame: %v", err)
			}
		}
		_ = c.Conn.SetReadDeadline(time.Now().Add(wait))
		if n, err := c.Conn.Read(make([]byte, 1)); n != 0 || err == nil || isTimeout(err) {
			t.Fatalf("reply=%v: connection not closed: %d %v", reply, n, err)
		}
	}
}

func TestEnvDeleteClosesSessions(t *testing.T) {
	e := edgetest.Run(t)
	env := e.Env(t)
	c := edgetest.Dial(t, edgetest.StreamURL(e.Addr, "server", env.ServerSecret))
	_ = c.Send(`{"messageType":"ping","data":null}`)
	if _, err := c.ReadJSON(wait); err != nil {
		t.Fatal(err)
	}
	if err := e.Source.Produce(context.Background(), &codec.ChangeEvent{EnvID: env.ID, Kind: codec.KindEnv, Op: codec.OpDelete}); err != nil {
		t.Fatal(err)
	}
	expectClose(t, c, 4003)
}

func TestSecretRotationClosesOldSessions(t *testing.T) {
	e := edgetest.Run(t)
	env := e.Env(t)
	old := edgetest.Dial(t, edgetest.StreamURL(e.Addr, "server", env.ServerSecret))
	cl := edgetest.Dial(t, edgetest.StreamURL(e.Addr, "client", env.ClientSecret))
	for _, c := range []*edgetest.Client{old, cl} {
		_ = c.Send(`{"messageType":"ping","data":null}`)
		if _, err := c.ReadJSON(wait); err != nil {
			t.Fatal(err)
		}
	}
	fresh, _ := secret.New(env.ID)
	p, _ := (&codec.EnvSnapshot{Secrets: []codec.EnvSecret{{EnvID: env.ID, Type: codec.SecretServer, Value: fresh}, env.Snapshot.Secrets[1]}}).MarshalMsg(nil)
	if err := e.Source.Produce(context.Background(), &codec.ChangeEvent{EnvID: env.ID, Kind: codec.KindSecrets, EnvVersion: 2, Payload: p}); err != nil {
		t.Fatal(err)
	}
	expectClose(t, old, 1012) // valid when it opened: retryable, never 4003
	// the client secret is unchanged: that session stays
	_ = cl.Send(`{"messageType":"ping","data":null}`)
	if m, err := cl.ReadJSON(wait); err != nil || m.MessageType != "pong" {
		t.Fatalf("client session: %+v %v", m, err)
	}
	// the new secret works
	c := edgetest.Dial(t, edgetest.StreamURL(e.Addr, "server", fresh))
	_ = c.Send(`{"messageType":"ping","data":null}`)
	if m, err := c.ReadJSON(wait); err != nil || m.MessageType != "pong" {
		t.Fatalf("new secret: %+v %v", m, err)
	}
}

// TestSecretExpiryWithoutDowntime: a rotation keeps the old secret with an
// expiry; both work until then, at the expiry the old key's sessions close
// with the retryable 1012 (not 4003), and a new connection with the old key
// is refused with 4003.
func TestSecretExpiryWithoutDowntime(t *testing.T) {
	e := edgetest.Run(t)
	env := e.Env(t)
	old := edgetest.Dial(t, edgetest.StreamURL(e.Addr, "server", env.ServerSecret))
	_ = old.Send(`{"messageType":"ping","data":null}`)
	if _, err := old.ReadJSON(wait); err != nil {
		t.Fatal(err)
	}
	fresh, _ := secret.New(env.ID)
	expires := time.Now().Add(1500 * time.Millisecond).UnixMilli()
	prev := env.Snapshot.Secrets[0]
	prev.ExpiresAt = expires
	p, _ := (&codec.EnvSnapshot{Secrets: []codec.EnvSecret{{EnvID: env.ID, Type: codec.SecretServer, Value: fresh}, prev, env.Snapshot.Secrets[1]}}).MarshalMsg(nil)
	if err := e.Source.Produce(context.Background(), &codec.ChangeEvent{EnvID: env.ID, Kind: codec.KindSecrets, EnvVersion: 2, Payload: p}); err != nil {
		t.Fatal(err)
	}
	// before the expiry both keys are served, the old session included
	both := edgetest.Dial(t, edgetest.StreamURL(e.Addr, "server", env.ServerSecret))
	nw := edgetest.Dial(t, edgetest.StreamURL(e.Addr, "server", fresh))
	for _, c := range []*edgetest.Client{old, both, nw} {
		_ = c.Send(`{"messageType":"ping","data":null}`)
		if m, err := c.ReadJSON(wait); err != nil || m.MessageType != "pong" {
			if time.Now().UnixMilli() < expires {
				t.Fatalf("before the expiry: %+v %v", m, err)
			}
		}
	}
	expectClose(t, old, 1012)
	expectClose(t, both, 1012)
	_ = nw.Send(`{"messageType":"ping","data":null}`)
	if m, err := nw.ReadJSON(wait); err != nil || m.MessageType != "pong" {
		t.Fatalf("new key after the expiry: %+v %v", m, err)
	}
	late := edgetest.Dial(t, edgetest.StreamURL(e.Addr, "server", env.ServerSecret))
	_ = late.Send(`{"messageType":"ping","data":null}`)
	expectClose(t, late, 4003)
}
