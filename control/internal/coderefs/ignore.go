package coderefs

import (
	"bufio"
	"bytes"
	"path"
	"strings"
)

// ignoreRule is one line of a .gitignore file, with git's semantics: a
// pattern without a slash (other than a trailing one) matches a name at any
// depth below the file's directory; a pattern with a slash is anchored to that
// directory; "**" matches any number of directories; a trailing slash matches
// directories only; "!" re-includes.
type ignoreRule struct {
	base     string   // directory of the .gitignore, relative to the root ("" for the root)
	segs     []string // pattern split at "/"
	anchored bool
	dirOnly  bool
	negate   bool
}

// parseIgnore parses the contents of a .gitignore found in directory base.
func parseIgnore(base string, data []byte) []ignoreRule {
	var rules []ignoreRule
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		// Trailing spaces are ignored unless escaped with a backslash.
		for strings.HasSuffix(line, " ") && !strings.HasSuffix(line, "\\ ") {
			line = line[:len(line)-1]
		}
		line = strings.ReplaceAll(line, "\\ ", " ")
		r := ignoreRule{base: base}
		if strings.HasPrefix(line, "!") {
			r.negate = true
			line = line[1:]
		} else if strings.HasPrefix(line, "\\!") || strings.HasPrefix(line, "\\#") {
			line = line[1:]
		}
		if strings.HasSuffix(line, "/") {
			r.dirOnly = true
			line = strings.TrimRight(line, "/")
		}
		if line == "" {
			continue
		}
		if strings.Contains(line, "/") {
			r.anchored = true
			line = strings.TrimPrefix(line, "/")
		}
		r.segs = strings.Split(line, "/")
		rules = append(rules, r)
	}
	return rules
}

// match reports whether the rule matches rel (slash-separated, relative to
// the scan root).
func (r *ignoreRule) match(rel string, isDir bool) bool {
	if r.dirOnly && !isDir {
		return false
	}
	p := rel
	if r.base != "" {
		if !strings.HasPrefix(rel, r.base+"/") {
			return false
		}
		p = rel[len(r.base)+1:]
	}
	if !r.anchored {
		name := path.Base(p)
		ok, _ := path.Match(r.segs[0], name)
		return ok
	}
	return matchSegs(r.segs, strings.Split(p, "/"))
}

// matchSegs matches path segments against pattern segments, "**" standing
// for zero or more segments.
func matchSegs(pat, segs []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			rest := pat[1:]
			if len(rest) == 0 {
				return true // "a/**" matches everything inside a
			}
			for i := 0; i <= len(segs); i++ {
				if matchSegs(rest, segs[i:]) {
					return true
				}
			}
			return false
		}
		if len(segs) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], segs[0]); !ok {
			return false
		}
		pat, segs = pat[1:], segs[1:]
	}
	return len(segs) == 0
}

// ignored applies rules in order; the last matching rule decides.
func ignored(rules []ignoreRule, rel string, isDir bool) bool {
	out := false
	for i := range rules {
		if rules[i].match(rel, isDir) {
			out = !rules[i].negate
		}
	}
	return out
}
