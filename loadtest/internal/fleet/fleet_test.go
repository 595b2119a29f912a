package fleet

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/switchyard/switchyard/codec/secret"
)

// fakeEdge is a tiny FeatBit streaming server (goroutine per connection):
// it checks the token, answers data-sync with a full sync (a patch for a
// request with a timestamp), ping with pong,
// and broadcasts patches.
type fakeEdge struct {
	ln      net.Listener
	secrets map[string]string // secret → type
	mu      sync.Mutex
	conns   []net.Conn
	wg      sync.WaitGroup
}

func startFakeEdge(t *testing.T, secrets map[string]string) *fakeEdge {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &fakeEdge{ln: ln, secrets: secrets}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.wg.Add(1)
			go func() { defer e.wg.Done(); e.serve(c) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		e.mu.Lock()
		for _, c := range e.conns {
			c.Close()
		}
		e.mu.Unlock()
		e.wg.Wait()
	})
	return e
}

func (e *fakeEdge) serve(c net.Conn) {
	var typ, tok string
	u := ws.Upgrader{OnRequest: func(uri []byte) error {
		s := string(uri)
		if i := strings.IndexByte(s, '?'); i >= 0 {
			for _, kv := range strings.Split(s[i+1:], "&") {
				k, v, _ := strings.Cut(kv, "=")
				switch k {
				case "type":
					typ = v
				case "token":
					tok = v
				}
			}
		}
		return nil
	}}
	if _, err := u.Upgrade(c); err != nil {
		c.Close()
		return
	}
	sec, err := secret.DecodeToken(tok, time.Now().UnixMilli(), secret.DefaultWindow)
	if err != nil || e.secrets[sec] != typ {
		_ = wsutil.WriteServerMessage(c, ws.OpClose, ws.NewCloseFrameBody(4003, "invalid request, close by server"))
		c.Close()
		return
	}
	e.mu.Lock()
	e.conns = append(e.conns, c)
	e.mu.Unlock()
	var wmu sync.Mutex
	for {
		msg, op, err := wsutil.ReadClientData(c)
		if err != nil {
			c.Close()
			return
		}
		if op != ws.OpText {
			continue
		}
		var reply []byte
		switch {
		case bytes.Contains(msg, []byte(`"ping"`)):
			reply = []byte(`{"messageType":"pong","data":{}}`)
		case bytes.Contains(msg, []byte(`"data-sync"`)) && !bytes.Contains(msg, []byte(`"timestamp":0`)):
			// a reconnecting SDK: only what is newer than its timestamp (nothing here)
			reply = []byte(`{"messageType":"data-sync","data":{"eventType":"patch","featureFlags":[],"segments":[]}}`)
		case bytes.Contains(msg, []byte(`"data-sync"`)):
			if typ == "client" {
				reply = []byte(`{"messageType":"data-sync","data":{"eventType":"full","userKeyId":"u","featureFlags":[]}}`)
			} else {
				reply = []byte(`{"messageType":"data-sync","data":{"eventType":"full","featureFlags":[{"key":"a"}],"segments":[]}}`)
			}
		}
		if reply != nil {
			wmu.Lock()
			_ = wsutil.WriteServerText(c, reply)
			wmu.Unlock()
		}
	}
}

func (e *fakeEdge) broadcast(msg []byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range e.conns {
		_ = wsutil.WriteServerText(c, msg)
	}
}

func (e *fakeEdge) closeAll(code ws.StatusCode) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range e.conns {
		_ = wsutil.WriteServerMessage(c, ws.OpClose, ws.NewCloseFrameBody(code, "bye"))
		c.Close()
	}
}

