// Package fleet is an event-driven fleet of FeatBit streaming clients: many
// WebSocket connections held by one process with no goroutine per
// connection.
//
// Each connection is a cloudwego/netpoll client connection (dialed with
// netpoll.DialTCP from a chosen local 127.0.0.x address, so port space is
// per source address), upgraded with the gobwas/ws client handshake, that
// sends FeatBit's data-sync request and waits for the full sync. Only the
// connect phase (dial, upgrade, first sync) runs in a goroutine, bounded by
// Spec.Concurrency; afterwards frames are handled in netpoll's OnRequest
// callback and pings are sent by one ticker goroutine per fleet.
//
// Measurements: handshake latency (dial start to 101), first-sync latency
// (request written to full sync read), push receipt latency (the push
// marker "lt~<seq>~<unixnano>" that the harness embeds in a changed flag,
// compared with the receive time), and per-change receipt counts and last
// receipt time. Every counter is atomic; histograms are hist.H.
//
// Lifetime: New, then Connect (blocks until every connection has synced or
// failed), then any number of Report calls, then Close. A Fleet is not
// reusable.
package fleet

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cloudwego/netpoll"
	"github.com/gobwas/ws"

	"github.com/switchyard/switchyard/codec/secret"
	"github.com/switchyard/switchyard/loadtest/internal/hist"
)

// Connection types of the FeatBit streaming protocol.
const (
	TypeServer = "server"
	TypeClient = "client"
)

// ProtoMsgpack is the WebSocket subprotocol of the edge's msgpack variant.
const ProtoMsgpack = "switchyard.msgpack.v1"

// Spec is what one fleet (one worker process) does. It is sent to worker
// processes as JSON.
type Spec struct {
	Worker       int      `json:"worker"`
	Dsts         []string `json:"dsts"`     // edge addresses host:port, used round-robin
	LocalIPs     []string `json:"localIps"` // source addresses to bind, round-robin (empty: kernel's choice)
	Path         string   `json:"path"`     // default /streaming
	Count        int      `json:"count"`
	Rate         float64  `json:"rate"` // connections started per second (0: as fast as Concurrency allows)
	Concurrency  int      `json:"concurrency"`
	ClientShare  float64  `json:"clientShare"` // fraction of type=client connections
	ServerSecret string   `json:"serverSecret"`
	ClientSecret string   `json:"clientSecret"`
	Msgpack      bool     `json:"msgpack"` // ask for the msgpack subprotocol

	PingInterval     time.Duration `json:"pingInterval"` // 0: no application pings
	HandshakeTimeout time.Duration `json:"handshakeTimeout"`
	SyncTimeout      time.Duration `json:"syncTimeout"`
	MaxPushes        int           `json:"maxPushes"`
	UserBase         int           `json:"userBase"` // first user index, so users are unique across workers
	SmallBuffers     bool          `json:"smallBuffers"`
	// DeltaSince > 0 makes connections reconnecting SDKs that hold data up
	// to this timestamp (Unix ms) and ask only for what is newer, except a
	// FullSyncShare of them that do a cold full sync (see sync.go).
	DeltaSince    int64   `json:"deltaSince"`
	FullSyncShare float64 `json:"fullSyncShare"`
	// Engine is "netpoll" (default: netpoll connections, gobwas/ws
	// handshake) or "epoll" (raw sockets and one epoll loop, ~100 bytes of
	// state per connection; see epoll.go).
	Engine string `json:"engine"`
}

func (s *Spec) defaults() {
	if s.Path == "" {
		s.Path = "/streaming"
	}
	if s.Concurrency <= 0 {
		s.Concurrency = 128
	}
	if s.HandshakeTimeout <= 0 {
		s.HandshakeTimeout = 10 * time.Second
	}
	if s.SyncTimeout <= 0 {
		s.SyncTimeout = 15 * time.Second
	}
	if s.MaxPushes <= 0 {
		s.MaxPushes = 1000
	}
}

