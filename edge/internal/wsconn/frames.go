package wsconn

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"unicode/utf8"

	"github.com/cloudwego/netpoll"
	"github.com/gobwas/ws"
)

// FrameReserve is the room a caller leaves in front of a payload for the
// server frame header (at most 10 bytes: server frames are not masked).
const FrameReserve = 10

// Frame turns b — FrameReserve bytes of room followed by the payload — into
// a complete final frame of type op and returns it (a sub-slice of b). It
// does not allocate.
func Frame(b []byte, op ws.OpCode) []byte {
	n := len(b) - FrameReserve
	h := ws.Header{Fin: true, OpCode: op, Length: int64(n)}
	start := FrameReserve - ws.HeaderSize(h)
	p := b[start:]
	p[0] = 0x80 | byte(op)
	switch {
	case n < 126:
		p[1] = byte(n)
	case n <= 0xffff:
		p[1] = 126
		p[2], p[3] = byte(n>>8), byte(n)
	default:
		p[1] = 127
		for i := 0; i < 8; i++ {
			p[2+i] = byte(uint64(n) >> (56 - 8*i))
		}
	}
	return p
}

// ErrClosed is returned by Write on a connection that is not open.
var ErrClosed = errors.New("wsconn: connection closed")

// Write sends one complete frame (see Frame). frame is not retained after
// Write returns unless it is longer than 4 KiB, in which case netpoll
// references it until it is on the wire: such frames must be immutable
// (the shared, encode-once frames are). Safe for concurrent use.
func (c *Conn) Write(frame []byte) error {
	c.mu.Lock()
	err := c.WriteLocked(frame)
	c.Unlock()
	return err
}

// Lock takes the connection's write lock, so a caller can read shared
// state and write a reply atomically with respect to pushes (see the
// package doc for the lock order). Use WriteLocked while holding it.
func (c *Conn) Lock() { c.mu.Lock() }

// TryLock takes the write lock if it is free (a fan-out writes to the
// connections that are not busy first) and reports whether it did.
func (c *Conn) TryLock() bool { return c.mu.TryLock() }

// Unlock releases the write lock; a connection whose write failed is
// closed here, after the lock is released (close callbacks take hub locks).
func (c *Conn) Unlock() {
	broken := c.broken
	c.mu.Unlock()
	if broken {
		c.nc.Close()
	}
}

// WriteLocked is Write for a caller that holds Lock.
func (c *Conn) WriteLocked(frame []byte) error {
	if c.state.Load() != stOpen {
		return ErrClosed
	}
	w := c.nc.Writer()
	_, err := w.WriteBinary(frame)
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		c.srv.metrics.Error("write")
		c.broken = true
	}
	return err
}

// WritePartsLocked is WriteLocked for a frame in pieces (header first) that
// are written in order and flushed once: a large shared message (a full
// sync) goes out without being copied into one buffer. Pieces longer than
// 4 KiB are referenced until they are on the wire and must be immutable.
// The caller holds the write lock.
func (c *Conn) WritePartsLocked(parts [][]byte) error {
	if c.state.Load() != stOpen {
		return ErrClosed
	}
	w := c.nc.Writer()
	var err error
	for _, p := range parts {
		if _, err = w.WriteBinary(p); err != nil {
			break
		}
	}
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		c.srv.metrics.Error("write")
		c.broken = true
	}
	return err
}

// CloseWith starts the closing handshake: it sends a close frame with code
// and reason, stops writes, and waits for the peer's close frame (input is
// read and discarded meanwhile) before closing the TCP connection, or
// closes it after Config.CloseTimeout. Some clients (Python's
// websocket-client) only report the close code when they can send their
// close reply (RFC 6455 7.1.1). Safe for concurrent use; later calls do
// nothing.
func (c *Conn) CloseWith(code ws.StatusCode, reason string) {
	c.closeWith(code, reason, false)
}

func (c *Conn) closeWith(code ws.StatusCode, reason string, now bool) {
	if len(reason) > 123 {
		reason = reason[:123]
	}
	c.mu.Lock()
	open := c.state.Load() == stOpen
	if open {
		var buf [FrameReserve + 125]byte
		b := append(buf[:FrameReserve], byte(code>>8), byte(code))
		b = append(b, reason...)
		w := c.nc.Writer()
		if _, err := w.WriteBinary(Frame(b, ws.OpClose)); err == nil {
			err = w.Flush()
			now = now || err != nil
		} else {
			now = true
		}
		c.last.Store(nowMs())
		c.state.Store(stClosing)
		c.srv.pending.add(c) // the peer's close frame is awaited
	}
	c.mu.Unlock()
	if now || !open {
		c.nc.Close()
	}
}

