package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/control"
)

// TestImportCommand runs `switchyard import featbit` (stdin as the file)
// against a stopped instance's data directory, twice: created, then
// unchanged. While the directory is locked by another process the command
// refuses.
func TestImportCommand(t *testing.T) {
	data := t.TempDir()
	s, err := control.New(control.Config{DataDir: filepath.Join(data, "control"), Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Bootstrap(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s.Shutdown(context.Background())
	doc := `{"featureFlags":[{"id":"f","key":"from-featbit","variationType":"boolean","isEnabled":true,
	  "variations":[{"id":"t","value":"true"},{"id":"f","value":"false"}],"disabledVariationId":"f",
	  "fallthrough":{"variations":[{"id":"t","rollout":[0,1]}]}}],"segments":[]}`
	env := func(k string) string {
		return map[string]string{"SY_IMPORT_FILE": "-", "SY_IMPORT_ENV": info.Envs[1].ID}[k]
	}
	for i, want := range []string{"1 created", "0 created, 0 updated, 1 unchanged"} {
		var out, errs bytes.Buffer
		if err := importFrom(strings.NewReader(doc), []string{"featbit", "-data", data}, env, &out, &errs); err != nil {
			t.Fatalf("run %d: %v\n%s", i, err, errs.String())
		}
		if !strings.Contains(out.String(), want) {
			t.Fatalf("run %d: want %q in:\n%s", i, want, out.String())
		}
	}
	unlock, err := control.LockDataDir(data)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	var out, errs bytes.Buffer
	if err := importFrom(strings.NewReader(doc), []string{"featbit", "-data", data}, env, &out, &errs); err == nil {
		t.Fatal("imported into a data directory in use")
	}
}
