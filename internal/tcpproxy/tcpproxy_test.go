package tcpproxy

import (
	"bufio"
	"net"
	"testing"
	"time"
)

// echo is a backend that answers every line with the same line.
func echo(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					l, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := c.Write([]byte(l)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// roundTrip sends a line through addr and reads the answer within d.
func roundTrip(addr string, d time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, d)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(d))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	_, err = bufio.NewReader(c).ReadString('\n')
	return err
}

func TestProxyBreaksAndRestoresTheLink(t *testing.T) {
	p := New(t, echo(t))
	if err := roundTrip(p.Addr(), 5*time.Second); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}

	p.Cut()
	if err := roundTrip(p.Addr(), 5*time.Second); err == nil {
		t.Fatal("a round trip worked while the link was cut")
	}
	p.Resume(t)
	if err := roundTrip(p.Addr(), 5*time.Second); err != nil {
		t.Fatalf("after Resume from Cut: %v", err)
	}

	p.Stall()
	if err := roundTrip(p.Addr(), 300*time.Millisecond); err == nil {
		t.Fatal("a round trip worked while the link was stalled")
	}
	p.Resume(t)
	if err := roundTrip(p.Addr(), 5*time.Second); err != nil {
		t.Fatalf("after Resume from Stall: %v", err)
	}

	addr := p.Addr()
	p.Stop()
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("the proxy's port accepted a connection while stopped")
	}
	p.Resume(t)
	if p.Addr() != addr {
		t.Fatalf("address after Stop and Resume: %s, want %s", p.Addr(), addr)
	}
	if err := roundTrip(addr, 5*time.Second); err != nil {
		t.Fatalf("after Resume from Stop: %v", err)
	}
}