// Fleet holds the connections of one Spec.
type Fleet struct {
	spec   Spec
	raddrs []*netpoll.TCPAddr
	laddrs []*netpoll.TCPAddr
	hosts  []string

	Handshake hist.H // dial start → 101 Switching Protocols
	FirstSync hist.H // data-sync written → full sync read
	DeltaSync hist.H // data-sync with a timestamp written → its patch read
	Push      hist.H // push marker time → patch read

	attempted, open, synced, lost atomic.Int64
	syncBytes, msgsIn, pongs      atomic.Int64
	pingsOut, patches, dupPushes  atomic.Int64
	fullSyncs, deltaSyncs         atomic.Int64
	deltaBytes, clientSynced      atomic.Int64
	closing                       atomic.Bool

	fmu      sync.Mutex
	failures map[string]int64

	pushes []pushSlot // index = seq (1-based), len MaxPushes+1

	cmu   sync.Mutex
	conns []*conn

	port      atomic.Int32 // last source port handed out
	skipPorts map[int]bool // destination ports (a wildcard listener would conflict)

	loop     *eloop
	loopDone chan struct{}

	pingFrame []byte
	stopPing  chan struct{}
	pingDone  chan struct{}
	started   time.Time
}

type pushSlot struct {
	n      atomic.Int64
	sentNs atomic.Int64
	first  atomic.Int64
	last   atomic.Int64
}

// New checks s and resolves its addresses.
func New(s Spec) (*Fleet, error) {
	s.defaults()
	if len(s.Dsts) == 0 {
		return nil, errors.New("fleet: no destination address")
	}
	if s.Engine != "" && s.Engine != "netpoll" && s.Engine != "epoll" {
		return nil, fmt.Errorf("fleet: unknown engine %q (netpoll, epoll)", s.Engine)
	}
	f := &Fleet{spec: s, failures: map[string]int64{}, stopPing: make(chan struct{}), pingDone: make(chan struct{})}
	for _, d := range s.Dsts {
		a, err := netpoll.ResolveTCPAddr("tcp", d)
		if err != nil {
			return nil, fmt.Errorf("fleet: destination %q: %w", d, err)
		}
		f.raddrs = append(f.raddrs, a)
		f.hosts = append(f.hosts, d)
	}
	f.skipPorts = map[int]bool{}
	for _, a := range f.raddrs {
		f.skipPorts[a.Port] = true
	}
	// start at a random port so a rerun on the same address avoids ports in TIME_WAIT
	off := 0
	if spare := lastPort - firstPort - s.Count - 1000; spare > 0 {
		off = rand.IntN(spare)
	}
	f.port.Store(int32(firstPort - 1 + off))
	for _, ip := range s.LocalIPs {
		p := net.ParseIP(ip)
		if p == nil {
			return nil, fmt.Errorf("fleet: local address %q is not an IP", ip)
		}
		f.laddrs = append(f.laddrs, &netpoll.TCPAddr{TCPAddr: net.TCPAddr{IP: p}})
	}
	if s.Count > 0 && s.ClientShare < 1 && !secret.Valid(s.ServerSecret) {
		return nil, errors.New("fleet: server connections need a valid server secret")
	}
	if s.Count > 0 && s.ClientShare > 0 && !secret.Valid(s.ClientSecret) {
		return nil, errors.New("fleet: client connections need a valid client secret")
	}
	f.pushes = make([]pushSlot, s.MaxPushes+1)
	f.pingFrame = clientFrame(nil, ws.OpText, pingJSON, [4]byte{0x5a, 0x17, 0x3c, 0x81})
	if s.Msgpack {
		f.pingFrame = clientFrame(nil, ws.OpBinary, mpPing(), [4]byte{0x5a, 0x17, 0x3c, 0x81})
	}
	return f, nil
}

