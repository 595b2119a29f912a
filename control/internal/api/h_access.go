package api

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/codec/secret"
	"github.com/switchyard/switchyard/control/internal/domain"
	"github.com/switchyard/switchyard/control/internal/store"
)

// Permissions tells a client (the UI) what the caller may do on a resource.
type Permissions struct {
	Role     string   `json:"role"`
	Resource string   `json:"resource"`
	Actions  []string `json:"actions"`
}

// GroupRequest creates or replaces a group (version: the version read, for
// a replacement).
type GroupRequest struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Members     []string `json:"members"`
	Version     int64    `json:"version"`
}

// PolicyRequest creates or replaces a policy.
type PolicyRequest struct {
	Name        string            `json:"name"`
	Description string            `json:"description"`
	Statements  []store.Statement `json:"statements"`
	Principals  []string          `json:"principals"`
	Version     int64             `json:"version"`
}

// RestoreVersionRequest names the version of a flag's history to restore.
type RestoreVersionRequest struct {
	Version int64 `json:"version"`
}

func (a *API) accessRoutes() []Route {
	const p = Prefix
	return []Route{
		{Method: "GET", Path: p + "/orgs/{orgId}/permissions", Tag: "access", Summary: "The caller's role and the actions it may do on the organization itself", Scope: Org, Action: ActRead, Resp: Permissions{}, h: a.orgPermissions},
		{Method: "GET", Path: p + "/envs/{envId}/permissions", Tag: "access", Summary: "The caller's role and the actions it may do in the environment", Scope: Env, Action: ActRead, Resp: Permissions{}, h: a.envPermissions},
		{Method: "GET", Path: p + "/projects/{projectId}/permissions", Tag: "access", Summary: "The caller's role and the actions it may do on the project itself (project:manage: rename, delete, create environments)", Scope: Project, Action: ActRead, Resp: Permissions{}, h: a.envPermissions},
		{Method: "GET", Path: p + "/access/actions", Tag: "access", Summary: "Every action a policy statement can name", Scope: User, Resp: List[string]{}, h: a.listActions},
		{Method: "GET", Path: p + "/orgs/{orgId}/groups", Tag: "access", Summary: "List groups", Scope: Org, Action: ActRead, Resp: List[store.Group]{}, h: a.listGroups},
		{Method: "POST", Path: p + "/orgs/{orgId}/groups", Tag: "access", Summary: "Create a group of members", Scope: Org, Action: ActAccessManage, Status: 201, Body: GroupRequest{}, Resp: store.Group{}, h: a.createGroup},
		{Method: "GET", Path: p + "/orgs/{orgId}/groups/{id}", Tag: "access", Summary: "Get a group", Scope: Org, Action: ActRead, Resp: store.Group{}, h: a.getGroup},
		{Method: "PUT", Path: p + "/orgs/{orgId}/groups/{id}", Tag: "access", Summary: "Replace a group's name and members (version must be the version read)", Scope: Org, Action: ActAccessManage, Body: GroupRequest{}, Resp: store.Group{}, h: a.updateGroup},
		{Method: "DELETE", Path: p + "/orgs/{orgId}/groups/{id}", Tag: "access", Summary: "Delete a group no policy is attached to", Scope: Org, Action: ActAccessManage, h: a.deleteGroup},
		{Method: "GET", Path: p + "/orgs/{orgId}/policies", Tag: "access", Summary: "List policies", Scope: Org, Action: ActRead, Resp: List[store.Policy]{}, h: a.listPolicies},
		{Method: "POST", Path: p + "/orgs/{orgId}/policies", Tag: "access", Summary: "Create a policy: statements (allow or deny actions on resource patterns) attached to members, groups and access tokens", Scope: Org, Action: ActAccessManage, Status: 201, Body: PolicyRequest{}, Resp: store.Policy{}, h: a.createPolicy},
		{Method: "GET", Path: p + "/orgs/{orgId}/policies/{id}", Tag: "access", Summary: "Get a policy", Scope: Org, Action: ActRead, Resp: store.Policy{}, h: a.getPolicy},
		{Method: "PUT", Path: p + "/orgs/{orgId}/policies/{id}", Tag: "access", Summary: "Replace a policy's statements and attachments (version must be the version read)", Scope: Org, Action: ActAccessManage, Body: PolicyRequest{}, Resp: store.Policy{}, h: a.updatePolicy},
		{Method: "DELETE", Path: p + "/orgs/{orgId}/policies/{id}", Tag: "access", Summary: "Delete a policy", Scope: Org, Action: ActAccessManage, h: a.deletePolicy},
		{Method: "GET", Path: p + "/envs/{envId}/flags/{key}/versions", Tag: "flags", Summary: "The kept past states of a flag (the last 100 versions), newest first", Scope: Env, Action: ActRead, Resp: List[codec.Flag]{}, h: a.flagVersions},
		{Method: "POST", Path: p + "/envs/{envId}/flags/{key}/restore-version", Tag: "flags", Summary: "Write a version from the flag's history as a new version (current + 1); published and audited like any update", Scope: Env, Action: ActFlagWrite, Body: RestoreVersionRequest{}, Resp: codec.Flag{}, h: a.restoreVersion},
	}
}

