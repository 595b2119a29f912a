package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// OrgDeletion names what DeleteOrg keeps of an organization: the webhooks
// that still have to deliver the organization.deleted event (the webhook
// dispatcher removes each with DeleteWebhookAndDeliveries when that
// delivery ends; nobody can read or change them meanwhile, the organization
// being gone).
type OrgDeletion struct {
	KeepWebhooks []string
}

// CountProjects returns how many projects an organization has.
func (s *Store) CountProjects(ctx context.Context, orgID string) (int, error) {
	_, n, err := s.b.Find(ctx, CollProjects, Query{Eq: orgFields(orgID), Limit: 1})
	if err != nil {
		return 0, fmt.Errorf("cannot count projects: %w", err)
	}
	return n, nil
}

func projectsLeft(n int) error {
	if n == 1 {
		return Errorf(ErrConflict, "the organization still has 1 project; delete it first")
	}
	return Errorf(ErrConflict, "the organization still has %d projects; delete them first", n)
}

// DeleteOrg deletes an organization that has no projects (ErrConflict
// naming how many remain) and everything scoped to it: access tokens first
// (they stop authenticating at once), invitations, SSO issuers with their
// identities and the sign-in rules, webhooks with their delivery logs (but
// keep.KeepWebhooks), groups, policies, the audit log, then the
// memberships and the organization document (the caller records the
// deletion afterwards: that audit entry stays until audit retention prunes
// it).
// Users stay (with their other memberships and sessions). Projects are
// counted again before the memberships go, so a project created meanwhile
// stops the deletion with the organization still usable. A failure part way
// leaves the organization in place with its owners: calling it again
// finishes the job.
func (s *Store) DeleteOrg(ctx context.Context, orgID string, keep OrgDeletion) error {
	if n, err := s.CountProjects(ctx, orgID); err != nil {
		return err
	} else if n > 0 {
		return projectsLeft(n)
	}
	if _, err := s.GetOrg(ctx, orgID); err != nil {
		return err
	}
	byOrg := Query{Eq: orgFields(orgID)}
	none := func(string) bool { return false }
	for _, coll := range []string{CollTokens, CollInvitations} {
		if _, err := s.deleteWhere(ctx, coll, byOrg, none); err != nil {
			return err
		}
	}
	issuers, err := s.deleteWhere(ctx, CollSSOIssuers, byOrg, none)
	if err != nil {
		return err
	}
	if len(issuers) > 0 {
		if _, err := s.deleteWhere(ctx, CollSSOIdentities, Query{}, func(id string) bool {
			issuer, _, _ := strings.Cut(id, "|")
			return !slices.Contains(issuers, issuer)
		}); err != nil {
			return err
		}
	}
	if err := s.b.Delete(ctx, CollSSOSettings, orgID, -1); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("cannot delete the sign-in rules: %w", err)
	}
	hooks, err := s.deleteWhere(ctx, CollWebhooks, byOrg, func(id string) bool { return slices.Contains(keep.KeepWebhooks, id) })
	if err != nil {
		return err
	}
	for _, w := range hooks {
		if _, err := s.deleteWhere(ctx, CollDeliveries, Query{Eq: map[string]string{"webhookId": w}}, none); err != nil {
			return err
		}
	}
	for _, coll := range []string{CollGroups, CollPolicies} {
		if _, err := s.deleteWhere(ctx, coll, byOrg, none); err != nil {
			return err
		}
	}
	if _, err := s.deleteWhere(ctx, CollAudit, byOrg, none); err != nil {
		return err
	}
	if n, err := s.CountProjects(ctx, orgID); err != nil {
		return err
	} else if n > 0 {
		return projectsLeft(n)
	}
	if _, err := s.deleteWhere(ctx, CollMembers, byOrg, none); err != nil {
		return err
	}
	if err := s.b.Delete(ctx, CollOrgs, orgID, -1); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("cannot delete organization %s: %w", orgID, err)
	}
	// A request in flight may have written a membership or a token since
	// (a role change, an accepted invitation): they go too. Anything later
	// is refused, the organization being gone (every organization route
	// reads it first).
	for _, coll := range []string{CollMembers, CollTokens} {
		if _, err := s.deleteWhere(ctx, coll, byOrg, none); err != nil {
			return err
		}
	}
	return nil
}

// DeleteWebhookAndDeliveries removes a webhook and its delivery log (the
// webhooks DeleteOrg kept, once their last delivery ended).
func (s *Store) DeleteWebhookAndDeliveries(ctx context.Context, id string) error {
	if _, err := s.deleteWhere(ctx, CollDeliveries, Query{Eq: map[string]string{"webhookId": id}}, func(string) bool { return false }); err != nil {
		return err
	}
	if err := s.b.Delete(ctx, CollWebhooks, id, -1); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("cannot delete webhook %s: %w", id, err)
	}
	return nil
}

// deleteWhere deletes the documents of coll matching q (Eq, In, Search)
// except those skip names, and returns the ids it deleted. The ids are
// collected first (a scan holds one batch of documents at a time), then
// deleted one by one; one deleted meanwhile by someone else is skipped.
func (s *Store) deleteWhere(ctx context.Context, coll string, q Query, skip func(id string) bool) ([]string, error) {
	var ids []string
	if err := s.b.Scan(ctx, coll, q, func(d *Doc) error {
		if !skip(d.ID) {
			ids = append(ids, d.ID)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", coll, err)
	}
	for _, id := range ids {
		if err := s.b.Delete(ctx, coll, id, -1); err != nil && !errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("cannot delete %s %s: %w", coll, id, err)
		}
	}
	return ids, nil
}
