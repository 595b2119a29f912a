package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestHelpExitsZero: -h exits 0 and lists every variable; a bad setting
// exits 2 naming it.
func TestHelpExitsZero(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"-h"}, func(string) string { return "" }, &out, &errOut); code != 0 {
		t.Fatalf("-h: exit %d, stderr %s", code, errOut.String())
	}
	for _, want := range []string{"SY_EDGE_CONFIG", "SY_EDGE_ADDR", "SY_EDGE_REDIS_ADDR", "SY_EDGE_KAFKA_BROKERS", "SY_EDGE_OFREP_MIN_POLL", "also accepted: -redis", "also accepted: -kafka"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-h lacks %s:\n%s", want, out.String())
		}
	}
	errOut.Reset()
	if code := run([]string{"-idle-timeout", "soon"}, func(string) string { return "" }, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "-idle-timeout") {
		t.Fatalf("bad value: exit %d, stderr %s", code, errOut.String())
	}
}
