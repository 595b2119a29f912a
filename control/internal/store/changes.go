package store

import (
	"context"
	"encoding/json"
	"fmt"
)

// CollChangeRequests holds the change requests of protected environments.
const CollChangeRequests = "change_requests"

func init() {
	Schema = append(Schema, Collection{Name: CollChangeRequests, Indexes: []Index{
		{Name: "env", Fields: []string{"envId", "created"}},
		{Name: "env_status", Fields: []string{"envId", "status", "created"}},
	}})
}

// Change request states: open → approved (enough approvals) → applied; open
// or approved → rejected (a reviewer said no) or closed (the author withdrew
// it). A request whose item changed since its base is refused at apply time
// and can be rebased (back to open, approvals cleared).
const (
	CROpen     = "open"
	CRApproved = "approved"
	CRRejected = "rejected"
	CRApplied  = "applied"
	CRClosed   = "closed"
)

// Change request kinds and operations.
const (
	CRKindFlag    = "flag"
	CRKindSegment = "segment"
	CROpCreate    = "create"
	CROpUpdate    = "update"
)

// MaxOpenChangeRequests bounds the open change requests of one environment.
const MaxOpenChangeRequests = 200

// Review is one approval or rejection.
type Review struct {
	Actor     string `json:"actor"`
	ActorName string `json:"actorName,omitempty"`
	Decision  string `json:"decision"` // "approved" or "rejected"
	Comment   string `json:"comment,omitempty"`
	At        int64  `json:"at"`
}

// ChangeRequest is a proposed write to a flag or segment of a protected
// environment: the whole proposed item, the item it was based on (Base,
// at BaseVersion; nil for a creation) and the difference in words.
type ChangeRequest struct {
	ID          string          `json:"id"`
	OrgID       string          `json:"orgId"`
	EnvID       string          `json:"envId"`
	Kind        string          `json:"kind"` // flag or segment
	Op          string          `json:"op"`   // create or update
	ItemID      string          `json:"itemId,omitempty"`
	ItemKey     string          `json:"itemKey"` // flag key or segment name
	BaseVersion int64           `json:"baseVersion"`
	Base        json.RawMessage `json:"base,omitempty"`
	Proposed    json.RawMessage `json:"proposed"`
	Diff        []string        `json:"diff"`
	Comment     string          `json:"comment,omitempty"`
	Author      string          `json:"author"`
	AuthorName  string          `json:"authorName,omitempty"`
	Status      string          `json:"status"`
	Reviews     []Review        `json:"reviews"`
	// Approvals counts the approvals since the last rebase; Required is
	// the environment's setting when the request was opened or rebased.
	Approvals      int    `json:"approvals"`
	Required       int    `json:"required"`
	AppliedVersion int64  `json:"appliedVersion,omitempty"`
	AppliedBy      string `json:"appliedBy,omitempty"`
	Created        int64  `json:"createdAt"`
	Updated        int64  `json:"updatedAt"`
	Version        int64  `json:"version"`
}

func crFields(c *ChangeRequest) map[string]string {
	return map[string]string{"envId": c.EnvID, "created": pad(c.Created) + c.ID, "status": c.Status}
}

// CreateChangeRequest stores a new change request (Version 1). At most
// MaxOpenChangeRequests may be open or approved in one environment.
func (s *Store) CreateChangeRequest(ctx context.Context, c *ChangeRequest) error {
	n := 0
	for _, st := range []string{CROpen, CRApproved} {
		_, k, err := s.ListChangeRequests(ctx, c.EnvID, st, 0, 1)
		if err != nil {
			return err
		}
		n += k
	}
	if n >= MaxOpenChangeRequests {
		return Errorf(ErrTooMany, "the environment has %d open change requests; close some first", n)
	}
	c.Version, c.Created, c.Updated = 1, s.Now(), s.Now()
	return insertDoc(ctx, s, CollChangeRequests, c.ID, 1, crFields(c), c)
}

// GetChangeRequest returns a change request of an environment.
func (s *Store) GetChangeRequest(ctx context.Context, envID, id string) (*ChangeRequest, error) {
	c, v, err := getDoc[ChangeRequest](ctx, s, CollChangeRequests, id)
	if err != nil {
		return nil, err
	}
	if c.EnvID != envID {
		return nil, fmt.Errorf("change request %s: %w", id, ErrNotFound)
	}
	c.Version = v
	return c, nil
}

// UpdateChangeRequest replaces a change request whose stored version is
// expect (ErrConflict otherwise); c.Version becomes expect+1.
func (s *Store) UpdateChangeRequest(ctx context.Context, c *ChangeRequest, expect int64) error {
	c.Version, c.Updated = expect+1, s.Now()
	return replaceDoc(ctx, s, CollChangeRequests, c.ID, c.Version, expect, crFields(c), c)
}

// ListChangeRequests returns a page of an environment's change requests,
// newest first, optionally of one status, and how many match.
func (s *Store) ListChangeRequests(ctx context.Context, envID, status string, offset, limit int) ([]*ChangeRequest, int, error) {
	eq := envFields(envID)
	if status != "" {
		eq["status"] = status
	}
	return findDocs[ChangeRequest](ctx, s, CollChangeRequests, Query{Eq: eq, Sort: "created", Desc: true, Offset: offset, Limit: limit})
}

type changeRequestKey struct{}

// WithChangeRequest marks ctx as applying the approved change request id:
// BumpEnv lets its write through a protected environment.
func WithChangeRequest(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, changeRequestKey{}, id)
}

// ChangeRequestFrom returns the change request ctx applies, or "".
func ChangeRequestFrom(ctx context.Context) string {
	s, _ := ctx.Value(changeRequestKey{}).(string)
	return s
}

// Gate refuses a write to a protected environment that is not the
// application of a change request.
func (s *Store) Gate(ctx context.Context, envID string) error {
	if ChangeRequestFrom(ctx) != "" {
		return nil
	}
	es, err := s.GetEnvSettings(ctx, envID)
	if err != nil {
		return err
	}
	if es.Protected {
		return Errorf(ErrChangeRequest, "environment %s is protected: flags and segments change there only through an approved change request (POST /api/v1/envs/%s/change-requests)", envID, envID)
	}
	return nil
}
