package webhook

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/control/internal/store"
)

// TestSecurityWebhookAddressPolicy: every address form an attacker uses to
// reach the control host's network is refused; public addresses pass.
func TestSecurityWebhookAddressPolicy(t *testing.T) {
	for _, s := range []string{
		"127.0.0.1", "127.255.255.254", "::1", "0.0.0.0", "::", "10.1.2.3", "172.16.0.1", "172.31.255.255",
		"192.168.1.1", "169.254.169.254", "fe80::1", "fe80::1%eth0", "fc00::1", "fd12:3456::1", "100.64.0.1",
		"100.127.255.255", "224.0.0.1", "ff02::1", "255.255.255.255", "240.0.0.1", "::ffff:127.0.0.1",
		"::ffff:169.254.169.254", "::ffff:10.0.0.1", "::127.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::1",
		"2002:a9fe:a9fe::1", "0.1.2.3", "198.18.0.1",
	} {
		if err := CheckAddr(netip.MustParseAddr(s), nil); !errors.Is(err, ErrForbiddenAddress) {
			t.Errorf("%s: allowed (err %v)", s, err)
		}
	}
	for _, s := range []string{"93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "172.32.0.1", "100.128.0.1"} {
		if err := CheckAddr(netip.MustParseAddr(s), nil); err != nil {
			t.Errorf("%s: refused: %v", s, err)
		}
	}
	allow, err := ParseAllow(" 10.0.0.0/8, 127.0.0.1 ,")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"10.9.9.9", "127.0.0.1", "::ffff:10.0.0.1"} {
		if err := CheckAddr(netip.MustParseAddr(s), allow); err != nil {
			t.Errorf("%s with allow-list: refused: %v", s, err)
		}
	}
	if err := CheckAddr(netip.MustParseAddr("127.0.0.2"), allow); err == nil {
		t.Error("127.0.0.2 allowed by 127.0.0.1")
	}
	if _, err := ParseAllow("10.0.0.0/8,nonsense"); err == nil || !strings.Contains(err.Error(), "nonsense") {
		t.Errorf("bad allow-list entry: %v", err)
	}
}

// TestSecurityWebhookURLPolicy: the create-time check refuses literal
// internal addresses in every spelling, other schemes and credentials.
func TestSecurityWebhookURLPolicy(t *testing.T) {
	for _, u := range []string{
		"http://127.0.0.1:8080/", "http://169.254.169.254/latest/meta-data/", "http://[::1]/", "http://127.1/",
		"http://0.0.0.0/", "http://2130706433/", "http://0x7f.0.0.1/", "http://0177.0.0.1/", "http://localhost:9/",
		"http://LOCALHOST./", "http://api.localhost/", "http://[::ffff:127.0.0.1]/", "http://[fe80::1%25eth0]/",
		"http://10.0.0.1/", "http://100.64.0.1/", "ftp://example.com/", "file:///etc/passwd", "gopher://example.com/",
		"http://user:pw@example.com/", "//example.com/", "http:example.com", "not a url",
	} {
		if err := CheckURL(u, nil); err == nil {
			t.Errorf("%s: accepted", u)
		}
	}
	for _, u := range []string{"https://hooks.example.com/x?y=1", "http://93.184.216.34:8080/", "https://deadbeef.example/"} {
		if err := CheckURL(u, nil); err != nil {
			t.Errorf("%s: refused: %v", u, err)
		}
	}
}

// countingServer counts the requests that reach it.
func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// TestSecurityWebhookDialRefusesNameResolvingToLoopback is DNS rebinding:
// the hostname is not an IP address, so only the connect-time check on the
// resolved address can refuse it. With the allow-list the same request
// goes through (the test can fail).
func TestSecurityWebhookDialRefusesNameResolvingToLoopback(t *testing.T) {
	srv, n := countingServer(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "internal data") })
	u, _ := url.Parse(srv.URL)
	target := "http://localhost:" + u.Port() + "/"
	resp, err := NewClient(nil, 5*time.Second).Post(target, "application/json", strings.NewReader("{}"))
	if err == nil {
		resp.Body.Close()
		t.Fatalf("reached %s: status %d", target, resp.StatusCode)
	}
	if !errors.Is(err, ErrForbiddenAddress) {
		t.Fatalf("refused for another reason: %v", err)
	}
	if n.Load() != 0 {
		t.Fatalf("the loopback server got %d requests", n.Load())
	}
	allow, _ := ParseAllow("127.0.0.0/8,::1/128")
	resp, err = NewClient(allow, 5*time.Second).Post(target, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("allowed prefix refused: %v", err)
	}
	resp.Body.Close()
	if n.Load() != 1 {
		t.Fatalf("the allowed server got %d requests", n.Load())
	}
}

// TestSecurityWebhookNoRedirectNoBodyDump: a receiver answers 302 to an
// internal page and a huge body; the attempt records the 302 and at most
// ExcerptBytes of the body, and the redirect target is never requested.
func TestSecurityWebhookNoRedirectNoBodyDump(t *testing.T) {
	var internal atomic.Int64
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hook":
			w.Header().Set("Location", "/internal")
			w.WriteHeader(http.StatusFound)
		case "/big":
			_, _ = io.WriteString(w, strings.Repeat("x", 1<<20))
		default:
			internal.Add(1)
			_, _ = io.WriteString(w, "TOPSECRET")
		}
	})
	d := New(nil, nil)
	d.SetAllow([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")})
	w := &store.Webhook{ID: "w", URL: srv.URL + "/hook", Secret: "whsec_test"}
	at := d.Attempt(context.Background(), w, &store.Delivery{ID: "d", Body: "{}", Event: "webhook.test"})
	if at.Status != http.StatusFound || strings.Contains(at.Response, "TOPSECRET") || internal.Load() != 0 {
		t.Fatalf("redirect followed: %+v, internal hits %d", at, internal.Load())
	}
	w.URL = srv.URL + "/big"
	at = d.Attempt(context.Background(), w, &store.Delivery{ID: "d", Body: "{}", Event: "webhook.test"})
	if at.Status != 200 || len(at.Response) > ExcerptBytes {
		t.Fatalf("excerpt of %d bytes (status %d)", len(at.Response), at.Status)
	}
}

// FuzzCheckURL: never panics; an accepted URL is http(s) without
// credentials, and a literal IP host in it is one CheckAddr allows.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1/", "https://example.com/x", "http://[::ffff:10.0.0.1]:80/", "http://0x7f.1/",
		"http://2130706433/", "http://user@host/", "ftp://x/", "http://[fe80::1%25eth0]/", "http://localhost./"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if CheckURL(raw, nil) != nil {
			return
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil {
			t.Fatalf("accepted %q", raw)
		}
		if ip, err := netip.ParseAddr(u.Hostname()); err == nil && CheckAddr(ip, nil) != nil {
			t.Fatalf("accepted %q with a refused address", raw)
		}
	})
}
