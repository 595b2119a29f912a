package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/control"
)

// exportDoc is a small FeatBit export (server SDK data-sync form).
const exportDoc = `{"messageType":"data-sync","data":{"eventType":"full","featureFlags":[
 {"id":"f1","key":"imported-flag","name":"Imported","variationType":"string","isEnabled":true,
  "variations":[{"id":"a","value":"A"},{"id":"b","value":"B"}],"disabledVariationId":"b","targetUsers":[],
  "rules":[{"id":"r1","name":"in segment","conditions":[{"property":"User is in segment","op":"","value":"[\"s1\"]"}],
            "variations":[{"id":"b","rollout":[0,1],"exptRollout":1}]}],
  "fallthrough":{"variations":[{"id":"a","rollout":[0,1],"exptRollout":1}]},"tags":[],"updatedAt":"2024-01-01T00:00:00Z"}],
 "segments":[{"id":"s1","name":"Imported segment","included":["alice"],"excluded":[],"rules":[],"updatedAt":"2024-01-01T00:00:00Z"}]}}`

// TestImportCommand runs `control import featbit` on the embedded store:
// the dry run writes nothing, the import creates both items, and a second
// run reports them unchanged.
func TestImportCommand(t *testing.T) {
	data := t.TempDir()
	s, err := control.New(control.Config{DataDir: data, Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Bootstrap(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s.Shutdown(context.Background())
	file := filepath.Join(t.TempDir(), "export.json")
	if err := os.WriteFile(file, []byte(exportDoc), 0o600); err != nil {
		t.Fatal(err)
	}
	noEnv := func(string) string { return "" }
	steps := []struct {
		args []string
		want string
	}{
		{[]string{"featbit", "-data", data, "-env", info.Envs[0].ID, "-file", file, "-dry-run"}, "would create flag \"imported-flag\""},
		{[]string{"featbit", "-file=" + file, "-data", data, "-env", info.Envs[0].ID}, "2 created, 0 updated, 0 unchanged"},
		{[]string{"featbit", "-data", data, "-file", file, "-env", info.Envs[0].ID}, "0 created, 0 updated, 2 unchanged"},
	}
	for i, st := range steps {
		var out, errs bytes.Buffer
		if err := importCmd(st.args, noEnv, &out, &errs); err != nil {
			t.Fatalf("step %d: %v\n%s", i, err, errs.String())
		}
		if !strings.Contains(out.String(), st.want) {
			t.Fatalf("step %d: output does not contain %q:\n%s", i, st.want, out.String())
		}
		if i == 0 && !strings.Contains(out.String(), "2 created") {
			t.Fatalf("dry run: %s", out.String())
		}
	}
	// Bad invocations name what is wrong.
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "usage: control import featbit"},
		{[]string{"featbit", "-data", data, "-file", file}, "-env"},
		{[]string{"featbit", "-data", data, "-env", "x"}, "-file"},
		{[]string{"featbit", "-data", data, "-env", "no-such-env", "-file", file}, "environment no-such-env"},
		{[]string{"featbit", "-data", data, "-env", "x", "-file", file, "-max-bytes", "10"}, "larger than 10 bytes"},
	} {
		var out, errs bytes.Buffer
		err := importCmd(c.args, noEnv, &out, &errs)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err %v, want %q", c.args, err, c.want)
		}
	}
}