func testSecrets(t *testing.T) (server, client string) {
	env := secret.NewGUID()
	s, err := secret.New(env)
	if err != nil {
		t.Fatal(err)
	}
	c, err := secret.New(env)
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFleetConnectPingPushClose(t *testing.T) {
	for _, engine := range []string{"netpoll", "epoll"} {
		t.Run(engine, func(t *testing.T) { testConnectPingPushClose(t, engine) })
	}
}

func testConnectPingPushClose(t *testing.T, engine string) {
	ss, cs := testSecrets(t)
	e := startFakeEdge(t, map[string]string{ss: "server", cs: "client"})
	f, err := New(Spec{Dsts: []string{e.ln.Addr().String()}, LocalIPs: []string{"127.0.0.2", "127.0.0.3"},
		Count: 200, Rate: 5000, Concurrency: 32, ClientShare: 0.25, ServerSecret: ss, ClientSecret: cs,
		PingInterval: 200 * time.Millisecond, MaxPushes: 10, Engine: engine})
	if err != nil {
		t.Fatal(err)
	}
	var ticks int
	f.Connect(context.Background(), func(Progress) { ticks++ }, 10*time.Millisecond)
	p := f.Progress()
	if p.Synced != 200 || p.Open != 200 || p.Failed != 0 {
		t.Fatalf("after connect: %+v failures %v", p, f.Report().Failures)
	}
	if ticks == 0 {
		t.Fatal("progress was never reported")
	}
	waitFor(t, "pongs", func() bool { return f.pongs.Load() >= 200 })

	for seq := 1; seq <= 3; seq++ {
		e.broadcast([]byte(`{"messageType":"data-sync","data":{"eventType":"patch","featureFlags":[{"key":"lt-push","variations":[{"id":"x","value":"` + PushMarker(seq, time.Now()) + `"}]}],"segments":[]}}`))
	}
	waitFor(t, "pushes", func() bool { return f.Push.Count() == 600 })
	r := f.Report()
	if len(r.Pushes) != 3 {
		t.Fatalf("pushes: %+v", r.Pushes)
	}
	for _, ps := range r.Pushes {
		if ps.N != 200 || ps.LastNs < ps.FirstNs || ps.FirstNs < ps.SentNs {
			t.Fatalf("push %+v", ps)
		}
	}
	if r.Handshake.N != 200 || r.FirstSync.N != 200 {
		t.Fatalf("histograms: %d %d", r.Handshake.N, r.FirstSync.N)
	}
	f.Close()
	waitFor(t, "close", func() bool { return f.open.Load() == 0 })
	if f.lost.Load() != 0 {
		t.Fatalf("lost %d", f.lost.Load())
	}
}

func TestFleetFailureCauses(t *testing.T) {
	for _, engine := range []string{"netpoll", "epoll"} {
		t.Run(engine, func(t *testing.T) { testFailureCauses(t, engine) })
	}
}

func testFailureCauses(t *testing.T, engine string) {
	ss, cs := testSecrets(t)
	e := startFakeEdge(t, map[string]string{ss: "server"}) // client secret unknown → 4003
	f, err := New(Spec{Dsts: []string{e.ln.Addr().String()}, Count: 20, ClientShare: 0.5, ServerSecret: ss, ClientSecret: cs, Concurrency: 4, Engine: engine})
	if err != nil {
		t.Fatal(err)
	}
	f.Connect(context.Background(), nil, 0)
	r := f.Report()
	// the edge closes a refused connection with 4003 right after the upgrade;
	// a client whose data-sync write races that close sees the write fail
	// before it reads the close frame (netpoll engine, on a loaded machine)
	refused := r.Failures["close 4003"] + r.Failures["sync: write: connection closed"]
	if r.Progress.Synced != 10 || refused != 10 || r.Failures["close 4003"] == 0 {
		t.Fatalf("synced %d failures %v", r.Progress.Synced, r.Failures)
	}
	e.closeAll(1012)
	waitFor(t, "lost", func() bool { return f.lost.Load() == 10 })
	if got := f.Report().Failures["lost: close 1012"]; got != 10 {
		t.Fatalf("failures %v", f.Report().Failures)
	}
	f.Close()

	// nothing listening: connection refused
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	f2, _ := New(Spec{Dsts: []string{addr}, Count: 3, ServerSecret: ss, Engine: engine})
	f2.Connect(context.Background(), nil, 0)
	if got := f2.Report().Failures["dial: connection refused"]; got != 3 {
		t.Fatalf("failures %v", f2.Report().Failures)
	}
	f2.Close()

	// a plain HTTP server: the upgrade fails with a status
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(401) })}
	hl, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(hl)
	defer srv.Close()
	f3, _ := New(Spec{Dsts: []string{hl.Addr().String()}, Count: 2, ServerSecret: ss, Engine: engine})
	f3.Connect(context.Background(), nil, 0)
	if got := f3.Report().Failures["handshake: HTTP 401"]; got != 2 {
		t.Fatalf("failures %v", f3.Report().Failures)
	}
	f3.Close()
}

