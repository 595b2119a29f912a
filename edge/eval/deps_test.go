package eval

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestDependencies keeps eval a leaf: the standard library and codec only
// (the edge and control both import it).
func TestDependencies(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		if name == "doc.go" && (f.Doc == nil || !strings.HasPrefix(f.Doc.Text(), "Package eval ")) {
			t.Errorf("doc.go lacks the package doc")
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			first := strings.SplitN(path, "/", 2)[0]
			if strings.Contains(first, ".") && path != "github.com/switchyard/switchyard/codec" {
				t.Errorf("%s imports %s: eval may import only the standard library and codec", name, path)
			}
		}
	}
}
