package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/audit"
	"github.com/switchyard/switchyard/control/internal/domain"
	"github.com/switchyard/switchyard/control/internal/store"
	"github.com/switchyard/switchyard/control/internal/webhook"
)

// CommentHeader carries a change comment (as does a "comment" field in the
// JSON body of any audited write, or a "comment" query parameter).
const CommentHeader = "X-Change-Comment"

// AuditQuery lists the filters of the audit routes.
var auditQuery = []string{"envId", "type", "resource", "actor", "from", "to", "offset", "limit"}

// EnvSettingsRequest changes an environment's workflow settings. The
// protection fields keep their value when omitted.
type EnvSettingsRequest struct {
	RequireComment    bool      `json:"requireComment"`
	Protected         *bool     `json:"protected,omitempty"`
	RequiredApprovals *int      `json:"requiredApprovals,omitempty"`
	Approvers         *[]string `json:"approvers,omitempty"`
}

// Limits of the protection settings.
const (
	maxRequiredApprovals = 10
	maxApprovers         = 100
)

func (a *API) auditRoutes() []Route {
	const p = Prefix
	return []Route{
		{Method: "GET", Path: p + "/orgs/{orgId}/audit", Tag: "audit", Summary: "Audit log of an organization, newest first (filters: envId, type, resource id or key, actor, from/to in Unix ms or RFC 3339; paging)", Scope: Org, Action: ActRead, Query: auditQuery, Resp: List[store.AuditEntry]{}, h: a.listAudit},
		{Method: "GET", Path: p + "/envs/{envId}/audit", Tag: "audit", Summary: "Audit log of an environment, newest first (same filters)", Scope: Env, Action: ActRead, Query: auditQuery, Resp: List[store.AuditEntry]{}, h: a.listAudit},
		{Method: "GET", Path: p + "/envs/{envId}/workflow-settings", Tag: "audit", Summary: "Workflow settings of an environment (whether writes need a change comment; protection: required approvals, approvers)", Scope: Env, Action: ActRead, Resp: store.EnvSettings{}, h: a.getEnvSettings},
		{Method: "PUT", Path: p + "/envs/{envId}/workflow-settings", Tag: "audit", Summary: "Change the workflow settings of an environment (protected, requiredApprovals, approvers keep their value when omitted)", Scope: Env, Action: ActEnvManage, Body: EnvSettingsRequest{}, Resp: store.EnvSettings{}, h: a.putEnvSettings},
	}
}

func (a *API) getEnvSettings(c *call) (any, error) { return a.st.GetEnvSettings(c.ctx, c.env.ID) }

func (a *API) putEnvSettings(c *call) (any, error) {
	var req EnvSettingsRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	es, err := a.st.GetEnvSettings(c.ctx, c.env.ID)
	if err != nil {
		return nil, err
	}
	es.EnvID, es.RequireComment = c.env.ID, req.RequireComment
	if req.Protected != nil {
		es.Protected = *req.Protected
	}
	if n := req.RequiredApprovals; n != nil {
		if *n < 1 || *n > maxRequiredApprovals {
			return nil, store.Invalid("requiredApprovals", "must be from 1 to %d", maxRequiredApprovals)
		}
		es.RequiredApprovals = *n
	}
	if es.Protected && es.RequiredApprovals == 0 {
		es.RequiredApprovals = 1
	}
	if req.Approvers != nil {
		if err := a.checkApprovers(c, *req.Approvers); err != nil {
			return nil, err
		}
		es.Approvers = domain.Dedupe(*req.Approvers)
	}
	return es, a.st.PutEnvSettings(c.ctx, es)
}

// checkApprovers checks that each approver is "user:<id>" of a member or
// "group:<id>" of a group of the organization.
func (a *API) checkApprovers(c *call, xs []string) error {
	if len(xs) > maxApprovers {
		return store.Invalid("approvers", "at most %d approvers", maxApprovers)
	}
	var groups []*store.Group
	for i, x := range xs {
		field := fmt.Sprintf("approvers[%d]", i)
		switch {
		case strings.HasPrefix(x, "user:"):
			if _, err := a.st.GetMember(c.ctx, c.orgID, strings.TrimPrefix(x, "user:")); err != nil {
				return store.Invalid(field, "no member %q in the organization", x)
			}
		case strings.HasPrefix(x, "group:"):
			if groups == nil {
				gs, err := a.st.ListGroups(c.ctx, c.orgID)
				if err != nil {
					return err
				}
				groups = append(gs, nil)
			}
			if !slices.ContainsFunc(groups, func(g *store.Group) bool { return g != nil && "group:"+g.ID == x }) {
				return store.Invalid(field, "no group %q in the organization", x)
			}
		default:
			return store.Invalid(field, `must be "user:<userId>" or "group:<groupId>"`)
		}
	}
	return nil
}

