package edge_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/switchyard/switchyard/edge"
	"github.com/switchyard/switchyard/edge/edgetest"
)

// Security tests: each is the attack (the request an attacker sends) and
// the refusal expected, on both listeners where HTTP is involved: the shared
// netpoll port (Addr) and the HTTP-only port (HTTPAddr).

// ports runs f once per listener of an edge started with cfg (HTTPAddr set).
func ports(t *testing.T, cfg edge.Config, f func(t *testing.T, e *edgetest.Edge, env *edgetest.DemoEnv, addr string)) {
	cfg.HTTPAddr = "127.0.0.1:0"
	e := edgetest.Run(t, cfg)
	env := e.Env(t)
	t.Run("port=shared", func(t *testing.T) { f(t, e, env, e.Addr) })
	t.Run("port=http-addr", func(t *testing.T) { f(t, e, env, e.Server.HTTPAddr()) })
}

// fromAddr is an HTTP client whose connections come from the loopback
// address src (127.0.0.0/8 is all local on Linux), with a generous timeout.
func fromAddr(src string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: wait}
	return &http.Client{Timeout: wait, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

func doWith(t *testing.T, c *http.Client, method, url, auth, body string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

const ofrepBody = `{"context":{"targetingKey":"u-1"}}`

// TestSecurityClientSecretCannotReadServerData: the public client secret
// (from a browser bundle) asks for the server data set — every rule,
// targeted user key and segment member — by polling and by server
// streaming, and is refused (401; 4003 on the stream). Client routes keep
// working with it.
func TestSecurityClientSecretCannotReadServerData(t *testing.T) {
	ports(t, edge.Config{}, func(t *testing.T, e *edgetest.Edge, env *edgetest.DemoEnv, addr string) {
		base := "http://" + addr
		for _, q := range []string{"", "?timestamp=0", "?timestamp=1"} {
			code, body, _ := do(t, "GET", base+"/api/public/sdk/server/latest-all"+q, env.ClientSecret, "")
			if code != 401 || strings.Contains(body, "u-beta") || !strings.Contains(body, "server secret") {
				t.Fatalf("server polling%s with the client secret: %d %q", q, code, body)
			}
		}
		// allowed with the client secret: evaluated values and events
		if code, body, _ := do(t, "POST", base+"/api/public/sdk/client/latest-all", env.ClientSecret, `{"keyId":"u-1"}`); code != 200 || strings.Contains(body, "u-beta") {
			t.Fatalf("client polling with the client secret: %d %q", code, body)
		}
		if code, body, _ := do(t, "POST", base+"/ofrep/v1/evaluate/flags", env.ClientSecret, ofrepBody); code != 200 {
			t.Fatalf("OFREP with the client secret: %d %q", code, body)
		}
		if code, body, _ := do(t, "POST", base+"/api/public/insight/track", env.ClientSecret, `[]`); code != 200 {
			t.Fatalf("track with the client secret: %d %q", code, body)
		}
	})
	e := edgetest.Run(t, edge.Config{HTTPAddr: "127.0.0.1:0"})
	env := e.Env(t)
	// the HTTP-only port serves no streaming at all
	if _, err := edgetest.DialErr(edgetest.StreamURL(e.Server.HTTPAddr(), "server", env.ClientSecret)); err == nil {
		t.Fatal("WebSocket upgrade accepted on the HTTP-only port")
	}
	for _, c := range []struct{ typ, secret string }{{"server", env.ClientSecret}, {"client", env.ServerSecret}} {
		cl := edgetest.Dial(t, edgetest.StreamURL(e.Addr, c.typ, c.secret))
		_ = cl.Send(`{"messageType":"data-sync","data":{"timestamp":0}}`)
		if code, err := cl.ExpectClose(wait); err != nil || code != 4003 {
			t.Fatalf("type=%s with the other type's secret: close %d %v", c.typ, code, err)
		}
	}
}

// TestSecurityInvalidUTF8ClosesWith1007: a text message that is not UTF-8,
// whole or fragmented, closes the stream with 1007 (RFC 6455 8.1); binary
// messages are not checked.
func TestSecurityInvalidUTF8ClosesWith1007(t *testing.T) {
	e := edgetest.Run(t)
	env := e.Env(t)
	bad := []byte(`{"messageType":"ping","data":"` + "\xff\xfe" + `"}`)
	// binary frames carry msgpack: not checked
	b := edgetest.Dial(t, edgetest.StreamURL(e.Addr, "server", env.ServerSecret))
	if err := ws.WriteFrame(b.Conn, ws.MaskFrame(ws.NewBinaryFrame([]byte{0xff, 0xfe}))); err != nil {
		t.Fatal(err)
	}
	_ = b.Send(`{"messageType":"ping","data":null}`)
	if _, p, err := b.Read(wait); err != nil || !strings.Contains(string(p), "pong") {
		t.Fatalf("after a non-UTF-8 binary frame: %q %v", p, err)
	}
	for _, fragmented := range []bool{false, true} {
		c := edgetest.Dial(t, edgetest.StreamURL(e.Addr, "server", env.ServerSecret))
		var err error
		if fragmented { // the invalid bytes split across the two fragments
			i := bytes.IndexByte(bad, 0xff) + 1
			if err = ws.WriteFrame(c.Conn, ws.MaskFrame(ws.NewFrame(ws.OpText, false, bad[:i]))); err == nil {
				err = ws.WriteFrame(c.Conn, ws.MaskFrame(ws.NewFrame(ws.OpContinuation, true, bad[i:])))
			}
		} else {
			err = ws.WriteFrame(c.Conn, ws.MaskFrame(ws.NewTextFrame(bad)))
		}
		if err != nil {
			t.Fatal(err)
		}
		if code, err := c.ExpectClose(wait); err != nil || code != ws.StatusInvalidFramePayloadData {
			t.Fatalf("fragmented=%v: close %d %v, want 1007", fragmented, code, err)
		}
	}
}

// TestSecurityRateLimitPerAddress: one address sends more public requests
// (or WebSocket upgrades) than its bucket holds and gets 429 with
// Retry-After; another address is served meanwhile.
func TestSecurityRateLimitPerAddress(t *testing.T) {
	ports(t, edge.Config{AddrRate: 1, AddrBurst: 3}, func(t *testing.T, e *edgetest.Edge, env *edgetest.DemoEnv, addr string) {
		url := "http://" + addr + "/ofrep/v1/evaluate/flags"
		attacker, other := fromAddr("127.0.0.3"), fromAddr("127.0.0.4")
		if addr != e.Addr {
			attacker, other = fromAddr("127.0.0.5"), fromAddr("127.0.0.6")
		}
		limited := false
		for i := 0; i < 10 && !limited; i++ {
			code, _, h := doWith(t, attacker, "POST", url, env.ServerSecret, ofrepBody)
			switch code {
			case 200:
			case 429:
				if h.Get("Retry-After") != "1" {
					t.Fatalf("429 without Retry-After: %v", h)
				}
				limited = true
			default:
				t.Fatalf("status %d", code)
			}
		}
		if !limited {
			t.Fatal("10 requests within a burst of 3 at 1/s all served")
		}
		if code, body, _ := doWith(t, other, "POST", url, env.ServerSecret, ofrepBody); code != 200 {
			t.Fatalf("another address: %d %q", code, body)
		}
	})
	// WebSocket upgrades take from the same bucket (the streaming port)
	e := edgetest.Run(t, edge.Config{AddrRate: 1, AddrBurst: 3})
	codes := map[int]int{}
	for i := 0; i < 10; i++ {
		codes[upgrade(t, e.Addr, "127.0.0.7")]++
	}
	if codes[101] == 0 || codes[429] == 0 || codes[101]+codes[429] != 10 {
		t.Fatalf("10 upgrades within a burst of 3 at 1/s: %v", codes)
	}
	if code := upgrade(t, e.Addr, "127.0.0.8"); code != 101 {
		t.Fatalf("upgrade from another address: %d", code)
	}
}

// upgrade sends a WebSocket upgrade request from src and returns the status.
func upgrade(t *testing.T, addr, src string) int {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: wait}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(wait))
	fmt.Fprintf(nc, "GET /streaming?type=server&token=x HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == 429 && resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("429 without Retry-After: %v", resp.Header)
	}
	return resp.StatusCode
}

