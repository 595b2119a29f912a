package hub_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/codec/secret"
	"github.com/switchyard/switchyard/edge/edgetest"
	"github.com/switchyard/switchyard/edge/internal/hub"
	"github.com/switchyard/switchyard/edge/internal/metrics"
	"github.com/switchyard/switchyard/edge/internal/source"
	"github.com/switchyard/switchyard/edge/internal/wsconn"
)

// bigSnapshot is the demo environment grown to n flags (production-sized
// keys and GUIDs).
func bigSnapshot(n int) *codec.EnvSnapshot {
	s := edgetest.DemoSnapshot(secret.NewGUID())
	base := s.Flags
	for i := len(base); i < n; i++ {
		f := base[i%len(base)]
		f.ID = secret.NewGUID()
		f.Key = fmt.Sprintf("%s-%03d-checkout-experience", base[i%len(base)].Key, i)
		s.Flags = append(s.Flags, f)
	}
	return s
}

type fixture struct {
	hub  *hub.Hub
	srv  *wsconn.Server
	snap *codec.EnvSnapshot
	src  *source.Local
}

func newFixture(tb testing.TB, flags int) *fixture {
	snap := bigSnapshot(flags)
	src := source.NewLocal()
	if err := src.WriteSnapshot(context.Background(), snap); err != nil {
		tb.Fatal(err)
	}
	h := hub.New(hub.Config{}, src, nil, metrics.New())
	return &fixture{hub: h, srv: wsconn.New(wsconn.Config{}, h, nil, nil), snap: snap, src: src}
}

func (f *fixture) attach(tb testing.TB, typ, protocol string) (*wsconn.Conn, *wsconn.MemConn) {
	sec := f.snap.Secrets[0].Value
	if typ == codec.SecretClient {
		sec = f.snap.Secrets[1].Value
	}
	mc := wsconn.NewMemConn()
	c, code := f.srv.Attach(mc, "/streaming?type="+typ+"&token="+secret.EncodeToken(sec, time.Now().UnixMilli(), 9), protocol)
	if code != 0 {
		tb.Fatalf("attach: close %d", code)
	}
	return c, mc
}

// clientFrame is a masked text frame as an SDK sends it.
func clientFrame(msg string) []byte {
	f := ws.MaskFrame(ws.NewTextFrame([]byte(msg)))
	b, err := ws.CompileFrame(f)
	if err != nil {
		panic(err)
	}
	return b
}

func allocs(tb testing.TB, name string, want float64, f func()) {
	tb.Helper()
	if raceEnabled {
		tb.Skip("allocation budgets are not checked under the race detector")
	}
	for i := 0; i < 100; i++ { // warm pools and buffers
		f()
	}
	if got := testing.AllocsPerRun(1000, f); got > want {
		tb.Errorf("%s: %v allocations per run, want %v", name, got, want)
	}
}

func TestPingIsAllocationFree(t *testing.T) {
	fx := newFixture(t, 100)
	c, mc := fx.attach(t, codec.SecretServer, "")
	ping := clientFrame(`{"messageType":"ping","data":null}`)
	allocs(t, "ping", 0, func() {
		mc.Input(ping)
		fx.srv.HandleInput(c)
		if len(mc.TakeOutput()) == 0 {
			t.Fatal("no pong")
		}
	})
}

func TestServerDataSyncIsAllocationFree(t *testing.T) {
	fx := newFixture(t, 100)
	for _, proto := range []string{"", hub.Protocol} {
		c, mc := fx.attach(t, codec.SecretServer, proto)
		for _, req := range []string{
			`{"messageType":"data-sync","data":{"timestamp":0}}`,
			`{"messageType":"data-sync","data":{"timestamp":1}}`,
		} {
			frame := clientFrame(req)
			if proto != "" {
				m := codec.SyncMessage{MessageType: "data-sync"}
				if req[len(req)-4] == '1' {
					m.Data.Timestamp = 1
				}
				b, _ := m.MarshalMsg(nil)
				frame, _ = ws.CompileFrame(ws.MaskFrame(ws.NewBinaryFrame(b)))
			}
			allocs(t, "data-sync "+proto+" "+req, 0, func() {
				mc.Input(frame)
				fx.srv.HandleInput(c)
				if len(mc.TakeOutput()) < 10000 {
					t.Fatal("short data-sync reply")
				}
			})
		}
	}
}

// TestFanOutIsAllocationFreePerConnection: applying a change to an
// environment with 100 server connections allocates exactly as much as
// with 1 (the patch is encoded once; writing it allocates nothing), and
// with 4,000 exactly as much as with 2,000 (both written in the same
// number of parts, each on a goroutine: a few allocations per part).
func TestFanOutIsAllocationFreePerConnection(t *testing.T) {
	testFanOut(t, codec.SecretServer)
}

// TestClientPushIsAllocationFreePerConnection: the same for client
// connections, each re-evaluating the changed flag for its user.
func TestClientPushIsAllocationFreePerConnection(t *testing.T) {
	testFanOut(t, codec.SecretClient)
}

func testFanOut(t *testing.T, typ string) {
	if raceEnabled {
		t.Skip("allocation budgets are not checked under the race detector")
	}
	measure := func(conns, runs int) float64 {
		fx := newFixture(t, 100)
		var mcs []*wsconn.MemConn
		for i := 0; i < conns; i++ {
			c, mc := fx.attach(t, typ, "")
			if typ == codec.SecretClient {
				mc.Input(clientFrame(fmt.Sprintf(`{"messageType":"data-sync","data":{"timestamp":0,"user":{"keyId":"%s","name":"n","customizedProperties":[{"name":"country","value":"FR"}]}}}`, secret.NewGUID())))
			} else {
				mc.Input(fullSyncReq) // changes are pushed only after the full sync
			}
			fx.srv.HandleInput(c)
			mc.DiscardOutput()
			mcs = append(mcs, mc)
		}
		f := fx.snap.Flags[0]
		evs := make([]*codec.ChangeEvent, 1200)
		for i := range evs {
			f.Version++
			f.IsEnabled = !f.IsEnabled // every change flips the result for everyone
			p, _ := f.MarshalMsg(nil)
			evs[i] = &codec.ChangeEvent{EnvID: fx.snap.EnvID, Kind: codec.KindFlag, Op: codec.OpUpsert, ID: f.ID, Version: f.Version, Payload: p}
		}
		i := 0
		run := func() {
			fx.hub.Apply(evs[i])
			i++
			for _, mc := range mcs {
				if len(mc.TakeOutput()) == 0 {
					t.Fatal("connection got no push")
				}
			}
		}
		for j := 0; j < 100; j++ {
			run()
		}
		return testing.AllocsPerRun(runs, run)
	}
	one, many := measure(1, 1000), measure(100, 1000)
	if many != one {
		t.Errorf("apply with 1 connection: %v allocations, with 100: %v; want no per-connection allocation", one, many)
	}
	if testing.Short() {
		return
	}
	parts, moreParts := measure(2000, 100), measure(4000, 100)
	if moreParts != parts {
		t.Errorf("apply with 2,000 connections: %v allocations, with 4,000: %v; want no per-connection allocation", parts, moreParts)
	}
	t.Logf("allocations per change (decode, compile, encode once): %v; with the fan-out in parts: %v", one, parts)
}
