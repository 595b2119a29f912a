//go:build integration

package ui_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchyard/switchyard/control/internal/api"
)

// TestAPITypesCurrent fails when src/api.gen.ts (the UI's API types) is not
// what the control API's OpenAPI document generates: after changing a route
// or a request/response type, run `bash control/ui/build.sh --gen-api`.
func TestAPITypesCurrent(t *testing.T) {
	run(t, ".", 10*time.Minute, "bash", "build.sh", "--install")
	doc, err := json.MarshalIndent(api.Document(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "openapi.json")
	if err := os.WriteFile(f, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, ".", 2*time.Minute, "node", "gen-api.mjs", "--check", f)
}
