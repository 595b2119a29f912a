package hub_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cloudwego/netpoll"
	"github.com/gobwas/ws"
	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/codec/secret"
	"github.com/switchyard/switchyard/edge/internal/wsconn"
)

// gatedConn is a MemConn whose Flush, once armed, tells entered and waits
// for release: a write (a full sync) that is "on the wire" while the test
// does something else.
type gatedConn struct {
	*wsconn.MemConn
	w *gatedWriter
}

type gatedWriter struct {
	*netpoll.LinkBuffer
	mu      sync.Mutex
	armed   bool
	entered chan struct{}
	release chan struct{}
}

func newGatedConn() *gatedConn {
	mc := wsconn.NewMemConn()
	return &gatedConn{MemConn: mc, w: &gatedWriter{LinkBuffer: mc.Out}}
}

func (g *gatedConn) Writer() netpoll.Writer { return g.w }

// arm makes the next Flush block until the returned release is closed.
func (g *gatedConn) arm() (entered, release chan struct{}) {
	g.w.mu.Lock()
	defer g.w.mu.Unlock()
	g.w.armed = true
	g.w.entered, g.w.release = make(chan struct{}), make(chan struct{})
	return g.w.entered, g.w.release
}

func (w *gatedWriter) Flush() error {
	w.mu.Lock()
	armed, entered, release := w.armed, w.entered, w.release
	w.armed = false
	w.mu.Unlock()
	if armed {
		close(entered)
		<-release
	}
	return w.LinkBuffer.Flush()
}

// syncMsg is one data-sync message an SDK read.
type syncMsg struct {
	Event string
	Descs []string // the description of every flag in it
}

// readSyncs splits out into frames and decodes the data-sync messages.
func readSyncs(t *testing.T, out []byte) []syncMsg {
	t.Helper()
	var msgs []syncMsg
	r := bytes.NewReader(out)
	for r.Len() > 0 {
		h, err := ws.ReadHeader(r)
		if err != nil {
			t.Fatalf("frame header: %v", err)
		}
		p := make([]byte, h.Length)
		if _, err := r.Read(p); err != nil {
			t.Fatal(err)
		}
		var m struct {
			MessageType string `json:"messageType"`
			Data        struct {
				EventType    string `json:"eventType"`
				FeatureFlags []struct {
					Description string `json:"description"`
				} `json:"featureFlags"`
			} `json:"data"`
		}
		if err := json.Unmarshal(p, &m); err != nil {
			t.Fatalf("message %.100q: %v", p, err)
		}
		if m.MessageType != "data-sync" {
			continue
		}
		sm := syncMsg{Event: m.Data.EventType}
		for _, f := range m.Data.FeatureFlags {
			sm.Descs = append(sm.Descs, f.Description)
		}
		msgs = append(msgs, sm)
	}
	return msgs
}

func (m syncMsg) has(desc string) bool {
	for _, d := range m.Descs {
		if d == desc {
			return true
		}
	}
	return false
}

// changer makes upserts of one flag, each with a new description.
type changer struct {
	fx   *fixture
	f    codec.Flag
	n    int
	flip bool // also toggle the flag (a change of every user's result)
}

func (c *changer) next() (*codec.ChangeEvent, string) {
	c.n++
	c.f.Version++
	c.f.UpdatedAt++
	c.f.Description = fmt.Sprintf("change-%d", c.n)
	if c.flip {
		c.f.IsEnabled = !c.f.IsEnabled
	}
	p, _ := c.f.MarshalMsg(nil)
	return &codec.ChangeEvent{EnvID: c.fx.snap.EnvID, Kind: codec.KindFlag, Op: codec.OpUpsert, ID: c.f.ID,
		Version: c.f.Version, Payload: p}, c.f.Description
}

