package api

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/switchyard/switchyard/control/internal/store"
)

// Actions a route, a policy statement or a role names (docs/access.md).
const (
	ActRead            = "read"             // everything but secrets, in the resource
	ActFlagWrite       = "flag:write"       // create, change, archive, delete flags; triggers, schedules
	ActFlagToggle      = "flag:toggle"      // turn a flag on or off
	ActSegmentWrite    = "segment:write"    // segments
	ActExperimentWrite = "experiment:write" // metrics and experiments
	ActCodeRefWrite    = "coderef:write"    // upload and forget code references
	ActSecretRead      = "secret:read"      // see an environment's SDK secrets
	ActSecretRotate    = "secret:rotate"    // replace an SDK secret
	ActEnvManage       = "env:manage"       // rename or delete an environment, its workflow settings, erase end users
	ActProjectManage   = "project:manage"   // create, rename, delete projects; create environments
	ActMemberManage    = "member:manage"    // members' roles, invitations
	ActTokenManage     = "token:manage"     // access tokens
	ActWebhookManage   = "webhook:manage"   // webhooks and their deliveries
	ActOrgManage       = "org:manage"       // rename the organization
	ActOrgDelete       = "org:delete"       // delete the organization; from the owner role only
	ActAccessManage    = "access:manage"    // groups and policies; from the admin role only
	ActChangeApprove   = "change:approve"   // approve or reject change requests of protected environments
)

// Actions lists every action, in the order of the documentation.
var Actions = []string{ActRead, ActFlagWrite, ActFlagToggle, ActSegmentWrite, ActExperimentWrite,
	ActCodeRefWrite, ActSecretRead, ActSecretRotate, ActEnvManage, ActProjectManage, ActMemberManage,
	ActTokenManage, ActWebhookManage, ActOrgManage, ActOrgDelete, ActAccessManage, ActChangeApprove}

// roleOnly lists the actions no policy can allow: access:manage comes from
// the admin role, org:delete from the owner role (a policy may deny them,
// which for org:delete changes nothing: policies do not apply to owners).
var roleOnly = []string{ActAccessManage, ActOrgDelete}

// roleActions is each organization role as a built-in policy: the role
// allows these actions on every resource ("*").
var roleActions = map[string][]string{
	store.RoleViewer: {ActRead},
	store.RoleEditor: {ActRead, ActFlagWrite, ActFlagToggle, ActSegmentWrite, ActExperimentWrite, ActCodeRefWrite, ActSecretRead},
	store.RoleAdmin:  slices.DeleteFunc(slices.Clone(Actions), func(a string) bool { return a == ActOrgDelete }),
	store.RoleOwner:  Actions,
}

// Resource names: the organization itself, a project, an environment.
const resOrg = "org"

func resProject(key string) string      { return "project/" + key }
func resEnv(project, env string) string { return "project/" + project + "/env/" + env }

// layer is one principal's grants: the actions of its role and the
// statements of the policies attached to it (for a member also those of its
// groups).
type layer struct {
	role  string
	stmts []store.Statement
}

// can decides one action on one resource: an owner may do everything
// (policies do not apply to owners); otherwise a matching deny statement
// refuses, a matching allow statement or the role allows, and anything else
// is refused. access:manage and org:delete come from the role only.
func (l *layer) can(action, res string) bool {
	if l.role == store.RoleOwner {
		return true
	}
	allow := slices.Contains(roleActions[l.role], action)
	for i := range l.stmts {
		s := &l.stmts[i]
		if !stmtMatches(s, action, res) {
			continue
		}
		if s.Effect == effectDeny {
			return false
		}
		if !slices.Contains(roleOnly, action) {
			allow = true
		}
	}
	return allow
}

// access decides the requests of one caller in one organization. A member
// has one layer; an access token has its own layer and those of its
// creators (the creating member, or tokens up to a member): every layer must
// allow, so a token never does what its creator may not.
type access struct {
	layers []layer
}

// can reports whether every layer allows action on the resource res names;
// res is called only when some layer has statements.
func (ac *access) can(action string, res func() string) bool {
	if len(ac.layers) == 0 {
		return false
	}
	r := ""
	for i := range ac.layers {
		l := &ac.layers[i]
		if len(l.stmts) > 0 && r == "" {
			r = res()
		}
		if !l.can(action, r) {
			return false
		}
	}
	return true
}

// actions lists the actions allowed on res.
func (ac *access) actions(res func() string) []string {
	out := []string{}
	for _, act := range Actions {
		if ac.can(act, res) {
			out = append(out, act)
		}
	}
	return out
}

const (
	effectAllow = "allow"
	effectDeny  = "deny"
)

func stmtMatches(s *store.Statement, action, res string) bool {
	if !slices.Contains(s.Actions, action) && !slices.Contains(s.Actions, "*") {
		return false
	}
	for _, p := range s.Resources {
		if patternMatches(p, res) {
			return true
		}
	}
	return false
}

// patternMatches reports whether a resource pattern covers res: "*" covers
// everything; otherwise the pattern's segments must match res's first
// segments one by one (path.Match globs), so "project/shop" covers the
// project and its environments, "project/*/env/prod" every prod
// environment.
func patternMatches(pattern, res string) bool {
	if pattern == "*" {
		return true
	}
	if res == "" {
		return false
	}
	ps, rs := strings.Split(pattern, "/"), strings.Split(res, "/")
	if len(ps) > len(rs) {
		return false
	}
	for i, p := range ps {
		if ok, _ := path.Match(p, rs[i]); !ok {
			return false
		}
	}
	return true
}

