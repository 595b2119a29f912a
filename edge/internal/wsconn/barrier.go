package wsconn

import (
	"reflect"
	"sync"
	"syscall"
	_ "unsafe" // go:linkname

	"github.com/cloudwego/netpoll"
)

// netpoll gives every connection, for its whole life, a "barrier": scratch
// for a direct flush of up to 32 output nodes (32 slice headers + 32 iovecs,
// 1.3 KiB, a third of an idle connection's memory). The edge writes one
// node per message, and when a socket backs up netpoll's poller drains the
// rest with its own scratch, so a few entries suffice. netpoll has no
// setting for it; the pool that makes barriers is swapped, once, before
// the first connection, for one that makes barriers of barrierEntries.
//
// The swap checks the layout it relies on (a pointer to a struct of exactly
// bs [][]byte and ivs []syscall.Iovec, what netpoll v0.7.2 has). If a netpoll
// upgrade changes it, nothing is swapped, connections keep netpoll's
// default, and TestBarrierTuned fails so the check gets redone.
//
//go:linkname netpollBarrierPool github.com/cloudwego/netpoll.barrierPool
var netpollBarrierPool sync.Pool

var _ netpoll.Connection // the linked pool lives in netpoll, imported here

// barrierEntries is how many output nodes one direct flush sends (a
// sendmsg with that many iovecs); more are left to the poller.
const barrierEntries = 8

type barrierLayout struct {
	bs  [][]byte
	ivs []syscall.Iovec
}

var barrierTuned bool

// tuneBarrier swaps netpoll's barrier pool; call before any connection.
func tuneBarrier() bool {
	if netpollBarrierPool.New == nil {
		return false
	}
	proto := netpollBarrierPool.New()
	t := reflect.TypeOf(proto)
	if t == nil || t.Kind() != reflect.Pointer || !sameLayout(t.Elem()) {
		return false
	}
	elem := t.Elem()
	netpollBarrierPool.New = func() any {
		v := reflect.New(elem)
		b := (*barrierLayout)(v.UnsafePointer())
		b.bs = make([][]byte, barrierEntries)
		b.ivs = make([]syscall.Iovec, barrierEntries)
		return v.Interface()
	}
	return true
}

func sameLayout(t reflect.Type) bool {
	var want barrierLayout
	w := reflect.TypeOf(want)
	if t.Kind() != reflect.Struct || t.NumField() != w.NumField() || t.Size() != w.Size() {
		return false
	}
	for i := range w.NumField() {
		f, g := t.Field(i), w.Field(i)
		if f.Name != g.Name || f.Type != g.Type || f.Offset != g.Offset {
			return false
		}
	}
	return true
}

// BarrierTuned reports whether netpoll's per-connection flush scratch was
// reduced; false means netpoll's default is in use.
func BarrierTuned() bool { return barrierTuned }