func (f *fixture) attachConn(t *testing.T, nc netpoll.Connection) *wsconn.Conn {
	t.Helper()
	c, code := f.srv.Attach(nc, f.streamURI(codec.SecretServer), "")
	if code != 0 {
		t.Fatalf("attach: close %d", code)
	}
	return c
}

var fullSyncReq = clientFrame(`{"messageType":"data-sync","data":{"timestamp":0}}`)

// TestSecurityNoPatchBeforeFullSync: a change published between the
// WebSocket upgrade and the SDK's data-sync request is not pushed to the
// connection (a FeatBit SDK would apply it to an empty store); the full
// sync includes it, and the next change follows as a patch.
func TestSecurityNoPatchBeforeFullSync(t *testing.T) {
	fx := newFixture(t, 100)
	ch := &changer{fx: fx, f: fx.snap.Flags[1]}
	mc := wsconn.NewMemConn()
	c := fx.attachConn(t, mc)
	ev1, d1 := ch.next()
	fx.hub.Apply(ev1)
	if out := mc.TakeOutput(); len(out) != 0 {
		t.Fatalf("a change before the data-sync request was pushed: %d bytes: %v", len(out), readSyncs(t, out))
	}
	mc.Input(fullSyncReq)
	fx.srv.HandleInput(c)
	ev2, d2 := ch.next()
	fx.hub.Apply(ev2)
	msgs := readSyncs(t, mc.TakeOutput())
	if len(msgs) != 2 || msgs[0].Event != "full" || !msgs[0].has(d1) || msgs[1].Event != "patch" || !msgs[1].has(d2) {
		t.Fatalf("want the full sync with %s, then a patch with %s; got %+v", d1, d2, msgs)
	}
}

// TestSecurityChangeDuringFullSyncFollowsIt: a change applied while a
// large full sync (10,000 flags, built before the change) is being written
// reaches the connection after it, as a patch; a change applied before the
// full sync was built is in it and not pushed again.
func TestSecurityChangeDuringFullSyncFollowsIt(t *testing.T) {
	fx := newFixture(t, 10000)
	ch := &changer{fx: fx, f: fx.snap.Flags[1]}

	t.Run("change while the full sync is written", func(t *testing.T) {
		g := newGatedConn()
		c := fx.attachConn(t, g)
		entered, release := g.arm()
		g.Input(fullSyncReq)
		synced := make(chan struct{})
		go func() { fx.srv.HandleInput(c); close(synced) }()
		<-entered // the full sync (the State before the change) is being written
		env := fx.hub.EnvIfLoaded(fx.snap.EnvID)
		before := env.State()
		ev, d := ch.next()
		applied := make(chan struct{})
		go func() { fx.hub.Apply(ev); close(applied) }()
		waitFor(t, "the change's State", func() bool { return env.State() != before })
		close(release)
		<-synced
		<-applied
		msgs := readSyncs(t, g.TakeOutput())
		if len(msgs) != 2 || msgs[0].Event != "full" || msgs[0].has(d) || len(msgs[0].Descs) < 10000 ||
			msgs[1].Event != "patch" || !msgs[1].has(d) {
			t.Fatalf("want the full sync without %s, then a patch with it; got %d messages %v", d, len(msgs), events(msgs))
		}
	})

	t.Run("full sync built after the change, before its push", func(t *testing.T) {
		// a synced connection first in the list holds the fan-out while the
		// second connection's full sync is built from the new State
		ga := newGatedConn()
		a := fx.attachConn(t, ga)
		ga.Input(fullSyncReq)
		fx.srv.HandleInput(a)
		ga.DiscardOutput()
		mb := wsconn.NewMemConn()
		b := fx.attachConn(t, mb)
		entered, release := ga.arm()
		ev, d := ch.next()
		applied := make(chan struct{})
		go func() { fx.hub.Apply(ev); close(applied) }()
		<-entered // the fan-out is writing to a; b is next
		mb.Input(fullSyncReq)
		fx.srv.HandleInput(b)
		close(release)
		<-applied
		msgs := readSyncs(t, mb.TakeOutput())
		if len(msgs) != 1 || msgs[0].Event != "full" || !msgs[0].has(d) {
			t.Fatalf("want one full sync with %s and no duplicate patch; got %v", d, events(msgs))
		}
		if am := readSyncs(t, ga.TakeOutput()); len(am) != 1 || am[0].Event != "patch" || !am[0].has(d) {
			t.Fatalf("the synced connection: want the patch with %s, got %v", d, events(am))
		}
	})
}

