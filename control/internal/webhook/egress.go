package webhook

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Egress policy. Any account can create an organization and point a webhook
// at a URL of its choice, so a delivery must not become a way to reach the
// network control runs in (server-side request forgery). Deliveries connect
// only to public unicast addresses unless an operator allows a prefix
// (Allow); the check runs on the resolved address at connect time (a
// net.Dialer Control hook), so a hostname that resolves, or later
// re-resolves, to a forbidden address is refused too. Redirects are not
// followed, no proxy is used, and only the status and a short excerpt of a
// response are kept.

// ExcerptBytes is the most of a response body a delivery reads and records.
const ExcerptBytes = 256

// forbidden lists the prefixes a delivery may not connect to unless allowed.
var forbidden = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),          // "this network", unspecified
	netip.MustParsePrefix("10.0.0.0/8"),         // RFC 1918
	netip.MustParsePrefix("100.64.0.0/10"),      // CGNAT
	netip.MustParsePrefix("127.0.0.0/8"),        // loopback
	netip.MustParsePrefix("169.254.0.0/16"),     // link-local, cloud metadata
	netip.MustParsePrefix("172.16.0.0/12"),      // RFC 1918
	netip.MustParsePrefix("192.0.0.0/24"),       // IETF protocol assignments
	netip.MustParsePrefix("192.168.0.0/16"),     // RFC 1918
	netip.MustParsePrefix("198.18.0.0/15"),      // benchmarking
	netip.MustParsePrefix("224.0.0.0/4"),        // multicast
	netip.MustParsePrefix("240.0.0.0/4"),        // reserved, broadcast
	netip.MustParsePrefix("::/96"),              // unspecified, loopback, IPv4-compatible
	netip.MustParsePrefix("64:ff9b::/96"),       // NAT64 (embeds an IPv4 address)
	netip.MustParsePrefix("64:ff9b:1::/48"),     // local-use NAT64
	netip.MustParsePrefix("100::/64"),           // discard-only
	netip.MustParsePrefix("2001::/32"),          // Teredo (embeds an IPv4 address)
	netip.MustParsePrefix("2002::/16"),          // 6to4 (embeds an IPv4 address)
	netip.MustParsePrefix("fc00::/7"),           // unique local
	netip.MustParsePrefix("fe80::/10"),          // link-local
	netip.MustParsePrefix("fec0::/10"),          // site-local (deprecated)
	netip.MustParsePrefix("ff00::/8"),           // multicast
	netip.MustParsePrefix("::ffff:0.0.0.0/96"),  // IPv4-mapped (checked unmapped too)
	netip.MustParsePrefix("::ffff:0:0:0/96"),    // IPv4-translated
	netip.MustParsePrefix("2001:db8::/32"),      // documentation
	netip.MustParsePrefix("3fff::/20"),          // documentation
	netip.MustParsePrefix("5f00::/16"),          // segment routing SIDs
	netip.MustParsePrefix("192.88.99.0/24"),     // 6to4 relay anycast (deprecated)
	netip.MustParsePrefix("255.255.255.255/32"), // limited broadcast
}

// Prefixes whose addresses embed an IPv4 address.
var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	v4compat  = netip.MustParsePrefix("::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// ErrForbiddenAddress is the error of a connection to an address the egress
// policy refuses.
var ErrForbiddenAddress = errors.New("address not allowed for webhooks (private, loopback, link-local, multicast or reserved; an operator may allow it with -webhook-allow)")

// ParseAllow parses a comma-separated list of CIDR prefixes or addresses
// (the -webhook-allow setting); an empty string allows nothing extra.
func ParseAllow(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, err2 := netip.ParseAddr(f)
			if err2 != nil {
				return nil, fmt.Errorf("%q is not a CIDR prefix or IP address", f)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// CheckAddr returns ErrForbiddenAddress (wrapped, naming ip) unless ip is a
// public unicast address or lies in one of the allowed prefixes.
func CheckAddr(ip netip.Addr, allow []netip.Prefix) error {
	ip = ip.WithZone("")
	if !ip.IsValid() {
		return fmt.Errorf("invalid address: %w", ErrForbiddenAddress)
	}
	un := ip.Unmap()
	for _, p := range allow {
		if p.Contains(ip) || p.Contains(un) {
			return nil
		}
	}
	embedded := []netip.Addr{ip, un}
	if ip.Is6() && !ip.Is4In6() {
		b := ip.As16()
		switch {
		case nat64.Contains(ip), v4compat.Contains(ip):
			embedded = append(embedded, netip.AddrFrom4([4]byte(b[12:16])))
		case sixToFour.Contains(ip):
			embedded = append(embedded, netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	for _, a := range embedded {
		if a.IsLoopback() || a.IsPrivate() || a.IsUnspecified() || a.IsMulticast() ||
			a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() {
			return fmt.Errorf("%s: %w", ip, ErrForbiddenAddress)
		}
		for _, p := range forbidden {
			if p.Contains(a) {
				return fmt.Errorf("%s: %w", ip, ErrForbiddenAddress)
			}
		}
	}
	return nil
}

// CheckURL validates a webhook URL when it is created or changed: an
// absolute http or https URL without credentials whose host, if it is an IP
// address or "localhost", is allowed. Hostnames are checked again, resolved,
// at every connection (the real guard).
func CheckURL(raw string, allow []netip.Prefix) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return errors.New("must be an absolute http:// or https:// URL")
	}
	if u.User != nil {
		return errors.New("must not contain credentials (user:password@)")
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "" {
		return errors.New("must name a host")
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return CheckAddr(ip, allow)
	}
	if looksNumeric(host) {
		// 127.1, 0x7f.0.0.1, 2130706433, 0177.0.0.1: some resolvers read
		// these as IPv4 addresses; ask for the canonical form.
		return fmt.Errorf("host %q looks like a non-canonical IP address; write it as a.b.c.d", host)
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return CheckAddr(netip.MustParseAddr("127.0.0.1"), allow)
	}
	return nil
}

// looksNumeric reports whether host has only digits, dots and hex (0x)
// notation, and no letter beyond a-f, i.e. whether it could be an IPv4
// address in a shorthand form.
func looksNumeric(host string) bool {
	labels := strings.Split(host, ".")
	for _, l := range labels {
		if l == "" {
			return false
		}
		l = strings.TrimPrefix(l, "0x")
		for _, r := range l {
			if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
				return false
			}
		}
	}
	last := labels[len(labels)-1]
	return strings.HasPrefix(last, "0x") || strings.Trim(last, "0123456789") == ""
}

// NewClient returns the HTTP client of deliveries: connections only to
// addresses CheckAddr allows (checked on the resolved address, at connect
// time), no proxy, no redirects (a 3xx is the attempt's result), and
// timeout as the deadline of a whole attempt.
func NewClient(allow []netip.Prefix, timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: min(timeout, 10*time.Second), KeepAlive: 30 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("cannot parse %q: %w", address, ErrForbiddenAddress)
			}
			return CheckAddr(ap.Addr(), allow)
		}}
	tr := &http.Transport{
		Proxy:                  nil, // a proxy would connect for us, past the check
		DialContext:            d.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           32,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        60 * time.Second,
		TLSHandshakeTimeout:    min(timeout, 10*time.Second),
		ResponseHeaderTimeout:  timeout,
		MaxResponseHeaderBytes: 16 << 10,
	}
	return &http.Client{Transport: tr, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}
