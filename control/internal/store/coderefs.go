package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
)

// CollCodeRefs holds the latest code references of each repository branch
// of a project.
const CollCodeRefs = "code_refs"

// CodeRef is one place in a repository where a flag key (or an alias of it)
// is used.
type CodeRef struct {
	FlagKey      string   `json:"flagKey"`
	Token        string   `json:"token"`
	File         string   `json:"file"`
	Line         int      `json:"line"`
	ContextStart int      `json:"contextStart"`
	Context      []string `json:"context"`
}

// CodeRefSet is the result of the latest scan of one repository branch. A
// new upload for the same project, repository and branch replaces it.
type CodeRefSet struct {
	ID         string    `json:"id"`
	OrgID      string    `json:"orgId"`
	ProjectID  string    `json:"projectId"`
	Repository string    `json:"repository"`
	Branch     string    `json:"branch"`
	Commit     string    `json:"commit"`
	ScannedAt  int64     `json:"scannedAt"`
	UploadedAt int64     `json:"uploadedAt"`
	UploadedBy string    `json:"uploadedBy"`
	Files      int64     `json:"files"`
	References []CodeRef `json:"references"`
	Version    int64     `json:"version"`
}

// CodeRefSetID is the document id of a project's repository branch.
func CodeRefSetID(projectID, repo, branch string) string {
	h := sha256.Sum256([]byte(projectID + "\x00" + repo + "\x00" + branch))
	return hex.EncodeToString(h[:16])
}

// PutCodeRefs stores set, replacing the previous set of the same project,
// repository and branch.
func (s *Store) PutCodeRefs(ctx context.Context, set *CodeRefSet) error {
	set.ID = CodeRefSetID(set.ProjectID, set.Repository, set.Branch)
	err := s.b.Modify(ctx, CollCodeRefs, []string{set.ID}, func(_ string, old *Doc) (*Doc, error) {
		set.Version = 1
		if old != nil {
			set.Version = old.Version + 1
		}
		return &Doc{ID: set.ID, Version: set.Version, Fields: map[string]string{"projectId": set.ProjectID}, Data: encode(set)}, nil
	})
	if err != nil {
		return fmt.Errorf("cannot store code references of %s@%s: %w", set.Repository, set.Branch, err)
	}
	return nil
}

// ListCodeRefs returns every repository branch's references of a project,
// by repository and branch.
func (s *Store) ListCodeRefs(ctx context.Context, projectID string) ([]*CodeRefSet, error) {
	docs, _, err := s.b.Find(ctx, CollCodeRefs, Query{Eq: map[string]string{"projectId": projectID}})
	if err != nil {
		return nil, fmt.Errorf("cannot list code references: %w", err)
	}
	out := make([]*CodeRefSet, 0, len(docs))
	for _, d := range docs {
		var set CodeRefSet
		if err := json.Unmarshal(d.Data, &set); err != nil {
			return nil, fmt.Errorf("cannot decode code references %s: %w", d.ID, err)
		}
		out = append(out, &set)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Repository != out[j].Repository {
			return out[i].Repository < out[j].Repository
		}
		return out[i].Branch < out[j].Branch
	})
	return out, nil
}

// DeleteCodeRefs removes the references of one repository branch.
func (s *Store) DeleteCodeRefs(ctx context.Context, projectID, repo, branch string) error {
	if err := s.b.Delete(ctx, CollCodeRefs, CodeRefSetID(projectID, repo, branch), -1); err != nil {
		return fmt.Errorf("cannot delete code references of %s@%s: %w", repo, branch, err)
	}
	return nil
}
