package coderefs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Options configure a scan. Zero values get the defaults documented on each
// field.
type Options struct {
	// Keys are the flag keys to look for.
	Keys []string
	// Aliases maps a flag key to other tokens that stand for it in code,
	// e.g. the name of a constant that holds the key.
	Aliases map[string][]string
	// ContextLines is how many lines before and after a reference are kept
	// (default 2, at most 10; -1 keeps none).
	ContextLines int
	// MaxFileBytes skips larger files (default 1 MiB).
	MaxFileBytes int64
	// Exclude lists extra gitignore-style patterns to skip.
	Exclude []string
	// Workers is the number of files read and scanned at once (default
	// GOMAXPROCS).
	Workers int
	// Progress, when set, is called from time to time with the counts so far
	// (from one goroutine at a time).
	Progress func(Stats)
}

// Reference is one occurrence of a flag key in a file.
type Reference struct {
	FlagKey string `json:"flagKey"`
	// Token is the text found: the key itself, or one of its aliases.
	Token string `json:"token"`
	File  string `json:"file"` // slash-separated, relative to the root
	Line  int    `json:"line"` // 1-based
	// ContextStart is the line number of Context[0].
	ContextStart int      `json:"contextStart"`
	Context      []string `json:"context"`
}

// Stats count what a scan did.
type Stats struct {
	Files      int64 `json:"files"`      // files scanned
	Skipped    int64 `json:"skipped"`    // files skipped: binary, generated, too large, unreadable
	Ignored    int64 `json:"ignored"`    // files and directories excluded by ignore rules
	Bytes      int64 `json:"bytes"`      // bytes scanned
	References int64 `json:"references"` // references found
}

// Result is the outcome of a scan: references sorted by file and line.
type Result struct {
	References []Reference `json:"references"`
	Stats      Stats       `json:"stats"`
}

// Directories never scanned, whatever the ignore files say.
var alwaysSkipDirs = map[string]bool{
	".git": true, ".hg": true, ".svn": true, "node_modules": true, "vendor": true,
	"third_party": true, "bower_components": true, ".venv": true, "__pycache__": true,
}

const (
	defaultMaxFileBytes = 1 << 20
	sniffBytes          = 8000 // git's heuristic: a NUL byte in the first 8000 bytes means binary
)

// Scan walks the tree under root and returns every whole-token occurrence of
// the configured flag keys and aliases. It respects .gitignore files (the
// root's and nested ones), skips binary files, generated files, vendored
// folders and files over the size limit.
func Scan(ctx context.Context, root string, opt Options) (*Result, error) {
	if len(opt.Keys) == 0 {
		return nil, errors.New("no flag keys to look for")
	}
	info, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("cannot scan %s: %w", root, err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("cannot scan %s: not a directory", root)
	}
	m := newMatcher(opt.Keys, opt.Aliases)
	if opt.MaxFileBytes <= 0 {
		opt.MaxFileBytes = defaultMaxFileBytes
	}
	switch {
	case opt.ContextLines == 0:
		opt.ContextLines = 2
	case opt.ContextLines < 0:
		opt.ContextLines = 0
	case opt.ContextLines > 10:
		opt.ContextLines = 10
	}
	if opt.Workers <= 0 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	extra := parseIgnore("", []byte(strings.Join(opt.Exclude, "\n")))

	s := &scanner{opt: opt, m: m, root: root}
	files := make(chan string, 256)
	var wg sync.WaitGroup
	results := make([][]Reference, opt.Workers)
	for w := 0; w < opt.Workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			buf := make([]byte, 0, 64<<10)
			for rel := range files {
				if ctx.Err() != nil {
					continue
				}
				var refs []Reference
				refs, buf = s.scanFile(rel, buf)
				results[w] = append(results[w], refs...)
			}
		}(w)
	}
	stopProgress := s.startProgress()
	walkErr := s.walk(ctx, "", extra, files)
	close(files)
	wg.Wait()
	stopProgress()
	if walkErr != nil {
		return nil, walkErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var all []Reference
	for _, r := range results {
		all = append(all, r...)
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].File != all[j].File {
			return all[i].File < all[j].File
		}
		if all[i].Line != all[j].Line {
			return all[i].Line < all[j].Line
		}
		return all[i].FlagKey < all[j].FlagKey
	})
	st := s.stats()
	st.References = int64(len(all))
	return &Result{References: all, Stats: st}, nil
}

