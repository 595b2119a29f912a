package fleet

import (
	"testing"

	"github.com/cloudwego/netpoll"
	"github.com/gobwas/ws"
)

func serverFrame(op ws.OpCode, p []byte) []byte {
	b := []byte{0x80 | byte(op)}
	switch n := len(p); {
	case n < 126:
		b = append(b, byte(n))
	case n < 1<<16:
		b = append(b, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, p...)
}

func fuzzSeeds(f *testing.F) {
	patch := []byte(`{"messageType":"data-sync","data":{"eventType":"patch","featureFlags":[{"key":"lt-push","variations":[{"value":"lt~3~1700000000000000000"}]}]}}`)
	var seed []byte
	seed = append(seed, serverFrame(ws.OpText, []byte(`{"messageType":"pong","data":{}}`))...)
	seed = append(seed, serverFrame(ws.OpText, patch)...)
	seed = append(seed, serverFrame(ws.OpPing, []byte("x"))...)
	seed = append(seed, serverFrame(ws.OpText, make([]byte, 300))...)
	f.Add(seed, uint16(5))
	f.Add(serverFrame(ws.OpClose, []byte{0x0f, 0xa3}), uint16(1))
	f.Add([]byte{0x81, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, uint16(3))
	f.Add([]byte("lt~~lt~1~"), uint16(0))
}

// FuzzEpollInput feeds server bytes to an open epoll-engine connection, in
// one piece and split at an arbitrary offset: it must not panic, and both
// deliveries must count the same messages and pushes.
func FuzzEpollInput(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		run := func(chunks ...[]byte) (msgs int64, pushes uint64) {
			fl, err := New(Spec{Dsts: []string{"127.0.0.1:1"}, MaxPushes: 8})
			if err != nil {
				t.Fatal(err)
			}
			l := &eloop{f: fl, conns: make([]*econn, 1)}
			c := &econn{fd: -1, state: esOpen}
			fl.open.Add(1)
			l.conns = []*econn{nil}
			for _, ch := range chunks {
				if c.state == 255 {
					break
				}
				buf := append([]byte(nil), ch...) // the loop's read buffer is reused
				l.input(c, buf)
			}
			return fl.msgsIn.Load(), fl.Push.Count()
		}
		s := int(split) % (len(data) + 1)
		m1, p1 := run(data)
		m2, p2 := run(data[:s], data[s:])
		if m1 != m2 || p1 != p2 {
			t.Fatalf("whole: %d msgs %d pushes; split at %d: %d msgs %d pushes", m1, p1, s, m2, p2)
		}
	})
}

// FuzzReadFrame parses frames with the netpoll engine's reader.
func FuzzReadFrame(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, _ uint16) {
		lb := netpoll.NewLinkBuffer()
		_, _ = lb.WriteBinary(append([]byte(nil), data...))
		_ = lb.Flush()
		for lb.Len() > 0 {
			_, _, p, err := readFrame(lb)
			if err != nil {
				return
			}
			_ = messageType(p)
			_, _, _ = pushMarker(p)
			_ = lb.Release()
		}
	})
}
