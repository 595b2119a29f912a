package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestHelpExitsZero: -h exits 0 and lists every variable; a bad value exits
// 2 naming it.
func TestHelpExitsZero(t *testing.T) {
	var out, errOut bytes.Buffer
	if _, code := parse([]string{"-h"}, &out, &errOut); code != 0 {
		t.Fatalf("-h: exit %d, stderr %s", code, errOut.String())
	}
	for _, want := range []string{"usage: loadtest [flags] connect|", "SY_LOADTEST_CONFIG", "SY_LOADTEST_TARGET", "SY_LOADTEST_REDIS_ADDR",
		"SY_LOADTEST_KAFKA_BROKERS", "also accepted: -redis", "SY_LOADTEST_EDGE_WAIT"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-h lacks %s:\n%s", want, out.String())
		}
	}
	if _, code := parse([]string{"-conns", "many", "connect"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "-conns") {
		t.Errorf("bad value: exit %d, stderr %s", code, errOut.String())
	}
	if _, code := parse([]string{"connect"}, &out, &errOut); code != -1 {
		t.Errorf("good configuration: code %d, stderr %s", code, errOut.String())
	}
}
