package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestHelpExitsZero: -h exits 0 and lists every variable; bad configuration
// exits 2 naming the setting.
func TestHelpExitsZero(t *testing.T) {
	noEnv := func(string) string { return "" }
	var out, errOut bytes.Buffer
	if code := mainCode([]string{"-h"}, noEnv, &out, &errOut); code != 0 {
		t.Fatalf("-h: exit %d, stderr %s", code, errOut.String())
	}
	for _, want := range []string{"SY_CONFIG", "SY_DATA_DIR", "SY_CONTROL_ADDR", "SY_EDGE_ADDR", "SY_CONTROL_ADMIN_EMAIL", "SY_CONTROL_ADMIN_PASSWORD",
		"SY_ANALYTICS_RETENTION", "SY_PRINT_SECRETS", "SY_CONTROL_WEBHOOK_ALLOW", "SY_CONTROL_SSO_ALLOW", "SY_CONTROL_PUBLIC_URL", "also accepted: -data"} {
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
	if code := mainCode([]string{"-webhook-allow", "intranet"}, noEnv, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "webhook-allow") {
		t.Errorf("bad value: exit %d, stderr %s", code, errOut.String())
	}
}

// TestParseConfig: the variables of each component, the file under them,
// -data as the older name of -data-dir.
func TestParseConfig(t *testing.T) {
	file := filepath.Join(t.TempDir(), "switchyard.conf")
	if err := os.WriteFile(file, []byte("retention = 720h\nedge-addr = 127.0.0.1:1\nprint-secrets = true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SY_CONFIG": file, "SY_EDGE_ADDR": "127.0.0.1:2", "SY_CONTROL_ADDR": "127.0.0.1:3"}
	c, err := parseConfig([]string{"-data", "/srv/sy"}, func(k string) string { return env[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.dataDir != "/srv/sy" || c.retention != 720*time.Hour || c.edgeAddr != "127.0.0.1:2" || c.controlAddr != "127.0.0.1:3" || !c.printSecrets {
		t.Fatalf("%+v", c)
	}
}

// TestEveryVariableDocumented: docs/operations.md's table of the
// all-in-one names every variable -h lists.
func TestEveryVariableDocumented(t *testing.T) {
	var out bytes.Buffer
	mainCode([]string{"-h"}, func(string) string { return "" }, &out, &out)
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	vars := regexp.MustCompile(`SY_[A-Z_]+`).FindAllString(out.String(), -1)
	if len(vars) < 10 {
		t.Fatalf("-h lists %d variables", len(vars))
	}
	for _, v := range vars {
		if !strings.Contains(string(doc), "| `"+v+"` |") {
			t.Errorf("docs/operations.md does not document %s", v)
		}
	}
}
