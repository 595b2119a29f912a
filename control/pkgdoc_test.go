package control

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPackageDocs checks that every package of this area has a package doc
// comment that starts with "Package <name>" (commands: "Command <name>").
func TestPackageDocs(t *testing.T) {
	dirs := []string{".", "cmd/control", "internal/api", "internal/auth", "internal/config", "internal/enduser",
		"internal/openapi", "internal/publish", "internal/store", "internal/store/bolt", "internal/store/mongo",
		"internal/store/storetest"}
	for _, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Errorf("%s: no Go files", dir)
			continue
		}
		found := false
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			af, err := parser.ParseFile(token.NewFileSet(), f, src, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			if af.Doc == nil {
				continue
			}
			want := "Package " + af.Name.Name + " "
			if af.Name.Name == "main" {
				want = "Command "
			}
			if !strings.HasPrefix(af.Doc.Text(), want) {
				t.Errorf("%s: package doc does not start with %q", f, want)
			}
			found = true
		}
		if !found {
			t.Errorf("%s: no package doc comment", dir)
		}
	}
}
