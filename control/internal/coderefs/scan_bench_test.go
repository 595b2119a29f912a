package coderefs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkScan100k scans a generated tree of 100,000 small source files
// (in 1,000 folders) for 200 flag keys. One op is one whole scan.
func BenchmarkScan100k(b *testing.B) {
	root := b.TempDir()
	keys := make([]string, 200)
	for i := range keys {
		keys[i] = fmt.Sprintf("feature-flag-%03d", i)
	}
	for d := 0; d < 1000; d++ {
		dir := filepath.Join(root, fmt.Sprintf("pkg%03d", d))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := 0; f < 100; f++ {
			body := fmt.Sprintf("package pkg%03d\n\n// File %d does some work.\nfunc F%d(c Client) bool {\n\tx := compute(%d, \"value\")\n\treturn c.BoolVariation(%q, user, x > 3)\n}\n",
				d, f, f, f, keys[(d*100+f)%len(keys)])
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d.go", f)), []byte(body), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	var res *Result
	for i := 0; i < b.N; i++ {
		var err error
		res, err = Scan(context.Background(), root, Options{Keys: keys})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if res.Stats.Files != 100000 || len(res.References) != 100000 {
		b.Fatalf("scanned %d files, %d references; want 100000 each", res.Stats.Files, len(res.References))
	}
	b.ReportMetric(float64(res.Stats.Files)/b.Elapsed().Seconds()*float64(b.N), "files/s")
}
