package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type testCfg struct {
	addr    string
	redis   string
	brokers []string
	timeout time.Duration
	n       int
	on      bool
}

func newTestSet(c *testCfg) *Set {
	s := New("demo", "SY_DEMO_")
	s.String(&c.addr, "addr", ":5100", "listen address")
	s.String(&c.redis, "redis-addr", "", "Redis address").Alias("redis")
	s.List(&c.brokers, "kafka-brokers", "", "Kafka brokers").Alias("kafka")
	s.Duration(&c.timeout, "idle-timeout", 5*time.Minute, "idle timeout")
	s.Int(&c.n, "buffer-size", 256, "buffer")
	s.Bool(&c.on, "reuseport", false, "SO_REUSEPORT")
	return s
}

func writeFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "demo.conf")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// TestPrecedence: flag > variable > file > default, for each setting on its
// own.
func TestPrecedence(t *testing.T) {
	file := writeFile(t, "# demo\naddr = :1\nredis-addr = file:6379\nidle-timeout = 7s\nbuffer-size=10\n\nkafka = \" f:1 , f:2 \"\n")
	var c testCfg
	s := newTestSet(&c)
	env := map[string]string{"SY_DEMO_CONFIG": file, "SY_DEMO_ADDR": ":2", "SY_DEMO_REDIS_ADDR": "env:6379", "SY_DEMO_IDLE_TIMEOUT": ""}
	if err := s.Parse([]string{"-addr", ":3", "-reuseport"}, envOf(env), nil); err != nil {
		t.Fatal(err)
	}
	if c.addr != ":3" || s.Lookup("addr").From() != "flag" {
		t.Errorf("flag must win: addr %q from %s", c.addr, s.Lookup("addr").From())
	}
	if c.redis != "env:6379" || s.Lookup("redis-addr").From() != "env" {
		t.Errorf("variable must win over the file: %q", c.redis)
	}
	if c.timeout != 7*time.Second || s.Lookup("idle-timeout").From() != "file" {
		t.Errorf("an empty variable is unset, the file wins over the default: %v", c.timeout)
	}
	if c.n != 10 || strings.Join(c.brokers, "|") != "f:1|f:2" {
		t.Errorf("file values (an alias as key, a quoted value): n %d brokers %q", c.n, c.brokers)
	}
	if !c.on {
		t.Error("-reuseport alone must mean true")
	}

	// -config on the command line wins over SY_DEMO_CONFIG; the defaults.
	empty := writeFile(t, "")
	c = testCfg{}
	s = newTestSet(&c)
	if err := s.Parse([]string{"-config=" + empty, "rest", "-x"}, envOf(map[string]string{"SY_DEMO_CONFIG": file}), nil); err != nil {
		t.Fatal(err)
	}
	if c.addr != ":5100" || c.timeout != 5*time.Minute || c.n != 256 || c.on || c.brokers != nil {
		t.Errorf("defaults: %+v", c)
	}
	if strings.Join(s.Args(), " ") != "rest -x" {
		t.Errorf("Args %q", s.Args())
	}
}

// TestAliases: older flag names and their variables still work.
func TestAliases(t *testing.T) {
	var c testCfg
	s := newTestSet(&c)
	if err := s.Parse([]string{"-redis", "r:1", "-kafka=a:1,b:2"}, envOf(nil), nil); err != nil {
		t.Fatal(err)
	}
	if c.redis != "r:1" || len(c.brokers) != 2 {
		t.Errorf("aliases: %q %q", c.redis, c.brokers)
	}
	c = testCfg{}
	s = newTestSet(&c)
	if err := s.Parse(nil, envOf(map[string]string{"SY_DEMO_REDIS": "old:1"}), nil); err != nil {
		t.Fatal(err)
	}
	if c.redis != "old:1" {
		t.Errorf("alias variable: %q", c.redis)
	}
	c = testCfg{}
	s = New("demo", "SY_")
	s.String(&c.addr, "edge-addr", "x", "").EnvVar("SY_EDGE_ADDR", "SY_OLD_EDGE_ADDR")
	if err := s.Parse(nil, envOf(map[string]string{"SY_OLD_EDGE_ADDR": "o"}), nil); err != nil || c.addr != "o" {
		t.Errorf("older variable: %q %v", c.addr, err)
	}
}

