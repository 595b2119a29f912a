package fleet

import (
	"strconv"
	"time"

	"github.com/gobwas/ws"
)

// Reconnecting SDKs. A FeatBit SDK that already holds an environment's
// data sends the timestamp (updatedAt, Unix ms) of its newest item in its
// data-sync request and gets back only what is newer: a "patch" (server
// SDKs: the changed flags and segments, sent even when empty; client SDKs:
// the changed flags evaluated for the user). With Spec.DeltaSince > 0 a
// fleet mixes such reconnecting connections with cold ones: connection i
// does a full sync (timestamp 0) when fullSync(i), else a delta sync from
// DeltaSince, and its first data-sync must be a "patch".

// MaxFrame bounds one frame a connection reads: a full sync of a 50,000-flag
// environment is ~85 MB of JSON (one frame from the edge).
const MaxFrame = 256 << 20

// golden is the fractional part of the golden ratio: frac(i·golden) is
// spread evenly over [0, 1) and independent of the integer-crossing rule
// isClient uses, so full syncs fall on server and client connections alike.
const golden = 0.6180339887498949

// fullSync reports whether connection i asks for a full sync.
func (f *Fleet) fullSync(i int) bool {
	s := f.spec.FullSyncShare
	if f.spec.DeltaSince <= 0 || s >= 1 {
		return true
	}
	if s <= 0 {
		return false
	}
	x := float64(i+1) * golden
	return x-float64(int64(x)) < s
}

// syncRequest is connection i's data-sync request (not framed) and its
// opcode.
func (f *Fleet) syncRequest(i int, client, full bool) ([]byte, ws.OpCode) {
	var ts int64
	if !full {
		ts = f.spec.DeltaSince
	}
	user := f.spec.UserBase + i
	switch {
	case f.spec.Msgpack && client:
		return mpClientSync(make([]byte, 0, 256), user, ts), ws.OpBinary
	case f.spec.Msgpack:
		return mpServerSync(ts), ws.OpBinary
	case client:
		return appendClientSync(make([]byte, 0, 256), user, ts), ws.OpText
	}
	b := append(make([]byte, 0, 64), `{"messageType":"data-sync","data":{"timestamp":`...)
	b = strconv.AppendInt(b, ts, 10)
	return append(b, "}}"...), ws.OpText
}

// recordSync counts a connection's first data-sync (full or delta) of n bytes
// that took ns nanoseconds from the request.
func (f *Fleet) recordSync(client, full bool, n int, ns int64) {
	if full {
		f.FirstSync.Record(durNs(ns))
		f.syncBytes.Add(int64(n))
		f.fullSyncs.Add(1)
	} else {
		f.DeltaSync.Record(durNs(ns))
		f.deltaBytes.Add(int64(n))
		f.deltaSyncs.Add(1)
	}
	if client {
		f.clientSynced.Add(1)
	}
	f.synced.Add(1)
	f.open.Add(1)
}

// wantSync is the event type of the first data-sync a connection waits
// for.
func wantSync(full bool) string {
	if full {
		return "full"
	}
	return "patch"
}

func durNs(ns int64) time.Duration { return time.Duration(ns) }