// Source ports handed out per local address: [firstPort, lastPort], so a
// worker with one address holds up to ~64,000 connections.
const (
	firstPort = 1025
	lastPort  = 65535
)

func (f *Fleet) nextPort() int {
	for {
		p := int(f.port.Add(1))
		if p > lastPort {
			// wrap (only reached by workers with more connections than ports, or retries)
			f.port.CompareAndSwap(int32(p), firstPort-1)
			continue
		}
		if !f.skipPorts[p] {
			return p
		}
	}
}

var pingJSON = []byte(`{"messageType":"ping","data":null}`)

// Connect opens Spec.Count connections at Spec.Rate and returns when every
// one has synced or failed (or ctx ends). progress, if not nil, is called
// from one goroutine about every interval.
func (f *Fleet) Connect(ctx context.Context, progress func(Progress), interval time.Duration) {
	f.started = time.Now()
	if f.spec.Engine == "epoll" {
		if err := f.connectEpoll(progress, interval); err != nil {
			f.fail("epoll: " + err.Error())
		}
		if progress != nil {
			progress(f.Progress())
		}
		return
	}
	sem := make(chan struct{}, f.spec.Concurrency)
	var wg sync.WaitGroup
	stopProg := make(chan struct{})
	progDone := make(chan struct{})
	go func() {
		defer close(progDone)
		if progress == nil {
			<-stopProg
			return
		}
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				progress(f.Progress())
			case <-stopProg:
				return
			}
		}
	}()
	dialer := ws.Dialer{ReadBufferSize: 1024, WriteBufferSize: 1024}
	if f.spec.Msgpack {
		dialer.Protocols = []string{ProtoMsgpack}
	}
	start := time.Now()
	for i := 0; i < f.spec.Count; i++ {
		if f.spec.Rate > 0 {
			due := start.Add(time.Duration(float64(i) / f.spec.Rate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
				}
			}
		}
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			f.connectOne(ctx, dialer, i)
		}(i)
	}
	wg.Wait()
	close(stopProg)
	<-progDone
	if progress != nil {
		progress(f.Progress())
	}
	if f.spec.PingInterval > 0 {
		go f.pingLoop()
	} else {
		close(f.pingDone)
	}
}

func (f *Fleet) fail(cause string) {
	f.fmu.Lock()
	f.failures[cause]++
	f.fmu.Unlock()
}