func events(msgs []syncMsg) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, fmt.Sprintf("%s(%d flags)", m.Event, len(m.Descs)))
	}
	return out
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func (f *fixture) streamURI(typ string) string {
	sec := f.snap.Secrets[0].Value
	if typ == codec.SecretClient {
		sec = f.snap.Secrets[1].Value
	}
	return "/streaming?type=" + typ + "&token=" + secret.EncodeToken(sec, time.Now().UnixMilli(), 9)
}

// TestFanOutDoesNotWaitForABusyConnection: a connection busy writing a
// large full sync does not hold up the push to the connections after it;
// it gets the push once its full sync is written. Server and client
// connections.
func TestFanOutDoesNotWaitForABusyConnection(t *testing.T) {
	t.Run("server", func(t *testing.T) { testBusyConnection(t, codec.SecretServer) })
	t.Run("client", func(t *testing.T) { testBusyConnection(t, codec.SecretClient) })
}

func testBusyConnection(t *testing.T, typ string) {
	fx := newFixture(t, 10000)
	ch := &changer{fx: fx, f: fx.snap.Flags[0]} // a change of its description flips nobody's result…
	if typ == codec.SecretClient {
		ch.flip = true // …so a client change also toggles the flag
	}
	req := fullSyncReq
	if typ == codec.SecretClient {
		req = clientFrame(`{"messageType":"data-sync","data":{"timestamp":0,"user":{"keyId":"u-1","name":"n","customizedProperties":[{"name":"country","value":"FR"}]}}}`)
	}
	attach := func(nc netpoll.Connection) *wsconn.Conn {
		c, code := fx.srv.Attach(nc, fx.streamURI(typ), "")
		if code != 0 {
			t.Fatalf("attach: close %d", code)
		}
		return c
	}
	ga := newGatedConn()
	a := attach(ga)
	ga.Input(req)
	fx.srv.HandleInput(a) // synced
	ga.DiscardOutput()
	mb := wsconn.NewMemConn()
	b := attach(mb)
	mb.Input(req)
	fx.srv.HandleInput(b)
	mb.DiscardOutput()

	entered, release := ga.arm()
	ga.Input(req) // a asks for a full sync again; it is on the wire
	resynced := make(chan struct{})
	go func() { fx.srv.HandleInput(a); close(resynced) }()
	<-entered
	ev, d := ch.next()
	applied := make(chan struct{})
	go func() { fx.hub.Apply(ev); close(applied) }()
	var got []syncMsg
	waitFor(t, "the push to the connection after the busy one", func() bool {
		got = append(got, readSyncs(t, mb.TakeOutput())...)
		return len(got) > 0
	})
	if typ == codec.SecretClient { // client patches carry evaluated flags, not descriptions
		d = ""
	}
	if len(got) != 1 || got[0].Event != "patch" || (d != "" && !got[0].has(d)) {
		t.Fatalf("the free connection: want the patch with %s, got %v", d, events(got))
	}
	close(release)
	<-resynced
	<-applied
	if am := readSyncs(t, ga.TakeOutput()); len(am) != 2 || am[0].Event != "full" || am[1].Event != "patch" ||
		(d != "" && (am[0].has(d) || !am[1].has(d))) {
		t.Fatalf("the busy connection: want its full sync, then the patch with %s; got %v", d, events(am))
	}
}
