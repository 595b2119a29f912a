package wsconn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cloudwego/netpoll"
	"github.com/gobwas/ws"
)

// Config tunes the transport. Zero values take the defaults in brackets.
type Config struct {
	HandshakeTimeout time.Duration // whole HTTP request header must arrive in time [10s]
	IdleTimeout      time.Duration // open connection that sends nothing is closed [5m]
	FrameTimeout     time.Duration // a started frame must complete in time [10s]
	WriteTimeout     time.Duration // a blocked write gives up and closes [10s]
	CloseTimeout     time.Duration // wait for the peer's close frame after ours [1s]
	HTTPIdleTimeout  time.Duration // plain HTTP connection without input is closed [2m]
	RequestTimeout   time.Duration // a plain HTTP request must be complete this long after its first byte [10s]
	// MaxUnfinished caps, per address (AddrKey), the connections in a
	// handshake or in an HTTP request that did not arrive in one read;
	// beyond it new connections are closed at accept and slow requests
	// end their connection [128; negative: no cap]
	MaxUnfinished int
	// Admit, when set, is asked before an upgrade is accepted (a rate limit
	// per address); false answers 429 with Retry-After: 1 and closes
	Admit           func(AddrKey) bool
	MaxMessageBytes int      // frame or reassembled message limit, else close 1009 [64 KiB]
	MaxHeaderBytes  int      // HTTP request header limit [8 KiB]
	Path            string   // WebSocket path; upgrades elsewhere get 404 ["/streaming"]
	Protocols       []string // accepted Sec-WebSocket-Protocol values
	ReusePort       bool     // set SO_REUSEPORT so several processes share the port
}

func (c *Config) defaults() {
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 10 * time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 5 * time.Minute
	}
	if c.FrameTimeout <= 0 {
		c.FrameTimeout = 10 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.HTTPIdleTimeout <= 0 {
		c.HTTPIdleTimeout = 2 * time.Minute
	}
	if c.CloseTimeout <= 0 {
		c.CloseTimeout = time.Second
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 10 * time.Second
	}
	if c.MaxUnfinished == 0 {
		c.MaxUnfinished = 128
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = 64 << 10
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = 8 << 10
	}
	if c.Path == "" {
		c.Path = "/streaming"
	}
}

// Request describes an accepted upgrade. URI is the request target (path
// and query); Protocol is the negotiated subprotocol ("" for none);
// UserAgent is the User-Agent header (nil when absent), valid only during
// Open.
type Request struct {
	URI       []byte
	Protocol  string
	UserAgent []byte
}

// Handler is the application on top of the transport.
type Handler interface {
	// Open is called once the upgrade response was written. A non-zero
	// code closes the connection with that code and reason (FeatBit
	// accepts first and reports errors with a close frame).
	Open(c *Conn, r *Request) (code ws.StatusCode, reason string)
	// Message is called for each complete text or binary message. payload
	// is valid only until Message returns.
	Message(c *Conn, op ws.OpCode, payload []byte)
	// Closed is called once when an opened connection is gone.
	Closed(c *Conn)
}

// HTTPFunc serves a plain HTTP connection until it ends (fasthttp's
// Server.ServeConn). It runs on a borrowed goroutine.
type HTTPFunc func(c net.Conn) error

// Metrics receives transport events; any method may be called concurrently.
type Metrics interface {
	Error(cause string)
}

type nopMetrics struct{}

func (nopMetrics) Error(string) {}

// Server accepts connections on one port.
type Server struct {
	cfg     Config
	h       Handler
	http    HTTPFunc
	metrics Metrics

	loop netpoll.EventLoop
	ln   net.Listener
	reg  registry
	// unf counts unfinished handshakes and slow HTTP requests per address
	unf unfinished
	// pending: connections whose timeouts are checked every tick
	pending pendingSet
	// swept counts connection visits by the sweeper, sweeps its ticks
	swept, sweeps atomic.Int64
	// clock is the sweeper's view of the time (unix ms), refreshed every
	// tick: per-message activity stamps read it instead of the system clock
	// (a clock read per request was 1-2 % of an OFREP request's CPU). A
	// stamp is at most one tick old, so a connection may be closed up to one
	// tick (≤ 1 s, ≤ a quarter of the shortest timeout) before its timeout.
	clock atomic.Int64

	closing atomic.Bool
	stop    chan struct{}
	done    chan struct{}
	served  chan error
}

var configureOnce sync.Once

