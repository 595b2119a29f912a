// Command coderefs scans a source tree for a project's flag keys and uploads
// the references to the Switchyard control plane. Usable in CI:
//
//	coderefs -api http://control:8080 -token $SY_TOKEN -project <id> -repo org/app -dir .
//
// Every setting is a flag, an SY_CODEREFS_* variable or a line of the -config
// file (`coderefs -h` lists them).
//
// Exit codes: 0 done (or -h), 1 the scan or the upload failed, 2 bad usage.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"time"

	"github.com/switchyard/switchyard/control/internal/coderefs"
	settings "github.com/switchyard/switchyard/internal/config"
)

type config struct {
	api, token, project, dir, repo, branch, commit, keys, aliases, exclude string
	dryRun, jsonOut, quiet                                                 bool
	contextLines                                                           int
	maxBytes                                                               int64
}

// parseConfig reads the settings: flags, SY_CODEREFS_* variables or a
// -config file; -h prints them to out.
func parseConfig(args []string, getenv func(string) string, out io.Writer) (config, error) {
	var c config
	s := settings.New("coderefs", "SY_CODEREFS_")
	s.String(&c.api, "api", "http://127.0.0.1:8080", "control-plane base URL")
	s.String(&c.token, "token", "", "API access token (prefer the variable: flags show in ps)")
	s.String(&c.project, "project", "", "project id")
	s.String(&c.dir, "dir", ".", "root of the source tree")
	s.String(&c.repo, "repo", "", "repository name (default: the directory name)")
	s.String(&c.branch, "branch", "", "branch (default: from git)")
	s.String(&c.commit, "commit", "", "commit (default: from git)")
	s.String(&c.keys, "keys", "", "comma-separated flag keys (instead of fetching them from the API)")
	s.String(&c.aliases, "aliases", "", "aliases as key=Alias1|Alias2,key2=Alias3")
	s.String(&c.exclude, "exclude", "", "comma-separated extra gitignore-style patterns to skip")
	s.Int(&c.contextLines, "context", 2, "lines of context before and after a reference (0-10)")
	s.Int64(&c.maxBytes, "max-bytes", 1<<20, "skip files larger than this")
	s.Bool(&c.dryRun, "dry-run", false, "print what would be uploaded and upload nothing")
	s.Bool(&c.jsonOut, "json", false, "print the result as JSON on stdout")
	s.Bool(&c.quiet, "quiet", false, "no progress on stderr")
	if err := s.Parse(args, getenv, out); err != nil {
		return c, err
	}
	if len(s.Args()) > 0 {
		return c, fmt.Errorf("unexpected arguments: %s", strings.Join(s.Args(), " "))
	}
	return c, nil
}

func main() {
	c, err := parseConfig(os.Args[1:], os.Getenv, os.Stdout)
	if err != nil {
		if code := settings.ExitCode(err); code == 0 {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "coderefs:", err)
		os.Exit(settings.ExitCode(err))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "coderefs:", err)
		if strings.HasPrefix(err.Error(), "usage: ") {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, c config) error {
	cl := &coderefs.Client{BaseURL: c.api, Token: c.token}
	var keys []string
	if c.keys != "" {
		keys = splitList(c.keys)
	} else {
		if c.token == "" || c.project == "" {
			return fmt.Errorf("usage: -token and -project are needed to fetch flag keys (or give -keys)")
		}
		var err error
		if keys, err = cl.FlagKeys(ctx, c.project); err != nil {
			return err
		}
	}
	if !c.dryRun && (c.token == "" || c.project == "") {
		return fmt.Errorf("usage: -token and -project are needed to upload (or use -dry-run)")
	}
	aliases := map[string][]string{}
	for _, a := range splitList(c.aliases) {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return fmt.Errorf("usage: bad -aliases entry %q (want key=Alias1|Alias2)", a)
		}
		aliases[k] = append(aliases[k], strings.Split(v, "|")...)
	}
	opt := coderefs.Options{Keys: keys, Aliases: aliases, ContextLines: c.contextLines, MaxFileBytes: c.maxBytes, Exclude: splitList(c.exclude)}
	if c.contextLines == 0 {
		opt.ContextLines = -1
	}
	if !c.quiet {
		opt.Progress = func(s coderefs.Stats) {
			fmt.Fprintf(os.Stderr, "\rscanned %d files (%d MB), %d skipped, %d ignored", s.Files, s.Bytes>>20, s.Skipped, s.Ignored)
		}
	}
	start := time.Now()
	res, err := coderefs.Scan(ctx, c.dir, opt)
	if !c.quiet {
		fmt.Fprintln(os.Stderr)
	}
	if err != nil {
		return err
	}
	up := &coderefs.Upload{Repository: c.repo, Branch: c.branch, Commit: c.commit, ScannedAt: time.Now().UnixMilli(), References: res.References, Stats: res.Stats}
	fillFromGit(c.dir, up)
	if c.jsonOut || c.dryRun {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(up); err != nil {
			return err
		}
	}
	if !c.quiet {
		fmt.Fprintf(os.Stderr, "%d references to %d keys in %d files, %s\n", len(res.References), len(keys), res.Stats.Files, time.Since(start).Round(time.Millisecond))
	}
	if c.dryRun {
		return nil
	}
	if err := cl.Upload(ctx, c.project, up); err != nil {
		return err
	}
	if !c.quiet {
		fmt.Fprintf(os.Stderr, "uploaded %s@%s (%s)\n", up.Repository, up.Branch, up.Commit)
	}
	return nil
}

// fillFromGit fills the repository, branch and commit not given by flags.
func fillFromGit(dir string, up *coderefs.Upload) {
	git := func(args ...string) string {
		out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).Output()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(out))
	}
	if up.Branch == "" {
		up.Branch = git("rev-parse", "--abbrev-ref", "HEAD")
	}
	if up.Commit == "" {
		up.Commit = git("rev-parse", "HEAD")
	}
	if up.Repository == "" {
		if top := git("rev-parse", "--show-toplevel"); top != "" {
			dir = top
		}
		if abs, err := os.Getwd(); err == nil && (dir == "." || dir == "") {
			dir = abs
		}
		parts := strings.Split(strings.TrimRight(dir, "/"), "/")
		up.Repository = parts[len(parts)-1]
	}
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
