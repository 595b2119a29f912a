package wsconn

import (
	"bytes"
	"io"
	"net"
	"reflect"
	"testing"
	"time"

	"github.com/cloudwego/netpoll"
)

// TestBarrierTuned checks that the swap in barrier.go took: netpoll's pool
// hands out its own barrier type with barrierEntries of scratch. It fails
// when a netpoll upgrade changed what the swap relies on.
func TestBarrierTuned(t *testing.T) {
	Tune(0, 0)
	if !BarrierTuned() {
		t.Fatal("netpoll's barrier pool was not swapped: its layout changed, redo barrier.go for this netpoll version")
	}
	v := netpollBarrierPool.Get()
	defer netpollBarrierPool.Put(v)
	rt := reflect.TypeOf(v)
	if rt.Kind() != reflect.Pointer || rt.Elem().PkgPath() != "github.com/cloudwego/netpoll" || rt.Elem().Name() != "barrier" {
		t.Fatalf("pool gives %v, want *netpoll.barrier", rt)
	}
	b := (*barrierLayout)(reflect.ValueOf(v).UnsafePointer())
	if len(b.bs) != barrierEntries || len(b.ivs) != barrierEntries {
		t.Fatalf("barrier has %d/%d entries, want %d", len(b.bs), len(b.ivs), barrierEntries)
	}
}

// TestFlushMoreNodesThanBarrier writes more output nodes than a barrier
// holds and flushes once: netpoll sends barrierEntries directly and the
// poller the rest; every byte must arrive, in order.
func TestFlushMoreNodesThanBarrier(t *testing.T) {
	Tune(0, 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := netpoll.DialConnection("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()

	const nodes, size = 5 * barrierEntries, 5000 // > 4 KiB: one no-copy node each
	var want bytes.Buffer
	w := c.Writer()
	for i := range nodes {
		chunk := bytes.Repeat([]byte{byte('a' + i%26)}, size)
		want.Write(chunk)
		if _, err := w.WriteBinary(chunk); err != nil {
			t.Fatal(err)
		}
	}
	got := make(chan []byte, 1)
	go func() {
		b := make([]byte, want.Len())
		_ = peer.SetReadDeadline(time.Now().Add(20 * time.Second))
		n, _ := io.ReadFull(peer, b)
		got <- b[:n]
	}()
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if b := <-got; !bytes.Equal(b, want.Bytes()) {
		t.Fatalf("received %d of %d bytes, or out of order", len(b), want.Len())
	}
}