// validPattern checks a resource pattern's shape: "*", "org",
// "project/<glob>" or "project/<glob>/env/<glob>".
func validPattern(p string) error {
	if p == "*" || p == resOrg {
		return nil
	}
	if len(p) > 200 {
		return errors.New("must be at most 200 characters")
	}
	ps := strings.Split(p, "/")
	if (len(ps) != 2 && len(ps) != 4) || ps[0] != "project" || (len(ps) == 4 && ps[2] != "env") {
		return errors.New(`must be "*", "org", "project/<key>" or "project/<key>/env/<key>" (keys may use * and ? globs)`)
	}
	for i := 1; i < len(ps); i += 2 {
		if ps[i] == "" {
			return errors.New("a key or glob is empty")
		}
		if _, err := path.Match(ps[i], ""); err != nil {
			return fmt.Errorf("bad glob %q", ps[i])
		}
	}
	return nil
}

// accessIn returns how the caller is decided in an organization and its
// effective role (a token's: its own capped by its creators'). ErrForbidden
// if the caller is no member (or the token belongs to another
// organization).
func (a *API) accessIn(ctx context.Context, p *principal, orgID string) (*access, string, error) {
	role, err := a.roleIn(ctx, p, orgID)
	if err != nil {
		return nil, "", err
	}
	// The principals of each layer: the token chain, then the member.
	var chain [][]string
	var roles []string
	userID := ""
	if p.token != nil {
		t := p.token
		for range maxTokenChain {
			chain, roles = append(chain, []string{"token:" + t.ID}), append(roles, t.Role)
			creator, isToken := strings.CutPrefix(t.CreatedBy, "token:")
			if !isToken {
				userID = creator
				break
			}
			parent, err := a.st.GetToken(ctx, creator)
			if err != nil {
				return nil, "", store.Errorf(store.ErrUnauthorized, "invalid or expired token: the token that created it was revoked")
			}
			t = parent
		}
		if userID == "" {
			return nil, "", store.Errorf(store.ErrUnauthorized, "invalid or expired token: too long a chain of tokens creating tokens")
		}
		m, err := a.st.GetMember(ctx, orgID, userID)
		if err != nil {
			return nil, "", store.Errorf(store.ErrUnauthorized, "invalid or expired token: its creator is no longer a member of the organization")
		}
		roles = append(roles, m.Role)
	} else {
		userID = p.user.ID
		roles = append(roles, role)
	}
	chain = append(chain, []string{"user:" + userID})
	pols, err := a.st.ListPolicies(ctx, orgID)
	if err != nil {
		return nil, "", err
	}
	if len(pols) > 0 && slices.ContainsFunc(pols, attachedToGroup) {
		gs, err := a.st.ListGroups(ctx, orgID)
		if err != nil {
			return nil, "", err
		}
		last := &chain[len(chain)-1]
		for _, g := range gs {
			if slices.Contains(g.Members, userID) {
				*last = append(*last, "group:"+g.ID)
			}
		}
	}
	ac := &access{layers: make([]layer, len(chain))}
	for i, ps := range chain {
		l := &ac.layers[i]
		l.role = roles[i]
		for _, pol := range pols {
			if slices.ContainsFunc(pol.Principals, func(x string) bool { return slices.Contains(ps, x) }) {
				l.stmts = append(l.stmts, pol.Statements...)
			}
		}
	}
	return ac, role, nil
}

func attachedToGroup(p *store.Policy) bool {
	return slices.ContainsFunc(p.Principals, func(x string) bool { return strings.HasPrefix(x, "group:") })
}

// resource names what the request acts on: its environment, project or the
// organization (read once, when a policy needs it).
func (c *call) resource() string {
	if c.res != "" {
		return c.res
	}
	switch {
	case c.env != nil:
		pk := c.env.ProjectID
		if p, err := c.a.st.GetProject(c.ctx, c.env.ProjectID); err == nil {
			pk = p.Key
		}
		c.res = resEnv(pk, c.env.Key)
	case c.project != nil:
		c.res = resProject(c.project.Key)
	default:
		c.res = resOrg
	}
	return c.res
}

// envResource names another environment of the request's organization.
func (c *call) envResource(e *store.Env) func() string {
	return func() string {
		pk := e.ProjectID
		if p, err := c.a.st.GetProject(c.ctx, e.ProjectID); err == nil {
			pk = p.Key
		}
		return resEnv(pk, e.Key)
	}
}

// can reports whether the caller may do action in the request's resource.
func (c *call) can(action string) bool {
	return c.access != nil && c.access.can(action, c.resource)
}

// canIn reports whether the caller may do action in another environment of
// the request's organization (the target of a copy or compare).
func (c *call) canIn(action string, e *store.Env) bool {
	return c.access != nil && e.OrgID == c.orgID && c.access.can(action, c.envResource(e))
}

func forbidden(action, res string) error {
	return store.Errorf(store.ErrForbidden, "this needs the %s action on %s", action, res)
}
