package mongo

import (
	"testing"

	"github.com/switchyard/switchyard/control/internal/store"
)

// TestSecurityLookupKeyUnambiguous: a key document's id names one
// (collection, index, values) only, whatever the values hold: an
// environment id or a key containing the separator cannot reach the key
// document of another environment's item.
func TestSecurityLookupKeyUnambiguous(t *testing.T) {
	ix := &store.Index{Name: "env_key", Fields: []string{"envId", "key"}}
	cases := [][2]string{
		{"e", "x/1:y"}, {"e/1:x", "y"}, {"e/1:x/1:y", ""}, {"", "e/1:x/1:y"},
		{"e", "x"}, {"e", "x/"}, {"e/", "x"}, {"e", ""}, {"", "e"}, {"1:e", "x"},
	}
	seen := map[string][2]string{}
	for _, c := range cases {
		k := lookupKey("flags", ix, map[string]string{"envId": c[0], "key": c[1]})
		if prev, ok := seen[k]; ok {
			t.Fatalf("%q and %q share the key document %q", prev, c, k)
		}
		seen[k] = c
	}
	if lookupKey("flags", ix, map[string]string{"envId": "e", "key": "x"}) == lookupKey("segments", ix, map[string]string{"envId": "e", "key": "x"}) {
		t.Fatal("a flag and a segment share a key document")
	}
}
