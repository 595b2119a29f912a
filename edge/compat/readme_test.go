//go:build integration

package compat

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestReadmeNodeSnippetRuns runs the README's Node snippet as written (only
// the secret and the edge address substituted) against the all-in-one
// binary: it must print the demo flag's value and exit by itself.
func TestReadmeNodeSnippetRuns(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```js\n(// Node: npm install @featbit/node-server-sdk.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no ```js block starting with the Node install comment")
	}
	snippet := string(m[1])
	for _, want := range []string{"'<server secret>'", "127.0.0.1:5100"} {
		if !strings.Contains(snippet, want) {
			t.Fatalf("the README snippet no longer contains %s:\n%s", want, snippet)
		}
	}

	bin := filepath.Join(t.TempDir(), "switchyard")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/switchyard").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctlAddr, edgeAddr := freeAddr(t), freeAddr(t)
	run := startAllInOne(t, bin, t.TempDir(), ctlAddr, edgeAddr, "readme-password")
	defer run.stop(t)
	snippet = strings.ReplaceAll(snippet, "<server secret>", run.secret(t, "dev", "server"))
	snippet = strings.ReplaceAll(snippet, "127.0.0.1:5100", edgeAddr)

	dir := nodeDir(t) // node_modules with @featbit/node-server-sdk
	f, err := os.CreateTemp(dir, "readme-snippet-*.js")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(f.Name()) })
	if _, err := f.WriteString(snippet); err != nil {
		t.Fatal(err)
	}
	f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", f.Name())
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("the snippet did not exit within 60 s (no close()?):\n%s", out)
	}
	if err != nil {
		t.Fatalf("node on the README snippet: %v\n%s", err, out)
	}
	// The SDK logs on the same streams; the snippet's own output is a line.
	if !regexp.MustCompile(`(?m)^true$`).Match(out) {
		t.Fatalf("the snippet printed no line \"true\" (the demo flag welcome-banner):\n%s", out)
	}
}