func TestPushMarker(t *testing.T) {
	now := time.Unix(1700000000, 123456789)
	m := PushMarker(42, now)
	seq, ns, ok := pushMarker([]byte(`{"x":"` + m + `"}`))
	if !ok || seq != 42 || ns != now.UnixNano() {
		t.Fatalf("%q → %d %d %v", m, seq, ns, ok)
	}
	if _, _, ok := pushMarker([]byte(`lt~12`)); ok {
		t.Fatal("truncated marker accepted")
	}
}

func TestMessageTypeJSONAndMsgpack(t *testing.T) {
	if mt := messageType([]byte(`{"messageType":"data-sync","data":{"eventType":"patch"}}`)); mt != "data-sync" {
		t.Fatal(mt)
	}
	if et := eventType([]byte(`{"messageType":"data-sync","data":{"eventType":"patch"}}`)); et != "patch" {
		t.Fatal(et)
	}
	// msgpack map {"messageType":"pong"}
	b := []byte{0x81, 0xab}
	b = append(b, "messageType"...)
	b = append(b, 0xa4)
	b = append(b, "pong"...)
	if mt := messageType(b); mt != "pong" {
		t.Fatal(mt)
	}
}

func TestClientSyncIsValidJSON(t *testing.T) {
	b := appendClientSync(nil, 12345, 0)
	if !bytes.Contains(b, []byte(`"keyId":"lt-user-12345"`)) || !bytes.HasSuffix(b, []byte(`}}}`)) {
		t.Fatalf("%s", b)
	}
}

// TestFleetDeltaSyncMix: with DeltaSince set, a FullSyncShare of the
// connections full-sync and the rest send the timestamp and count as synced
// on the edge's patch; both kinds are measured apart.
func TestFleetDeltaSyncMix(t *testing.T) {
	for _, engine := range []string{"netpoll", "epoll"} {
		t.Run(engine, func(t *testing.T) {
			ss, cs := testSecrets(t)
			e := startFakeEdge(t, map[string]string{ss: "server", cs: "client"})
			f, err := New(Spec{Dsts: []string{e.ln.Addr().String()}, Count: 400, Concurrency: 32, ClientShare: 0.25,
				ServerSecret: ss, ClientSecret: cs, DeltaSince: 1_700_000_000_000, FullSyncShare: 0.1, Engine: engine})
			if err != nil {
				t.Fatal(err)
			}
			f.Connect(context.Background(), nil, 0)
			r := f.Report()
			if r.Progress.Synced != 400 || r.Progress.Failed != 0 {
				t.Fatalf("synced %d failures %v", r.Progress.Synced, r.Failures)
			}
			if r.FullSyncs < 35 || r.FullSyncs > 45 || r.FullSyncs+r.DeltaSyncs != 400 {
				t.Fatalf("full %d delta %d, want ~40 full of 400", r.FullSyncs, r.DeltaSyncs)
			}
			if r.FirstSync.N != uint64(r.FullSyncs) || r.DeltaSync.N != uint64(r.DeltaSyncs) || r.DeltaBytes == 0 || r.ClientSync != 100 {
				t.Fatalf("histograms full %d delta %d, delta bytes %d, clients %d", r.FirstSync.N, r.DeltaSync.N, r.DeltaBytes, r.ClientSync)
			}
			f.Close()
		})
	}
	// the split itself: no timestamp → all full; share 0 → none; full syncs
	// fall on client connections too (not only where isClient crosses)
	f := &Fleet{spec: Spec{ClientShare: 0.25, FullSyncShare: 0.05}}
	if !f.fullSync(3) {
		t.Fatal("without DeltaSince every connection full-syncs")
	}
	f.spec.DeltaSince = 1
	var full, fullClients int
	for i := 0; i < 10000; i++ {
		if f.fullSync(i) {
			full++
			if f.isClient(i) {
				fullClients++
			}
		}
	}
	if full < 490 || full > 510 || fullClients < 100 || fullClients > 150 {
		t.Fatalf("%d full syncs of 10000 (%d clients), want ~500 (~125)", full, fullClients)
	}
	f.spec.FullSyncShare = 0
	if f.fullSync(0) || f.fullSync(9999) {
		t.Fatal("share 0: no full sync")
	}
}
