package envstate_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/gobwas/ws"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/codec/wire"
	"github.com/switchyard/switchyard/edge/internal/envstate"
)

// wantFull is the full sync as one message, assembled item by item.
func wantFull(st *envstate.State, format int) []byte {
	var fl, sl [][]byte
	for _, f := range st.FlagList() {
		if format == envstate.MsgPack {
			fl = append(fl, f.MP)
		} else {
			fl = append(fl, f.JSON)
		}
	}
	for _, s := range st.Segs {
		if format == envstate.MsgPack {
			sl = append(sl, s.MP)
		} else {
			sl = append(sl, s.JSON)
		}
	}
	if format == envstate.MsgPack {
		return wire.AppendServerSyncMP(nil, "full", fl, sl)
	}
	return wire.AppendServerSyncRaw(nil, "full", fl, sl)
}

// checkFull: the parts of the full sync are one WebSocket frame (header
// length = the rest) whose payload is the message item by item, and
// FullBody is that payload.
func checkFull(t *testing.T, st *envstate.State) {
	t.Helper()
	for _, format := range []int{envstate.JSON, envstate.MsgPack} {
		e := st.Full(format)
		h, err := ws.ReadHeader(bytes.NewReader(e.Parts[0]))
		if err != nil {
			t.Fatal(err)
		}
		payload := bytes.Join(e.Parts[1:], nil)
		if int(h.Length) != len(payload) || !h.Fin || h.Masked {
			t.Fatalf("format %d: header %+v for a %d-byte payload", format, h, len(payload))
		}
		if want := wantFull(st, format); !bytes.Equal(payload, want) {
			t.Fatalf("format %d: the parts differ from the message (%d vs %d bytes)", format, len(payload), len(want))
		}
		if !bytes.Equal(st.FullBody(format), payload) {
			t.Fatalf("format %d: FullBody differs from the parts", format)
		}
	}
}

// TestFullSyncFromChunks: the full sync written from its parts is the
// message item by item, in both formats, after updates, additions and
// deletions; after one update every chunk of 128 flags but the changed
// one is the same bytes as before (shared, not encoded again).
func TestFullSyncFromChunks(t *testing.T) {
	snap := bigSnapshot(1000)
	st := envstate.Build(snap)
	checkFull(t, st)
	before := st.Full(envstate.JSON).Parts

	f := snap.Flags[300]
	f.Version++
	f.Name = "changed"
	ns, _, err := st.Apply(flagEvent(snap.EnvID, &f, codec.OpUpsert))
	if err != nil {
		t.Fatal(err)
	}
	checkFull(t, ns)
	after := ns.Full(envstate.JSON).Parts
	if len(after) != len(before) {
		t.Fatalf("%d parts before, %d after", len(before), len(after))
	}
	changed := 0
	for i := 2; i < len(after)-1; i++ { // [0] header, [1] head, [last] segments: per State
		if len(after[i]) > 1 && &after[i][0] != &before[i][0] {
			changed++
		}
	}
	if changed != 1 {
		t.Fatalf("%d chunks built again after one flag update, want 1", changed)
	}

	g := snap.Flags[5]
	g.ID, g.Key, g.Version = "added", "added-flag", 1
	ns, _, err = ns.Apply(flagEvent(snap.EnvID, &g, codec.OpUpsert))
	if err != nil {
		t.Fatal(err)
	}
	checkFull(t, ns)
	del := snap.Flags[900]
	del.Version++
	ns, _, err = ns.Apply(flagEvent(snap.EnvID, &del, codec.OpDelete))
	if err != nil || ns.FlagByID(del.ID) != nil {
		t.Fatalf("delete: %v", err)
	}
	checkFull(t, ns)
	checkFull(t, envstate.Build(bigSnapshot(3))) // fewer flags than a chunk
	checkFull(t, envstate.Build(&codec.EnvSnapshot{EnvID: "empty"}))
}

// BenchmarkFullAfterUpdate: one flag update, then the full sync a new
// connection receives (both formats), at 1,000, 10,000 and 50,000 flags:
// only the changed chunk of 128 flags is assembled again (docs/benchmarks.md).
func BenchmarkFullAfterUpdate(b *testing.B) {
	for _, n := range []int{1000, 10000, 50000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			snap := bigSnapshot(n)
			st := envstate.Build(snap)
			st.Full(envstate.JSON)
			st.Full(envstate.MsgPack)
			f := snap.Flags[1]
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				f.Version++
				ev := flagEvent(snap.EnvID, &f, codec.OpUpsert)
				b.StartTimer()
				ns, _, err := st.Apply(ev)
				if err != nil {
					b.Fatal(err)
				}
				ns.Full(envstate.JSON)
				ns.Full(envstate.MsgPack)
				st = ns
			}
		})
	}
}
