package switchyard_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/switchyard/switchyard"

// TestComponentBoundaries enforces the contract of docs/architecture.md: only
// codec/... and edge/eval are shared across components (and internal/config,
// the mains' settings loader, which needs only the standard library), and
// the edge binary carries no database driver.
func TestComponentBoundaries(t *testing.T) {
	cases := []struct {
		pkgs      string
		forbidden []string
		allowed   []string
	}{
		{"./edge/...", []string{module + "/control", module + "/analytics", module + "/loadtest", "go.mongodb.org/", "github.com/ClickHouse/", "go.etcd.io/bbolt"}, nil},
		{"./analytics/...", []string{module + "/control", module + "/edge", module + "/loadtest", "go.mongodb.org/", "github.com/prometheus/" /* test-only: expfmt parses scrapes */}, []string{module + "/edge/eval"}},
		{"./codec/...", []string{module + "/control", module + "/analytics", module + "/edge", module + "/loadtest"}, nil},
		{"./edge/eval/...", []string{"github.com/", "go.mongodb.org/", "golang.org/x/"}, nil},
		// internal/config, the settings loader of every main: the standard library only.
		{"./internal/...", []string{module + "/", "github.com/", "go.mongodb.org/", "golang.org/x/"}, []string{module + "/internal/"}},
	}
	for _, c := range cases {
		out, err := exec.Command("go", "list", "-e", "-deps", "-f", "{{.ImportPath}}", c.pkgs).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", c.pkgs, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			if strings.Contains(c.pkgs, "eval") && isCodecDep(dep) {
				continue // the evaluator may use codec and what codec's generated code needs
			}
			for _, f := range c.forbidden {
				if strings.HasPrefix(dep, f) && !hasAllowedPrefix(dep, c.allowed) {
					t.Errorf("%s depends on %s (forbidden: %s)", c.pkgs, dep, f)
				}
			}
		}
	}
}

func hasAllowedPrefix(dep string, allowed []string) bool {
	for _, a := range allowed {
		if strings.HasPrefix(dep, a) {
			return true
		}
	}
	return false
}

func isCodecDep(dep string) bool {
	return dep == module+"/codec" || strings.HasPrefix(dep, module+"/edge/eval") ||
		strings.HasPrefix(dep, "github.com/tinylib/msgp") || strings.HasPrefix(dep, "github.com/philhofer/fwd")
}

// TestOnlyAllInOneComposesAll: cmd/switchyard is the one package that
// imports all three components (their root packages or internals); every
// other package depends on two at most.
func TestOnlyAllInOneComposesAll(t *testing.T) {
	out, err := exec.Command("go", "list", "-e", "-f", "{{.ImportPath}} {{join .Deps \" \"}}", "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	composers := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		seen := map[string]bool{}
		for _, dep := range f[1:] {
			for _, c := range []string{"edge", "control", "analytics"} {
				p := module + "/" + c
				if dep == p || strings.HasPrefix(dep, p+"/internal/") {
					seen[c] = true
				}
			}
		}
		if len(seen) < 3 {
			continue
		}
		if f[0] != module+"/cmd/switchyard" {
			t.Errorf("%s imports edge, control and analytics: only cmd/switchyard may", f[0])
		}
		composers++
	}
	if composers != 1 {
		t.Errorf("%d packages compose all three components, want cmd/switchyard only", composers)
	}
}

// TestControlLayers enforces control's layering (docs/architecture.md):
// the domain package (every write: validation, store, publisher
// notification, audit and webhook event) sits below the REST API and the
// workflow (scheduler, webhook deliveries, housekeeping); neither of those
// lower layers may reach the API, so the API stays a mapping from HTTP to
// them. Listed are the only Switchyard packages each may depend on.
func TestControlLayers(t *testing.T) {
	ctl := module + "/control/internal/"
	domain := []string{module + "/codec", module + "/edge/eval", ctl + "store", ctl + "audit", ctl + "webhook", ctl + "domain"}
	cases := []struct {
		pkg     string
		allowed []string
	}{
		{"./control/internal/domain", domain},
		{"./control/internal/workflow", append([]string{ctl + "workflow", ctl + "auth"}, domain...)},
	}
	for _, c := range cases {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", c.pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", c.pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			if strings.HasPrefix(dep, module+"/") && !hasAllowedPrefix(dep, c.allowed) {
				t.Errorf("%s depends on %s (allowed: %v)", c.pkg, dep, c.allowed)
			}
		}
	}
}
