package wsconn

import (
	"errors"
	"net"
	"sync/atomic"
	"time"

	"github.com/cloudwego/netpoll"
)

// MemConn is an in-memory netpoll.Connection for tests, benchmarks and
// fuzzing of the frame handler without sockets. Input is queued in chunks
// with Feed; a read that needs more bytes than have "arrived" takes the
// next chunk, as if the network delivered it (no chunk left: the read
// fails like a timeout). Output accumulates in Out (see TakeOutput).
type MemConn struct {
	netpoll.Connection // unimplemented methods panic (nil)

	in     *memReader
	Out    *netpoll.LinkBuffer
	closed atomic.Bool
	cbs    []netpoll.CloseCallback
}

// NewMemConn returns an empty connection.
func NewMemConn() *MemConn {
	return &MemConn{in: &memReader{LinkBuffer: netpoll.NewLinkBuffer()}, Out: netpoll.NewLinkBuffer()}
}

// Feed queues one chunk of input (copied).
func (m *MemConn) Feed(chunk []byte) {
	m.in.chunks = append(m.in.chunks, append([]byte(nil), chunk...))
}

// Arrive delivers the next queued chunk now; it reports whether there was one.
func (m *MemConn) Arrive() bool { return m.in.arrive() }

// TakeOutput returns and consumes everything written so far (the result is
// valid until the next write).
func (m *MemConn) TakeOutput() []byte {
	n := m.Out.Len()
	if n == 0 {
		return nil
	}
	b, _ := m.Out.Next(n)
	_ = m.Out.Release()
	return b
}

// DiscardOutput drops everything written so far.
func (m *MemConn) DiscardOutput() {
	if n := m.Out.Len(); n > 0 {
		_ = m.Out.Skip(n)
		_ = m.Out.Release()
	}
}

func (m *MemConn) Reader() netpoll.Reader              { return m.in }
func (m *MemConn) Writer() netpoll.Writer              { return m.Out }
func (m *MemConn) IsActive() bool                      { return !m.closed.Load() }
func (m *MemConn) SetReadDeadline(time.Time) error     { return nil }
func (m *MemConn) SetWriteTimeout(time.Duration) error { return nil }
func (m *MemConn) SetReadTimeout(time.Duration) error  { return nil }
func (m *MemConn) RemoteAddr() net.Addr                { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
func (m *MemConn) LocalAddr() net.Addr                 { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
func (m *MemConn) Write(p []byte) (int, error) {
	n, err := m.Out.WriteBinary(p)
	if err == nil {
		err = m.Out.Flush()
	}
	return n, err
}

// AddCloseCallback records a callback run by Close.
func (m *MemConn) AddCloseCallback(cb netpoll.CloseCallback) error {
	m.cbs = append(m.cbs, cb)
	return nil
}

// Close marks the connection closed and runs the close callbacks once.
func (m *MemConn) Close() error {
	if m.closed.Swap(true) {
		return nil
	}
	for i := len(m.cbs) - 1; i >= 0; i-- {
		_ = m.cbs[i](m)
	}
	return nil
}

// Closed reports whether Close was called.
func (m *MemConn) Closed() bool { return m.closed.Load() }

var errNoInput = errors.New("wsconn: memconn: no more input")

type memReader struct {
	*netpoll.LinkBuffer
	chunks [][]byte
}

func (r *memReader) arrive() bool {
	if len(r.chunks) == 0 {
		return false
	}
	_, _ = r.LinkBuffer.WriteBinary(r.chunks[0])
	_ = r.LinkBuffer.Flush()
	r.chunks[0] = nil
	r.chunks = r.chunks[1:]
	return true
}

func (r *memReader) fill(n int) error {
	for r.LinkBuffer.Len() < n {
		if !r.arrive() {
			return errNoInput
		}
	}
	return nil
}

func (r *memReader) Peek(n int) ([]byte, error) {
	if err := r.fill(n); err != nil {
		return nil, err
	}
	return r.LinkBuffer.Peek(n)
}

func (r *memReader) Next(n int) ([]byte, error) {
	if err := r.fill(n); err != nil {
		return nil, err
	}
	return r.LinkBuffer.Next(n)
}

// Attach registers nc as an upgraded connection (skipping the HTTP
// handshake) and calls Handler.Open with uri and protocol, like a real
// upgrade. It returns the connection and Open's close code (0: open).
func (s *Server) Attach(nc netpoll.Connection, uri, protocol string) (*Conn, int) {
	c := &Conn{nc: nc, srv: s}
	c.Context = s.baseCtx()
	c.last.Store(nowMs())
	s.reg.add(c)
	_ = nc.AddCloseCallback(c.onClosed)
	c.state.Store(stOpen)
	if code, reason := s.h.Open(c, &Request{URI: []byte(uri), Protocol: protocol}); code != 0 {
		c.CloseWith(code, reason)
		return c, int(code)
	}
	return c, 0
}

// HandleInput runs the frame handler on c's pending input, exactly as the
// event loop does when input arrives.
func (s *Server) HandleInput(c *Conn) {
	if c.state.Load() == stOpen {
		s.readFrames(c)
	}
}

// Input delivers b at once (copied into the input buffer).
func (m *MemConn) Input(b []byte) {
	_, _ = m.in.LinkBuffer.WriteBinary(b)
	_ = m.in.LinkBuffer.Flush()
}
