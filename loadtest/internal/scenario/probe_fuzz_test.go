package scenario

import (
	"errors"
	"testing"
)

// FuzzParseSync: whatever an edge (or a wrong -target) sends, the probe's
// parser returns a Probe or an error, never panics, and a parsed full sync
// always has a positive newest timestamp.
func FuzzParseSync(f *testing.F) {
	f.Add([]byte(`{"messageType":"data-sync","data":{"eventType":"full","featureFlags":[{"updatedAt":"2023-01-28T05:49:35.885Z"}],"segments":[{"updatedAt":12}]}}`), true)
	f.Add([]byte(`{"messageType":"data-sync","data":{"eventType":"patch","featureFlags":[],"segments":[]}}`), false)
	f.Add([]byte(`{"messageType":"pong","data":{}}`), true)
	f.Add([]byte(`{"messageType":"data-sync","data":{"eventType":"full","featureFlags":[{"updatedAt":"x"}]}}`), true)
	f.Fuzz(func(t *testing.T, b []byte, full bool) {
		want := "patch"
		if full {
			want = "full"
		}
		p, err := parseSync(b, want)
		if err != nil {
			if errors.Is(err, errNotFullSync) && p.Flags+p.Segments != 0 {
				t.Fatalf("counted items of a message not asked for: %+v", p)
			}
			return
		}
		if full && p.Newest <= 0 {
			t.Fatalf("full sync without a newest timestamp: %+v", p)
		}
		if p.Bytes != len(b) || p.Flags < 0 || p.Segments < 0 {
			t.Fatalf("probe %+v of %d bytes", p, len(b))
		}
	})
}