// TestSecurityRateLimitPerSecret: requests with one secret from many
// addresses are limited by the secret's bucket (429, Retry-After).
func TestSecurityRateLimitPerSecret(t *testing.T) {
	ports(t, edge.Config{SecretRate: 1, SecretBurst: 3}, func(t *testing.T, e *edgetest.Edge, env *edgetest.DemoEnv, addr string) {
		base := "http://" + addr
		routes := []struct{ method, path, body string }{
			{"POST", "/ofrep/v1/evaluate/flags", ofrepBody},
			{"POST", "/api/public/sdk/client/latest-all", `{"keyId":"u-1"}`},
			{"POST", "/api/public/insight/track", `[]`},
		}
		limited := 0
		for i := 0; i < 12; i++ {
			r := routes[i%len(routes)]
			code, _, h := doWith(t, fromAddr(fmt.Sprintf("127.0.1.%d", i+1)), r.method, base+r.path, env.ClientSecret, r.body)
			if code == 429 {
				if h.Get("Retry-After") != "1" {
					t.Fatalf("%s: 429 without Retry-After", r.path)
				}
				limited++
			} else if code != 200 {
				t.Fatalf("%s: status %d", r.path, code)
			}
		}
		if limited < 6 {
			t.Fatalf("only %d of 12 requests limited (burst 3 at 1/s)", limited)
		}
	})
}

