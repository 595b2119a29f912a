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
// (copy-on-write) list of fixed-size chunks of 128 flags, held in groups of
// 32 chunks. A State never changes its list; replacing, appending or
// removing one flag copies the chunk it lands in (1 KB), its group (256
// bytes) and the list of group pointers (8 bytes per 4,096 flags: 104 bytes
// at 50,000), not the whole list (400 KB at 50,000 flags), so the cost
// barely moves with the size of the environment.
type flagList struct {
	groups []*chunkGroup
	n      int
}

// chunkGroup is one group of a flagList; like a chunk, never changed once
// a list holds it.
type chunkGroup struct {
	c [groupSize]*flagChunk
	n int // chunks in c
}

const (
	groupBits = 5
	groupSize = 1 << groupBits
)

func (l *flagList) chunk(ci int) *flagChunk { return l.groups[ci>>groupBits].c[ci&(groupSize-1)] }

func (l *flagList) at(i int) *Flag { return l.chunk(i >> chunkBits).f[i&(chunkSize-1)] }

// numChunks is the number of chunks of the list.
func (l *flagList) numChunks() int { return (l.n + chunkSize - 1) >> chunkBits }

// eachChunk calls f for every chunk in order.
func (l *flagList) eachChunk(f func(*flagChunk)) {
	for _, g := range l.groups {
		for _, c := range g.c[:g.n] {
			f(c)
		}
	}
}

// withChunk returns a list with chunk ci replaced by c (ci may be the next
// chunk after the last: appended), holding n flags (l unchanged).
func (l flagList) withChunk(ci int, c *flagChunk, n int) flagList {
	gi := ci >> groupBits
	groups := make([]*chunkGroup, max(len(l.groups), gi+1))
	copy(groups, l.groups)
	g := new(chunkGroup)
	if gi < len(l.groups) {
		*g = *l.groups[gi]
	}
	g.c[ci&(groupSize-1)] = c
	g.n = max(g.n, ci&(groupSize-1)+1)
	groups[gi] = g
	return flagList{groups: groups, n: n}
}

// set returns a list with flag i replaced by f (l unchanged).
func (l flagList) set(i int, f *Flag) flagList {
	old := l.chunk(i >> chunkBits)
	c := &flagChunk{f: old.f, n: old.n}
	c.f[i&(chunkSize-1)] = f
	return l.withChunk(i>>chunkBits, c, l.n)
}

// push returns a list with f appended (l unchanged).
func (l flagList) push(f *Flag) flagList {
	ci := l.n >> chunkBits
	c := &flagChunk{}
	if ci < l.numChunks() {
		old := l.chunk(ci)
		c.f, c.n = old.f, old.n
	}
	c.f[l.n&(chunkSize-1)] = f
	c.n++
	return l.withChunk(ci, c, l.n+1)
}

// remove returns a list without flag i (l unchanged): the last flag takes
// its place (the order of the flags is not kept), so a removal copies at
// most two chunks and their groups, like set. It returns the flag that
// moved to i (nil when i was the last).
func (l flagList) remove(i int) (flagList, *Flag) {
	last := l.n - 1
	var moved *Flag
	if i != last {
		moved = l.at(last)
		l = l.set(i, moved)
	}
	lc := last >> chunkBits
	if last&(chunkSize-1) != 0 { // the last chunk keeps flags: copy it without the last
		old := l.chunk(lc)
		c := &flagChunk{f: old.f, n: old.n - 1}
		c.f[c.n] = nil
		return l.withChunk(lc, c, last), moved
	}
	// the last chunk held only the last flag: drop it (and its group when
	// it was the group's only chunk)
	gi := lc >> groupBits
	if lc&(groupSize-1) == 0 {
		return flagList{groups: append([]*chunkGroup(nil), l.groups[:gi]...), n: last}, moved
	}
	groups := append([]*chunkGroup(nil), l.groups...)
	g := new(chunkGroup)
	*g = *groups[gi]
	g.n--
	g.c[g.n] = nil
	groups[gi] = g
	return flagList{groups: groups, n: last}, moved
}

// makeFlagList builds a list from fs.
func makeFlagList(fs []*Flag) flagList {
	l := flagList{n: len(fs)}
	nc := l.numChunks()
	l.groups = make([]*chunkGroup, (nc+groupSize-1)/groupSize)
	for gi := range l.groups {
		l.groups[gi] = new(chunkGroup)
	}
	for ci := range nc {
		c := new(flagChunk)
		c.n = copy(c.f[:], fs[ci*chunkSize:min(len(fs), (ci+1)*chunkSize)])
		g := l.groups[ci>>groupBits]
		g.c[ci&(groupSize-1)] = c
		g.n++
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
		for _, g := range st.flags.groups {
			for _, c := range g.c[:g.n] {
				for _, f := range c.f[:c.n] {
					if !yield(i, f) {
						return
					}
					i++
				}
			}
		}
	}
}

// Flags returns the State's flags as a new slice (O(n): for tests and
// rare paths; iterate with FlagList).
func (st *State) Flags() []*Flag { return st.flags.slice() }
