// Command coderefs scans a source tree for a project's flag keys and uploads
// the references to the Switchyard control plane. Usable in CI:
//
//	coderefs -api http://control:8080 -token $SY_TOKEN -project <id> -repo org/app -dir .
//
// Exit codes: 0 done, 1 the scan or the upload failed, 2 bad usage.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"time"

	"github.com/switchyard/switchyard/control/internal/coderefs"
)

type config struct {
	api, token, project, dir, repo, branch, commit, keys, aliases, exclude string
	dryRun, jsonOut, quiet                                                 bool
	contextLines                                                           int
	maxBytes                                                               int64
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func main() {
	var c config
	fs := flag.NewFlagSet("coderefs", flag.ContinueOnError)
	fs.StringVar(&c.api, "api", env("SY_CODEREFS_API", "http://127.0.0.1:8080"), "control-plane base URL (env SY_CODEREFS_API)")
	fs.StringVar(&c.token, "token", env("SY_CODEREFS_TOKEN", ""), "API access token (env SY_CODEREFS_TOKEN)")
	fs.StringVar(&c.project, "project", env("SY_CODEREFS_PROJECT", ""), "project id (env SY_CODEREFS_PROJECT)")
	fs.StringVar(&c.dir, "dir", ".", "root of the source tree")
	fs.StringVar(&c.repo, "repo", env("SY_CODEREFS_REPO", ""), "repository name (default: the directory name)")
	fs.StringVar(&c.branch, "branch", env("SY_CODEREFS_BRANCH", ""), "branch (default: from git)")
	fs.StringVar(&c.commit, "commit", env("SY_CODEREFS_COMMIT", ""), "commit (default: from git)")
	fs.StringVar(&c.keys, "keys", "", "comma-separated flag keys (instead of fetching them from the API)")
	fs.StringVar(&c.aliases, "aliases", "", "aliases as key=Alias1|Alias2,key2=Alias3")
	fs.StringVar(&c.exclude, "exclude", "", "comma-separated extra gitignore-style patterns to skip")
	fs.IntVar(&c.contextLines, "context", 2, "lines of context before and after a reference (0-10)")
	fs.Int64Var(&c.maxBytes, "max-bytes", 1<<20, "skip files larger than this")
	fs.BoolVar(&c.dryRun, "dry-run", false, "print what would be uploaded and upload nothing")
	fs.BoolVar(&c.jsonOut, "json", false, "print the result as JSON on stdout")
	fs.BoolVar(&c.quiet, "quiet", false, "no progress on stderr")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
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