func init() {
	groupBefore := func(c *call, _ []byte) (any, error) { return c.a.st.GetGroup(c.ctx, c.orgID, c.path("id")) }
	policyBefore := func(c *call, _ []byte) (any, error) { return c.a.st.GetPolicy(c.ctx, c.orgID, c.path("id")) }
	auditSpecs["POST /orgs/{orgId}/groups"] = auditSpec{typ: "group", action: "created"}
	auditSpecs["PUT /orgs/{orgId}/groups/{id}"] = auditSpec{typ: "group", action: "updated", before: groupBefore}
	auditSpecs["DELETE /orgs/{orgId}/groups/{id}"] = auditSpec{typ: "group", action: "deleted", before: groupBefore}
	auditSpecs["POST /orgs/{orgId}/policies"] = auditSpec{typ: "policy", action: "created"}
	auditSpecs["PUT /orgs/{orgId}/policies/{id}"] = auditSpec{typ: "policy", action: "updated", before: policyBefore}
	auditSpecs["DELETE /orgs/{orgId}/policies/{id}"] = auditSpec{typ: "policy", action: "deleted", before: policyBefore}
	auditSpecs["POST /envs/{envId}/flags/{key}/restore-version"] = auditSpec{typ: "flag", action: "version_restored", self: true}
}

func (a *API) orgPermissions(c *call) (any, error) {
	res := func() string { return resOrg }
	return &Permissions{Role: c.role, Resource: resOrg, Actions: c.access.actions(res)}, nil
}

// envPermissions answers for the resource of the request's scope: an
// environment or a project.
func (a *API) envPermissions(c *call) (any, error) {
	return &Permissions{Role: c.role, Resource: c.resource(), Actions: c.access.actions(c.resource)}, nil
}

func (a *API) listActions(*call) (any, error) { return list(slices.Clone(Actions), len(Actions)), nil }

// ---- groups ----

func (a *API) listGroups(c *call) (any, error) {
	gs, err := a.st.ListGroups(c.ctx, c.orgID)
	if err != nil {
		return nil, err
	}
	out := make([]store.Group, len(gs))
	for i, g := range gs {
		out[i] = *g
	}
	return list(out, len(out)), nil
}

func (a *API) getGroup(c *call) (any, error) { return a.st.GetGroup(c.ctx, c.orgID, c.path("id")) }

// groupReq validates a group request: a name, and members that are members
// of the organization.
func (a *API) groupReq(c *call, req *GroupRequest) error {
	req.Name = strings.TrimSpace(req.Name)
	if err := domain.Text("name", req.Name, 1, 200); err != nil {
		return err
	}
	if err := domain.Text("description", req.Description, 0, domain.MaxText); err != nil {
		return err
	}
	if len(req.Members) > store.MaxGroupUsers {
		return store.Invalid("members", "at most %d members", store.MaxGroupUsers)
	}
	req.Members = domain.Dedupe(req.Members)
	for i, id := range req.Members {
		if _, err := a.st.GetMember(c.ctx, c.orgID, id); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return store.Invalid(fmt.Sprintf("members[%d]", i), "%q is not a member of the organization", id)
			}
			return err
		}
	}
	return nil
}

