package fleet

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/ws"

	"github.com/switchyard/switchyard/codec/secret"
)

// The epoll engine (Spec.Engine "epoll") holds connections with one
// goroutine per fleet and ~100 bytes of state per connection: raw
// non-blocking sockets, one epoll set, and a single loop that starts
// connects at the ramp rate, writes the HTTP upgrade, checks the 101 and
// Sec-WebSocket-Accept, and parses frames from one shared read buffer
// (partial input is copied into the connection only when a read ends
// mid-message). Every write happens on the loop goroutine, so nothing is
// locked. IPv4 destinations only.

const (
	esConnecting uint8 = iota
	esHandshake
	esSyncing
	esOpen
)

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

type econn struct {
	fd      int32
	idx     int32
	lastSeq int32
	state   uint8
	client  bool
	delta   bool  // a reconnecting SDK: delta sync (Spec.DeltaSince)
	closeRx bool  // a close frame was received
	t0      int64 // connect start (ns), then sync request time
	in      []byte
	out     []byte
}

type eloop struct {
	f      *Fleet
	epfd   int
	conns  []*econn // by fd
	events []syscall.EpollEvent
	buf    []byte
	dsts   []syscall.SockaddrInet4
	srcs   [][4]byte

	started, inflight int
	pingCursor        int
	pingCarry         float64
	lastPing          time.Time
	lastSweep         time.Time
	pingAll           atomic.Bool // set by Fleet.PingAll, served by the loop
}

// wsKey is the (deterministic) Sec-WebSocket-Key of connection i.
func wsKey(i int32) string {
	var b [16]byte
	binary.BigEndian.PutUint32(b[:], uint32(i))
	copy(b[4:], "switchyard-lt")
	return base64.StdEncoding.EncodeToString(b[:])
}

func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

func (f *Fleet) newLoop() (*eloop, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	l := &eloop{f: f, epfd: epfd, events: make([]syscall.EpollEvent, 1024), buf: make([]byte, 256<<10)}
	for _, a := range f.raddrs {
		ip4 := a.IP.To4()
		if ip4 == nil {
			return nil, errors.New("fleet: the epoll engine needs IPv4 destinations")
		}
		var sa syscall.SockaddrInet4
		copy(sa.Addr[:], ip4)
		sa.Port = a.Port
		l.dsts = append(l.dsts, sa)
	}
	for _, a := range f.laddrs {
		var b [4]byte
		copy(b[:], a.IP.To4())
		l.srcs = append(l.srcs, b)
	}
	return l, nil
}

// connectEpoll is Connect for the epoll engine: the loop runs until Close;
// this returns when every connection has synced or failed.
func (f *Fleet) connectEpoll(progress func(Progress), interval time.Duration) error {
	l, err := f.newLoop()
	if err != nil {
		return err
	}
	f.loop = l
	f.loopDone = make(chan struct{})
	connected := make(chan struct{})
	go l.run(connected)
	if interval <= 0 {
		interval = time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-connected:
			return nil
		case <-t.C:
			if progress != nil {
				progress(f.Progress())
			}
		}
	}
}

func (l *eloop) run(connected chan struct{}) {
	f := l.f
	defer close(f.loopDone)
	start := time.Now()
	l.lastPing, l.lastSweep = start, start
	signalled := false
	for {
		if f.closing.Load() {
			l.closeAll()
			return
		}
		now := time.Now()
		// start connects at the ramp rate, bounded by Concurrency in flight
		due := f.spec.Count
		if f.spec.Rate > 0 {
			due = min(due, int(f.spec.Rate*now.Sub(start).Seconds())+1)
		}
		for l.started < due && l.inflight < f.spec.Concurrency {
			l.dial(int32(l.started), now)
			l.started++
		}
		if !signalled && l.started == f.spec.Count && l.inflight == 0 {
			signalled = true
			l.lastPing = now // pings start with the hold, not as a burst for the connect time
			close(connected)
		}
		if now.Sub(l.lastSweep) >= 100*time.Millisecond {
			l.sweep(now)
		}
		if l.pingAll.Swap(false) {
			for _, c := range l.conns {
				if c != nil && c.state == esOpen {
					l.write(c, f.pingFrame)
					f.pingsOut.Add(1)
				}
			}
		}
		if signalled && f.spec.PingInterval > 0 && now.Sub(l.lastPing) >= 100*time.Millisecond {
			l.ping(now.Sub(l.lastPing))
			l.lastPing = now
		}
		timeout := 50
		if l.started < f.spec.Count {
			timeout = 1
		}
		n, err := syscall.EpollWait(l.epfd, l.events, timeout)
		if err != nil && !errors.Is(err, syscall.EINTR) {
			f.fail("epoll: " + err.Error())
			l.closeAll()
			return
		}
		for i := 0; i < n; i++ {
			ev := l.events[i]
			fd := int(ev.Fd)
			if fd >= len(l.conns) || l.conns[fd] == nil {
				continue
			}
			l.event(l.conns[fd], ev.Events)
		}
	}
}

