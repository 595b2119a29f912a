package analytics

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestPackageDocs: every package under analytics/ has a package doc comment
// starting "Package <name>" (or "Command <name>" for mains).
func TestPackageDocs(t *testing.T) {
	err := filepath.WalkDir(".", func(dir string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() || strings.HasPrefix(d.Name(), "testdata") {
			return err
		}
		pkgs, err := parser.ParseDir(token.NewFileSet(), dir, func(fi fs.FileInfo) bool {
			return !strings.HasSuffix(fi.Name(), "_test.go")
		}, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		for name, p := range pkgs {
			doc := ""
			for _, f := range p.Files {
				if f.Doc != nil {
					doc += f.Doc.Text()
				}
			}
			want := "Package " + name + " "
			if name == "main" {
				want = "Command " + filepath.Base(dir) + " "
			}
			if !strings.HasPrefix(doc, want) {
				t.Errorf("%s: package doc does not start with %q", dir, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
