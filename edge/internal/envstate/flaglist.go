package envstate

import (
	"iter"
	"sync/atomic"
)

// chunkBits sets the chunk size of a flagList (128 flags).
const (
	chunkBits = 7
	chunkSize = 1 << chunkBits
)

// flagChunk is one chunk of a flagList. A chunk is never changed once a
// list holds it (an update copies it), so its full-sync bytes, built on
// first use, stay valid for every State that shares it.
type flagChunk struct {
	f   [chunkSize]*Flag
	n   int                       // flags in f (the last chunk of a list may hold fewer)
	enc [2]atomic.Pointer[[]byte] // by format: the flags' encodings, JSON joined with ',', msgp concatenated
}

// bytes returns the chunk's flags encoded for a full sync in format.
func (c *flagChunk) bytes(format int) []byte {
	if p := c.enc[format].Load(); p != nil {
		return *p
	}
	size := 0
	for _, f := range c.f[:c.n] {
		size += len(f.MP) + 1
		if format == JSON {
			size += len(f.JSON) - len(f.MP)
		}
	}
	b := make([]byte, 0, size)
	for _, f := range c.f[:c.n] {
		if format == MsgPack {
			b = append(b, f.MP...)
			continue
		}
		if len(f.JSON) == 0 {
			continue
		}
		if len(b) > 0 {
			b = append(b, ',')
		}
		b = append(b, f.JSON...)
	}
	c.enc[format].Store(&b)
	return b
}

// flagList is the flags of a State in slot-independent order: a persistent
// (copy-on-write) list of fixed-size chunks. A State never changes its
// list; replacing or appending one flag copies the chunk it lands in and the
// list of chunk pointers (8 bytes per 128 flags), not the whole list, so an
// update costs about 1 KB plus n/16 bytes instead of 8n bytes (400 KB at
// 50,000 flags). Removing a flag rebuilds the list (O(n); the indexes are
// rebuilt then anyway).
type flagList struct {
	chunks []*flagChunk
	n      int
}

func (l *flagList) at(i int) *Flag { return l.chunks[i>>chunkBits].f[i&(chunkSize-1)] }

// set returns a list with flag i replaced by f (l unchanged).
func (l flagList) set(i int, f *Flag) flagList {
	chunks := append([]*flagChunk(nil), l.chunks...)
	old := chunks[i>>chunkBits]
	c := &flagChunk{f: old.f, n: old.n}
	c.f[i&(chunkSize-1)] = f
	chunks[i>>chunkBits] = c
	return flagList{chunks: chunks, n: l.n}
}

// push returns a list with f appended (l unchanged).
func (l flagList) push(f *Flag) flagList {
	ci := l.n >> chunkBits
	chunks := make([]*flagChunk, max(len(l.chunks), ci+1))
	copy(chunks, l.chunks)
	c := &flagChunk{}
	if ci < len(l.chunks) {
		c.f, c.n = l.chunks[ci].f, l.chunks[ci].n
	}
	c.f[l.n&(chunkSize-1)] = f
	c.n++
	chunks[ci] = c
	return flagList{chunks: chunks, n: l.n + 1}
}

// makeFlagList builds a list from fs.
func makeFlagList(fs []*Flag) flagList {
	l := flagList{chunks: make([]*flagChunk, (len(fs)+chunkSize-1)/chunkSize), n: len(fs)}
	for ci := range l.chunks {
		c := new(flagChunk)
		c.n = copy(c.f[:], fs[ci*chunkSize:min(len(fs), (ci+1)*chunkSize)])
		l.chunks[ci] = c
	}
	return l
}

// slice returns the flags as a new slice (O(n)).
func (l *flagList) slice() []*Flag {
	out := make([]*Flag, 0, l.n)
	for i := range l.n {
		out = append(out, l.at(i))
	}
	return out
}

// NumFlags is the number of flags of the State.
func (st *State) NumFlags() int { return st.flags.n }

// FlagAt returns flag i (0 <= i < NumFlags) in the State's order.
func (st *State) FlagAt(i int) *Flag { return st.flags.at(i) }

// FlagList yields every flag of the State with its index, in the State's
// order (for i, f := range st.FlagList()). It does not allocate.
func (st *State) FlagList() iter.Seq2[int, *Flag] {
	return func(yield func(int, *Flag) bool) {
		i := 0
		for _, c := range st.flags.chunks {
			for _, f := range c.f[:c.n] {
				if !yield(i, f) {
					return
				}
				i++
			}
		}
	}
}

// Flags returns the State's flags as a new slice (O(n): for tests and
// rare paths; iterate with FlagList).
func (st *State) Flags() []*Flag { return st.flags.slice() }

// remove returns a list without flag i (l unchanged): the last flag takes
// its place (the order of the flags is not kept), so a removal copies at
// most two chunks and the list of chunk pointers, like set. It returns the
// flag that moved to i (nil when i was the last).
func (l flagList) remove(i int) (flagList, *Flag) {
	last := l.n - 1
	lc := last >> chunkBits
	var chunks []*flagChunk
	if last&(chunkSize-1) == 0 { // the last chunk holds only the last flag: drop it
		chunks = append(make([]*flagChunk, 0, lc), l.chunks[:lc]...)
	} else {
		chunks = append(make([]*flagChunk, 0, lc+1), l.chunks[:lc+1]...)
		old := chunks[lc]
		c := &flagChunk{f: old.f, n: old.n - 1}
		c.f[c.n] = nil
		chunks[lc] = c
	}
	if i == last {
		return flagList{chunks: chunks, n: last}, nil
	}
	moved := l.at(last)
	ci := i >> chunkBits
	c := &flagChunk{f: chunks[ci].f, n: chunks[ci].n}
	c.f[i&(chunkSize-1)] = moved
	chunks[ci] = c
	return flagList{chunks: chunks, n: last}, moved
}
