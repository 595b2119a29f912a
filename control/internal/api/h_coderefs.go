package api

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/control/internal/domain"
	"github.com/switchyard/switchyard/control/internal/stale"
	"github.com/switchyard/switchyard/control/internal/store"
)

// Insights answers how an environment's flags were evaluated: for every flag
// evaluated in [from, to), evaluations per variation id. The control plane
// asks analytics' query API, once per environment.
type Insights interface {
	EnvFlagVariations(ctx context.Context, envID string, from, to time.Time) (map[string]map[string]int64, error)
	// DeleteUser erases every event of one end user (GDPR).
	DeleteUser(ctx context.Context, envID, userKey string) error
}

// Code-reference limits: per upload (one repository branch) at most
// maxCodeRefs references holding at most maxCodeRefBytes of text, at most
// maxCodeRefBranches branches per project, and at most codeRefReaders
// requests reading stored sets at once (each holds one set in memory).
const (
	maxCodeRefs        = 200_000
	maxCodeRefBody     = 64 << 20
	maxCodeRefBytes    = 16 << 20
	maxCodeRefBranches = 100
	maxContextLines    = 21
	codeRefReaders     = 2
	defaultStaleDays   = 30
)

// codeRefSem admits at most codeRefReaders readers of stored sets at once
// (the API's codeRefs semaphore); release with the returned function.
func (a *API) codeRefSem(ctx context.Context) (func(), error) {
	select {
	case a.codeRefs <- struct{}{}:
		return func() { <-a.codeRefs }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// CodeRefUpload is the body of a code-reference upload (the coderefs
// command's output).
type CodeRefUpload struct {
	Repository string          `json:"repository"`
	Branch     string          `json:"branch"`
	Commit     string          `json:"commit"`
	ScannedAt  int64           `json:"scannedAt"`
	References []store.CodeRef `json:"references"`
	Stats      struct {
		Files      int64 `json:"files"`
		Skipped    int64 `json:"skipped"`
		Ignored    int64 `json:"ignored"`
		Bytes      int64 `json:"bytes"`
		References int64 `json:"references"`
	} `json:"stats"`
}

// CodeRefSummary describes one stored repository branch.
type CodeRefSummary struct {
	Repository string `json:"repository"`
	Branch     string `json:"branch"`
	Commit     string `json:"commit"`
	ScannedAt  int64  `json:"scannedAt"`
	UploadedAt int64  `json:"uploadedAt"`
	Files      int64  `json:"files"`
	References int    `json:"references"`
	Flags      int    `json:"flags"`
}

// CodeRefView is one reference with its repository.
type CodeRefView struct {
	Repository string `json:"repository"`
	Branch     string `json:"branch"`
	Commit     string `json:"commit"`
	store.CodeRef
}

// FlagKeys is the answer of the flag-keys route.
type FlagKeys struct {
	Keys []string `json:"keys"`
}

// StaleReport lists a project's stale and risky flags.
type StaleReport struct {
	Days      int            `json:"days"`
	Evaluated bool           `json:"evaluationsKnown"`
	Scanned   bool           `json:"codeReferencesKnown"`
	Flags     []stale.Report `json:"flags"`
}

func (a *API) codeRefRoutes() []Route {
	const p = Prefix + "/projects/{projectId}"
	return []Route{
		{Method: "GET", Path: p + "/code-refs/keys", Tag: "code-refs", Summary: "Flag keys of every environment of the project (what the scanner looks for)", Scope: Project, Action: ActRead, Resp: FlagKeys{}, h: a.codeRefKeys},
		{Method: "POST", Path: p + "/code-refs", Tag: "code-refs", Summary: "Upload the references of one scan; replaces the previous upload of that repository and branch", Scope: Project, Action: ActCodeRefWrite, Body: CodeRefUpload{}, Resp: CodeRefSummary{}, MaxBody: maxCodeRefBody, h: a.uploadCodeRefs},
		{Method: "GET", Path: p + "/code-refs", Tag: "code-refs", Summary: "References, filtered by flag key, repository and branch; paging", Scope: Project, Action: ActRead, Query: []string{"flagKey", "repository", "branch", "offset", "limit"}, Resp: List[CodeRefView]{}, h: a.listCodeRefs},
		{Method: "GET", Path: p + "/code-refs/repositories", Tag: "code-refs", Summary: "Repositories and branches with uploaded references", Scope: Project, Action: ActRead, Resp: List[CodeRefSummary]{}, h: a.listCodeRefRepos},
		{Method: "DELETE", Path: p + "/code-refs/repositories", Tag: "code-refs", Summary: "Forget the references of one repository branch", Scope: Project, Action: ActCodeRefWrite, Query: []string{"repository", "branch"}, h: a.deleteCodeRefs},
		{Method: "GET", Path: p + "/stale-flags", Tag: "code-refs", Summary: "Stale flags (one variation for everyone, no evaluations, or no code references for N days) and archived flags still in code", Scope: Project, Action: ActRead, Query: []string{"days"}, Resp: StaleReport{}, h: a.staleFlags},
	}
}

// projectKeys returns the flag keys of every environment of the project.
func (a *API) projectKeys(ctx context.Context, projectID string) ([]string, error) {
	envs, err := a.st.ListEnvs(ctx, projectID)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	keys := []string{}
	for _, e := range envs {
		fs, err := a.st.AllFlags(ctx, e.ID)
		if err != nil {
			return nil, err
		}
		for _, f := range fs {
			if !seen[f.Key] {
				seen[f.Key] = true
				keys = append(keys, f.Key)
			}
		}
	}
	sort.Strings(keys)
	return keys, nil
}

func (a *API) codeRefKeys(c *call) (any, error) {
	keys, err := a.projectKeys(c.ctx, c.project.ID)
	if err != nil {
		return nil, err
	}
	return &FlagKeys{Keys: keys}, nil
}

func (a *API) uploadCodeRefs(c *call) (any, error) {
	var up CodeRefUpload
	if err := c.decode(&up); err != nil {
		return nil, err
	}
	up.Repository, up.Branch = strings.TrimSpace(up.Repository), strings.TrimSpace(up.Branch)
	if err := domain.Text("repository", up.Repository, 1, 200); err != nil {
		return nil, err
	}
	if err := domain.Text("branch", up.Branch, 1, 200); err != nil {
		return nil, err
	}
	if err := domain.Text("commit", up.Commit, 0, 100); err != nil {
		return nil, err
	}
	if len(up.References) > maxCodeRefs {
		return nil, store.Invalid("references", "at most %d references per upload, got %d", maxCodeRefs, len(up.References))
	}
	size := 0
	for i := range up.References {
		r := &up.References[i]
		switch {
		case r.FlagKey == "" || len(r.FlagKey) > 200:
			return nil, store.Invalid(fieldAt("references", i, "flagKey"), "must be 1 to 200 characters")
		case len(r.Token) > 200:
			return nil, store.Invalid(fieldAt("references", i, "token"), "at most 200 characters")
		case r.File == "" || len(r.File) > 1000:
			return nil, store.Invalid(fieldAt("references", i, "file"), "must be 1 to 1000 characters")
		case r.Line < 1:
			return nil, store.Invalid(fieldAt("references", i, "line"), "must be at least 1")
		case len(r.Context) > maxContextLines:
			return nil, store.Invalid(fieldAt("references", i, "context"), "at most %d lines", maxContextLines)
		}
		size += len(r.FlagKey) + len(r.Token) + len(r.File)
		for j, l := range r.Context {
			if len(l) > 2000 {
				r.Context[j] = l[:2000]
			}
			size += len(r.Context[j])
		}
		if size > maxCodeRefBytes {
			return nil, store.Invalid(fieldAt("references", i, "context"), "the references of one upload may hold at most %d MiB of text (keys, files, context lines); scan with fewer context lines", maxCodeRefBytes>>20)
		}
	}
	if _, err := a.st.GetCodeRefSet(c.ctx, store.CodeRefSetID(c.project.ID, up.Repository, up.Branch)); errors.Is(err, store.ErrNotFound) {
		n, err := a.st.CountCodeRefSets(c.ctx, c.project.ID)
		if err != nil {
			return nil, err
		}
		if n >= maxCodeRefBranches {
			return nil, store.Invalid("branch", "the project already has references of %d repository branches, the most it keeps; delete one first (DELETE …/code-refs/repositories)", n)
		}
	} else if err != nil {
		return nil, err
	}
	set := &store.CodeRefSet{
		OrgID: c.orgID, ProjectID: c.project.ID, Repository: up.Repository, Branch: up.Branch, Commit: up.Commit,
		ScannedAt: up.ScannedAt, UploadedAt: time.Now().UnixMilli(), UploadedBy: c.actor(), Files: up.Stats.Files,
		References: up.References,
	}
	if err := a.st.PutCodeRefs(c.ctx, set); err != nil {
		return nil, err
	}
	return summarize(set), nil
}

func fieldAt(list string, i int, field string) string {
	return list + "[" + strconv.Itoa(i) + "]." + field
}

func summarize(s *store.CodeRefSet) *CodeRefSummary {
	flags := map[string]bool{}
	for _, r := range s.References {
		flags[r.FlagKey] = true
	}
	return &CodeRefSummary{Repository: s.Repository, Branch: s.Branch, Commit: s.Commit, ScannedAt: s.ScannedAt,
		UploadedAt: s.UploadedAt, Files: s.Files, References: len(s.References), Flags: len(flags)}
}

// listCodeRefs pages through the matching references without holding more
// than one stored set: a first pass counts the matches of each set, a second
// reads only the sets the page falls in.
func (a *API) listCodeRefs(c *call) (any, error) {
	q := c.r.URL.Query()
	offset, err := c.queryInt("offset", 0, 1<<30)
	if err != nil {
		return nil, err
	}
	limit, err := c.queryInt("limit", 100, 1000)
	if err != nil {
		return nil, err
	}
	release, err := a.codeRefSem(c.ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	key, repo, branch := q.Get("flagKey"), q.Get("repository"), q.Get("branch")
	match := func(r *store.CodeRef) bool { return key == "" || r.FlagKey == key }
	type part struct {
		id, repo, branch string
		n                int
	}
	var parts []part
	err = a.st.EachCodeRefSet(c.ctx, c.project.ID, func(s *store.CodeRefSet) error {
		if (repo != "" && s.Repository != repo) || (branch != "" && s.Branch != branch) {
			return nil
		}
		n := 0
		for i := range s.References {
			if match(&s.References[i]) {
				n++
			}
		}
		if n > 0 {
			parts = append(parts, part{s.ID, s.Repository, s.Branch, n})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(parts, func(i, j int) bool {
		if parts[i].repo != parts[j].repo {
			return parts[i].repo < parts[j].repo
		}
		return parts[i].branch < parts[j].branch
	})
	total, pos := 0, 0
	for _, p := range parts {
		total += p.n
	}
	out := []CodeRefView{}
	for _, p := range parts {
		if pos+p.n <= offset {
			pos += p.n
			continue
		}
		if len(out) >= limit {
			break
		}
		s, err := a.st.GetCodeRefSet(c.ctx, p.id)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		for i := range s.References {
			if !match(&s.References[i]) {
				continue
			}
			if pos >= offset && len(out) < limit {
				out = append(out, CodeRefView{Repository: s.Repository, Branch: s.Branch, Commit: s.Commit, CodeRef: s.References[i]})
			}
			pos++
		}
	}
	return list(out, total), nil
}

func (a *API) listCodeRefRepos(c *call) (any, error) {
	release, err := a.codeRefSem(c.ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	out := []CodeRefSummary{}
	err = a.st.EachCodeRefSet(c.ctx, c.project.ID, func(s *store.CodeRefSet) error {
		out = append(out, *summarize(s))
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Repository != out[j].Repository {
			return out[i].Repository < out[j].Repository
		}
		return out[i].Branch < out[j].Branch
	})
	return list(out, len(out)), nil
}

func (a *API) deleteCodeRefs(c *call) (any, error) {
	q := c.r.URL.Query()
	if q.Get("repository") == "" || q.Get("branch") == "" {
		return nil, store.Invalid("repository", "repository and branch are required")
	}
	return nil, a.st.DeleteCodeRefs(c.ctx, c.project.ID, q.Get("repository"), q.Get("branch"))
}

func (a *API) staleFlags(c *call) (any, error) {
	days, err := c.queryInt("days", defaultStaleDays, 3650)
	if err != nil {
		return nil, err
	}
	if days == 0 {
		return nil, store.Invalid("days", "must be at least 1")
	}
	now := time.Now()
	release, err := a.codeRefSem(c.ctx)
	if err != nil {
		return nil, err
	}
	refs := map[string]int{}
	scanned := false
	err = a.st.EachCodeRefSet(c.ctx, c.project.ID, func(s *store.CodeRefSet) error {
		scanned = true
		for _, r := range s.References {
			refs[r.FlagKey]++
		}
		return nil
	})
	release()
	if err != nil {
		return nil, err
	}
	envs, err := a.st.ListEnvs(c.ctx, c.project.ID)
	if err != nil {
		return nil, err
	}
	rep := &StaleReport{Days: days, Scanned: scanned, Evaluated: a.cfg.Insights != nil}
	var in []stale.Input
	from := now.Add(-time.Duration(days) * 24 * time.Hour)
	for _, e := range envs {
		fs, err := a.st.AllFlags(c.ctx, e.ID)
		if err != nil {
			return nil, err
		}
		// one analytics query per environment, for all its flags
		var usage map[string]map[string]int64
		known := false
		if a.cfg.Insights != nil && len(fs) > 0 {
			if usage, err = a.cfg.Insights.EnvFlagVariations(c.ctx, e.ID, from, now); err != nil {
				a.cfg.Log.Warn("stale flags: analytics unavailable", "env", e.ID, "err", err)
				rep.Evaluated = false
			} else {
				known = true
			}
		}
		for _, f := range fs {
			x := stale.Input{EnvID: e.ID, EnvName: e.Name, Flag: f, CodeRefs: refs[f.Key], Scanned: scanned}
			if known && !f.IsArchived {
				counts := usage[f.Key]
				if counts == nil {
					counts = map[string]int64{} // known to analytics: never evaluated
				}
				x.Usage = stale.Usage{Known: true, Evaluation: counts}
			}
			in = append(in, x)
		}
	}
	rep.Flags = stale.Evaluate(in, days, now)
	if rep.Flags == nil {
		rep.Flags = []stale.Report{}
	}
	return rep, nil
}