func (l *eloop) dial(i int32, now time.Time) {
	f := l.f
	f.attempted.Add(1)
	dst := l.dsts[int(i)%len(l.dsts)]
	var fd int
	var err error
	for try := 0; ; try++ {
		fd, err = syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			f.fail("dial: " + errnoText(err))
			return
		}
		if len(l.srcs) > 0 {
			// an explicit source port: bind with port 0 searches the range linearly
			err = syscall.Bind(fd, &syscall.SockaddrInet4{Port: f.nextPort(), Addr: l.srcs[int(i)%len(l.srcs)]})
		}
		if err == nil {
			if err = syscall.Connect(fd, &dst); errors.Is(err, syscall.EINPROGRESS) {
				err = nil
			}
		}
		if err == nil {
			break
		}
		syscall.Close(fd)
		if try == 64 || !(errors.Is(err, syscall.EADDRINUSE) || errors.Is(err, syscall.EADDRNOTAVAIL)) {
			f.fail("dial: " + errnoText(err))
			return
		}
	}
	c := &econn{fd: int32(fd), idx: i, state: esConnecting, client: f.isClient(int(i)), delta: !f.fullSync(int(i)), t0: now.UnixNano()}
	for fd >= len(l.conns) {
		l.conns = append(l.conns, make([]*econn, max(1024, len(l.conns)))...)
	}
	l.conns[fd] = c
	l.inflight++
	if err := syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, fd, &syscall.EpollEvent{Events: syscall.EPOLLOUT | syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(fd)}); err != nil {
		l.drop(c, "dial: epoll: "+errnoText(err))
	}
}

func errnoText(err error) string {
	var e syscall.Errno
	if errors.As(err, &e) {
		return e.Error()
	}
	return err.Error()
}

// drop closes c; cause (if not empty) is counted as a failure.
func (l *eloop) drop(c *econn, cause string) {
	f := l.f
	if c.state < esOpen {
		l.inflight--
	} else {
		f.open.Add(-1)
		if !f.closing.Load() {
			f.lost.Add(1)
		}
	}
	if cause != "" {
		f.fail(cause)
	}
	if c.fd >= 0 { // (tests use fd -1)
		l.conns[c.fd] = nil
		syscall.Close(int(c.fd))
	}
	c.state = 255
}

func (l *eloop) event(c *econn, evs uint32) {
	if c.state == esConnecting {
		if evs&(syscall.EPOLLOUT|syscall.EPOLLERR|syscall.EPOLLHUP) == 0 {
			return
		}
		soerr, err := syscall.GetsockoptInt(int(c.fd), syscall.SOL_SOCKET, syscall.SO_ERROR)
		if err == nil && soerr != 0 {
			err = syscall.Errno(soerr)
		}
		if err != nil {
			l.drop(c, "dial: "+errnoText(err))
			return
		}
		c.state = esHandshake
		l.write(c, l.upgradeRequest(c))
		if c.state == 255 {
			return
		}
		if len(c.out) == 0 {
			_ = syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_MOD, int(c.fd), &syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: c.fd})
		}
		return
	}
	if evs&syscall.EPOLLOUT != 0 && len(c.out) > 0 {
		out := c.out
		c.out = nil
		l.write(c, out)
		if c.state == 255 {
			return
		}
		if len(c.out) == 0 {
			_ = syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_MOD, int(c.fd), &syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: c.fd})
		}
	}
	if evs&(syscall.EPOLLIN|syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) == 0 {
		return
	}
	for {
		n, err := syscall.Read(int(c.fd), l.buf)
		if n > 0 {
			l.input(c, l.buf[:n])
			if c.state == 255 {
				return
			}
			if n < len(l.buf) {
				return
			}
			continue
		}
		if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR) {
			return
		}
		// EOF or error
		cause := ""
		switch {
		case c.state == esHandshake:
			cause = "handshake: EOF"
		case c.state == esSyncing:
			cause = "sync: EOF"
		case !c.closeRx && !l.f.closing.Load():
			cause = "lost: closed without close frame"
		}
		if err != nil && cause != "" {
			cause += " (" + errnoText(err) + ")"
		}
		l.drop(c, cause)
		return
	}
}

