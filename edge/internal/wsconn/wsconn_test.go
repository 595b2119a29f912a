package wsconn

import (
	"bytes"
	"testing"

	"github.com/gobwas/ws"
)

func TestFrameHeaders(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 65535, 65536, 200000} {
		b := Frame(append(make([]byte, FrameReserve), bytes.Repeat([]byte("x"), n)...), ws.OpText)
		h, err := ws.ReadHeader(bytes.NewReader(b))
		if err != nil || h.Length != int64(n) || !h.Fin || h.OpCode != ws.OpText || h.Masked {
			t.Fatalf("n=%d: %+v %v", n, h, err)
		}
		if len(b)-ws.HeaderSize(h) != n {
			t.Fatalf("n=%d: frame length %d", n, len(b))
		}
	}
}

func TestRequestRouting(t *testing.T) {
	up := "GET /streaming?type=server HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUPGRADE: WebSocket\r\n\r\n"
	plain := "GET /streaming HTTP/1.1\r\nHost: x\r\nX-Upgrade: websocket\r\n\r\n"
	if !isUpgrade([]byte(up)) || isUpgrade([]byte(plain)) {
		t.Fatal("isUpgrade")
	}
	for p, want := range map[string]bool{"/streaming": true, "/STREAMING": true, "/streaming/x": true, "/streamingx": false, "/": false} {
		if pathMatch([]byte(p), "/streaming") != want {
			t.Fatalf("pathMatch(%q) != %v", p, want)
		}
	}
}
