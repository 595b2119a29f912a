package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
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

// EachCodeRefSet calls fn with each of a project's repository branches,
// one at a time in id order (only one set is in memory at once; a set may
// be tens of megabytes); an error from fn stops the walk and is returned.
// Sets uploaded or deleted during the walk may be missed or seen twice.
func (s *Store) EachCodeRefSet(ctx context.Context, projectID string, fn func(*CodeRefSet) error) error {
	for i := 0; ; i++ {
		docs, total, err := s.b.Find(ctx, CollCodeRefs, Query{Eq: map[string]string{"projectId": projectID}, Offset: i, Limit: 1})
		if err != nil {
			return fmt.Errorf("cannot list code references: %w", err)
		}
		if len(docs) == 0 {
			return nil
		}
		set, err := decodeCodeRefs(docs[0])
		if err != nil {
			return err
		}
		if err := fn(set); err != nil {
			return err
		}
		if i+1 >= total {
			return nil
		}
	}
}

// CountCodeRefSets returns how many repository branches a project has.
func (s *Store) CountCodeRefSets(ctx context.Context, projectID string) (int, error) {
	_, total, err := s.b.Find(ctx, CollCodeRefs, Query{Eq: map[string]string{"projectId": projectID}, Limit: 1})
	if err != nil {
		return 0, fmt.Errorf("cannot count code references: %w", err)
	}
	return total, nil
}

// GetCodeRefSet returns one set by id (CodeRefSetID), or ErrNotFound.
func (s *Store) GetCodeRefSet(ctx context.Context, id string) (*CodeRefSet, error) {
	d, err := s.b.Get(ctx, CollCodeRefs, id)
	if err != nil {
		return nil, err
	}
	return decodeCodeRefs(d)
}

func decodeCodeRefs(d *Doc) (*CodeRefSet, error) {
	var set CodeRefSet
	if err := decode(d.Data, &set); err != nil {
		return nil, fmt.Errorf("cannot decode code references %s: %w", d.ID, err)
	}
	return &set, nil
}

// DeleteCodeRefs removes the references of one repository branch.
func (s *Store) DeleteCodeRefs(ctx context.Context, projectID, repo, branch string) error {
	if err := s.b.Delete(ctx, CollCodeRefs, CodeRefSetID(projectID, repo, branch), -1); err != nil {
		return fmt.Errorf("cannot delete code references of %s@%s: %w", repo, branch, err)
	}
	return nil
}
