package main

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/edge"
)

// TestHelpExitsZero: -h exits 0 and lists every variable; a bad setting
// exits 2 naming it.
func TestHelpExitsZero(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"-h"}, func(string) string { return "" }, nil, &out, &errOut); code != 0 {
		t.Fatalf("-h: exit %d, stderr %s", code, errOut.String())
	}
	for _, want := range []string{"SY_EDGE_CONFIG", "SY_EDGE_ADDR", "SY_EDGE_REDIS_ADDR", "SY_EDGE_KAFKA_BROKERS", "SY_EDGE_OFREP_MIN_POLL", "also accepted: -redis", "also accepted: -kafka"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-h lacks %s:\n%s", want, out.String())
		}
	}
	errOut.Reset()
	if code := run([]string{"-idle-timeout", "soon"}, func(string) string { return "" }, nil, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "-idle-timeout") {
		t.Fatalf("bad value: exit %d, stderr %s", code, errOut.String())
	}
}

// TestEveryVariableDocumented: docs/edge.md's table names every variable
// -h lists.
func TestEveryVariableDocumented(t *testing.T) {
	var out bytes.Buffer
	run([]string{"-h"}, func(string) string { return "" }, nil, &out, &out)
	doc, err := os.ReadFile("../../../docs/edge.md")
	if err != nil {
		t.Fatal(err)
	}
	vars := regexp.MustCompile(`SY_[A-Z_]+`).FindAllString(out.String(), -1)
	if len(vars) < 30 {
		t.Fatalf("-h lists %d variables", len(vars))
	}
	for _, v := range vars {
		if !strings.Contains(string(doc), "`"+v+"`") {
			t.Errorf("docs/edge.md does not document %s", v)
		}
	}
}

// TestMisspeltVariableWarned: an SY_EDGE_ variable that is no setting is
// named on stderr; the older names' variables are not.
func TestMisspeltVariableWarned(t *testing.T) {
	var out, errOut bytes.Buffer
	run([]string{"-idle-timeout", "x"}, func(string) string { return "" }, []string{"SY_EDGE_KAFKA_BROKER=k"}, &out, &errOut)
	if strings.Contains(errOut.String(), "warning") {
		t.Fatalf("a configuration error warns too: %q", errOut.String())
	}
	errOut.Reset()
	edge.ConfigSet("edge", new(edge.Config)).WarnUnknown([]string{"SY_EDGE_KAFKA_BROKER=k", "SY_EDGE_REDIS=r", "SY_EDGE_ADDR=:1"}, &errOut)
	if got := errOut.String(); got != "edge: warning: SY_EDGE_KAFKA_BROKER is not a setting of edge (edge -h lists them); ignored\n" {
		t.Fatalf("stderr: %q", got)
	}
}
