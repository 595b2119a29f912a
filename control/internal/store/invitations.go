package store

import (
	"context"
	"errors"
	"fmt"
)

// CollInvitations holds pending invitations to organizations.
const CollInvitations = "invitations"

func init() {
	Schema = append(Schema, Collection{Name: CollInvitations, Indexes: []Index{
		{Name: "hash", Fields: []string{"hash"}, Unique: true},
		{Name: "org", Fields: []string{"orgId"}},
	}})
}

// Invitation offers an email address a role in an organization. Only the
// SHA-256 of its token is stored (Hash, hidden from JSON responses); the
// token is shown once, to the inviter. It is single use (ConsumeInvitation)
// and expires at ExpiresAt (Unix ms).
type Invitation struct {
	ID        string `json:"id"`
	OrgID     string `json:"orgId"`
	Email     string `json:"email"`
	Role      string `json:"role"`
	Hash      string `json:"-"`
	CreatedBy string `json:"createdBy"`
	CreatedAt int64  `json:"createdAt"`
	ExpiresAt int64  `json:"expiresAt"`
}

// invitationDoc stores the hash, which Invitation hides from responses.
type invitationDoc struct {
	Invitation
	StoredHash string `json:"hash"`
}

func invitationOf(d *invitationDoc) *Invitation { v := d.Invitation; v.Hash = d.StoredHash; return &v }

// CreateInvitation stores an invitation (Hash must be set).
func (s *Store) CreateInvitation(ctx context.Context, v *Invitation) error {
	if v.CreatedAt == 0 {
		v.CreatedAt = s.Now()
	}
	return insertDoc(ctx, s, CollInvitations, v.ID, 1, map[string]string{"hash": v.Hash, "orgId": v.OrgID}, invitationDoc{*v, v.Hash})
}

// ListInvitations returns the invitations of an organization, expired ones
// included.
func (s *Store) ListInvitations(ctx context.Context, orgID string) ([]*Invitation, error) {
	ds, _, err := findDocs[invitationDoc](ctx, s, CollInvitations, Query{Eq: map[string]string{"orgId": orgID}})
	out := make([]*Invitation, len(ds))
	for i, d := range ds {
		out[i] = invitationOf(d)
	}
	return out, err
}

// GetInvitation returns an invitation by id.
func (s *Store) GetInvitation(ctx context.Context, id string) (*Invitation, error) {
	d, _, err := getDoc[invitationDoc](ctx, s, CollInvitations, id)
	if err != nil {
		return nil, err
	}
	return invitationOf(d), nil
}

// GetInvitationByHash returns the live invitation whose token has the
// SHA-256 hash; an unknown or expired one is ErrNotFound.
func (s *Store) GetInvitationByHash(ctx context.Context, hash string) (*Invitation, error) {
	ds, _, err := findDocs[invitationDoc](ctx, s, CollInvitations, Query{Eq: map[string]string{"hash": hash}})
	if err != nil {
		return nil, err
	}
	if len(ds) == 0 || ds[0].ExpiresAt <= s.Now() {
		return nil, fmt.Errorf("invitation: %w", ErrNotFound)
	}
	return invitationOf(ds[0]), nil
}

// ConsumeInvitation deletes the invitation with the id, exactly once: of
// concurrent callers one gets nil and the others ErrNotFound.
func (s *Store) ConsumeInvitation(ctx context.Context, id string) error {
	d, err := s.b.Get(ctx, CollInvitations, id)
	if err != nil {
		return fmt.Errorf("invitation %s: %w", id, err)
	}
	if err := s.b.Delete(ctx, CollInvitations, id, d.Version); err != nil {
		if errors.Is(err, ErrConflict) {
			return fmt.Errorf("invitation %s was used concurrently: %w", id, ErrNotFound)
		}
		return fmt.Errorf("invitation %s: %w", id, err)
	}
	return nil
}

// DeleteInvitation revokes an invitation.
func (s *Store) DeleteInvitation(ctx context.Context, id string) error {
	return s.b.Delete(ctx, CollInvitations, id, -1)
}

// DeleteSessionsOfUser ends every session of a user except the one with id
// keep ("" keeps none) and returns how many it ended.
func (s *Store) DeleteSessionsOfUser(ctx context.Context, userID, keep string) (int, error) {
	ss, _, err := findDocs[Session](ctx, s, CollSessions, Query{Eq: map[string]string{"userId": userID}})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, x := range ss {
		if x.ID == keep {
			continue
		}
		if err := s.b.Delete(ctx, CollSessions, x.ID, -1); err != nil && !errors.Is(err, ErrNotFound) {
			return n, fmt.Errorf("cannot end session: %w", err)
		}
		n++
	}
	return n, nil
}