// Close closes the connection without a close frame.
func (c *Conn) Close() { c.nc.Close() }

// hsIO gives gobwas the already received request header and the
// connection's writer.
type hsIO struct {
	r *bytes.Reader
	c *Conn
}

func (h *hsIO) Read(p []byte) (int, error) { return h.r.Read(p) }
func (h *hsIO) Write(p []byte) (int, error) {
	w := h.c.nc.Writer()
	if _, err := w.WriteBinary(p); err != nil {
		return 0, err
	}
	return len(p), w.Flush()
}

var crlf2 = []byte("\r\n\r\n")

// handshake waits for the whole request header (blocking the borrowed
// goroutine at most until the handshake deadline), then either upgrades the
// connection or hands it to the HTTP fallback. It reports whether the
// connection is now open.
func (s *Server) handshake(c *Conn) bool {
	nc := c.nc
	r := nc.Reader()
	// No read deadline: netpoll would attach a timer to the connection for
	// good. A handshake that does not complete is closed by the sweeper,
	// which ends the blocked Peek below.
	var hdr []byte
	for {
		n := r.Len()
		buf, err := r.Peek(n)
		if err != nil {
			nc.Close()
			return false
		}
		if i := bytes.Index(buf, crlf2); i >= 0 {
			hdr = buf[:i+4]
			break
		}
		if n >= s.cfg.MaxHeaderBytes {
			s.metrics.Error("handshake_too_large")
			_, _ = nc.Write([]byte("HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"))
			nc.Close()
			return false
		}
		if _, err := r.Peek(n + 1); err != nil { // wait for more (or the deadline)
			s.metrics.Error("handshake_timeout")
			nc.Close()
			return false
		}
	}
	if s.closing.Load() {
		nc.Close()
		return false
	}
	if !isUpgrade(hdr) {
		// The first request keeps the handshake's unfinished slot and its
		// deadline (RequestTimeout from accept) until it is handled; the
		// connection stays pending meanwhile.
		c.waiting.Store(c.last.Load())
		if !c.state.CompareAndSwap(stHandshake, stHTTP) {
			return false // closed meanwhile: onClosed released the slot
		}
		hc := &httpConn{Connection: nc, c: c, t: reqTrack{u: &s.unf, key: KeyOf(nc.RemoteAddr()), started: true, counted: true}}
		if s.http == nil {
			_, _ = nc.Write([]byte("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"))
		} else {
			c.last.Store(nowMs())
			_ = s.http(hc)
		}
		hc.RequestDone()
		nc.Close()
		return false
	}

	if s.cfg.Admit != nil && !s.cfg.Admit(KeyOf(nc.RemoteAddr())) {
		s.metrics.Error("rate_limit_addr")
		_, _ = nc.Write([]byte("HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"))
		nc.Close()
		return false
	}
	var uri, ua []byte
	u := ws.Upgrader{
		OnHeader: func(k, v []byte) error {
			if bytes.EqualFold(k, []byte("User-Agent")) {
				ua = append(ua[:0], v...)
			}
			return nil
		},
		OnRequest: func(b []byte) error {
			p := b
			if i := bytes.IndexByte(p, '?'); i >= 0 {
				p = p[:i]
			}
			if !pathMatch(p, s.cfg.Path) {
				return ws.RejectConnectionError(ws.RejectionStatus(404))
			}
			uri = append([]byte(nil), b...)
			return nil
		},
	}
	if len(s.cfg.Protocols) > 0 {
		u.Protocol = func(p []byte) bool {
			for _, want := range s.cfg.Protocols {
				if string(p) == want {
					return true
				}
			}
			return false
		}
	}
	hl := len(hdr)
	hs, err := u.Upgrade(&hsIO{r: bytes.NewReader(hdr), c: c})
	_ = r.Skip(hl)
	_ = r.Release()
	if err != nil {
		s.metrics.Error("upgrade")
		nc.Close()
		return false
	}
	c.last.Store(nowMs())
	if !c.state.CompareAndSwap(stHandshake, stOpen) {
		return false // closed meanwhile: onClosed released the slot
	}
	s.unf.release(KeyOf(nc.RemoteAddr()))
	s.pending.remove(c)
	if code, reason := s.h.Open(c, &Request{URI: uri, Protocol: hs.Protocol, UserAgent: ua}); code != 0 {
		c.CloseWith(code, reason)
		return false
	}
	return c.state.Load() == stOpen
}

