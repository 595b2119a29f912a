//go:build integration

package servicestest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// env returns the value of the environment variable name or fails the test.
func env(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: start the services (make services-up) and source ops/services/env.sh", name)
	}
	return v
}

// suffix returns a random name suffix so concurrent runs never share a topic, key or database.
func suffix() string { return fmt.Sprintf("%d_%08x", time.Now().Unix(), rand.Uint32()) }

// ctxFor returns a context that ends after d or when the test ends.
func ctxFor(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// serviceScript runs ops/services/<name>.sh <verb> and fails the test if it fails.
func serviceScript(t *testing.T, name, verb string) {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(root, "ops", "services", name+".sh")
	out, err := exec.Command("bash", script, verb).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", script, verb, err, out)
	}
	t.Logf("%s %s: %s", name, verb, strings.TrimSpace(string(out)))
}