// parseTime reads a time query parameter: Unix milliseconds or RFC 3339.
func (c *call) parseTime(name string) (int64, error) {
	s := c.r.URL.Query().Get(name)
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
		return n, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return 0, store.Invalid(name, "must be Unix milliseconds or an RFC 3339 time")
	}
	return t.UnixMilli(), nil
}

func (a *API) listAudit(c *call) (any, error) {
	q := c.r.URL.Query()
	off, err := c.queryInt("offset", 0, 1<<30)
	if err != nil {
		return nil, err
	}
	lim, err := c.queryInt("limit", 50, 1000)
	if err != nil {
		return nil, err
	}
	from, err := c.parseTime("from")
	if err != nil {
		return nil, err
	}
	to, err := c.parseTime("to")
	if err != nil {
		return nil, err
	}
	f := store.AuditFilter{OrgID: c.orgID, EnvID: q.Get("envId"), ResourceType: q.Get("type"),
		Resource: q.Get("resource"), Actor: q.Get("actor"), From: from, To: to, Offset: off, Limit: lim}
	if c.env != nil {
		f.EnvID = c.env.ID
	}
	es, total, err := a.st.ListAudit(c.ctx, f)
	if err != nil {
		return nil, err
	}
	out := make([]store.AuditEntry, len(es))
	for i, e := range es {
		out[i] = *e
		// Entries recorded by earlier versions may name secrets.
		out[i].Comment = audit.Scrub(e.Comment)
		out[i].Changes = make([]string, len(e.Changes))
		for j, ch := range e.Changes {
			out[i].Changes[j] = audit.Scrub(ch)
		}
	}
	return list(out, total), nil
}

// ---- the hook around every write ----

// auditSpec says how a write route is audited: the resource type, the
// action, and how to load the state before the write (nil: a creation).
// self: the handler records its own entries (it still gets the comment).
type auditSpec struct {
	typ, action string
	before      func(c *call, body []byte) (any, error)
	self        bool
}

type commentKey struct{}

// commentOf returns the change comment of a request (set by run).
func commentOf(ctx context.Context) string {
	s, _ := ctx.Value(commentKey{}).(string)
	return s
}

func flagBefore(c *call, _ []byte) (any, error) {
	f, err := c.a.flag(c)
	if err != nil {
		return nil, err
	}
	c.flagRead = f
	return f, nil
}

func segBefore(c *call, _ []byte) (any, error) { return c.a.segment(c) }