// Tune sets netpoll's global buffer sizes for many mostly idle connections:
// a new connection's input buffer starts at bufferSize bytes and link-buffer
// nodes at nodeCap (services.md: 256/64 gives ~3.6 KiB per idle
// connection). The first call wins; call it before any connection exists.
func Tune(bufferSize, nodeCap int) {
	configureOnce.Do(func() {
		if bufferSize <= 0 {
			bufferSize = 256
		}
		if nodeCap <= 0 {
			nodeCap = 64
		}
		_ = netpoll.Configure(netpoll.Config{BufferSize: bufferSize})
		netpoll.SetLoggerOutput(&throttledLog{w: os.Stderr})
		netpoll.LinkBufferCap = nodeCap
		barrierTuned = tuneBarrier()
	})
}

// New returns a server; Listen starts it.
func New(cfg Config, h Handler, httpFn HTTPFunc, m Metrics) *Server {
	cfg.defaults()
	if m == nil {
		m = nopMetrics{}
	}
	Tune(0, 0)
	s := &Server{cfg: cfg, h: h, http: httpFn, metrics: m, stop: make(chan struct{}), done: make(chan struct{})}
	s.unf.max = int32(cfg.MaxUnfinished)
	return s
}

// ListenTCP binds a TCP listener on addr, with SO_REUSEPORT when reusePort
// is set (several processes then share the port).
func ListenTCP(addr string, reusePort bool) (net.Listener, error) {
	lc := net.ListenConfig{}
	if reusePort {
		lc.Control = func(network, address string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, soReusePort, 1)
			})
			if err != nil {
				return err
			}
			return serr
		}
	}
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("wsconn: listen %s: %w", addr, err)
	}
	return ln, nil
}

// Listen binds addr and serves in the background.
func (s *Server) Listen(addr string) error {
	ln, err := ListenTCP(addr, s.cfg.ReusePort)
	if err != nil {
		return err
	}
	nln, err := netpoll.ConvertListener(ln)
	if err != nil {
		ln.Close()
		return fmt.Errorf("wsconn: convert listener: %w", err)
	}
	loop, err := netpoll.NewEventLoop(s.onRequest,
		netpoll.WithOnPrepare(s.onPrepare),
	)
	if err != nil {
		nln.Close()
		return fmt.Errorf("wsconn: event loop: %w", err)
	}
	s.loop, s.ln = loop, nln
	s.clock.Store(nowMs())
	s.served = make(chan error, 1)
	go func() { s.served <- loop.Serve(nln) }()
	go s.sweep()
	return nil
}

