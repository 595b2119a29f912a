package envstate

import (
	"hash/maphash"
	"unsafe"
)

// index is a persistent (copy-on-write) map from a string (a flag's id or
// key) to its position in a flagList. It is a trie of fixed shape: three
// levels of 32 branches chosen by the key's hash, then a short list of
// entries (32,768 lists: about one entry per list at 50,000 flags). Adding,
// replacing or removing one key (with, without) copies the three nodes on
// its path (256 bytes each) and its list, never the whole map, so the cost
// of an added or removed flag does not grow with the environment.
// An index returned by with or without is never modified again; put
// modifies in place and is only for an index being built (not yet shared).
// Lookups do not allocate.
type index struct {
	root *idxL1
	n    int
}

const (
	idxBits = 5
	idxFan  = 1 << idxBits
	idxMask = idxFan - 1
)

type (
	idxL1 [idxFan]*idxL2
	idxL2 [idxFan]*idxL3
	idxL3 [idxFan]*idxLeaf
)

// idxLeaf is one list of entries (never changed once in an index).
type idxLeaf []idxEntry

func (l *idxLeaf) entries() []idxEntry {
	if l == nil {
		return nil
	}
	return *l
}

type idxEntry struct {
	h   uint64
	key string
	val int32
}

// idxSeed is the process's hash seed: keys come from the control plane, but
// a random seed keeps crafted keys from piling into one list anyway.
var idxSeed = maphash.MakeSeed()

func idxHash(key string) uint64 { return maphash.String(idxSeed, key) }

// path returns the three branch numbers of hash h.
func path(h uint64) (a, b, c uint64) {
	return h & idxMask, (h >> idxBits) & idxMask, (h >> (2 * idxBits)) & idxMask
}

// get returns the value of key.
func (x *index) get(key string) (int, bool) {
	if x.root == nil {
		return 0, false
	}
	return x.find(idxHash(key), key)
}

// getBytes is get for a key in a byte slice (no conversion, no allocation
// at any length).
func (x *index) getBytes(key []byte) (int, bool) {
	if x.root == nil {
		return 0, false
	}
	return x.find(maphash.Bytes(idxSeed, key), unsafe.String(unsafe.SliceData(key), len(key)))
}

// find looks key up by its hash h; key is only compared, never kept.
func (x *index) find(h uint64, key string) (int, bool) {
	a, b, c := path(h)
	l2 := x.root[a]
	if l2 == nil {
		return 0, false
	}
	l3 := l2[b]
	if l3 == nil {
		return 0, false
	}
	for _, e := range l3[c].entries() {
		if e.h == h && e.key == key {
			return int(e.val), true
		}
	}
	return 0, false
}

// len is the number of keys.
func (x *index) len() int { return x.n }

// with returns an index with key set to val (x unchanged).
func (x index) with(key string, val int) index {
	h := idxHash(key)
	a, b, c := path(h)
	l1 := new(idxL1)
	if x.root != nil {
		*l1 = *x.root
	}
	l2 := new(idxL2)
	if l1[a] != nil {
		*l2 = *l1[a]
	}
	l3 := new(idxL3)
	if l2[b] != nil {
		*l3 = *l2[b]
	}
	old := l3[c].entries()
	list := make(idxLeaf, len(old), len(old)+1)
	copy(list, old)
	n := x.n
	found := false
	for i := range list {
		if list[i].h == h && list[i].key == key {
			list[i].val, found = int32(val), true
			break
		}
	}
	if !found {
		list = append(list, idxEntry{h: h, key: key, val: int32(val)})
		n++
	}
	l3[c], l2[b], l1[a] = &list, l3, l2
	return index{root: l1, n: n}
}

// without returns an index without key (x itself when key is absent).
func (x index) without(key string) index {
	if _, ok := x.get(key); !ok {
		return x
	}
	h := idxHash(key)
	a, b, c := path(h)
	l1, l2, l3 := new(idxL1), new(idxL2), new(idxL3)
	*l1, *l2, *l3 = *x.root, *x.root[a], *x.root[a][b]
	old := l3[c].entries()
	var leaf *idxLeaf // nil when the list becomes empty
	if len(old) > 1 {
		list := make(idxLeaf, 0, len(old)-1)
		for _, e := range old {
			if e.h != h || e.key != key {
				list = append(list, e)
			}
		}
		leaf = &list
	}
	l3[c], l2[b], l1[a] = leaf, l3, l2
	return index{root: l1, n: x.n - 1}
}

// put sets key to val in place: only for an index that is being built and
// shares no node with another index.
func (x *index) put(key string, val int) {
	h := idxHash(key)
	a, b, c := path(h)
	if x.root == nil {
		x.root = new(idxL1)
	}
	if x.root[a] == nil {
		x.root[a] = new(idxL2)
	}
	l2 := x.root[a]
	if l2[b] == nil {
		l2[b] = new(idxL3)
	}
	l3 := l2[b]
	if l3[c] == nil {
		l3[c] = new(idxLeaf)
	}
	leaf := l3[c]
	for i := range *leaf {
		if e := &(*leaf)[i]; e.h == h && e.key == key {
			e.val = int32(val)
			return
		}
	}
	*leaf = append(*leaf, idxEntry{h: h, key: key, val: int32(val)})
	x.n++
}