// auditSpecs maps "METHOD pattern" (without the prefix) to its spec.
var auditSpecs = map[string]auditSpec{
	"POST /orgs":                                {typ: "organization", action: "created"},
	"PUT /orgs/{orgId}":                         {typ: "organization", action: "updated", before: func(c *call, _ []byte) (any, error) { return c.a.st.GetOrg(c.ctx, c.orgID) }},
	"POST /orgs/{orgId}/members":                {typ: "member", action: "updated", before: memberBefore},
	"DELETE /orgs/{orgId}/members/{userId}":     {typ: "member", action: "removed", before: func(c *call, _ []byte) (any, error) { return c.a.memberView(c.ctx, c.orgID, c.path("userId")) }},
	"POST /orgs/{orgId}/tokens":                 {typ: "token", action: "created"},
	"DELETE /orgs/{orgId}/tokens/{tokenId}":     {typ: "token", action: "deleted", before: func(c *call, _ []byte) (any, error) { return c.a.st.GetToken(c.ctx, c.path("tokenId")) }},
	"POST /orgs/{orgId}/projects":               {typ: "project", action: "created"},
	"PUT /projects/{projectId}":                 {typ: "project", action: "updated", before: func(c *call, _ []byte) (any, error) { return c.project, nil }},
	"DELETE /projects/{projectId}":              {typ: "project", action: "deleted", before: func(c *call, _ []byte) (any, error) { return c.project, nil }},
	"POST /projects/{projectId}/envs":           {typ: "environment", action: "created"},
	"PUT /envs/{envId}":                         {typ: "environment", action: "updated", before: func(c *call, _ []byte) (any, error) { return envView(c.env), nil }},
	"DELETE /envs/{envId}":                      {typ: "environment", action: "deleted", before: func(c *call, _ []byte) (any, error) { return envView(c.env), nil }},
	"POST /envs/{envId}/secrets/{type}/rotate":  {typ: "secret", action: "rotated", before: func(c *call, _ []byte) (any, error) { return envView(c.env), nil }},
	"POST /envs/{envId}/flags":                  {typ: "flag", action: "created"},
	"PUT /envs/{envId}/flags/{key}":             {typ: "flag", action: "updated", before: flagBefore},
	"DELETE /envs/{envId}/flags/{key}":          {typ: "flag", action: "deleted", before: flagBefore},
	"POST /envs/{envId}/flags/{key}/toggle":     {typ: "flag", action: "toggled", before: flagBefore},
	"POST /envs/{envId}/flags/{key}/archive":    {typ: "flag", action: "archived", before: flagBefore},
	"POST /envs/{envId}/flags/{key}/restore":    {typ: "flag", action: "restored", before: flagBefore},
	"POST /envs/{envId}/flags/{key}/clone":      {typ: "flag", action: "created"},
	"POST /envs/{envId}/flags/{key}/copy":       {typ: "flag", action: "copied", before: targetFlagBefore},
	"POST /envs/{envId}/segments":               {typ: "segment", action: "created"},
	"PUT /envs/{envId}/segments/{id}":           {typ: "segment", action: "updated", before: segBefore},
	"DELETE /envs/{envId}/segments/{id}":        {typ: "segment", action: "deleted", before: segBefore},
	"POST /envs/{envId}/segments/{id}/archive":  {typ: "segment", action: "archived", before: segBefore},
	"POST /envs/{envId}/segments/{id}/restore":  {typ: "segment", action: "restored", before: segBefore},
	"POST /envs/{envId}/metrics":                {typ: "metric", action: "created"},
	"PUT /envs/{envId}/metrics/{id}":            {typ: "metric", action: "updated", before: func(c *call, _ []byte) (any, error) { return c.a.st.GetMetric(c.ctx, c.env.ID, c.path("id")) }},
	"DELETE /envs/{envId}/metrics/{id}":         {typ: "metric", action: "deleted", before: func(c *call, _ []byte) (any, error) { return c.a.st.GetMetric(c.ctx, c.env.ID, c.path("id")) }},
	"POST /envs/{envId}/experiments":            {typ: "experiment", action: "created"},
	"POST /envs/{envId}/experiments/{id}/start": {typ: "experiment", action: "started", before: exptBefore},
	"POST /envs/{envId}/experiments/{id}/stop":  {typ: "experiment", action: "stopped", before: exptBefore},
	// an erasure is audited with the user's key only: recording what was
	// erased would keep the personal data the erasure removes
	"DELETE /envs/{envId}/end-users/{keyId}": {typ: "end_user", action: "erased"},
	"DELETE /envs/{envId}/experiments/{id}":  {typ: "experiment", action: "deleted", before: exptBefore},
	"PUT /envs/{envId}/workflow-settings":    {typ: "settings", action: "updated", before: func(c *call, _ []byte) (any, error) { return c.a.st.GetEnvSettings(c.ctx, c.env.ID) }},
}

func exptBefore(c *call, _ []byte) (any, error) {
	return c.a.st.GetExperiment(c.ctx, c.env.ID, c.path("id"))
}

func memberBefore(c *call, body []byte) (any, error) {
	var req struct {
		Email string `json:"email"`
	}
	_ = json.Unmarshal(body, &req)
	u, err := c.a.st.GetUserByEmail(c.ctx, strings.ToLower(strings.TrimSpace(req.Email)))
	if err != nil {
		return nil, nil
	}
	m, err := c.a.memberView(c.ctx, c.orgID, u.ID)
	if err != nil {
		return nil, nil // an existing user who is not a member yet
	}
	return m, nil
}

