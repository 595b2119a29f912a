package control

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// connLimiter caps the connections one client address holds open at once:
// a slow-body or slow-header client cannot take every file descriptor of
// the process, and connections over the cap are closed as soon as they are
// accepted. IPv6 clients are counted per /64 (one host usually holds the
// whole /64). The map holds one entry per client with an open connection,
// so it is bounded by the open connections.
type connLimiter struct {
	net.Listener
	perIP   int
	mu      sync.Mutex
	open    map[netip.Addr]int
	refused atomic.Int64
}

func newConnLimiter(ln net.Listener, perIP int) *connLimiter {
	return &connLimiter{Listener: ln, perIP: perIP, open: map[netip.Addr]int{}}
}

// clientKey is the address a connection is counted under.
func clientKey(a net.Addr) netip.Addr {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	ip := ap.Addr().Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}

// Accept returns the next connection whose client is under the cap. Accept
// errors (EMFILE included) are returned as they are: http.Server retries
// temporary ones with a backoff and keeps serving open connections.
func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.perIP <= 0 {
			return c, nil
		}
		k := clientKey(c.RemoteAddr())
		l.mu.Lock()
		if l.open[k] >= l.perIP {
			l.mu.Unlock()
			l.refused.Add(1)
			_ = c.Close()
			continue
		}
		l.open[k]++
		l.mu.Unlock()
		return &limitedConn{Conn: c, l: l, key: k}, nil
	}
}

func (l *connLimiter) release(k netip.Addr) {
	l.mu.Lock()
	if l.open[k]--; l.open[k] <= 0 {
		delete(l.open, k)
	}
	l.mu.Unlock()
}

// limitedConn gives its slot back when closed (once).
type limitedConn struct {
	net.Conn
	l    *connLimiter
	key  netip.Addr
	once sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.key) })
	return err
}