// TestSecurityOversizedRequests: an OFREP context or a client-polling user
// over MaxBodyBytes, a track body over MaxTrackBytes and a header over
// MaxHeaderBytes are refused (413, 431) before the handler runs; a track
// request naming more distinct end users than MaxTrackUsers is 400.
func TestSecurityOversizedRequests(t *testing.T) {
	ports(t, edge.Config{MaxBodyBytes: 4 << 10, MaxTrackBytes: 64 << 10, MaxTrackUsers: 10, MaxHeaderBytes: 4 << 10},
		func(t *testing.T, e *edgetest.Edge, env *edgetest.DemoEnv, addr string) {
			base := "http://" + addr
			big := `{"context":{"targetingKey":"u-1","pad":"` + strings.Repeat("x", 5<<10) + `"}}`
			if code, _, _ := do(t, "POST", base+"/ofrep/v1/evaluate/flags/demo-bool", env.ServerSecret, big); code != 413 {
				t.Fatalf("5 KiB OFREP context over a 4 KiB cap: %d", code)
			}
			if code, _, _ := do(t, "POST", base+"/api/public/sdk/client/latest-all", env.ClientSecret, `{"keyId":"`+strings.Repeat("x", 5<<10)+`"}`); code != 413 {
				t.Fatalf("5 KiB user over a 4 KiB cap: %d", code)
			}
			// the track cap is the larger one
			var ev []string
			for i := 0; i < 10; i++ {
				ev = append(ev, fmt.Sprintf(`{"user":{"keyId":"u-%d","name":"%s"},"variations":[]}`, i, strings.Repeat("n", 500)))
			}
			if code, body, _ := do(t, "POST", base+"/api/public/insight/track", env.ClientSecret, "["+strings.Join(ev, ",")+"]"); code != 200 {
				t.Fatalf("5 KiB track body under its 64 KiB cap: %d %q", code, body)
			}
			// announced, not sent: the edge refuses before reading (or
			// allocating) the body
			if code, body := announce(t, addr, "/api/public/insight/track", env.ClientSecret, 70<<10); code != 413 || !strings.Contains(body, "65536") {
				t.Fatalf("70 KiB track body over a 64 KiB cap: %d %q", code, body)
			}
			if code, body := announce(t, addr, "/ofrep/v1/evaluate/flags", env.ClientSecret, 3<<20); code != 413 || !strings.Contains(body, "4096") {
				t.Fatalf("3 MiB OFREP context over a 4 KiB cap: %d %q", code, body)
			}
			ev = ev[:0]
			for i := 0; i < 11; i++ {
				ev = append(ev, fmt.Sprintf(`{"user":{"keyId":"u-%d"},"variations":[]}`, i))
			}
			if code, body, _ := do(t, "POST", base+"/api/public/insight/track", env.ClientSecret, "["+strings.Join(ev, ",")+"]"); code != 400 || !strings.Contains(body, "end users") {
				t.Fatalf("11 distinct users over a cap of 10: %d %q", code, body)
			}
			// a server SDK batches the events of every user its service saw:
			// the same body with the server secret is accepted
			if code, body, _ := do(t, "POST", base+"/api/public/insight/track", env.ServerSecret, "["+strings.Join(ev, ",")+"]"); code != 200 {
				t.Fatalf("11 distinct users with the server secret: %d %q", code, body)
			}
			req, _ := http.NewRequest("GET", base+"/health/liveness", nil)
			req.Header.Set("X-Pad", strings.Repeat("p", 5<<10))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 431 {
				t.Fatalf("5 KiB header over a 4 KiB cap: %d", resp.StatusCode)
			}
		})
}

