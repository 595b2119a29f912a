package envstate

import (
	"bytes"

	"github.com/gobwas/ws"

	"github.com/switchyard/switchyard/codec/wire"
)

// Full returns the full server-SDK sync (all flags, archived included, and
// all segments) in format (JSON or MsgPack) as Parts: the WebSocket frame
// header, the message's head, each chunk of 128 flags (with ',' between
// JSON chunks), the segments and the tail. The chunks' bytes are built on
// first use and shared with every State that shares the chunk, so after a
// change only the changed flag's chunk is encoded again (assembled from
// the items' encodings: no item is encoded again), and a full sync is
// written to a connection from those pieces rather than copied into one
// buffer per State.
func (st *State) Full(format int) *Encoded {
	if e := st.full[format].Load(); e != nil {
		return e
	}
	parts := make([][]byte, 1, 2*st.flags.numChunks()+4) // [0]: the frame header
	n := 0
	add := func(b []byte) {
		if len(b) > 0 {
			parts = append(parts, b)
			n += len(b)
		}
	}
	op := ws.OpText
	if format == MsgPack {
		op = ws.OpBinary
		add(wire.AppendServerSyncMPHead(nil, "full", st.flags.n))
		st.flags.eachChunk(func(c *flagChunk) { add(c.bytes(MsgPack)) })
	} else {
		add(wire.AppendServerSyncHead(nil, "full"))
		first := true
		st.flags.eachChunk(func(c *flagChunk) {
			b := c.bytes(JSON)
			if len(b) == 0 {
				return
			}
			if !first {
				add(comma)
			}
			first = false
			add(b)
		})
	}
	add(st.appendSegsTail(nil, format))
	var h bytes.Buffer
	_ = ws.WriteHeader(&h, ws.Header{Fin: true, OpCode: op, Length: int64(n)})
	parts[0] = h.Bytes()
	e := &Encoded{Parts: parts}
	st.full[format].Store(e)
	return e
}

var comma = []byte{','}

// FullBody returns the full sync of Full as one message (an HTTP response
// body), built on first use per State.
func (st *State) FullBody(format int) []byte {
	if p := st.fullBody[format].Load(); p != nil {
		return *p
	}
	parts := st.Full(format).Parts[1:]
	size := 0
	for _, p := range parts {
		size += len(p)
	}
	b := make([]byte, 0, size)
	for _, p := range parts {
		b = append(b, p...)
	}
	st.fullBody[format].Store(&b)
	return b
}

// appendSegsTail appends what follows the flags in a full sync: the
// segments and the end of the message.
func (st *State) appendSegsTail(b []byte, format int) []byte {
	if format == MsgPack {
		b = wire.AppendServerSyncMPMid(b, len(st.Segs))
		for _, sg := range st.Segs {
			b = append(b, sg.MP...)
		}
		return b
	}
	b = append(b, wire.ServerSyncMid...)
	first := true
	for _, sg := range st.Segs {
		if len(sg.JSON) == 0 {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, sg.JSON...)
	}
	return append(b, wire.ServerSyncTail...)
}