func (a *API) memberView(ctx context.Context, orgID, userID string) (any, error) {
	m, err := a.st.GetMember(ctx, orgID, userID)
	if err != nil {
		return nil, err
	}
	u, err := a.st.GetUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	return &MemberView{UserID: u.ID, Email: u.Email, Name: u.Name, Role: m.Role}, nil
}

// targetFlagBefore loads the flag a copy overwrites (nil if none).
func targetFlagBefore(c *call, body []byte) (any, error) {
	var req struct {
		TargetEnvID string `json:"targetEnvId"`
	}
	_ = json.Unmarshal(body, &req)
	if req.TargetEnvID == "" {
		return nil, nil
	}
	f, err := c.a.st.GetFlagByKey(c.ctx, req.TargetEnvID, c.path("key"))
	if err != nil {
		return nil, nil
	}
	return f, nil
}

// run is the hook around every handler: for audited writes it takes the
// change comment (refusing the write when the environment requires one and
// none was sent), loads the state before, runs the handler and records the
// audit entry and the webhook event.
func (a *API) run(c *call, rt *Route) (any, error) {
	if rt.Method == "GET" {
		return rt.h(c)
	}
	sp, ok := auditSpecs[rt.Method+" "+strings.TrimPrefix(rt.Path, Prefix)]
	if !ok {
		return rt.h(c)
	}
	body, comment, err := c.takeComment()
	if err != nil {
		return nil, err
	}
	if comment == "" {
		// The environment written to: the one in the path and, for copies,
		// the target environment.
		var envs []string
		if c.env != nil {
			envs = append(envs, c.env.ID)
		}
		var target struct {
			TargetEnvID string `json:"targetEnvId"`
		}
		if json.Unmarshal(body, &target) == nil && target.TargetEnvID != "" && (c.env == nil || target.TargetEnvID != c.env.ID) {
			// Only an environment of the caller's organization: another
			// organization's settings are none of its business (the
			// handler refuses that copy with 403).
			if te, err := a.st.GetEnv(c.ctx, target.TargetEnvID); err == nil && te.OrgID == c.orgID {
				envs = append(envs, te.ID)
			}
		}
		for _, id := range envs {
			es, err := a.st.GetEnvSettings(c.ctx, id)
			if err != nil {
				return nil, err
			}
			if es.RequireComment {
				return nil, store.Invalid("comment", "this environment requires a change comment: send a \"comment\" field in the body or the %s header", CommentHeader)
			}
		}
	}
	c.ctx = context.WithValue(c.ctx, commentKey{}, comment)
	if sp.self {
		return rt.h(c)
	}
	var before any
	if sp.before != nil {
		if before, err = sp.before(c, body); err != nil {
			return nil, err
		}
	}
	res, err := rt.h(c)
	if err != nil {
		return res, err
	}
	after := res
	if sp.action == "deleted" || sp.action == "removed" {
		after = nil
	}
	ch := &domain.Change{Actor: c.actor(), ActorName: c.actorName(), OrgID: c.orgID, Type: sp.typ, Action: sp.action,
		Comment: comment, Before: before, After: after, Env: c.env}
	if sp.typ == "secret" {
		ch.Extra, ch.SkipDiff = secretChanges(before, after), true
	}
	a.dom.Record(c.ctx, ch)
	return res, nil
}

