package control

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// clientFrom returns an HTTP client whose connections come from a given
// loopback address (attacker and honest client are told apart by address).
func clientFrom(local string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 4}}
}

// TestSecuritySlowBodyManyConnections is the descriptor-exhaustion attack:
// thousands of connections from one address each send a login request's
// headers and one byte of its body, then stall. The server keeps at most
// MaxConnsPerIP of them (the rest are closed on accept), cuts those off at
// ReadTimeout, and an honest client on another address is served
// throughout.
func TestSecuritySlowBodyManyConnections(t *testing.T) {
	const attackers, perIP = 3000, 64
	h := newHarnessWith(t, func(c *Config) { c.ReadTimeout, c.MaxConnsPerIP = 2*time.Second, perIP })
	if err := h.s.Start(); err != nil {
		t.Fatal(err)
	}
	addr := h.s.Addr()
	lim := h.s.ln.(*connLimiter)
	attacker := netip.MustParseAddr("127.0.0.2")
	held := func() int {
		lim.mu.Lock()
		defer lim.mu.Unlock()
		return lim.open[attacker]
	}

	stop := make(chan struct{})
	var honest sync.WaitGroup
	var served, failed int
	var failure error
	honest.Go(func() {
		c := clientFrom("127.0.0.1")
		for {
			for _, path := range []string{"/healthz", "/api/v1/auth/me"} {
				req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
				req.Header.Set("Authorization", "Bearer "+h.admin)
				resp, err := c.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						err = fmt.Errorf("%s: status %d", path, resp.StatusCode)
					}
				}
				if err != nil {
					failed++
					failure = err
				} else {
					served++
				}
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})

	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: attacker.AsSlice()}, Timeout: 5 * time.Second}
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	maxHeld := 0
	for i := range attackers {
		c, err := d.DialContext(context.Background(), "tcp", addr)
		if err != nil {
			t.Fatalf("attack connection %d: %v", i, err)
		}
		conns = append(conns, c)
		_, _ = io.WriteString(c, "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
		maxHeld = max(maxHeld, held())
	}
	// The server closes every attack connection: those over the cap on
	// accept, the ones it kept at the read deadline.
	for i, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
		if _, err := io.Copy(io.Discard, c); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("attack connection %d still open after 60 s", i)
			}
		}
		maxHeld = max(maxHeld, held())
	}
	for deadline := time.Now().Add(30 * time.Second); held() > 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%d slow connections still counted", held())
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	honest.Wait()
	if maxHeld > perIP {
		t.Errorf("the attacker held %d connections, cap %d", maxHeld, perIP)
	}
	if failed > 0 || served < 4 {
		t.Fatalf("honest client: %d served, %d failed (last: %v)", served, failed, failure)
	}
	t.Logf("attack: %d connections, %d refused, at most %d held; honest requests served: %d", attackers, lim.refused.Load(), maxHeld, served)
}

// emfileListener fails Accept with EMFILE while failing is set, as a
// process at its descriptor limit does (the pending connection that woke
// Accept is dropped, as the kernel would leave it queued).
type emfileListener struct {
	net.Listener
	failing atomic.Bool
	fails   atomic.Int64
}

func (l *emfileListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil || !l.failing.Load() {
		return c, err
	}
	c.Close()
	l.fails.Add(1)
	return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
}

