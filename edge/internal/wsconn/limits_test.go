package wsconn

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/valyala/fasthttp"
)

func okHandler(ctx *fasthttp.RequestCtx) {
	if d, ok := ctx.Conn().(RequestDoner); ok {
		d.RequestDone()
	}
	ctx.SetBodyString("ok")
}

func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// request sends a POST in two writes (header, then body after a pause, so
// it does not arrive in one read when slow) and reads the answer.
func request(t *testing.T, c net.Conn, br *bufio.Reader, slow bool) {
	t.Helper()
	if _, err := io.WriteString(c, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if slow {
		time.Sleep(30 * time.Millisecond)
	}
	if _, err := io.WriteString(c, "{}"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("response %v %v", resp, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// eventually polls cond until it holds or 10 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(end) {
			t.Fatal(what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// closedByPeer reports whether the server closes c (read ends before the
// deadline with EOF or a reset).
func closedByPeer(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(isNetErr(err, &ne) && ne.Timeout())
}

func isNetErr(err error, ne *net.Error) bool {
	e, ok := err.(net.Error)
	if ok {
		*ne = e
	}
	return ok
}

// TestUnfinishedSlotsAreReleased: handshakes, fast and slow HTTP requests
// on new and keep-alive connections, upgrades and silent connections all
// give their address's slots back, and a connection over the cap is closed
// while another address is served. A leaked slot would lock an address
// out for good.
func TestUnfinishedSlotsAreReleased(t *testing.T) {
	hs := &fasthttp.Server{Handler: okHandler}
	s := New(Config{MaxUnfinished: 4}, nopHandler{}, func(c net.Conn) error { return hs.ServeConn(c) }, nil)
	if err := s.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background(), ws.StatusGoingAway, "")
	addr := s.Addr().String()
	k := KeyOf(&net.TCPAddr{IP: net.ParseIP("127.0.0.1")})
	idle := func() bool { return s.unf.count(k) == 0 }

	for i := 0; i < 10; i++ { // new connection per request, fast and slow
		c := dialFrom(t, "127.0.0.1", addr)
		request(t, c, bufio.NewReader(c), i%2 == 1)
		c.Close()
	}
	c := dialFrom(t, "127.0.0.1", addr) // keep-alive
	br := bufio.NewReader(c)
	for i := 0; i < 10; i++ {
		request(t, c, br, i%2 == 0)
	}
	eventually(t, "slots held by an idle keep-alive connection", idle)
	c.Close()
	for i := 0; i < 10; i++ { // upgrades
		wc, _, _, err := ws.Dial(context.Background(), "ws://"+addr+"/streaming")
		if err != nil {
			t.Fatal(err)
		}
		wc.Close()
	}
	eventually(t, "slots leaked by requests and upgrades", idle)

	var silent []net.Conn // hold the quota with connections that send nothing
	for i := 0; i < 4; i++ {
		silent = append(silent, dialFrom(t, "127.0.0.1", addr))
	}
	eventually(t, "silent connections not counted", func() bool { return s.unf.count(k) == 4 })
	over := dialFrom(t, "127.0.0.1", addr)
	if !closedByPeer(over) {
		t.Fatal("a connection over the cap was not closed")
	}
	over.Close()
	other := dialFrom(t, "127.0.0.2", addr)
	request(t, other, bufio.NewReader(other), true)
	other.Close()
	for _, c := range silent {
		c.Close()
	}
	eventually(t, "slots of closed silent connections leaked", idle)
}

// TestLimitListenerReleasesSlots: the same accounting on a plain listener
// (the HTTP-only port).
func TestLimitListenerReleasesSlots(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ll := LimitListener(ln, 4, nil).(*limitListener)
	hs := &fasthttp.Server{Handler: okHandler}
	go hs.Serve(ll)
	defer hs.Shutdown()
	addr := ln.Addr().String()
	k := KeyOf(&net.TCPAddr{IP: net.ParseIP("127.0.0.1")})
	idle := func() bool { return ll.u.count(k) == 0 }
	for i := 0; i < 6; i++ {
		c := dialFrom(t, "127.0.0.1", addr)
		request(t, c, bufio.NewReader(c), i%2 == 1)
		c.Close()
	}
	c := dialFrom(t, "127.0.0.1", addr)
	br := bufio.NewReader(c)
	for i := 0; i < 6; i++ {
		request(t, c, br, i%2 == 0)
	}
	eventually(t, "slots held by an idle keep-alive connection", idle)
	c.Close()
	var silent []net.Conn
	for i := 0; i < 4; i++ {
		silent = append(silent, dialFrom(t, "127.0.0.1", addr))
	}
	eventually(t, "silent connections not counted", func() bool { return ll.u.count(k) == 4 })
	over := dialFrom(t, "127.0.0.1", addr)
	if !closedByPeer(over) {
		t.Fatal("a connection over the cap was not closed")
	}
	over.Close()
	other := dialFrom(t, "127.0.0.2", addr)
	request(t, other, bufio.NewReader(other), true)
	other.Close()
	for _, c := range silent {
		c.Close()
	}
	eventually(t, "slots of closed silent connections leaked", idle)
}

func TestKeyOf(t *testing.T) {
	a := KeyOf(&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:aaaa::1")})
	b := KeyOf(&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:bbbb::2")})
	c := KeyOf(&net.TCPAddr{IP: net.ParseIP("2001:db8:1:3::1")})
	v4 := KeyOf(&net.TCPAddr{IP: net.ParseIP("10.0.0.1")})
	v4m := KeyOf(&net.TCPAddr{IP: net.ParseIP("::ffff:10.0.0.1")})
	if a != b || a == c || v4 != v4m || v4 == KeyOf(&net.TCPAddr{IP: net.ParseIP("10.0.0.2")}) {
		t.Fatal("IPv6 addresses of one /64 share a key, IPv4 addresses do not")
	}
}
