package wsconn

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// AddrKey is the unit of per-address limits: an IPv4 address, or the /64
// prefix of an IPv6 address (one subscriber's allocation: per-address
// limits keyed by the full IPv6 address would be free to dodge). Anything
// that is not a TCP or UDP address maps to the zero key.
type AddrKey [16]byte

// KeyOf returns the AddrKey of a peer address. It does not allocate.
func KeyOf(a net.Addr) AddrKey {
	var ip netip.Addr
	switch t := a.(type) {
	case *net.TCPAddr:
		ip, _ = netip.AddrFromSlice(t.IP)
	case *net.UDPAddr:
		ip, _ = netip.AddrFromSlice(t.IP)
	default:
		return AddrKey{}
	}
	ip = ip.Unmap()
	k := AddrKey(ip.As16())
	if ip.Is6() {
		clear(k[8:])
	}
	return k
}

// unfinished counts, per AddrKey, the connections with an unfinished
// handshake or HTTP request, so one address cannot hold every descriptor of
// the process with slow requests. Memory is bounded: a key exists only
// while its count is positive (at most one key per open connection).
type unfinished struct {
	max    int32 // <= 0: no cap
	shards [64]struct {
		mu sync.Mutex
		m  map[AddrKey]int32
	}
}

func (u *unfinished) shard(k AddrKey) int { return int(k[15]^k[14]^k[13]^k[7]) & 63 }

// acquire takes one of k's slots; it reports false when k holds max.
func (u *unfinished) acquire(k AddrKey) bool {
	sh := &u.shards[u.shard(k)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	n := sh.m[k]
	if u.max > 0 && n >= u.max {
		return false
	}
	if sh.m == nil {
		sh.m = make(map[AddrKey]int32)
	}
	sh.m[k] = n + 1
	return true
}

func (u *unfinished) release(k AddrKey) {
	sh := &u.shards[u.shard(k)]
	sh.mu.Lock()
	if n := sh.m[k] - 1; n > 0 {
		sh.m[k] = n
	} else {
		delete(sh.m, k)
	}
	sh.mu.Unlock()
}

// count returns k's unfinished connections (tests).
func (u *unfinished) count(k AddrKey) int {
	sh := &u.shards[u.shard(k)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return int(sh.m[k])
}

// errAddressBusy ends an HTTP connection whose request would exceed its
// address's cap of unfinished requests.
var errAddressBusy = errors.New("wsconn: too many unfinished requests from this address")

// reqTrack follows the requests of one plain HTTP connection for the
// per-address cap. A request that arrives in one read (nearly all of them)
// never takes a slot; one whose reading goes on past its first read takes
// one until it is handled (RequestDone) or the connection ends. Used only
// by the connection's own goroutine.
type reqTrack struct {
	u       *unfinished
	key     AddrKey
	started bool // bytes of the current request were read
	counted bool // holds a slot of key
}

// slow is called before a read; it reports whether the read may proceed
// (false: the address is over its cap). took reports a slot just taken.
func (t *reqTrack) slow() (ok, took bool) {
	if !t.started || t.counted {
		return true, false
	}
	if !t.u.acquire(t.key) {
		return false, false
	}
	t.counted = true
	return true, true
}

// done ends the current request; it reports whether a slot was released.
func (t *reqTrack) done() bool {
	t.started = false
	if !t.counted {
		return false
	}
	t.counted = false
	t.u.release(t.key)
	return true
}

// RequestDoner is implemented by the connections this package hands to an
// HTTP server: the handler calls RequestDone once a request has been read
// completely (fasthttp: at the start of the handler, via ctx.Conn()), which
// stops its request deadline and frees its unfinished-request slot.
type RequestDoner interface{ RequestDone() }

// RequestDone implements RequestDoner for the shared port.
func (h *httpConn) RequestDone() {
	h.c.waiting.Store(0)
	if h.t.done() {
		h.c.srv.pending.remove(h.c)
	}
}

// LimitListener caps the unfinished requests per address (AddrKey) on a
// plain net.Listener, as Server does on its own port: a new connection
// holds a slot until its first request is handled, a later request only
// when it does not arrive in one read. A connection over the cap is closed
// at once (onReject is told; may be nil); Accept goes on with the next.
// max <= 0 disables the cap. The request deadline on such a port is the
// HTTP server's own (fasthttp's ReadTimeout).
func LimitListener(ln net.Listener, max int, onReject func()) net.Listener {
	return &limitListener{Listener: ln, u: &unfinished{max: int32(max)}, onReject: onReject}
}

type limitListener struct {
	net.Listener
	u        *unfinished
	onReject func()
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return c, err
		}
		k := KeyOf(c.RemoteAddr())
		if !l.u.acquire(k) {
			if l.onReject != nil {
				l.onReject()
			}
			_ = c.Close()
			continue
		}
		lc := &limitConn{Conn: c, u: l.u, key: k, started: true}
		lc.held.Store(true)
		return lc, nil
	}
}

// limitConn is a connection of a LimitListener. Read and RequestDone run on
// the serving goroutine; Close may also come from another one (fasthttp's
// Shutdown closes idle connections), so the slot is held in an atomic that
// exactly one of them releases.
type limitConn struct {
	net.Conn
	u       *unfinished
	key     AddrKey
	started bool        // bytes of the current request were read (serving goroutine)
	held    atomic.Bool // holds a slot of key
	closed  atomic.Bool
}

func (c *limitConn) Read(p []byte) (int, error) {
	if c.started && !c.held.Load() { // a request that did not arrive in one read
		if !c.u.acquire(c.key) {
			return 0, errAddressBusy
		}
		c.held.Store(true)
		if c.closed.Load() { // Close ran meanwhile and may have missed the slot
			c.release()
			return 0, net.ErrClosed
		}
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.started = true
	}
	return n, err
}

func (c *limitConn) release() {
	if c.held.CompareAndSwap(true, false) {
		c.u.release(c.key)
	}
}

// RequestDone implements RequestDoner.
func (c *limitConn) RequestDone() {
	c.started = false
	c.release()
}

func (c *limitConn) Close() error {
	c.closed.Store(true)
	c.release()
	return c.Conn.Close()
}

// throttledLog passes at most one line per second to w and drops the rest:
// netpoll logs every failed accept and every connection closed before it
// was registered (a connection refused at accept), so a flood of either
// would flood the log. Counted causes are in the metrics instead.
type throttledLog struct {
	w    io.Writer
	mu   sync.Mutex
	next time.Time
}

func (t *throttledLog) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if now := time.Now(); now.After(t.next) {
		t.next = now.Add(time.Second)
		_, _ = t.w.Write(p)
	}
	return len(p), nil
}