// announce sends a POST header announcing n body bytes, sends none, and
// returns the edge's answer.
func announce(t *testing.T, addr, path, secret string, n int) (int, string) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(wait))
	fmt.Fprintf(nc, "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nContent-Length: %d\r\n\r\n", path, secret, n)
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestSecuritySlowBodyIsCutOff: a request whose body trickles in one byte
// at a time is closed RequestTimeout after its first byte, on a fresh
// connection and on a keep-alive connection's later request.
func TestSecuritySlowBodyIsCutOff(t *testing.T) {
	ports(t, edge.Config{RequestTimeout: 500 * time.Millisecond}, func(t *testing.T, e *edgetest.Edge, env *edgetest.DemoEnv, addr string) {
		for _, keepAlive := range []bool{false, true} {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(nc)
			if keepAlive {
				if _, err := nc.Write([]byte("GET /health/liveness HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
					t.Fatal(err)
				}
				if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
					t.Fatalf("first request: %v %v", resp, err)
				}
			}
			hdr := "POST /ofrep/v1/evaluate/flags HTTP/1.1\r\nHost: x\r\nAuthorization: " + env.ServerSecret + "\r\nContent-Length: 100\r\n\r\n{"
			if _, err := nc.Write([]byte(hdr)); err != nil {
				t.Fatal(err)
			}
			closed := make(chan error, 1)
			go func() {
				_, err := io.Copy(io.Discard, br) // ends when the edge closes
				closed <- err
			}()
			deadline := time.After(wait)
		trickle:
			for {
				select {
				case <-closed:
					break trickle
				case <-deadline:
					t.Fatalf("keep-alive=%v: slow body still open after %v (RequestTimeout 500ms)", keepAlive, wait)
				case <-time.After(100 * time.Millisecond):
					_, _ = nc.Write([]byte(" "))
				}
			}
			nc.Close()
		}
	})
}