// takeComment reads the comment from the header, the query or the JSON
// body's top-level "comment" field (which it removes, so handlers decode as
// usual); it returns the body as the handler will see it.
func (c *call) takeComment() ([]byte, string, error) {
	comment := strings.TrimSpace(c.r.Header.Get(CommentHeader))
	if q := c.r.URL.Query().Get("comment"); comment == "" && q != "" {
		comment = strings.TrimSpace(q)
	}
	if c.r.Body == nil {
		return nil, comment, nil
	}
	body, err := io.ReadAll(c.r.Body)
	if err != nil {
		// Let the handler's decode report it (e.g. 413).
		c.r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{err}))
		return nil, comment, nil
	}
	c.r.Body = io.NopCloser(bytes.NewReader(body))
	trim := bytes.TrimSpace(body)
	if len(trim) == 0 || trim[0] != '{' || !bytes.Contains(trim, []byte(`"comment"`)) {
		return body, comment, nil
	}
	if err := strictJSON(trim); err != nil {
		return nil, "", err // re-encoding below would hide a duplicate key
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(trim, &m) != nil {
		return body, comment, nil
	}
	raw, ok := m["comment"]
	if !ok {
		return body, comment, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, "", store.Invalid("comment", "must be a string")
	}
	if len([]rune(s)) > 2000 {
		return nil, "", store.Invalid("comment", "must be at most 2000 characters")
	}
	if strings.TrimSpace(s) != "" {
		comment = strings.TrimSpace(s)
	}
	delete(m, "comment")
	nb, err := json.Marshal(m)
	if err != nil {
		return body, comment, nil
	}
	c.r.Body = io.NopCloser(bytes.NewReader(nb))
	return nb, comment, nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func (c *call) actorName() string {
	switch {
	case c.p == nil:
		return ""
	case c.p.user != nil:
		return c.p.user.Email
	default:
		return c.p.token.Name
	}
}

// eventKinds lists every event kind a webhook can subscribe to, sorted.
func eventKinds() []string {
	ks := slices.Clone(webhook.Kinds)
	for _, sp := range auditSpecs {
		ks = append(ks, domain.EventKind(sp.typ, sp.action))
	}
	ks = append(ks, "schedule.created", "schedule.cancelled", "flag.created", "flag.updated",
		"guarded_rollout.advanced", "guarded_rollout.completed", "guarded_rollout.rolled_back", "guarded_rollout.failed")
	slices.Sort(ks)
	return slices.Compact(ks)
}

// secretChanges describes a secret rotation (before and after are
// *EnvView). Values never appear: only which secret changed and when the
// old one ends.
func secretChanges(before, after any) []string {
	b, _ := before.(*EnvView)
	e, _ := after.(*EnvView)
	if b == nil || e == nil {
		return nil
	}
	var out []string
	now := map[string]codec.EnvSecret{}
	for _, s := range e.Secrets {
		now[s.Value] = s
	}
	for _, s := range e.Secrets {
		if !slices.ContainsFunc(b.Secrets, func(o codec.EnvSecret) bool { return o.Value == s.Value }) {
			out = append(out, fmt.Sprintf("%s secret rotated", s.Type))
		}
	}
	for _, o := range b.Secrets {
		switch n, ok := now[o.Value]; {
		case !ok:
			out = append(out, fmt.Sprintf("a previous %s secret ended", o.Type))
		case n.ExpiresAt != o.ExpiresAt:
			out = append(out, fmt.Sprintf("the previous %s secret works until %s", o.Type, time.UnixMilli(n.ExpiresAt).UTC().Format(time.RFC3339)))
		}
	}
	return out
}

// The API's views describe their own audit entries (domain.Described).

// DescribeAudit implements domain.Described.
func (x *EnvView) DescribeAudit(e *store.AuditEntry) {
	e.EnvID, e.ProjectID, e.OrgID, e.ResourceID, e.ResourceKey = x.ID, x.ProjectID, x.OrgID, x.ID, x.Key
}

// DescribeAudit implements domain.Described.
func (x *ErasureResult) DescribeAudit(e *store.AuditEntry) {
	e.EnvID, e.ResourceID, e.ResourceKey = x.EnvID, x.KeyID, x.KeyID
}

// DescribeAudit implements domain.Described.
func (x *MemberView) DescribeAudit(e *store.AuditEntry) {
	e.ResourceID, e.ResourceKey = x.UserID, x.Email
}

// DescribeAudit implements domain.Described.
func (x *TokenCreated) DescribeAudit(e *store.AuditEntry) { e.ResourceID, e.ResourceKey = x.ID, x.Name }

// DescribeAudit implements domain.Described.
func (x *WebhookView) DescribeAudit(e *store.AuditEntry) { e.ResourceID, e.ResourceKey = x.ID, x.Name }

// DescribeAudit implements domain.Described.
func (x *WebhookCreated) DescribeAudit(e *store.AuditEntry) {
	e.ResourceID, e.ResourceKey = x.ID, x.Name
}

// DescribeAudit implements domain.Described.
func (x *TriggerCreated) DescribeAudit(e *store.AuditEntry) {
	e.EnvID, e.ResourceID, e.ResourceKey = x.EnvID, x.ID, x.FlagKey
}