// TestSecurityAcceptSurvivesEMFILE: at the descriptor limit accept fails
// with EMFILE; open connections are still served, accepting is retried, and
// once descriptors are free new connections are served again.
func TestSecurityAcceptSurvivesEMFILE(t *testing.T) {
	h := newHarness(t)
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	el := &emfileListener{Listener: raw}
	srv := h.s.httpServer()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(newConnLimiter(el, 16)) }()
	defer srv.Close()
	url := "http://" + raw.Addr().String() + "/healthz"
	get := func(c *http.Client) error {
		resp, err := c.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	old := clientFrom("127.0.0.1")
	if err := get(old); err != nil {
		t.Fatal(err)
	}
	el.failing.Store(true)
	for i := range 3 { // each new connection meets EMFILE
		c, err := net.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for deadline := time.Now().Add(10 * time.Second); el.fails.Load() <= int64(i); {
			if time.Now().After(deadline) {
				t.Fatalf("accept retried %d times", el.fails.Load())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if err := get(old); err != nil {
		t.Fatalf("open connection not served during EMFILE: %v", err)
	}
	select {
	case err := <-done:
		t.Fatalf("Serve returned on EMFILE: %v", err)
	default:
	}
	el.failing.Store(false)
	if err := get(clientFrom("127.0.0.1")); err != nil {
		t.Fatalf("new connection after EMFILE: %v", err)
	}
}

// TestSecurityRateLimitPerCredentialAndAddress: one access token floods the
// API, one address floods login and trigger runs with guesses, and one
// address sends garbage tokens: each gets 429 with Retry-After once its
// burst is spent, while another token and another address are unaffected.
func TestSecurityRateLimitPerCredentialAndAddress(t *testing.T) {
	h := newHarnessWith(t, func(c *Config) {
		c.RateLimit, c.RateBurst, c.PublicRateLimit, c.PublicRateBurst = 0.001, 30, 0.001, 10
	})
	org := h.info.OrgID
	var tok1, tok2 struct{ Token string }
	h.must(201, h.admin, "POST", "/api/v1/orgs/"+org+"/tokens", map[string]any{"name": "flood", "role": "viewer"}).decode(t, &tok1)
	h.must(201, h.admin, "POST", "/api/v1/orgs/"+org+"/tokens", map[string]any{"name": "calm", "role": "viewer"}).decode(t, &tok2)
	flood := func(n int, send func() *resp) (ok, limited int, last *resp) {
		for range n {
			r := send()
			if r.Code == 429 {
				limited++
				last = r
			} else {
				ok++
			}
		}
		return
	}
	check := func(what string, ok, limited, burst int, last *resp) {
		t.Helper()
		if ok != burst || limited == 0 {
			t.Fatalf("%s: %d answered, %d limited; want exactly the burst %d answered", what, ok, limited, burst)
		}
		if code, _ := last.errField(t); code != "too_many_requests" || last.Header.Get("Retry-After") == "" {
			t.Fatalf("%s: %s %v", what, last.Body, last.Header)
		}
	}
	ok, lim, last := flood(50, func() *resp { return h.do(tok1.Token, "GET", "/api/v1/orgs/"+org, nil) })
	check("token flood", ok, lim, 30, last)
	h.must(200, tok2.Token, "GET", "/api/v1/orgs/"+org, nil) // another credential is unaffected

	// Credential stuffing: one guess per account, so the per-account login
	// throttle never trips; the harness sends every request from 192.0.2.1.
	n := 0
	ok, lim, last = flood(20, func() *resp {
		n++
		return h.do("", "POST", "/api/v1/auth/login", map[string]string{"email": fmt.Sprintf("user%d@example.com", n), "password": "guess-guess"})
	})
	check("login flood", ok, lim, 10-1, last) // the harness logged in once
	if r := h.do("", "POST", "/api/v1/triggers/run/syr_guess", nil); r.Code != 429 {
		t.Fatalf("trigger run guess from the same address: %d", r.Code)
	}
	if r := h.do("syt_garbage", "GET", "/api/v1/orgs/"+org, nil); r.Code != 429 {
		t.Fatalf("garbage token from the same address: %d", r.Code)
	}
	req := httptest.NewRequest("POST", "/api/v1/auth/login", strings.NewReader(`{"email":"admin@switchyard.local","password":"admin-password"}`))
	req.RemoteAddr = "198.51.100.7:4000"
	w := httptest.NewRecorder()
	h.s.Handler().ServeHTTP(w, req)
	if w.Code != 200 {
		t.Fatalf("login from another address: %d %s", w.Code, w.Body)
	}
}

// TestUploadReadDeadlineExtended: a code-reference upload whose body takes
// longer than ReadTimeout still succeeds (it gets UploadTimeout), while the
// same pause in a login body gets the connection cut.
func TestUploadReadDeadlineExtended(t *testing.T) {
	h := newHarnessWith(t, func(c *Config) { c.ReadTimeout, c.UploadTimeout = time.Second, time.Minute })
	if err := h.s.Start(); err != nil {
		t.Fatal(err)
	}
	slow := func(path, token, first, rest string) (int, error) {
		c, err := net.Dial("tcp", h.s.Addr())
		if err != nil {
			return 0, err
		}
		defer c.Close()
		fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
			path, token, len(first)+len(rest), first)
		time.Sleep(1500 * time.Millisecond) // past ReadTimeout
		if _, err := io.WriteString(c, rest); err != nil {
			return 0, err
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	code, err := slow("/api/v1/projects/"+h.info.ProjectID+"/code-refs", h.admin, `{"repository":"acme/web",`, `"branch":"main","references":[]}`)
	if err != nil || code != 200 {
		t.Fatalf("slow upload: %d %v", code, err)
	}
	code, err = slow("/api/v1/auth/login", "", `{"email":"admin@switchyard.local",`, `"password":"admin-password"}`)
	if err == nil && code == 200 {
		t.Fatalf("slow login body was read past ReadTimeout")
	}
}

// TestSecurityHugeHeadersRefused: 200 KiB of headers are refused with 431
// before any handler runs.
func TestSecurityHugeHeadersRefused(t *testing.T) {
	h := newHarness(t)
	if err := h.s.Start(); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "http://"+h.s.Addr()+"/healthz", nil)
	for i := range 200 {
		req.Header.Set(fmt.Sprintf("X-Pad-%d", i), strings.Repeat("a", 1024))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d", resp.StatusCode)
	}
}