// write writes b, keeping what the socket does not take in c.out.
func (l *eloop) write(c *econn, b []byte) {
	if len(c.out) > 0 {
		c.out = append(c.out, b...)
		return
	}
	for len(b) > 0 {
		n, err := syscall.Write(int(c.fd), b)
		if n > 0 {
			b = b[n:]
			continue
		}
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if errors.Is(err, syscall.EAGAIN) {
			c.out = append([]byte(nil), b...)
			_ = syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_MOD, int(c.fd), &syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLOUT | syscall.EPOLLRDHUP, Fd: c.fd})
			return
		}
		cause := "write: " + errnoText(err)
		if c.state == esOpen && !l.f.closing.Load() {
			cause = "lost: " + cause
		}
		l.drop(c, cause)
		return
	}
}

func (l *eloop) upgradeRequest(c *econn) []byte {
	f := l.f
	kind, sec := TypeServer, f.spec.ServerSecret
	if c.client {
		kind, sec = TypeClient, f.spec.ClientSecret
	}
	d := int(c.idx) % len(f.hosts)
	b := make([]byte, 0, 320)
	b = append(b, "GET "...)
	b = append(b, f.spec.Path...)
	b = append(b, "?type="...)
	b = append(b, kind...)
	b = append(b, "&token="...)
	b = append(b, secret.EncodeToken(sec, time.Now().UnixMilli(), 2+(int(c.idx)*7919)%40)...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, f.hosts[d]...)
	b = append(b, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "...)
	b = append(b, wsKey(c.idx)...)
	if f.spec.Msgpack {
		b = append(b, "\r\nSec-WebSocket-Protocol: "+ProtoMsgpack...)
	}
	b = append(b, "\r\n\r\n"...)
	return b
}

var (
	crlf2     = []byte("\r\n\r\n")
	acceptHdr = []byte("\r\nsec-websocket-accept:")
)

// input consumes bytes read from c.
func (l *eloop) input(c *econn, data []byte) {
	f := l.f
	if len(c.in) > 0 {
		data = append(c.in, data...)
		c.in = nil
	}
	if c.state == esHandshake {
		end := bytes.Index(data, crlf2)
		if end < 0 {
			if len(data) > 8192 {
				l.drop(c, "handshake: response too long")
				return
			}
			c.in = append([]byte(nil), data...)
			return
		}
		head := data[:end+2]
		if !bytes.HasPrefix(head, []byte("HTTP/1.1 101")) {
			code := "?"
			if len(head) >= 12 {
				code = string(head[9:12])
			}
			l.drop(c, "handshake: HTTP "+code)
			return
		}
		lower := bytes.ToLower(head)
		i := bytes.Index(lower, acceptHdr)
		if i < 0 {
			l.drop(c, "handshake: no Sec-WebSocket-Accept")
			return
		}
		v := head[i+len(acceptHdr):]
		v = bytes.TrimSpace(v[:bytes.IndexByte(v, '\r')])
		if string(v) != wsAccept(wsKey(c.idx)) {
			l.drop(c, "handshake: bad Sec-WebSocket-Accept")
			return
		}
		now := time.Now()
		f.Handshake.Record(time.Duration(now.UnixNano() - c.t0))
		c.state = esSyncing
		c.t0 = now.UnixNano()
		l.write(c, l.syncRequest(c))
		if c.state == 255 {
			return
		}
		data = data[end+4:]
	}
	for len(data) > 0 {
		n, ok := l.frame(c, data)
		if c.state == 255 {
			return
		}
		if !ok {
			break
		}
		data = data[n:]
	}
	if len(data) > 0 {
		c.in = append([]byte(nil), data...) // a partial frame waits for more
	}
}

func (l *eloop) syncRequest(c *econn) []byte {
	req, op := l.f.syncRequest(int(c.idx), c.client, !c.delta)
	return clientFrame(nil, op, req, [4]byte{byte(c.idx), 0x5a, byte(c.idx >> 8), 0x17})
}

// frame handles one complete frame at the start of data and returns its
// length; ok is false when data holds only part of a frame.
func (l *eloop) frame(c *econn, data []byte) (int, bool) {
	f := l.f
	if len(data) < 2 {
		return 0, false
	}
	fin := data[0]&0x80 != 0
	op := ws.OpCode(data[0] & 0x0f)
	masked := data[1]&0x80 != 0
	ln := uint64(data[1] & 0x7f)
	hl := 2
	switch ln {
	case 126:
		hl = 4
		if len(data) < hl {
			return 0, false
		}
		ln = uint64(binary.BigEndian.Uint16(data[2:4]))
	case 127:
		hl = 10
		if len(data) < hl {
			return 0, false
		}
		ln = binary.BigEndian.Uint64(data[2:10])
	}
	if masked {
		hl += 4
	}
	if ln > MaxFrame {
		l.drop(c, "frame too big")
		return 0, false
	}
	total := hl + int(ln)
	if len(data) < total {
		return 0, false
	}
	p := data[hl:total]
	if masked {
		var m [4]byte
		copy(m[:], data[hl-4:hl])
		ws.Cipher(p, m, 0)
	}
	switch op {
	case ws.OpClose:
		c.closeRx = true
		code := closeCode(p)
		switch {
		case c.state < esOpen:
			l.drop(c, "close "+strconv.Itoa(code))
		case f.closing.Load():
			l.drop(c, "")
		default:
			l.drop(c, "lost: close "+strconv.Itoa(code))
		}
		return total, true
	case ws.OpPing:
		l.write(c, clientFrame(nil, ws.OpPong, p, [4]byte{9, 8, 7, 6}))
		return total, true
	case ws.OpPong:
		return total, true
	}
	if !fin || op == ws.OpContinuation {
		l.drop(c, "fragmented message (unsupported by the epoll engine)")
		return total, true
	}
	if c.state == esSyncing {
		f.msgsIn.Add(1)
		if messageType(p) != "data-sync" {
			return total, true
		}
		if et := eventType(p); et != wantSync(!c.delta) {
			l.drop(c, "sync: first data-sync is "+strconv.Quote(et))
			return total, true
		}
		f.recordSync(c.client, !c.delta, len(p), time.Now().UnixNano()-c.t0)
		c.state = esOpen
		l.inflight--
		return total, true
	}
	f.message(p, &c.lastSeq)
	return total, true
}

// sweep fails connections stuck in the handshake or the first sync.
func (l *eloop) sweep(now time.Time) {
	l.lastSweep = now
	if l.inflight == 0 {
		return
	}
	ns := now.UnixNano()
	for _, c := range l.conns {
		if c == nil || c.state >= esOpen {
			continue
		}
		switch {
		case c.state <= esHandshake && ns-c.t0 > int64(l.f.spec.HandshakeTimeout):
			cause := "handshake: timeout"
			if c.state == esConnecting {
				cause = "dial: timeout"
			}
			l.drop(c, cause)
		case c.state == esSyncing && ns-c.t0 > int64(l.f.spec.SyncTimeout):
			l.drop(c, "sync: timeout")
		}
	}
}

// ping sends application pings so that each open connection pings once per
// PingInterval.
func (l *eloop) ping(elapsed time.Duration) {
	f := l.f
	open := int(f.open.Load())
	l.pingCarry += float64(open) * float64(elapsed) / float64(f.spec.PingInterval)
	k := int(l.pingCarry)
	l.pingCarry -= float64(k)
	for scanned := 0; k > 0 && scanned < len(l.conns); scanned++ {
		if l.pingCursor >= len(l.conns) {
			l.pingCursor = 0
		}
		c := l.conns[l.pingCursor]
		l.pingCursor++
		if c == nil || c.state != esOpen {
			continue
		}
		l.write(c, f.pingFrame)
		f.pingsOut.Add(1)
		k--
	}
}

func (l *eloop) closeAll() {
	frame := clientFrame(nil, ws.OpClose, []byte{0x03, 0xe8}, [4]byte{1, 2, 3, 4})
	for _, c := range l.conns {
		if c == nil {
			continue
		}
		if c.state == esOpen {
			_, _ = syscall.Write(int(c.fd), frame)
		}
		l.drop(c, "")
	}
	syscall.Close(l.epfd)
}
