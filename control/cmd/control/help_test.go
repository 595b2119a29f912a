package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestHelpExitsZero: -h exits 0 and lists every setting's variable; bad
// configuration exits 2 naming the setting (an unknown -config key too).
func TestHelpExitsZero(t *testing.T) {
	noEnv := func(string) string { return "" }
	var out, errOut bytes.Buffer
	if code := mainCode([]string{"-h"}, noEnv, &out, &errOut); code != 0 {
		t.Fatalf("-h: exit %d, stderr %s", code, errOut.String())
	}
	for _, want := range []string{"SY_CONTROL_CONFIG", "SY_CONTROL_ADDR", "SY_CONTROL_DATA_DIR", "SY_CONTROL_REDIS_ADDR", "SY_CONTROL_KAFKA_BROKERS",
		"SY_CONTROL_SNAPSHOT_CHECK", "also accepted: -data"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-h lacks %s:\n%s", want, out.String())
		}
	}
	for _, args := range [][]string{{"admin", "reset-password", "-h"}, {"import", "featbit", "-h"}} {
		if code := mainCode(args, noEnv, &out, &errOut); code != 0 {
			t.Errorf("%v: exit %d", args, code)
		}
	}
	errOut.Reset()
	if code := mainCode([]string{"-session-ttl", "soon"}, noEnv, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "session-ttl") {
		t.Errorf("bad value: exit %d, stderr %s", code, errOut.String())
	}
	file := filepath.Join(t.TempDir(), "control.conf")
	if err := os.WriteFile(file, []byte("data-dir = /tmp/x\nsesion-ttl = 1h\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	errOut.Reset()
	if code := mainCode([]string{"-config", file}, noEnv, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), `unknown setting "sesion-ttl"`) {
		t.Errorf("unknown file key: exit %d, stderr %s", code, errOut.String())
	}
}

// TestEveryVariableDocumented: docs/control.md's table names every
// variable -h lists.
func TestEveryVariableDocumented(t *testing.T) {
	var out bytes.Buffer
	mainCode([]string{"-h"}, func(string) string { return "" }, &out, &out)
	doc, err := os.ReadFile("../../../docs/control.md")
	if err != nil {
		t.Fatal(err)
	}
	vars := regexp.MustCompile(`SY_[A-Z_]+`).FindAllString(out.String(), -1)
	if len(vars) < 30 {
		t.Fatalf("-h lists %d variables", len(vars))
	}
	for _, v := range vars {
		if !strings.Contains(string(doc), "`"+v+"`") {
			t.Errorf("docs/control.md does not document %s", v)
		}
	}
}

// TestMisspeltVariableWarned: an SY_CONTROL_ variable that is no setting is
// named on stderr (it would otherwise be ignored without a word).
func TestMisspeltVariableWarned(t *testing.T) {
	defer func(e func() []string) { environ = e }(environ)
	environ = func() []string { return []string{"SY_CONTROL_REDIS_ADR=r:6379", "SY_CONTROL_ADDR=:1", "SY_EDGE_X=1"} }
	var out, errOut bytes.Buffer
	if _, err := load(nil, func(string) string { return "" }, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if got := errOut.String(); !strings.Contains(got, "SY_CONTROL_REDIS_ADR is not a setting of control") || strings.Contains(got, "SY_CONTROL_ADDR ") || strings.Contains(got, "SY_EDGE_X") {
		t.Fatalf("stderr: %q", got)
	}
}
