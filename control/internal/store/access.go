package store

import (
	"context"
	"fmt"
)

// Access collections: groups of members and the policies that grant or deny
// actions on resources (docs/access.md).
const (
	CollGroups   = "groups"
	CollPolicies = "policies"
)

func init() {
	Schema = append(Schema,
		Collection{Name: CollGroups, Indexes: []Index{{Name: "org", Fields: []string{"orgId"}}}},
		Collection{Name: CollPolicies, Indexes: []Index{{Name: "org", Fields: []string{"orgId"}}}},
	)
}

// Limits of the access model, so that the evaluation of a request reads and
// checks a bounded amount.
const (
	MaxGroups      = 100  // groups per organization
	MaxPolicies    = 100  // policies per organization
	MaxGroupUsers  = 1000 // members per group
	MaxStatements  = 50   // statements per policy
	MaxPrincipals  = 1000 // principals a policy is attached to
	MaxStmtActions = 32   // actions per statement
	MaxStmtRes     = 32   // resource patterns per statement
)

// Group is a named set of members of an organization; policies attached to
// "group:<id>" apply to each of them.
type Group struct {
	ID          string   `json:"id"`
	OrgID       string   `json:"orgId"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Members     []string `json:"members"` // user ids
	CreatedAt   int64    `json:"createdAt"`
	Version     int64    `json:"version"`
}

// Statement allows or denies actions on resources (patterns such as
// "project/*/env/prod"). Effect is "allow" or "deny".
type Statement struct {
	Effect    string   `json:"effect"`
	Actions   []string `json:"actions"`
	Resources []string `json:"resources"`
}

// Policy is a list of statements attached to principals: "user:<id>",
// "group:<id>" or "token:<id>".
type Policy struct {
	ID          string      `json:"id"`
	OrgID       string      `json:"orgId"`
	Name        string      `json:"name"`
	Description string      `json:"description"`
	Statements  []Statement `json:"statements"`
	Principals  []string    `json:"principals"`
	CreatedAt   int64       `json:"createdAt"`
	Version     int64       `json:"version"`
}

func orgFields(orgID string) map[string]string { return map[string]string{"orgId": orgID} }

// CreateGroup stores a new group (Version 1); an organization holds at most
// MaxGroups (ErrConflict beyond).
func (s *Store) CreateGroup(ctx context.Context, g *Group) error {
	if _, n, err := s.b.Find(ctx, CollGroups, Query{Eq: orgFields(g.OrgID), Limit: 1}); err != nil {
		return fmt.Errorf("cannot count groups: %w", err)
	} else if n >= MaxGroups {
		return Errorf(ErrConflict, "an organization has at most %d groups", MaxGroups)
	}
	g.Version, g.CreatedAt = 1, s.Now()
	return insertDoc(ctx, s, CollGroups, g.ID, 1, orgFields(g.OrgID), g)
}

// GetGroup returns a group of an organization.
func (s *Store) GetGroup(ctx context.Context, orgID, id string) (*Group, error) {
	g, _, err := getDoc[Group](ctx, s, CollGroups, id)
	if err == nil && g.OrgID != orgID {
		return nil, fmt.Errorf("group %s: %w", id, ErrNotFound)
	}
	return g, err
}

// UpdateGroup replaces g if its stored version is expect.
func (s *Store) UpdateGroup(ctx context.Context, g *Group, expect int64) error {
	g.Version = expect + 1
	return replaceDoc(ctx, s, CollGroups, g.ID, g.Version, expect, orgFields(g.OrgID), g)
}

// DeleteGroup deletes a group.
func (s *Store) DeleteGroup(ctx context.Context, id string) error {
	return s.b.Delete(ctx, CollGroups, id, -1)
}

// ListGroups returns the groups of an organization (at most MaxGroups).
func (s *Store) ListGroups(ctx context.Context, orgID string) ([]*Group, error) {
	gs, _, err := findDocs[Group](ctx, s, CollGroups, Query{Eq: orgFields(orgID), Limit: MaxGroups, NoTotal: true})
	return gs, err
}

// CreatePolicy stores a new policy (Version 1); an organization holds at
// most MaxPolicies (ErrConflict beyond).
func (s *Store) CreatePolicy(ctx context.Context, p *Policy) error {
	if _, n, err := s.b.Find(ctx, CollPolicies, Query{Eq: orgFields(p.OrgID), Limit: 1}); err != nil {
		return fmt.Errorf("cannot count policies: %w", err)
	} else if n >= MaxPolicies {
		return Errorf(ErrConflict, "an organization has at most %d policies", MaxPolicies)
	}
	p.Version, p.CreatedAt = 1, s.Now()
	return insertDoc(ctx, s, CollPolicies, p.ID, 1, orgFields(p.OrgID), p)
}

// GetPolicy returns a policy of an organization.
func (s *Store) GetPolicy(ctx context.Context, orgID, id string) (*Policy, error) {
	p, _, err := getDoc[Policy](ctx, s, CollPolicies, id)
	if err == nil && p.OrgID != orgID {
		return nil, fmt.Errorf("policy %s: %w", id, ErrNotFound)
	}
	return p, err
}

// UpdatePolicy replaces p if its stored version is expect.
func (s *Store) UpdatePolicy(ctx context.Context, p *Policy, expect int64) error {
	p.Version = expect + 1
	return replaceDoc(ctx, s, CollPolicies, p.ID, p.Version, expect, orgFields(p.OrgID), p)
}

// DeletePolicy deletes a policy.
func (s *Store) DeletePolicy(ctx context.Context, id string) error {
	return s.b.Delete(ctx, CollPolicies, id, -1)
}

// ListPolicies returns the policies of an organization (at most
// MaxPolicies).
func (s *Store) ListPolicies(ctx context.Context, orgID string) ([]*Policy, error) {
	ps, _, err := findDocs[Policy](ctx, s, CollPolicies, Query{Eq: orgFields(orgID), Limit: MaxPolicies, NoTotal: true})
	return ps, err
}
