package bolt

import (
	"math/rand/v2"
	"testing"

	"github.com/switchyard/switchyard/control/internal/store"
)

// TestRawMatchesAgreesWithStoreMatches checks the allocation-free matcher
// Find uses against store.Matches, the reference semantics, on random
// documents and queries.
func TestRawMatchesAgreesWithStoreMatches(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	vals := []string{"", "a", "ab", "b", "abc", "x:y", "\x00"}
	keys := []string{"envId", "key", "name", "lastSeen"}
	pick := func() string { return vals[r.IntN(len(vals))] }
	for i := range 20000 {
		f := map[string]string{}
		for _, k := range keys {
			if r.IntN(4) > 0 {
				f[k] = pick()
			}
		}
		q := store.Query{Eq: map[string]string{}, In: map[string][]string{}}
		for _, k := range keys {
			switch r.IntN(6) {
			case 0:
				q.Eq[k] = pick()
			case 1:
				q.In[k] = []string{pick(), pick()}
			}
		}
		if r.IntN(2) == 0 {
			q.Search, q.SearchFields = vals[1+r.IntN(len(vals)-1)], []string{keys[r.IntN(len(keys))], keys[r.IntN(len(keys))]}
		}
		raw, ok := parseRaw([]byte("id"), encodeDoc(&store.Doc{ID: "id", Version: int64(i), Fields: f, Data: []byte("{}")}))
		if !ok {
			t.Fatal("parseRaw failed")
		}
		if got, want := raw.matches(&q), store.Matches(f, &q); got != want {
			t.Fatalf("fields %q query %+v: raw %v, store %v", f, q, got, want)
		}
	}
}

// FuzzDecodeDoc feeds arbitrary bytes to the stored-document decoders: they
// never panic and agree on what is well formed.
func FuzzDecodeDoc(f *testing.F) {
	f.Add(encodeDoc(&store.Doc{ID: "x", Version: 7, Fields: map[string]string{"envId": "e", "key": "k"}, Data: []byte(`{"a":1}`)}))
	f.Add([]byte{})
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := decodeDoc("x", b)
		raw, ok := parseRaw([]byte("x"), b)
		if err == nil {
			if !ok {
				t.Fatal("decodeDoc accepted what parseRaw refused")
			}
			if uint64(len(d.Fields)) != raw.n {
				return // a repeated key: never written by encodeDoc
			}
			for k, v := range d.Fields {
				if string(raw.field(k)) != v {
					t.Fatalf("field %q: raw %q, decoded %q", k, raw.field(k), v)
				}
			}
		}
	})
}
