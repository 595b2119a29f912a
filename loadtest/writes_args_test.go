package loadtest

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseArgsWrites(t *testing.T) {
	ctl := []string{"-control-url", "http://127.0.0.1:1", "-control-env", "e"}
	c, err := ParseArgs(append(ctl, "writes"), io.Discard)
	if err != nil || c.Writes.Rate != 1000 || c.Writes.Duration != 30*time.Second || c.Writes.Writers != 64 ||
		c.Writes.Flags != 100 || c.Writes.SDKs != 2 || c.WriteTokens != 32 || c.Writes.Reconnect != 0 {
		t.Fatalf("defaults: %+v %d %v", c.Writes, c.WriteTokens, err)
	}
	env := map[string]string{"SY_LOADTEST_WRITE_RATE": "1500", "SY_LOADTEST_WRITERS": "8", "SY_LOADTEST_WRITE_RECONNECT": "2s"}
	c, err = parseArgs(append(ctl, "writes"), func(k string) string { return env[k] }, io.Discard)
	if err != nil || c.Writes.Rate != 1500 || c.Writes.Writers != 8 || c.Writes.Reconnect != 2*time.Second {
		t.Fatalf("from the environment: %+v %v", c.Writes, err)
	}
	for _, args := range [][]string{
		{"-write-rate", "0", "writes"},
		{"-write-rate", "200000", "writes"},
		{"-write-duration", "0s", "writes"},
		{"-write-duration", "2h", "writes"},
		{"-writers", "0", "writes"},
		{"-write-flags", "0", "writes"},
		{"-write-flags", "20000", "writes"},
		{"-write-sdks", "0", "writes"},
		{"-write-tokens", "-1", "writes"},
		{"-write-reconnect", "10ms", "writes"},
		{"-write-reconnect", "-1s", "writes"},
		{"-write-rate", "100000", "-write-duration", "1h", "writes"},
	} {
		if _, err := ParseArgs(append(append([]string(nil), ctl...), args...), io.Discard); err == nil || !strings.Contains(err.Error(), args[0]) {
			t.Errorf("%v: err %v, want one naming %s", args, err, args[0])
		}
	}
	if _, err := ParseArgs([]string{"writes"}, io.Discard); err == nil || !strings.Contains(err.Error(), "-control-url") {
		t.Errorf("writes without control: %v", err)
	}
	for _, s := range Scenarios {
		if s == "writes" {
			t.Fatal(`"all" must not run writes (it writes to control's store)`)
		}
	}
}
