package hub_test

import (
	"bytes"
	"testing"

	"github.com/gobwas/ws"
	"github.com/switchyard/switchyard/codec"
)

func frameOf(op ws.OpCode, fin bool, p string) []byte {
	b, _ := ws.CompileFrame(ws.MaskFrame(ws.NewFrame(op, fin, []byte(p))))
	return b
}

// FuzzFrameHandler feeds arbitrary client bytes to the frame and message
// handler of a server and a client session, whole and split at every
// offset: nothing panics, and the replies and the final open/closed state
// do not depend on how the bytes were split.
func FuzzFrameHandler(f *testing.F) {
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	f.Add(clientFrame(`{"messageType":"ping","data":null}`))
	f.Add(cat(clientFrame(`{"messageType":"data-sync","data":{"timestamp":0}}`), clientFrame(`{"messageType":"ping","data":{}}`)))
	f.Add(clientFrame(`{"messageType":"data-sync","data":{"timestamp":0,"user":{"keyId":"u1","name":"n","customizedProperties":[{"name":"country","value":"FR"}]}}}`))
	f.Add(cat(frameOf(ws.OpText, false, `{"messageType":"ec`), frameOf(ws.OpContinuation, true, `ho","data":[1,2]}`)))
	f.Add(cat(frameOf(ws.OpPing, true, "hi"), frameOf(ws.OpClose, true, "\x03\xe8")))
	f.Add([]byte{0x81, 0xff, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4})
	f.Add(ws.MustCompileFrame(ws.NewTextFrame([]byte(`{"messageType":"ping","data":null}`))))
	fx := newFixture(f, 20)
	run := func(t *testing.T, typ string, chunks [][]byte) ([]byte, bool) {
		c, mc := fx.attach(t, typ, "")
		for _, ch := range chunks {
			mc.Feed(ch)
		}
		var out []byte
		for mc.Arrive() && !mc.Closed() {
			fx.srv.HandleInput(c)
			out = append(out, mc.TakeOutput()...)
		}
		out = append(out, mc.TakeOutput()...)
		mc.Close()
		return out, c.Open()
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 1024 {
			return
		}
		for _, typ := range []string{codec.SecretServer, codec.SecretClient} {
			whole, open := run(t, typ, [][]byte{in})
			for k := 1; k < len(in); k++ {
				out, o := run(t, typ, [][]byte{in[:k], in[k:]})
				if o != open || !bytes.Equal(out, whole) {
					t.Fatalf("%s: split at %d: open %v/%v, output %q / whole %q", typ, k, o, open, out, whole)
				}
			}
		}
	})
}
