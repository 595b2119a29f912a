package envstate

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestIndexIsPersistent: random with/without against a map, keeping every
// earlier version of the index: each version answers as its map did when
// it was made (no version is changed by a later one).
func TestIndexIsPersistent(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	type version struct {
		x index
		m map[string]int
	}
	var x index
	m := map[string]int{}
	var versions []version
	for step := range 5000 {
		k := fmt.Sprintf("flag-%d", r.IntN(800))
		if r.IntN(3) == 0 {
			x = x.without(k)
			delete(m, k)
		} else {
			x = x.with(k, step)
			m[k] = step
		}
		if step%250 == 0 {
			versions = append(versions, version{x, copyMap(m)})
		}
	}
	versions = append(versions, version{x, m})
	for vi, v := range versions {
		if v.x.len() != len(v.m) {
			t.Fatalf("version %d: %d keys, want %d", vi, v.x.len(), len(v.m))
		}
		for i := range 800 {
			k := fmt.Sprintf("flag-%d", i)
			got, ok := v.x.get(k)
			want, wok := v.m[k]
			if ok != wok || got != want {
				t.Fatalf("version %d: %s = %d %v, want %d %v", vi, k, got, ok, want, wok)
			}
		}
	}
	var b index // put builds the same index
	for k, v := range m {
		b.put(k, v)
	}
	for k, v := range m {
		if got, ok := b.get(k); !ok || got != v {
			t.Fatalf("built index: %s = %d %v, want %d", k, got, ok, v)
		}
	}
}

func copyMap(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// TestIndexLookupIsAllocationFree: get and getBytes (a 36-byte key from
// bytes, which a string conversion would allocate for) allocate nothing.
func TestIndexLookupIsAllocationFree(t *testing.T) {
	var x index
	for i := range 1000 {
		x.put(fmt.Sprintf("9c4b1f2e-5d6a-4e8b-9f0c-%012d", i), i)
	}
	key := []byte("9c4b1f2e-5d6a-4e8b-9f0c-000000000500")
	if n := testing.AllocsPerRun(1000, func() {
		if v, ok := x.getBytes(key); !ok || v != 500 {
			t.Fatal("lookup by bytes failed")
		}
		if v, ok := x.get("9c4b1f2e-5d6a-4e8b-9f0c-000000000501"); !ok || v != 501 {
			t.Fatal("lookup failed")
		}
	}); n != 0 {
		t.Errorf("lookup: %v allocations", n)
	}
}

// TestFlagListRemove: removing any position leaves the other flags, the
// last moved into the hole, the original list unchanged.
func TestFlagListRemove(t *testing.T) {
	for _, n := range []int{1, 2, 127, 128, 129, 300, 4096, 4097, 4224, 4225} {
		fs := make([]*Flag, n)
		for i := range fs {
			fs[i] = &Flag{Slot: int32(i)}
		}
		l := makeFlagList(fs)
		for i := range n {
			nl, moved := l.remove(i)
			chunks := 0
			nl.eachChunk(func(c *flagChunk) {
				if c.n == 0 {
					t.Fatalf("n=%d remove %d: an empty chunk", n, i)
				}
				chunks++
			})
			if nl.n != n-1 || chunks != nl.numChunks() || len(nl.groups) != (chunks+groupSize-1)/groupSize {
				t.Fatalf("n=%d remove %d: %d flags in %d chunks, %d groups", n, i, nl.n, chunks, len(nl.groups))
			}
			if (i == n-1) != (moved == nil) || (moved != nil && moved != fs[n-1]) {
				t.Fatalf("n=%d remove %d: moved %v", n, i, moved)
			}
			seen := map[int32]bool{}
			for j := range nl.n {
				seen[nl.at(j).Slot] = true
			}
			if len(seen) != n-1 || seen[int32(i)] {
				t.Fatalf("n=%d remove %d: flags %v", n, i, seen)
			}
			for j := range n {
				if l.at(j) != fs[j] {
					t.Fatalf("n=%d remove %d changed the original list", n, i)
				}
			}
		}
	}
}
