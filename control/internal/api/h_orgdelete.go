package api

import (
	"net/http"

	"github.com/switchyard/switchyard/control/internal/domain"
)

// Deleting an organization (docs/access.md, org:delete): owners only, and
// only once it has no projects.

func init() {
	// self: the domain records the entry after the deletion (the
	// organization's audit log goes with it).
	auditSpecs["DELETE /orgs/{orgId}"] = auditSpec{typ: "organization", action: "deleted", self: true}
}

func (a *API) orgDeleteRoutes() []Route {
	const p = Prefix
	return []Route{
		{Method: "DELETE", Path: p + "/orgs/{orgId}", Tag: "orgs", Summary: "Delete an organization that has no projects (409 names how many remain) and everything scoped to it: members, access tokens, invitations, groups, policies, SSO issuers, webhooks, the audit log; owners only (org:delete)", Scope: Org, Action: ActOrgDelete, Status: http.StatusNoContent, h: a.deleteOrg},
	}
}

func (a *API) deleteOrg(c *call) (any, error) {
	ch := &domain.Change{Actor: c.actor(), ActorName: c.actorName(), Comment: commentOf(c.ctx)}
	return nil, a.dom.DeleteOrg(c.ctx, c.orgID, ch)
}
