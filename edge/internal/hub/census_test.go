package hub

import (
	"fmt"
	"strings"
	"testing"
)

func TestSDKNameFromUserAgent(t *testing.T) {
	var n sdkNames
	for ua, want := range map[string]string{
		"":                                "",
		"  ":                              "",
		"fb-python-server-sdk":            "fb-python-server-sdk",
		"NodeJS-Server-SDK/1.3.0 node/22": "NodeJS-Server-SDK/1.3.0",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120": "browser",
		"evil\x00agent":          "other",
		strings.Repeat("a", 500): strings.Repeat("a", maxSDKName),
	} {
		if got := n.name([]byte(ua)); got != want {
			t.Errorf("name(%q) = %q, want %q", ua, got, want)
		}
	}
	// the names an edge remembers are capped: a client cannot grow the map
	for i := range maxSDKNames * 2 {
		n.name(fmt.Appendf(nil, "sdk-%d/1.0", i))
	}
	if len(n.names) > maxSDKNames {
		t.Fatalf("%d names kept, cap %d", len(n.names), maxSDKNames)
	}
	if got := n.name([]byte("one-more/1.0")); got != "other" {
		t.Fatalf("a name beyond the cap is %q, want other", got)
	}
}