// TestFileErrors: an unknown key, a repeated key, a line without '=' and
// -config itself are errors naming the file and the line.
func TestFileErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"addr = :1\nredis-adr = x\n", `:2: unknown setting "redis-adr"`},
		{"addr = :1\naddr = :2\n", ":2: addr given twice (also on line 1)"},
		{"redis = a\nredis-addr = b\n", ":2: redis-addr given twice"},
		{"addr :1\n", `:1: want name = value`},
		{"config = other.conf\n", `:1: unknown setting "config"`},
		{"ADDR = x\n", `:1: bad setting name "ADDR"`},
		{"addr = \"x\n", `:1: addr: bad quoted value`},
		{"idle-timeout = soon\n", ":1: idle-timeout: want a duration"},
	} {
		file := writeFile(t, tc.text)
		var c testCfg
		err := newTestSet(&c).Parse([]string{"-config", file}, envOf(nil), nil)
		if err == nil || !strings.Contains(err.Error(), file+tc.want) {
			t.Errorf("%q: got %v, want %q", tc.text, err, file+tc.want)
		}
	}
	var c testCfg
	if err := newTestSet(&c).Parse([]string{"-config", "/nonexistent/x.conf"}, envOf(nil), nil); err == nil || !strings.Contains(err.Error(), "-config") {
		t.Errorf("missing file: %v", err)
	}
	big := writeFile(t, "# "+strings.Repeat("x", MaxFileBytes)+"\n")
	if err := newTestSet(&c).Parse([]string{"-config", big}, envOf(nil), nil); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversized file: %v", err)
	}
}

// TestValueErrors: a bad value names its source.
func TestValueErrors(t *testing.T) {
	var c testCfg
	err := newTestSet(&c).Parse([]string{"-buffer-size", "many"}, envOf(map[string]string{"SY_DEMO_IDLE_TIMEOUT": "later"}), nil)
	if err == nil || !strings.Contains(err.Error(), `SY_DEMO_IDLE_TIMEOUT (-idle-timeout): want a duration`) ||
		!strings.Contains(err.Error(), `-buffer-size: want an integer, got "many"`) {
		t.Errorf("got %v", err)
	}
	if err := newTestSet(&c).Parse([]string{"-nope"}, envOf(nil), nil); err == nil || !strings.Contains(err.Error(), "-nope") || ExitCode(err) != 2 {
		t.Errorf("unknown flag: %v", err)
	}
}

// TestHelp: -h prints every setting with its variable and default and
// returns ErrHelp, whose exit code is 0.
func TestHelp(t *testing.T) {
	for _, arg := range []string{"-h", "-help", "--help"} {
		var c testCfg
		var out bytes.Buffer
		err := newTestSet(&c).Parse([]string{arg}, envOf(nil), &out)
		if !errors.Is(err, ErrHelp) || ExitCode(err) != 0 {
			t.Fatalf("%s: %v", arg, err)
		}
		for _, want := range []string{"-config  SY_DEMO_CONFIG", "-addr  SY_DEMO_ADDR  (default :5100)", "-redis-addr  SY_DEMO_REDIS_ADDR  (default \"\")",
			"also accepted: -redis", "-idle-timeout  SY_DEMO_IDLE_TIMEOUT  (default 5m)", "-reuseport  SY_DEMO_REUSEPORT  (default false)"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%s: usage lacks %q:\n%s", arg, want, out.String())
			}
		}
	}
	if ExitCode(nil) != 0 {
		t.Error("ExitCode(nil)")
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "0", 5 * time.Minute: "5m", time.Hour: "1h", 90 * time.Minute: "1h30m", 1500 * time.Millisecond: "1.5s", 10 * time.Second: "10s", 250 * time.Millisecond: "250ms"} {
		if got := FormatDuration(d); got != want {
			t.Errorf("%v: %q, want %q", d, got, want)
		}
		if want != "0" {
			if back, err := time.ParseDuration(want); err != nil || back != d {
				t.Errorf("%q does not parse back to %v", want, d)
			}
		}
	}
}

// FuzzParseFile: the file parser never panics, and what it accepts has
// valid names and line numbers in order.
func FuzzParseFile(f *testing.F) {
	f.Add([]byte("# c\naddr = :1\nredis-addr=\"a b\"\n\n"))
	f.Add([]byte("x"))
	f.Add([]byte("a = \"\\u00e9\"\r\nb = c = d\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := ParseFile(b)
		if err != nil {
			return
		}
		last := 0
		for _, e := range es {
			if !validName(e.Name) || e.Line <= last {
				t.Fatalf("accepted %+v after line %d", e, last)
			}
			last = e.Line
		}
	})
}

// TestUnknownVariables: a misspelt variable of the binary's prefix is
// reported; settings, their older names and other prefixes are not.
func TestUnknownVariables(t *testing.T) {
	var c testCfg
	s := newTestSet(&c)
	got := s.UnknownVariables([]string{"SY_DEMO_ADDR=:1", "SY_DEMO_REDIS=x", "SY_DEMO_REDIS_ADR=typo", "SY_DEMO_CONFIG=f", "SY_OTHER_X=1", "PATH=/bin", "SY_DEMO_KAFKA_BROKERS=k"})
	if strings.Join(got, ",") != "SY_DEMO_REDIS_ADR" {
		t.Fatalf("got %q", got)
	}
}