// pathMatch is ASP.NET's StartsWithSegments, ignoring case: p equals want
// or continues with '/'.
func pathMatch(p []byte, want string) bool {
	if len(p) < len(want) || !bytes.EqualFold(p[:len(want)], []byte(want)) {
		return false
	}
	return len(p) == len(want) || p[len(want)] == '/'
}

// isUpgrade reports whether the request header asks for a WebSocket
// upgrade (an Upgrade header whose value contains "websocket").
func isUpgrade(hdr []byte) bool {
	for len(hdr) > 0 {
		i := bytes.Index(hdr, crlf2[:2])
		if i < 0 {
			return false
		}
		line := hdr[:i]
		hdr = hdr[i+2:]
		if len(line) > 8 && bytes.EqualFold(line[:8], []byte("upgrade:")) {
			v := bytes.ToLower(line[8:])
			return bytes.Contains(v, []byte("websocket"))
		}
	}
	return false
}

// scratch is per-task state for reading frames. Lifetime: taken at the
// start of readFrames and returned at its end; nothing keeps it.
type scratch struct {
	hr  hdrReader
	hb  [ws.MaxHeaderSize - 2]byte
	out [FrameReserve + 125]byte
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

type hdrReader struct{ b []byte }

func (r *hdrReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// fragBuf collects a fragmented message. Lifetime: taken on the first
// fragment, returned when the message is complete or the connection closes.
type fragBuf struct{ b []byte }

var fragPool = sync.Pool{New: func() any { return new(fragBuf) }}

func putFrag(f *fragBuf) {
	if cap(f.b) > 64<<10 {
		return
	}
	f.b = f.b[:0]
	fragPool.Put(f)
}

// headerLen returns the length of a client frame header from its first two
// bytes.
func headerLen(b0, b1 byte) int {
	n := 2
	switch b1 & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b1&0x80 != 0 {
		n += 4
	}
	return n
}

// readFrames handles every complete frame in the input buffer, blocking the
// borrowed goroutine only for the rest of a frame that has started
// (bounded by FrameTimeout).
func (s *Server) readFrames(c *Conn) {
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	r := c.nc.Reader()
	for r.Len() > 0 && (c.state.Load() == stOpen || c.state.Load() == stClosing) {
		if !s.readFrame(c, sc) {
			return
		}
	}
}

// wait blocks until n bytes are buffered. It sets c.waiting so the sweeper
// closes the connection (ending the wait) after FrameTimeout; a netpoll
// read deadline would attach a timer to the connection for good.
func (s *Server) wait(c *Conn, n int) bool {
	if c.nc.Reader().Len() >= n {
		return true
	}
	c.waiting.Store(nowMs())
	s.pending.add(c)
	_, err := c.nc.Reader().Peek(n)
	c.waiting.Store(0)
	c.mu.Lock() // closeWith adds under c.mu: a closing connection stays pending
	if c.state.Load() == stOpen {
		s.pending.remove(c)
	}
	c.mu.Unlock()
	if err != nil {
		s.metrics.Error("frame_timeout")
		c.nc.Close()
		return false
	}
	return true
}

func (s *Server) protocolError(c *Conn, cause string) bool {
	s.metrics.Error(cause)
	c.CloseWith(ws.StatusProtocolError, cause)
	return false
}

// badUTF8 closes a connection whose text message is not UTF-8 with 1007
// (RFC 6455 8.1: invalid frame payload data).
func (s *Server) badUTF8(c *Conn) bool {
	s.metrics.Error("bad_utf8")
	c.CloseWith(ws.StatusInvalidFramePayloadData, "text message is not valid UTF-8")
	return false
}

func (s *Server) readFrame(c *Conn, sc *scratch) bool {
	r := c.nc.Reader()
	if !s.wait(c, 2) {
		return false
	}
	b, _ := r.Peek(2)
	hl := headerLen(b[0], b[1])
	if !s.wait(c, hl) {
		return false
	}
	b, _ = r.Peek(hl)
	sc.hr.b = b
	h, err := ws.ReadHeaderBuffer(&sc.hr, sc.hb[:])
	if err != nil {
		return s.protocolError(c, "bad_frame")
	}
	switch {
	case h.Rsv != 0 || h.OpCode.IsReserved():
		return s.protocolError(c, "bad_frame")
	case !h.Masked:
		return s.protocolError(c, "unmasked_frame")
	case h.OpCode.IsControl() && (h.Length > 125 || !h.Fin):
		return s.protocolError(c, "bad_control_frame")
	case h.Length > int64(s.cfg.MaxMessageBytes):
		if c.state.Load() == stClosing {
			c.nc.Close()
			return false
		}
		s.metrics.Error("message_too_big")
		c.CloseWith(ws.StatusMessageTooBig, "message too big")
		return false
	}
	total := hl + int(h.Length)
	if !s.wait(c, total) {
		return false
	}
	frame, err := r.Next(total)
	if err != nil {
		c.nc.Close()
		return false
	}
	payload := frame[hl:]
	ws.Cipher(payload, h.Mask, 0)
	c.last.Store(s.tick())
	ok := s.dispatch(c, h, payload, sc)
	_ = r.Release()
	return ok
}

func (s *Server) dispatch(c *Conn, h ws.Header, payload []byte, sc *scratch) bool {
	if c.state.Load() == stClosing { // our close frame is out: wait for theirs
		if h.OpCode == ws.OpClose {
			c.nc.Close()
			return false
		}
		return true
	}
	switch h.OpCode {
	case ws.OpPing:
		_ = c.Write(Frame(append(sc.out[:FrameReserve], payload...), ws.OpPong))
	case ws.OpPong:
	case ws.OpClose:
		code := ws.StatusNormalClosure
		if len(payload) >= 2 {
			code = ws.StatusCode(uint16(payload[0])<<8 | uint16(payload[1]))
		}
		c.closeWith(code, "", true) // the peer started: echo, then close
		return false
	case ws.OpText, ws.OpBinary:
		if c.frag != nil {
			return s.protocolError(c, "bad_fragment")
		}
		if h.Fin {
			if h.OpCode == ws.OpText && !utf8.Valid(payload) {
				return s.badUTF8(c)
			}
			s.h.Message(c, h.OpCode, payload)
			return true
		}
		c.frag = fragPool.Get().(*fragBuf)
		c.fragOp = h.OpCode
		c.frag.b = append(c.frag.b[:0], payload...)
	case ws.OpContinuation:
		if c.frag == nil {
			return s.protocolError(c, "bad_fragment")
		}
		if len(c.frag.b)+len(payload) > s.cfg.MaxMessageBytes {
			s.metrics.Error("message_too_big")
			c.CloseWith(ws.StatusMessageTooBig, "message too big")
			return false
		}
		c.frag.b = append(c.frag.b, payload...)
		if h.Fin {
			f := c.frag
			c.frag = nil
			if c.fragOp == ws.OpText && !utf8.Valid(f.b) {
				putFrag(f)
				return s.badUTF8(c)
			}
			s.h.Message(c, c.fragOp, f.b)
			putFrag(f)
		}
	}
	return true
}

// httpConn records activity of a plain HTTP connection for the sweeper,
// which closes it after HTTPIdleTimeout without input (so fasthttp needs no
// read deadlines, which would cost a timer operation per request).
//
// It also enforces RequestTimeout and the per-address cap of unfinished
// requests without a timer: a request whose reading goes on past its first
// read stamps c.waiting (its first byte), joins the pending set (checked
// every sweeper tick) and takes a slot of its address until RequestDone.
// Read and RequestDone run on the connection's serving goroutine.
type httpConn struct {
	netpoll.Connection
	c *Conn
	t reqTrack
}

func (h *httpConn) Read(p []byte) (int, error) {
	ok, took := h.t.slow()
	if !ok {
		h.c.srv.metrics.Error("address_busy")
		return 0, errAddressBusy
	}
	if took {
		h.c.srv.pending.add(h.c)
	}
	n, err := h.Connection.Read(p)
	now := h.c.srv.tick()
	h.c.last.Store(now)
	if n > 0 && !h.t.started {
		h.t.started = true
		h.c.waiting.Store(now)
	}
	return n, err
}