func (f *Fleet) connectOne(ctx context.Context, dialer ws.Dialer, i int) {
	f.attempted.Add(1)
	t0 := time.Now()
	dctx, cancel := context.WithTimeout(ctx, f.spec.HandshakeTimeout)
	defer cancel()
	d := i % len(f.raddrs)
	var c netpoll.Connection
	var err error
	if len(f.laddrs) == 0 {
		c, err = netpoll.DialTCP(dctx, "tcp", nil, f.raddrs[d])
	} else {
		// Bind an explicit source port: bind() with port 0 searches the
		// port range linearly and costs ~1.5 ms of CPU per call once
		// ~10,000 ports of the address are taken.
		base := f.laddrs[i%len(f.laddrs)]
		for try := 0; try < 64; try++ {
			laddr := &netpoll.TCPAddr{TCPAddr: net.TCPAddr{IP: base.IP, Port: f.nextPort()}}
			c, err = netpoll.DialTCP(dctx, "tcp", laddr, f.raddrs[d])
			if !errors.Is(err, syscall.EADDRINUSE) && !errors.Is(err, syscall.EADDRNOTAVAIL) {
				break
			}
		}
	}
	if err != nil {
		f.fail(classifyDial(err))
		return
	}
	kind := TypeServer
	sec := f.spec.ServerSecret
	if f.isClient(i) {
		kind, sec = TypeClient, f.spec.ClientSecret
	}
	u := &url.URL{Scheme: "ws", Host: f.hosts[d], Path: f.spec.Path,
		RawQuery: "type=" + kind + "&token=" + secret.EncodeToken(sec, time.Now().UnixMilli(), 2+(i*7919)%40)}
	// A watchdog instead of netpoll read/write timeouts: those keep a
	// timer attached to the connection for its whole life.
	var phase atomic.Int32 // 0 handshake, 1 sync, 2 done, 3 timed out
	watchdog := time.AfterFunc(f.spec.HandshakeTimeout, func() {
		if phase.CompareAndSwap(0, 3) {
			_ = c.Close()
		}
	})
	defer func() { watchdog.Stop() }() // the watchdog in force at return (it is replaced below)
	br, _, err := dialer.Upgrade(c, u)
	if err != nil {
		if phase.Load() == 3 {
			err = netpoll.ErrReadTimeout
		}
		f.fail(classifyHandshake(err))
		_ = c.Close()
		return
	}
	f.Handshake.Record(time.Since(t0))
	cn := &conn{c: c, f: f, client: kind == TypeClient}
	if br != nil {
		// The server wrote right after the 101 (a FeatBit-style close 4003
		// after accepting). Look at what it sent.
		peek, _ := br.Peek(br.Buffered())
		early := append([]byte(nil), peek...)
		cause := "handshake: early data"
		if ws.OpCode(early[0]&0x0f) == ws.OpClose {
			if len(early) < 4 {
				if more, err := c.Reader().Next(4 - len(early)); err == nil {
					early = append(early, more...)
				}
			}
			if len(early) >= 4 {
				cause = "close " + strconv.Itoa(int(early[2])<<8|int(early[3]))
			}
		}
		ws.PutReader(br)
		f.fail(cause)
		_ = c.Close()
		return
	}
	full := f.fullSync(i)
	req, op := f.syncRequest(i, cn.client, full)
	frame := clientFrame(make([]byte, 0, len(req)+14), op, req, ws.NewMask())
	if !phase.CompareAndSwap(0, 1) {
		f.fail("handshake: timeout")
		_ = c.Close()
		return
	}
	watchdog.Stop()
	watchdog = time.AfterFunc(f.spec.SyncTimeout, func() {
		if phase.CompareAndSwap(1, 3) {
			_ = c.Close()
		}
	})
	t1 := time.Now()
	if _, err := c.Write(frame); err != nil {
		f.fail("sync: write: " + errText(err))
		_ = c.Close()
		return
	}
	r := c.Reader()
	for {
		op, fin, p, err := readFrame(r)
		if err != nil {
			if phase.Load() == 3 {
				err = netpoll.ErrReadTimeout
			}
			f.fail("sync: " + errText(err))
			_ = c.Close()
			return
		}
		f.msgsIn.Add(1)
		switch {
		case op == ws.OpClose:
			f.fail("close " + strconv.Itoa(closeCode(p)))
			_ = r.Release()
			_ = c.Close()
			return
		case op == ws.OpPing:
			_ = r.Release()
			continue
		case !fin || op == ws.OpContinuation:
			f.fail("sync: fragmented full sync (unsupported)")
			_ = r.Release()
			_ = c.Close()
			return
		}
		mt := messageType(p)
		if mt != "data-sync" {
			_ = r.Release()
			continue
		}
		et := eventType(p)
		if et != wantSync(full) {
			f.fail("sync: first data-sync is " + strconv.Quote(et))
			_ = r.Release()
			_ = c.Close()
			return
		}
		took, n := time.Since(t1), len(p)
		_ = r.Release()
		if !phase.CompareAndSwap(1, 2) {
			f.fail("sync: timeout")
			_ = c.Close()
			return
		}
		f.recordSync(cn.client, full, n, int64(took))
		break
	}
	_ = c.AddCloseCallback(cn.onClose)
	f.cmu.Lock()
	f.conns = append(f.conns, cn)
	f.cmu.Unlock()
	_ = c.SetOnRequest(cn.onRequest)
}