type scanner struct {
	opt  Options
	m    *matcher
	root string

	files, skipped, ignored, bytes atomic.Int64
}

func (s *scanner) stats() Stats {
	return Stats{Files: s.files.Load(), Skipped: s.skipped.Load(), Ignored: s.ignored.Load(), Bytes: s.bytes.Load()}
}

// walk visits dir (relative to the root) depth first, feeding files to out.
// rules are the ignore rules in force above dir.
func (s *scanner) walk(ctx context.Context, dir string, rules []ignoreRule, out chan<- string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	abs := filepath.Join(s.root, filepath.FromSlash(dir))
	if data, err := os.ReadFile(filepath.Join(abs, ".gitignore")); err == nil {
		rules = append(rules[:len(rules):len(rules)], parseIgnore(dir, data)...)
	}
	entries, err := os.ReadDir(abs)
	if err != nil {
		if dir == "" {
			return fmt.Errorf("cannot read %s: %w", abs, err)
		}
		s.skipped.Add(1)
		return nil
	}
	for _, e := range entries {
		rel := e.Name()
		if dir != "" {
			rel = dir + "/" + e.Name()
		}
		t := e.Type()
		if t&fs.ModeSymlink != 0 || (!t.IsDir() && !t.IsRegular()) {
			continue // links and special files are not followed
		}
		if t.IsDir() {
			if alwaysSkipDirs[e.Name()] || ignored(rules, rel, true) {
				s.ignored.Add(1)
				continue
			}
			if err := s.walk(ctx, rel, rules, out); err != nil {
				return err
			}
			continue
		}
		if ignored(rules, rel, false) || isGeneratedName(e.Name()) {
			s.ignored.Add(1)
			continue
		}
		select {
		case out <- rel:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// isGeneratedName reports file names that are generated by convention.
func isGeneratedName(name string) bool {
	for _, suf := range []string{"_gen.go", "_gen_test.go", ".pb.go", ".min.js", ".min.css", ".map", ".lock", "-lock.json", ".sum"} {
		if strings.HasSuffix(name, suf) {
			return true
		}
	}
	return false
}

// scanFile reads and scans one file, reusing buf.
func (s *scanner) scanFile(rel string, buf []byte) ([]Reference, []byte) {
	f, err := os.Open(filepath.Join(s.root, filepath.FromSlash(rel)))
	if err != nil {
		s.skipped.Add(1)
		return nil, buf
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() > s.opt.MaxFileBytes {
		s.skipped.Add(1)
		return nil, buf
	}
	if int64(cap(buf)) < st.Size()+1 {
		buf = make([]byte, 0, st.Size()+1)
	}
	buf = buf[:st.Size()]
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		s.skipped.Add(1)
		return nil, buf
	}
	data := buf[:n]
	head := data[:min(len(data), sniffBytes)]
	if bytes.IndexByte(head, 0) >= 0 || isGeneratedContent(head) {
		s.skipped.Add(1)
		return nil, buf
	}
	s.files.Add(1)
	s.bytes.Add(int64(n))
	return s.m.find(rel, data, s.opt.ContextLines), buf
}

// isGeneratedContent finds Go's "Code generated … DO NOT EDIT." marker (and
// the same words other generators write) near the top of a file.
func isGeneratedContent(head []byte) bool {
	h := head[:min(len(head), 1024)]
	return bytes.Contains(h, []byte("DO NOT EDIT")) &&
		(bytes.Contains(h, []byte("Code generated")) || bytes.Contains(h, []byte("generated by")) || bytes.Contains(h, []byte("@generated")))
}