// TestSecuritySlowBodyFlood: 2,000 connections from one address send a
// request body a byte at a time (and reconnect when cut off), the attack
// that once held every descriptor of the process. Meanwhile a normal client
// on another address keeps being served: each of its requests, on a new
// connection, completes (within a generous client timeout), on both ports.
func TestSecuritySlowBodyFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 2,000 connections per port")
	}
	const slow = 2000
	busyBefore := 0
	ports(t, edge.Config{RequestTimeout: 2 * time.Second, MaxUnfinished: 128, AddrRate: 1000}, func(t *testing.T, e *edgetest.Edge, env *edgetest.DemoEnv, addr string) {
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		var dials, refused atomic.Int64
		hdr := []byte("POST /ofrep/v1/evaluate/flags HTTP/1.1\r\nHost: x\r\nAuthorization: " + env.ServerSecret + "\r\nContent-Length: 1000\r\n\r\n{")
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.1")}}
		for i := 0; i < slow; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					nc, err := d.DialContext(ctx, "tcp", addr)
					if err != nil {
						select {
						case <-ctx.Done():
						case <-time.After(50 * time.Millisecond):
						}
						continue
					}
					dials.Add(1)
					alive := func() bool { _, err := nc.Write([]byte(" ")); return err == nil }
					if _, err := nc.Write(hdr); err == nil {
						for ctx.Err() == nil && alive() {
							_ = nc.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
							var b [1]byte
							if _, err := nc.Read(b[:]); err != nil && !isTimeout(err) {
								break // closed by the edge
							}
						}
					}
					refused.Add(1)
					nc.Close()
					select { // and come back
					case <-ctx.Done():
					case <-time.After(100 * time.Millisecond):
					}
				}
			}()
		}
		defer func() { cancel(); wg.Wait() }()
		// wait until the flood is on: every slow client has connected once
		for end := time.Now().Add(wait); dials.Load() < slow; {
			if time.Now().After(end) {
				t.Fatalf("only %d of %d slow clients connected", dials.Load(), slow)
			}
			time.Sleep(10 * time.Millisecond)
		}
		normal := fromAddr("127.0.0.2")
		served := 0
		for end := time.Now().Add(3 * time.Second); time.Now().Before(end); served++ {
			req, _ := http.NewRequest("POST", "http://"+addr+"/ofrep/v1/evaluate/flags/demo-bool", strings.NewReader(ofrepBody))
			req.Header.Set("Authorization", env.ServerSecret)
			resp, err := normal.Do(req)
			if err != nil {
				t.Fatalf("normal client, request %d, during the flood: %v", served, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("normal client, request %d: status %d", served, resp.StatusCode)
			}
		}
		if refused.Load() == 0 {
			t.Fatal("no slow connection was closed by the edge")
		}
		// the edge turned the flood away at its per-address cap (shared
		// by both ports' counters, so checked as growing per subtest)
		_, metrics, _ := doWith(t, normal, "GET", "http://"+addr+"/metrics", "", "")
		busy := errorCount(metrics, "address_busy")
		if busy <= busyBefore {
			t.Fatalf("no connection refused for its address (address_busy %d)", busy)
		}
		busyBefore = busy
		t.Logf("%d normal requests served; %d slow connections made, %d closed by the edge", served, dials.Load(), refused.Load())
	})
}

// errorCount reads sy_edge_errors_total{cause} from a /metrics body.
func errorCount(metrics, cause string) int {
	for _, l := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(l, `sy_edge_errors_total{cause="`+cause+`"} `) {
			n := 0
			fmt.Sscan(l[strings.LastIndexByte(l, ' ')+1:], &n)
			return n
		}
	}
	return 0
}

// TestSecurityEndUserFlood: client polling with the public client secret
// and a new user per request cannot push more end users per environment
// than EndUserRate/EndUserBurst allow into the pipeline.
func TestSecurityEndUserFlood(t *testing.T) {
	e := edgetest.Run(t, edge.Config{EndUserRate: 1, EndUserBurst: 5})
	env := e.Env(t)
	for i := 0; i < 40; i++ {
		if code, body, _ := do(t, "POST", e.URL()+"/api/public/sdk/client/latest-all", env.ClientSecret, fmt.Sprintf(`{"keyId":"flood-%d"}`, i)); code != 200 {
			t.Fatalf("request %d: %d %q", i, code, body)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := e.Server.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
	n := 0
	for _, b := range e.Sink.EndUserBatches() {
		n += len(b.Users)
	}
	// 5 from the bucket, plus at most a few refilled while the test ran
	if n < 5 || n > 15 {
		t.Fatalf("%d of 40 flooded end users forwarded (burst 5, 1/s)", n)
	}
}