func (f *Fleet) isClient(i int) bool {
	if f.spec.ClientShare <= 0 {
		return false
	}
	if f.spec.ClientShare >= 1 {
		return true
	}
	// spread client connections evenly: i is a client when the share crosses an integer
	return int(float64(i+1)*f.spec.ClientShare) != int(float64(i)*f.spec.ClientShare)
}

// pingLoop sends FeatBit application pings so that each connection pings
// once per PingInterval, spread evenly over the interval.
func (f *Fleet) pingLoop() {
	defer close(f.pingDone)
	const tick = 100 * time.Millisecond
	t := time.NewTicker(tick)
	defer t.Stop()
	next := 0
	carry := 0.0
	for {
		select {
		case <-f.stopPing:
			return
		case <-t.C:
		}
		f.cmu.Lock()
		n := len(f.conns)
		carry += float64(n) * float64(tick) / float64(f.spec.PingInterval)
		k := int(carry)
		carry -= float64(k)
		batch := make([]*conn, 0, k)
		for j := 0; j < k && n > 0; j++ {
			if next >= n {
				next = 0
			}
			batch = append(batch, f.conns[next])
			next++
		}
		f.cmu.Unlock()
		for _, cn := range batch {
			if cn.send(f.pingFrame) == nil {
				f.pingsOut.Add(1)
			}
		}
	}
}

// PingAll sends one FeatBit ping on every open connection (the answers
// show in Report's Pongs); it returns once the pings are queued.
func (f *Fleet) PingAll() {
	if f.loop != nil {
		f.loop.pingAll.Store(true)
		return
	}
	f.cmu.Lock()
	conns := append([]*conn(nil), f.conns...)
	f.cmu.Unlock()
	for _, cn := range conns {
		if cn.send(f.pingFrame) == nil {
			f.pingsOut.Add(1)
		}
	}
}

// Close closes every connection (a client close frame 1000, then the
// socket) and stops the pinger.
func (f *Fleet) Close() {
	if !f.closing.CompareAndSwap(false, true) {
		return
	}
	if f.loop != nil {
		<-f.loopDone
		return
	}
	close(f.stopPing)
	<-f.pingDone
	f.cmu.Lock()
	conns := f.conns
	f.conns = nil
	f.cmu.Unlock()
	closeFrame := clientFrame(nil, ws.OpClose, []byte{0x03, 0xe8}, [4]byte{1, 2, 3, 4})
	for _, cn := range conns {
		_ = cn.send(closeFrame)
		_ = cn.c.Close()
	}
}

// Progress is a cheap snapshot of the counters.
type Progress struct {
	Attempted int64 `json:"attempted"`
	Open      int64 `json:"open"`
	Synced    int64 `json:"synced"`
	Failed    int64 `json:"failed"`
	Lost      int64 `json:"lost"`
	AtMs      int64 `json:"atMs"`
}

// Progress returns the current counters.
func (f *Fleet) Progress() Progress {
	f.fmu.Lock()
	var failed int64
	for _, n := range f.failures {
		failed += n
	}
	f.fmu.Unlock()
	return Progress{Attempted: f.attempted.Load(), Open: f.open.Load(), Synced: f.synced.Load(),
		Failed: failed, Lost: f.lost.Load(), AtMs: time.Now().UnixMilli()}
}

// PushStat is what one fleet saw of one change.
type PushStat struct {
	Seq     int   `json:"seq"`
	N       int64 `json:"n"`
	SentNs  int64 `json:"sentNs"`
	FirstNs int64 `json:"firstNs"`
	LastNs  int64 `json:"lastNs"`
}

