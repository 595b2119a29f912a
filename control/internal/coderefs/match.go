package coderefs

import (
	"bytes"
	"time"
)

// matcher finds whole-token occurrences of flag keys and aliases. A token is
// a maximal run of key characters (ASCII letters, digits, '_', '-', '.', and
// any non-ASCII byte, so "flag" inside "flag-2" or "éflag" is not a match);
// runs with dots are also tried piece by piece, so "flags.new-checkout"
// finds "new-checkout".
type matcher struct {
	tokens map[string]string // token → flag key
}

func newMatcher(keys []string, aliases map[string][]string) *matcher {
	m := &matcher{tokens: make(map[string]string, len(keys))}
	for _, k := range keys {
		if k != "" {
			m.tokens[k] = k
		}
	}
	for k, as := range aliases {
		for _, a := range as {
			if a != "" {
				m.tokens[a] = k
			}
		}
	}
	return m
}

var keyChar [256]bool

func init() {
	for c := 0; c < 256; c++ {
		keyChar[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '_' || c == '-' || c == '.' || c >= 0x80
	}
}

type hit struct {
	token, key string
	pos        int
}

// find returns the references in data, one per token and line.
func (m *matcher) find(file string, data []byte, contextLines int) []Reference {
	var hits []hit
	for i := 0; i < len(data); {
		if !keyChar[data[i]] {
			i++
			continue
		}
		j := i
		for j < len(data) && keyChar[data[j]] {
			j++
		}
		run := data[i:j]
		if k, ok := m.tokens[string(run)]; ok {
			hits = append(hits, hit{token: string(run), key: k, pos: i})
		} else if bytes.IndexByte(run, '.') >= 0 {
			hits = m.dotted(run, i, hits)
		}
		i = j
	}
	if len(hits) == 0 {
		return nil
	}
	lines := lineStarts(data)
	refs := make([]Reference, 0, len(hits))
	seen := make(map[[2]string]int)
	for _, h := range hits {
		line := lineOf(lines, h.pos)
		if last, ok := seen[[2]string{h.token, h.key}]; ok && last == line {
			continue
		}
		seen[[2]string{h.token, h.key}] = line
		r := Reference{FlagKey: h.key, Token: h.token, File: file, Line: line}
		if contextLines > 0 {
			from, to := max(1, line-contextLines), min(len(lines), line+contextLines)
			r.ContextStart = from
			for l := from; l <= to; l++ {
				r.Context = append(r.Context, string(bytes.TrimRight(lineText(data, lines, l), "\r\n")))
			}
		}
		refs = append(refs, r)
	}
	return refs
}

// dotted tries every dot-separated piece sequence of run ("a.b.c": "a",
// "a.b", "b", "b.c", "c").
func (m *matcher) dotted(run []byte, at int, hits []hit) []hit {
	var starts []int
	starts = append(starts, 0)
	for i, c := range run {
		if c == '.' {
			starts = append(starts, i+1)
		}
	}
	for si, s := range starts {
		for ei := si + 1; ei <= len(starts); ei++ {
			e := len(run)
			if ei < len(starts) {
				e = starts[ei] - 1
			}
			if s == 0 && e == len(run) || e <= s {
				continue
			}
			if k, ok := m.tokens[string(run[s:e])]; ok {
				hits = append(hits, hit{token: string(run[s:e]), key: k, pos: at + s})
			}
		}
	}
	return hits
}

// lineStarts returns the offset of each line's first byte.
func lineStarts(data []byte) []int {
	starts := []int{0}
	for i, c := range data {
		if c == '\n' && i+1 < len(data) {
			starts = append(starts, i+1)
		}
	}
	return starts
}

// lineOf returns the 1-based line holding offset pos.
func lineOf(starts []int, pos int) int {
	lo, hi := 0, len(starts)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if starts[mid] <= pos {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo + 1
}

func lineText(data []byte, starts []int, line int) []byte {
	s := starts[line-1]
	e := len(data)
	if line < len(starts) {
		e = starts[line] - 1
	}
	if e < s {
		e = s
	}
	return data[s:e]
}

// startProgress reports progress every 500 ms until the returned func is
// called; it reports once more at the end.
func (s *scanner) startProgress() func() {
	if s.opt.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				s.opt.Progress(s.stats())
			case <-done:
				s.opt.Progress(s.stats())
				return
			}
		}
	}()
	return func() { close(done); <-stopped }
}
