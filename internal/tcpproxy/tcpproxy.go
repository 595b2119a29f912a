// Package tcpproxy is a test helper: a TCP proxy a test puts between two
// components to break the link between them without stopping either (the
// shared services of the integration tests are never stopped). It imports
// only the standard library, so every component's tests share it.
//
// Three ways to break the link, each undone by Resume:
//   - Cut: the backend is unreachable (every held connection and every new
//     one is closed at once: refused or reset);
//   - Stall: the backend hangs (connections stay open, nothing is
//     forwarded; the bytes are held and delivered after Resume);
//   - Stop: the proxy's port closes (connection refused, as when the
//     process died); Resume listens on the same port again.
package tcpproxy

import (
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Proxy forwards TCP connections from its own loopback port to a backend.
type Proxy struct {
	addr    string
	backend string

	mu      sync.Mutex
	ln      net.Listener // nil while stopped
	down    bool
	stalled bool
	conns   map[net.Conn]struct{}
}

// New listens on a free loopback port below the kernel's ephemeral range
// (so that after Stop the port cannot be handed to some client's outgoing
// connection before Resume) and forwards to backend (host:port) until the
// end of the test.
func New(t testing.TB, backend string) *Proxy {
	t.Helper()
	p := &Proxy{backend: backend, conns: map[net.Conn]struct{}{}}
	for range 100 {
		addr := "127.0.0.1:" + strconv.Itoa(20000+rand.IntN(12000))
		if ln, err := net.Listen("tcp", addr); err == nil {
			p.addr = addr
			p.serve(ln)
			t.Cleanup(p.Stop)
			return p
		}
	}
	t.Fatal("tcpproxy: no free port in 20000-31999")
	return nil
}

// Addr is the proxy's address (host:port); it stays the same after Stop.
func (p *Proxy) Addr() string { return p.addr }

func (p *Proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			// piped even while stalled: the copy holds the bytes, so a
			// connection opened during a stall works once it ends
			go p.pipe(c)
		}
	}()
}

// track records c so that Cut and Stop close it; false (and c closed) when
// the link is broken.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down || p.ln == nil {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) pipe(c net.Conn) {
	if !p.track(c) {
		return
	}
	b, err := net.DialTimeout("tcp", p.backend, 5*time.Second)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(b) {
		c.Close()
		return
	}
	go func() { p.copy(b, c); b.Close(); c.Close() }()
	p.copy(c, b)
	c.Close()
	b.Close()
}

// copy forwards src to dst; while the proxy is stalled it holds the bytes.
func (p *Proxy) copy(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		for p.isStalled() {
			time.Sleep(20 * time.Millisecond)
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *Proxy) isStalled() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stalled
}

func (p *Proxy) closeConns() {
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// Cut closes every forwarded connection and refuses new ones (they are
// accepted and closed at once) until Resume.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	p.closeConns()
}

// Stall makes the backend hang until Resume: connections stay open and
// nothing is forwarded.
func (p *Proxy) Stall() {
	p.mu.Lock()
	p.stalled = true
	p.mu.Unlock()
}

// Stop closes the proxy's port and every forwarded connection, as when the
// backend's process dies; Resume listens on the same port again.
func (p *Proxy) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	p.closeConns()
}

// Resume undoes Cut, Stall and Stop. After Stop it fails the test if the
// port cannot be listened on again.
func (p *Proxy) Resume(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	p.down, p.stalled = false, false
	stopped := p.ln == nil
	p.mu.Unlock()
	if stopped {
		ln, err := net.Listen("tcp", p.addr)
		if err != nil {
			t.Fatalf("tcpproxy: listen again on %s: %v", p.addr, err)
		}
		p.serve(ln)
	}
}