func (a *API) createGroup(c *call) (any, error) {
	var req GroupRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if err := a.groupReq(c, &req); err != nil {
		return nil, err
	}
	g := &store.Group{ID: secret.NewGUID(), OrgID: c.orgID, Name: req.Name, Description: req.Description, Members: req.Members}
	return g, a.st.CreateGroup(c.ctx, g)
}

func (a *API) updateGroup(c *call) (any, error) {
	var req GroupRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	g, err := a.st.GetGroup(c.ctx, c.orgID, c.path("id"))
	if err != nil {
		return nil, err
	}
	if err := requireVersion(req.Version, g.Version); err != nil {
		return nil, err
	}
	if err := a.groupReq(c, &req); err != nil {
		return nil, err
	}
	g.Name, g.Description, g.Members = req.Name, req.Description, req.Members
	return g, a.st.UpdateGroup(c.ctx, g, req.Version)
}

func (a *API) deleteGroup(c *call) (any, error) {
	g, err := a.st.GetGroup(c.ctx, c.orgID, c.path("id"))
	if err != nil {
		return nil, err
	}
	pols, err := a.st.ListPolicies(c.ctx, c.orgID)
	if err != nil {
		return nil, err
	}
	for _, p := range pols {
		if slices.Contains(p.Principals, "group:"+g.ID) {
			return nil, store.Errorf(store.ErrConflict, "policy %q is attached to the group; detach it first", p.Name)
		}
	}
	return nil, a.st.DeleteGroup(c.ctx, g.ID)
}

// ---- policies ----

func (a *API) listPolicies(c *call) (any, error) {
	ps, err := a.st.ListPolicies(c.ctx, c.orgID)
	if err != nil {
		return nil, err
	}
	out := make([]store.Policy, len(ps))
	for i, p := range ps {
		out[i] = *p
	}
	return list(out, len(out)), nil
}

func (a *API) getPolicy(c *call) (any, error) { return a.st.GetPolicy(c.ctx, c.orgID, c.path("id")) }