// Report is everything a fleet measured.
type Report struct {
	Worker     int              `json:"worker"`
	Pid        int              `json:"pid"`
	Progress   Progress         `json:"progress"`
	Failures   map[string]int64 `json:"failures"`
	Handshake  hist.Snap        `json:"handshake"`
	FirstSync  hist.Snap        `json:"firstSync"`
	DeltaSync  hist.Snap        `json:"deltaSync"`
	FullSyncs  int64            `json:"fullSyncs"`  // connections synced with a full sync
	DeltaSyncs int64            `json:"deltaSyncs"` // connections synced with a delta (reconnecting SDKs)
	DeltaBytes int64            `json:"deltaBytes"`
	ClientSync int64            `json:"clientSynced"` // synced connections of type client
	Push       hist.Snap        `json:"push"`
	Pushes     []PushStat       `json:"pushes"`
	SyncBytes  int64            `json:"syncBytes"`
	MsgsIn     int64            `json:"msgsIn"`
	Pongs      int64            `json:"pongs"`
	PingsOut   int64            `json:"pingsOut"`
	Patches    int64            `json:"patches"`
	DupPushes  int64            `json:"dupPushes"`
	ConnectSec float64          `json:"connectSec"`
}

// Report returns the measurements so far.
func (f *Fleet) Report() Report {
	r := Report{Worker: f.spec.Worker, Pid: os.Getpid(), Progress: f.Progress(), Failures: map[string]int64{},
		Handshake: f.Handshake.Snapshot(), FirstSync: f.FirstSync.Snapshot(), DeltaSync: f.DeltaSync.Snapshot(),
		FullSyncs: f.fullSyncs.Load(), DeltaSyncs: f.deltaSyncs.Load(), DeltaBytes: f.deltaBytes.Load(), ClientSync: f.clientSynced.Load(), Push: f.Push.Snapshot(),
		SyncBytes: f.syncBytes.Load(), MsgsIn: f.msgsIn.Load(), Pongs: f.pongs.Load(), PingsOut: f.pingsOut.Load(),
		Patches: f.patches.Load(), DupPushes: f.dupPushes.Load()}
	f.fmu.Lock()
	for k, v := range f.failures {
		r.Failures[k] = v
	}
	f.fmu.Unlock()
	for seq := 1; seq < len(f.pushes); seq++ {
		s := &f.pushes[seq]
		if n := s.n.Load(); n > 0 {
			r.Pushes = append(r.Pushes, PushStat{Seq: seq, N: n, SentNs: s.sentNs.Load(), FirstNs: s.first.Load(), LastNs: s.last.Load()})
		}
	}
	return r
}

// SortedFailures returns failure causes by decreasing count.
func SortedFailures(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	return keys
}

func classifyDial(err error) string {
	var errno syscall.Errno
	switch {
	case errors.Is(err, netpoll.ErrConnClosed):
		// netpoll reports a hang-up while connecting; on loopback that is a refusal
		return "dial: connection refused"
	case errors.Is(err, netpoll.ErrDialTimeout):
		return "dial: timeout"
	case errors.As(err, &errno) && errno < 0x100:
		return "dial: " + errno.Error()
	case errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "timeout"):
		return "dial: timeout"
	}
	return "dial: " + errText(err)
}

func classifyHandshake(err error) string {
	var se ws.StatusError
	if errors.As(err, &se) {
		return "handshake: HTTP " + strconv.Itoa(int(se))
	}
	if errors.Is(err, netpoll.ErrReadTimeout) || strings.Contains(err.Error(), "timeout") {
		return "handshake: timeout"
	}
	return "handshake: " + errText(err)
}

// errText shortens an error to a stable cause (no addresses).
func errText(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) && errno < 0x100 {
		return errno.Error()
	}
	switch {
	case errors.Is(err, netpoll.ErrReadTimeout), strings.Contains(err.Error(), "timeout"):
		return "timeout"
	case errors.Is(err, netpoll.ErrEOF), strings.Contains(err.Error(), "EOF"):
		return "EOF"
	case errors.Is(err, netpoll.ErrConnClosed), strings.Contains(err.Error(), "closed"):
		return "connection closed"
	}
	s := err.Error()
	if len(s) > 60 {
		s = s[:60]
	}
	return s
}
