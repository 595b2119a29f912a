package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	settings "github.com/switchyard/switchyard/internal/config"
)

// TestHelpExitsZero: -h ends with exit code 0 and lists every variable; the
// variables set what no flag sets.
func TestHelpExitsZero(t *testing.T) {
	var out bytes.Buffer
	_, err := parseConfig([]string{"-h"}, func(string) string { return "" }, &out)
	if !errors.Is(err, settings.ErrHelp) || settings.ExitCode(err) != 0 {
		t.Fatalf("-h: %v", err)
	}
	for _, want := range []string{"SY_CODEREFS_CONFIG", "SY_CODEREFS_API", "SY_CODEREFS_TOKEN", "SY_CODEREFS_PROJECT", "SY_CODEREFS_MAX_BYTES"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-h lacks %s:\n%s", want, out.String())
		}
	}
	env := map[string]string{"SY_CODEREFS_TOKEN": "tok", "SY_CODEREFS_PROJECT": "p1"}
	c, err := parseConfig([]string{"-project", "p2", "-dry-run"}, func(k string) string { return env[k] }, nil)
	if err != nil || c.token != "tok" || c.project != "p2" || !c.dryRun || c.contextLines != 2 {
		t.Fatalf("%+v %v", c, err)
	}
	if _, err := parseConfig([]string{"-context", "x"}, func(string) string { return "" }, nil); settings.ExitCode(err) != 2 {
		t.Fatalf("bad value: %v", err)
	}
}