// Addr is the bound address.
func (s *Server) Addr() net.Addr {
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Conns returns the number of open WebSocket connections.
func (s *Server) Conns() int { return s.reg.count() }

// Shutdown stops accepting, closes every WebSocket connection with code
// (use 1001 going away or 1012 service restart; never 1000, after which
// several FeatBit SDKs do not reconnect) and every other connection, and
// waits for the event loop until ctx ends.
func (s *Server) Shutdown(ctx context.Context, code ws.StatusCode, reason string) error {
	return s.Drain(ctx, code, reason, 0)
}

// Drain is Shutdown with the WebSocket closes spread evenly over window, so
// that the clients do not all reconnect elsewhere in one burst: the i-th of
// n connections (in registry order) is closed at i*window/n. New
// connections are refused from the start; the open ones keep being served
// until their turn. When ctx ends first, the rest are closed at once.
func (s *Server) Drain(ctx context.Context, code ws.StatusCode, reason string, window time.Duration) error {
	if !s.closing.CompareAndSwap(false, true) {
		return nil
	}
	if s.ln == nil {
		close(s.stop)
		return nil
	}
	// The listener stays registered until loop.Shutdown, which detaches it
	// from the poller before closing it (closing it here first would let its
	// fd number be reused by another listener that the later detach then
	// removes). Connections accepted meanwhile are closed in onPrepare.
	var victims []*Conn
	s.reg.each(func(c *Conn) { victims = append(victims, c) })
	var open []*Conn
	for _, c := range victims {
		if c.state.Load() == stOpen {
			open = append(open, c)
		} else {
			c.nc.Close()
		}
	}
	start := time.Now()
	for i, c := range open {
		if window > 0 && ctx.Err() == nil {
			if d := time.Until(start.Add(window * time.Duration(i) / time.Duration(len(open)))); d > 0 {
				t := time.NewTimer(d)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
				}
			}
		}
		c.CloseWith(code, reason) // no-op on a connection closed meanwhile
	}
	// closing handshakes: give the peers CloseTimeout (at most ctx) to answer
	deadline := time.Now().Add(s.cfg.CloseTimeout)
	for s.reg.total() > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	close(s.stop)
	<-s.done
	victims = victims[:0]
	s.reg.each(func(c *Conn) { victims = append(victims, c) })
	for _, c := range victims {
		c.nc.Close()
	}
	err := s.loop.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

const (
	stHandshake uint32 = iota
	stHTTP
	stOpen
	stClosing // close frame sent, waiting for the peer's
	stClosed
)

// Conn is one accepted connection. Sess is the handler's session, set in
// Open; the transport never touches it.
type Conn struct {
	context.Context // netpoll's per-connection ctx is the Conn itself
	nc              netpoll.Connection
	srv             *Server

	mu     sync.Mutex // serialises writes
	state  atomic.Uint32
	shard  uint8
	binary bool // subprotocol negotiated: binary (msgpack) frames
	broken bool // a write failed; closed on Unlock (guarded by mu)
	fragOp ws.OpCode
	last   atomic.Int64 // unix ms of the last input (handshake start before open)
	// waiting is the unix ms since which a started frame (open) or the rest
	// of an HTTP request (stHTTP) is awaited (0: none)
	waiting atomic.Int64

	prev, next *Conn    // registry list, guarded by the shard lock
	frag       *fragBuf // reassembly of a fragmented message

	Sess any
}

// Binary reports whether the connection negotiated the binary subprotocol.
func (c *Conn) Binary() bool { return c.binary }

// SetBinary records the protocol choice (called by the handler from Open).
func (c *Conn) SetBinary(b bool) { c.binary = b }

// RemoteAddr is the peer address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// Open reports whether the connection is upgraded and not closed.
func (c *Conn) Open() bool { return c.state.Load() == stOpen }

func (s *Server) onPrepare(nc netpoll.Connection) context.Context {
	c := &Conn{Context: s.baseCtx(), nc: nc, srv: s}
	// the handshake holds one of its address's unfinished slots until the
	// request header is complete (released in handshake or onClosed)
	if !s.unf.acquire(KeyOf(nc.RemoteAddr())) {
		s.metrics.Error("address_busy")
		c.state.Store(stClosed)
		nc.Close()
		return c
	}
	c.last.Store(nowMs())
	_ = nc.SetWriteTimeout(s.cfg.WriteTimeout)
	s.reg.add(c)
	s.pending.add(c) // until the handshake ends
	_ = nc.AddCloseCallback(c.onClosed)
	if s.closing.Load() {
		nc.Close()
	}
	return c
}

func (c *Conn) onClosed(netpoll.Connection) error {
	// Under the write lock: netpoll frees the connection's buffers in a
	// close callback that runs after this one, so no write from another
	// goroutine may be in flight past this point.
	c.mu.Lock()
	prev := c.state.Swap(stClosed)
	c.mu.Unlock()
	if prev == stHandshake {
		c.srv.unf.release(KeyOf(c.nc.RemoteAddr()))
	}
	c.srv.reg.remove(c)
	c.srv.pending.remove(c)
	if c.frag != nil {
		putFrag(c.frag)
		c.frag = nil
	}
	if prev == stOpen || c.Sess != nil {
		c.srv.h.Closed(c)
	}
	return nil
}

func (s *Server) onRequest(ctx context.Context, nc netpoll.Connection) error {
	c, ok := ctx.(*Conn)
	if !ok {
		return nc.Close()
	}
	switch c.state.Load() {
	case stHandshake:
		if !s.handshake(c) {
			return nil
		}
		if nc.Reader().Len() == 0 {
			return nil
		}
		fallthrough
	case stOpen, stClosing:
		s.readFrames(c)
	default:
		r := nc.Reader()
		_ = r.Skip(r.Len())
		_ = r.Release()
	}
	return nil
}

func (s *Server) baseCtx() context.Context { return context.Background() }

// nowMs is the wall clock in Unix milliseconds.
func nowMs() int64 { return time.Now().UnixMilli() }

// tick is the server's coarse clock (see Server.clock), or the wall clock
// when no sweeper runs (a server that is not listening).
func (s *Server) tick() int64 {
	if t := s.clock.Load(); t != 0 {
		return t
	}
	return nowMs()
}

// sweepPlan is how the sweeper divides its work: every tick it checks all
// pending connections (handshakes, started frames, closing handshakes — few,
// and their timeouts are seconds) and shardsPerTick of the registry's shards
// for idle open and HTTP connections, so each connection is visited once per
// scan instead of once per tick (at a million connections a full pass per
// tick took most of a core).
type sweepPlan struct {
	tick time.Duration
	scan time.Duration // a full pass over the registry
	// shardsPerTick is shards × tick / scan: whole shards are visited as the
	// fraction accumulates, so a pass takes scan exactly
	shardsPerTick float64
}

func (s *Server) plan() sweepPlan {
	tick := min(s.cfg.HandshakeTimeout, s.cfg.FrameTimeout, s.cfg.CloseTimeout, s.cfg.RequestTimeout) / 4
	tick = max(min(tick, time.Second), 20*time.Millisecond)
	// idle timeouts are minutes: a pass every eighth of the shorter one
	// (at most 30 s) closes an idle connection at most that late
	scan := max(min(min(s.cfg.IdleTimeout, s.cfg.HTTPIdleTimeout)/8, 30*time.Second), tick)
	return sweepPlan{tick: tick, scan: scan, shardsPerTick: float64(shards) * float64(tick) / float64(scan)}
}

// deadlines are a sweep's cut-offs (unix ms): a connection whose last
// activity (or started frame) is older than its state's is due.
type deadlines struct{ hs, idle, frame, closing, httpIdle, request int64 }

// due reports whether c is past the deadline of its state.
func (d *deadlines) due(c *Conn) bool {
	switch c.state.Load() {
	case stHandshake:
		return c.last.Load() < d.hs
	case stHTTP:
		if w := c.waiting.Load(); w != 0 {
			return w < d.request
		}
		return c.last.Load() < d.httpIdle
	case stClosing:
		return c.last.Load() < d.closing
	case stOpen:
		if w := c.waiting.Load(); w != 0 {
			return w < d.frame
		}
		return c.last.Load() < d.idle
	}
	return false
}

// pendingState reports whether c is in a state the pending set tracks.
func pendingState(c *Conn) bool {
	switch c.state.Load() {
	case stHandshake, stClosing:
		return true
	case stOpen, stHTTP:
		return c.waiting.Load() != 0
	}
	return false
}

// sweep closes connections past their handshake, frame, closing or idle
// deadline (see sweepPlan).
func (s *Server) sweep() {
	defer close(s.done)
	p := s.plan()
	t := time.NewTicker(p.tick)
	defer t.Stop()
	var victims []*Conn
	cursor, budget := 0, 0.0
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		now := nowMs()
		s.clock.Store(now)
		d := deadlines{hs: now - s.cfg.HandshakeTimeout.Milliseconds(), idle: now - s.cfg.IdleTimeout.Milliseconds(),
			frame: now - s.cfg.FrameTimeout.Milliseconds(), closing: now - s.cfg.CloseTimeout.Milliseconds(),
			httpIdle: now - s.cfg.HTTPIdleTimeout.Milliseconds(), request: now - s.cfg.RequestTimeout.Milliseconds()}
		victims = victims[:0]
		s.pending.each(func(c *Conn) {
			s.swept.Add(1)
			if pendingState(c) && d.due(c) {
				victims = append(victims, c)
			}
		})
		// the pending states are checked here too, as a backstop, for
		// connections that are not (or no longer) in the pending set
		for budget += p.shardsPerTick; budget >= 1; budget-- {
			s.reg.eachIn(cursor, func(c *Conn) {
				s.swept.Add(1)
				if d.due(c) && !(pendingState(c) && s.pending.has(c)) {
					victims = append(victims, c)
				}
			})
			cursor = (cursor + 1) % shards
		}
		s.sweeps.Add(1)
		for i, c := range victims {
			if w := c.waiting.Load(); w != 0 && c.state.Load() == stOpen {
				s.metrics.Error("frame_timeout")
				c.nc.Close()
			} else if st := c.state.Load(); st == stOpen {
				s.metrics.Error("idle_timeout")
				c.CloseWith(ws.StatusGoingAway, "idle timeout")
			} else if st == stHTTP && c.waiting.Load() != 0 {
				s.metrics.Error("request_timeout")
				c.nc.Close()
			} else if st == stClosing || st == stHTTP {
				c.nc.Close() // no close reply in time, or an idle keep-alive connection
			} else {
				s.metrics.Error("handshake_timeout")
				c.nc.Close()
			}
			victims[i] = nil
		}
	}
}