// policyReq validates a policy request: statements with a known effect,
// known actions (access:manage and org:delete only in deny statements: they
// come from the admin and owner roles) and well-formed resource patterns; principals that exist in
// the organization.
func (a *API) policyReq(c *call, req *PolicyRequest) error {
	req.Name = strings.TrimSpace(req.Name)
	if err := domain.Text("name", req.Name, 1, 200); err != nil {
		return err
	}
	if err := domain.Text("description", req.Description, 0, domain.MaxText); err != nil {
		return err
	}
	if len(req.Statements) == 0 || len(req.Statements) > store.MaxStatements {
		return store.Invalid("statements", "must hold 1 to %d statements", store.MaxStatements)
	}
	for i := range req.Statements {
		s := &req.Statements[i]
		at := fmt.Sprintf("statements[%d]", i)
		if s.Effect != effectAllow && s.Effect != effectDeny {
			return store.Invalid(at+".effect", `must be "allow" or "deny"`)
		}
		if len(s.Actions) == 0 || len(s.Actions) > store.MaxStmtActions {
			return store.Invalid(at+".actions", "must name 1 to %d actions", store.MaxStmtActions)
		}
		for j, act := range s.Actions {
			f := fmt.Sprintf("%s.actions[%d]", at, j)
			switch {
			case act == "*" && s.Effect == effectDeny, act != "*" && slices.Contains(Actions, act) && (!slices.Contains(roleOnly, act) || s.Effect == effectDeny):
			case act == ActAccessManage:
				return store.Invalid(f, "%s comes from the admin role only; a policy can deny it, not allow it", ActAccessManage)
			case act == ActOrgDelete:
				return store.Invalid(f, "%s comes from the owner role only; a policy can deny it, not allow it", ActOrgDelete)
			case act == "*":
				return store.Invalid(f, `"*" can only be denied (allowing it would include %s, which comes from the admin role only)`, ActAccessManage)
			default:
				return store.Invalid(f, "unknown action %q (GET %s/access/actions lists them)", act, Prefix)
			}
		}
		if len(s.Resources) == 0 || len(s.Resources) > store.MaxStmtRes {
			return store.Invalid(at+".resources", "must name 1 to %d resource patterns", store.MaxStmtRes)
		}
		for j, r := range s.Resources {
			if err := validPattern(r); err != nil {
				return store.Invalid(fmt.Sprintf("%s.resources[%d]", at, j), "%v", err)
			}
		}
	}
	if len(req.Principals) > store.MaxPrincipals {
		return store.Invalid("principals", "at most %d principals", store.MaxPrincipals)
	}
	req.Principals = domain.Dedupe(req.Principals)
	for i, pr := range req.Principals {
		f := fmt.Sprintf("principals[%d]", i)
		kind, id, _ := strings.Cut(pr, ":")
		var err error
		switch kind {
		case "user":
			_, err = a.st.GetMember(c.ctx, c.orgID, id)
		case "group":
			_, err = a.st.GetGroup(c.ctx, c.orgID, id)
		case "token":
			var t *store.AccessToken
			if t, err = a.st.GetToken(c.ctx, id); err == nil && t.OrgID != c.orgID {
				err = store.ErrNotFound
			}
		default:
			return store.Invalid(f, `must be "user:<userId>", "group:<groupId>" or "token:<tokenId>"`)
		}
		if errors.Is(err, store.ErrNotFound) {
			return store.Invalid(f, "no %s %q in the organization", kind, id)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (a *API) createPolicy(c *call) (any, error) {
	var req PolicyRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if err := a.policyReq(c, &req); err != nil {
		return nil, err
	}
	p := &store.Policy{ID: secret.NewGUID(), OrgID: c.orgID, Name: req.Name, Description: req.Description,
		Statements: req.Statements, Principals: req.Principals}
	return p, a.st.CreatePolicy(c.ctx, p)
}

func (a *API) updatePolicy(c *call) (any, error) {
	var req PolicyRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	p, err := a.st.GetPolicy(c.ctx, c.orgID, c.path("id"))
	if err != nil {
		return nil, err
	}
	if err := requireVersion(req.Version, p.Version); err != nil {
		return nil, err
	}
	if err := a.policyReq(c, &req); err != nil {
		return nil, err
	}
	p.Name, p.Description, p.Statements, p.Principals = req.Name, req.Description, req.Statements, req.Principals
	return p, a.st.UpdatePolicy(c.ctx, p, req.Version)
}

func (a *API) deletePolicy(c *call) (any, error) {
	p, err := a.st.GetPolicy(c.ctx, c.orgID, c.path("id"))
	if err != nil {
		return nil, err
	}
	return nil, a.st.DeletePolicy(c.ctx, p.ID)
}

// ---- flag versions ----

func (a *API) flagVersions(c *call) (any, error) {
	f, err := a.flag(c)
	if err != nil {
		return nil, err
	}
	fs, err := a.st.FlagVersions(c.ctx, c.env.ID, f.ID)
	if err != nil {
		return nil, err
	}
	out := make([]codec.Flag, len(fs))
	for i, x := range fs {
		out[i] = *x
	}
	return list(out, len(out)), nil
}

// restoreVersion writes a past state of the flag as its next version
// through the normal update path (validated against today's segments,
// published, audited with the version restored). The flag's archived state
// is not restored: an archived flag is restored from the archive first.
func (a *API) restoreVersion(c *call) (any, error) {
	var req RestoreVersionRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	cur, err := a.flag(c)
	if err != nil {
		return nil, err
	}
	if req.Version <= 0 || req.Version >= cur.Version {
		return nil, store.Invalid("version", "must be an earlier version of the flag (1 to %d)", cur.Version-1)
	}
	if cur.IsArchived {
		return nil, store.Errorf(store.ErrConflict, "flag %q is archived; restore it first", cur.Key)
	}
	old, err := a.st.GetFlagVersion(c.ctx, c.env.ID, cur.ID, req.Version)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &store.FieldError{Kind: store.ErrNotFound, Field: "version",
			Msg: fmt.Sprintf("version %d is not in the flag's kept history (the last %d versions)", req.Version, store.FlagHistory)}
	}
	if err != nil {
		return nil, err
	}
	f := old.Clone()
	f.ID, f.EnvID, f.Key, f.IsArchived, f.CreatedAt = cur.ID, cur.EnvID, cur.Key, false, cur.CreatedAt
	if err := c.mayToggle(cur, f); err != nil {
		return nil, err
	}
	saved, err := a.dom.SaveFlag(c.ctx, f, cur.Version)
	if err != nil {
		return nil, err
	}
	a.dom.Record(c.ctx, &domain.Change{Actor: c.actor(), ActorName: c.actorName(), OrgID: c.orgID, Type: "flag", Action: "version_restored",
		Comment: commentOf(c.ctx), Before: cur, After: saved, Extra: []string{fmt.Sprintf("restored version %d", req.Version)}})
	return saved, nil
}

// mayToggle refuses a write that turns a flag on or off (next.IsEnabled
// differs from cur's) when the caller lacks flag:toggle in the flag's
// environment: an update, a restore or a copy cannot stand in for a toggle.
func (c *call) mayToggle(cur, next *codec.Flag) error {
	if cur == nil || cur.IsEnabled == next.IsEnabled {
		return nil
	}
	if c.env != nil && next.EnvID == c.env.ID {
		if !c.can(ActFlagToggle) {
			return forbidden(ActFlagToggle, c.resource())
		}
		return nil
	}
	e, err := c.a.st.GetEnv(c.ctx, next.EnvID)
	if err != nil {
		return err
	}
	if !c.canIn(ActFlagToggle, e) {
		return forbidden(ActFlagToggle, "the target environment")
	}
	return nil
}

// forget detaches a removed principal ("user:<id>" or "token:<id>") from
// the organization's policies and, for a member, from its groups, so that a
// member invited again starts without the old grants. Each change is
// audited. Best effort: the removal happened; a failure is logged.
func (a *API) forget(c *call, principal string) {
	ctx := context.WithoutCancel(c.ctx)
	userID, isUser := strings.CutPrefix(principal, "user:")
	for range 3 { // a concurrent policy or group edit: read again
		conflict := false
		pols, err := a.st.ListPolicies(ctx, c.orgID)
		if err != nil {
			a.cfg.Log.Error("cannot detach a removed principal", "principal", principal, "err", err)
			return
		}
		for _, p := range pols {
			if !slices.Contains(p.Principals, principal) {
				continue
			}
			before := *p
			p.Principals = slices.DeleteFunc(slices.Clone(p.Principals), func(x string) bool { return x == principal })
			if err := a.st.UpdatePolicy(ctx, p, before.Version); err != nil {
				conflict = true
				continue
			}
			a.dom.Record(ctx, &domain.Change{Actor: c.actor(), ActorName: c.actorName(), OrgID: c.orgID, Type: "policy", Action: "updated",
				Before: &before, After: p, Extra: []string{"detached " + principal + " (removed from the organization)"}})
		}
		if isUser {
			gs, err := a.st.ListGroups(ctx, c.orgID)
			if err != nil {
				a.cfg.Log.Error("cannot detach a removed principal", "principal", principal, "err", err)
				return
			}
			for _, g := range gs {
				if !slices.Contains(g.Members, userID) {
					continue
				}
				before := *g
				g.Members = slices.DeleteFunc(slices.Clone(g.Members), func(x string) bool { return x == userID })
				if err := a.st.UpdateGroup(ctx, g, before.Version); err != nil {
					conflict = true
					continue
				}
				a.dom.Record(ctx, &domain.Change{Actor: c.actor(), ActorName: c.actorName(), OrgID: c.orgID, Type: "group", Action: "updated",
					Before: &before, After: g, Extra: []string{"removed member " + userID + " (removed from the organization)"}})
			}
		}
		if !conflict {
			return
		}
	}
	a.cfg.Log.Error("cannot detach a removed principal: concurrent changes", "principal", principal)
}
