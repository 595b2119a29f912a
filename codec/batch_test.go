package codec

import (
	"strings"
	"testing"
)

// TestBatchPayloadsBoundAndKeepOrder: every part is at most max bytes
// (a larger flag alone), the parts hold the flags in order, none are lost.
func TestBatchPayloadsBoundAndKeepOrder(t *testing.T) {
	if ps, err := BatchPayloads("e", 3, nil, 1000); err != nil || len(ps) != 0 {
		t.Fatalf("no flags: %d parts, %v", len(ps), err)
	}
	var flags []Flag
	for i := range 40 {
		f := Flag{ID: strings.Repeat("f", 1+i%5) + string(rune('a'+i%26)), EnvID: "e", Key: "k", Version: int64(i + 1)}
		if i == 17 {
			f.Description = strings.Repeat("x", 3000) // larger than max: alone
		}
		flags = append(flags, f)
	}
	const max = 1000
	ps, err := BatchPayloads("e", 3, flags, max)
	if err != nil {
		t.Fatal(err)
	}
	var got []Flag
	for _, p := range ps {
		var s EnvSnapshot
		if _, err := s.UnmarshalMsg(p); err != nil {
			t.Fatal(err)
		}
		if s.EnvID != "e" || s.Version != 3 || len(s.Flags) == 0 {
			t.Fatalf("part %+v", s)
		}
		if len(p) > max && len(s.Flags) != 1 {
			t.Fatalf("part of %d bytes holds %d flags", len(p), len(s.Flags))
		}
		got = append(got, s.Flags...)
	}
	if len(ps) < 3 || len(got) != len(flags) {
		t.Fatalf("%d parts, %d of %d flags", len(ps), len(got), len(flags))
	}
	for i := range got {
		if got[i].ID != flags[i].ID || got[i].Version != flags[i].Version {
			t.Fatalf("flag %d: %s v%d, want %s v%d", i, got[i].ID, got[i].Version, flags[i].ID, flags[i].Version)
		}
	}
}
