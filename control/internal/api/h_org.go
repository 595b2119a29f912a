package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/codec/secret"
	"github.com/switchyard/switchyard/control/internal/auth"
	"github.com/switchyard/switchyard/control/internal/domain"
	"github.com/switchyard/switchyard/control/internal/store"
)

// LoginRequest is the body of POST /auth/login.
type LoginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// LoginResponse carries the session token (send it as "Authorization:
// Bearer <token>").
type LoginResponse struct {
	Token     string    `json:"token"`
	ExpiresAt int64     `json:"expiresAt"`
	User      UserView  `json:"user"`
	Orgs      []OrgRole `json:"orgs"`
}

// UserView is a user without credentials.
type UserView struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

// OrgRole is a membership as seen by the member.
type OrgRole struct {
	OrgID string `json:"orgId"`
	Role  string `json:"role"`
}

// MeResponse describes the caller.
type MeResponse struct {
	User  *UserView          `json:"user,omitempty"`
	Orgs  []OrgRole          `json:"orgs"`
	Token *store.AccessToken `json:"token,omitempty"`
	// EdgeURL is the address SDKs reach the edge at (Config.EdgeURL), for
	// the UI's SDK snippets; empty when the operator did not set it.
	EdgeURL string `json:"edgeUrl,omitempty"`
}

// PasswordRequest changes the caller's password.
type PasswordRequest struct {
	Old string `json:"oldPassword"`
	New string `json:"newPassword"`
}

// NameKey is the body that creates or renames an organization or project.
type NameKey struct {
	Name    string `json:"name"`
	Key     string `json:"key"`
	Version int64  `json:"version"`
}

// MemberRequest changes the role of an existing member (new members join
// through invitations).
type MemberRequest struct {
	Email string `json:"email"`
	Role  string `json:"role"`
}

// MemberView is a member with its user.
type MemberView struct {
	UserID string `json:"userId"`
	Email  string `json:"email"`
	Name   string `json:"name"`
	Role   string `json:"role"`
}

// TokenRequest creates an access token; ExpiresAt (Unix ms, optional) ends
// it.
type TokenRequest struct {
	Name      string `json:"name"`
	Role      string `json:"role"`
	ExpiresAt int64  `json:"expiresAt,omitempty"`
}

// TokenCreated is the only response that carries a token's value.
type TokenCreated struct {
	store.AccessToken
	Token string `json:"token"`
}

// EnvRequest creates or renames an environment.
type EnvRequest struct {
	Name        string `json:"name"`
	Key         string `json:"key"`
	Description string `json:"description"`
}

// EnvView is an environment as the API shows it.
type EnvView struct {
	ID               string            `json:"id"`
	OrgID            string            `json:"orgId"`
	ProjectID        string            `json:"projectId"`
	Name             string            `json:"name"`
	Key              string            `json:"key"`
	Description      string            `json:"description"`
	Secrets          []codec.EnvSecret `json:"secrets"`
	Version          int64             `json:"version"`
	PublishedVersion int64             `json:"publishedVersion"`
	PendingEvents    int               `json:"pendingEvents"`
	CreatedAt        int64             `json:"createdAt"`
	UpdatedAt        int64             `json:"updatedAt"`
}

func envView(e *store.Env) *EnvView {
	return &EnvView{ID: e.ID, OrgID: e.OrgID, ProjectID: e.ProjectID, Name: e.Name, Key: e.Key,
		Description: e.Description, Secrets: e.Secrets, Version: e.Version, PublishedVersion: e.PublishedVersion,
		PendingEvents: e.Pending(), CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt}
}

// envView shows e with its SDK secrets only to a caller with the
// secret:read action on it (secrets is empty otherwise).
func (c *call) envView(e *store.Env) *EnvView {
	v := envView(e)
	if !c.canIn(ActSecretRead, e) {
		v.Secrets = []codec.EnvSecret{}
	}
	return v
}

func userView(u *store.User) UserView { return UserView{ID: u.ID, Email: u.Email, Name: u.Name} }

// ---- auth ----

func (a *API) login(c *call) (any, error) {
	var req LoginRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	email := strings.ToLower(strings.TrimSpace(req.Email))
	key := auth.ThrottleKey(email, clientIP(c.r))
	tooMany := func(wait time.Duration) error {
		return &retryAfter{wait: wait, err: store.Errorf(store.ErrTooMany, "too many failed logins; retry in %s", wait.Round(time.Second))}
	}
	// The throttle's state is in the store, so every instance counts the
	// same failures; the attempt is reserved (counted) before the password
	// is checked, so parallel guesses cannot overrun the limit.
	att, ok, err := a.st.ReserveLogin(c.ctx, key, time.Now(), a.lim.Lockout)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, tooMany(time.Until(time.UnixMilli(att.Until)))
	}
	u, err := a.st.GetUserByEmail(c.ctx, email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if u == nil {
		auth.BurnPasswordCheck(req.Password)
	}
	if u == nil || !auth.CheckPassword(u.PasswordHash, req.Password) {
		if wait := time.Until(time.UnixMilli(att.Until)); wait > 0 {
			return nil, tooMany(wait)
		}
		return nil, store.Errorf(store.ErrUnauthorized, "wrong email or password")
	}
	if err := a.st.ClearLogin(c.ctx, key); err != nil {
		return nil, err
	}
	tok := auth.NewToken(auth.KindSession)
	s := &store.Session{ID: auth.Hash(tok), UserID: u.ID, ExpiresAt: time.Now().Add(a.cfg.SessionTTL).UnixMilli()}
	if err := a.st.CreateSession(c.ctx, s); err != nil {
		return nil, err
	}
	orgs, err := a.orgRoles(c.ctx, u.ID)
	if err != nil {
		return nil, err
	}
	return &LoginResponse{Token: tok, ExpiresAt: s.ExpiresAt, User: userView(u), Orgs: orgs}, nil
}

func (a *API) orgRoles(ctx context.Context, userID string) ([]OrgRole, error) {
	ms, err := a.st.ListMemberships(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]OrgRole, len(ms))
	for i, m := range ms {
		out[i] = OrgRole{OrgID: m.OrgID, Role: m.Role}
	}
	return out, nil
}

func (a *API) logout(c *call) (any, error) {
	if c.p.session == "" {
		return nil, store.Errorf(store.ErrInvalid, "an access token has no session; revoke it instead")
	}
	return nil, a.st.DeleteSession(c.ctx, c.p.session)
}

func (a *API) me(c *call) (any, error) {
	if c.p.token != nil {
		return &MeResponse{Token: c.p.token, Orgs: []OrgRole{{OrgID: c.p.token.OrgID, Role: c.p.tokenRole}}, EdgeURL: a.cfg.EdgeURL}, nil
	}
	orgs, err := a.orgRoles(c.ctx, c.p.user.ID)
	if err != nil {
		return nil, err
	}
	uv := userView(c.p.user)
	return &MeResponse{User: &uv, Orgs: orgs, EdgeURL: a.cfg.EdgeURL}, nil
}

func (a *API) changePassword(c *call) (any, error) {
	var req PasswordRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if c.p.user == nil {
		return nil, store.Errorf(store.ErrForbidden, "access tokens have no password")
	}
	h, err := passwordHash("newPassword", req.New)
	if err != nil {
		return nil, err
	}
	// A stolen session must not become a password oracle: the old password
	// is checked under the login throttle's rule, keyed by the user.
	key := auth.PasswordKey(c.p.user.ID)
	att, ok, err := a.st.ReserveLogin(c.ctx, key, time.Now(), a.lim.Lockout)
	if err != nil {
		return nil, err
	}
	tooMany := func() error {
		wait := time.Until(time.UnixMilli(att.Until))
		return &retryAfter{wait: wait, err: store.Errorf(store.ErrTooMany, "too many wrong passwords; retry in %s", wait.Round(time.Second))}
	}
	if !ok {
		return nil, tooMany()
	}
	if !auth.CheckPassword(c.p.user.PasswordHash, req.Old) {
		if time.Until(time.UnixMilli(att.Until)) > 0 {
			return nil, tooMany()
		}
		return nil, &store.FieldError{Kind: store.ErrInvalid, Field: "oldPassword", Msg: "wrong password"}
	}
	if err := a.st.ClearLogin(c.ctx, key); err != nil {
		return nil, err
	}
	u := *c.p.user
	u.PasswordHash = h
	if err := a.st.UpdateUser(c.ctx, &u, c.p.user.Version); err != nil {
		return nil, err
	}
	// Whoever else holds a session of this account is logged out; the
	// caller's session stays.
	_, err = a.st.DeleteSessionsOfUser(c.ctx, u.ID, c.p.session)
	return nil, err
}

func passwordHash(field, pw string) (string, error) {
	if len(pw) < auth.MinPasswordLen || len(pw) > 72 {
		return "", store.Invalid(field, "must be %d to 72 characters", auth.MinPasswordLen)
	}
	return auth.HashPassword(pw)
}

// ---- organizations ----

func (a *API) listOrgs(c *call) (any, error) {
	var roles []OrgRole
	if c.p.token != nil {
		roles = []OrgRole{{OrgID: c.p.token.OrgID}}
	} else {
		var err error
		if roles, err = a.orgRoles(c.ctx, c.p.user.ID); err != nil {
			return nil, err
		}
	}
	var out []store.Org
	for _, r := range roles {
		o, err := a.st.GetOrg(c.ctx, r.OrgID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, *o)
	}
	return list(out, len(out)), nil
}

func nameKey(req *NameKey) error {
	req.Name = strings.TrimSpace(req.Name)
	if err := domain.Text("name", req.Name, 1, 200); err != nil {
		return err
	}
	if req.Key == "" {
		req.Key = slug(req.Name)
	}
	if !domain.ValidKey(req.Key) {
		return store.Invalid("key", "must be 1-100 letters, digits, '.', '_' or '-'")
	}
	return nil
}

func slug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-")
	if out == "" {
		out = "x"
	}
	return out
}

func (a *API) createOrg(c *call) (any, error) {
	if c.p.user == nil {
		return nil, store.Errorf(store.ErrForbidden, "access tokens cannot create organizations")
	}
	if a.cfg.OrgCreation != OrgCreationAnyone && !c.p.user.InstanceAdmin {
		return nil, store.Errorf(store.ErrForbidden, "only instance administrators may create organizations")
	}
	var req NameKey
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if err := nameKey(&req); err != nil {
		return nil, err
	}
	return a.dom.CreateOrg(c.ctx, req.Name, req.Key, c.p.user.ID)
}

func (a *API) getOrg(c *call) (any, error) { return a.st.GetOrg(c.ctx, c.orgID) }

func (a *API) updateOrg(c *call) (any, error) {
	var req NameKey
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if err := nameKey(&req); err != nil {
		return nil, err
	}
	o, err := a.st.GetOrg(c.ctx, c.orgID)
	if err != nil {
		return nil, err
	}
	if err := requireVersion(req.Version, o.Version); err != nil {
		return nil, err
	}
	o.Name, o.Key = req.Name, req.Key
	return o, a.st.UpdateOrg(c.ctx, o, req.Version)
}

// requireVersion checks a client's version against the stored one.
func requireVersion(sent, cur int64) error {
	if sent <= 0 {
		return store.Invalid("version", "required: send the version you read")
	}
	if sent != cur {
		return &store.FieldError{Kind: store.ErrConflict, Field: "version",
			Msg: fmt.Sprintf("version %d is stale: the item is at version %d; reload and retry", sent, cur)}
	}
	return nil
}

func (a *API) listMembers(c *call) (any, error) {
	ms, err := a.st.ListMembers(c.ctx, c.orgID)
	if err != nil {
		return nil, err
	}
	out := make([]MemberView, 0, len(ms))
	for _, m := range ms {
		u, err := a.st.GetUser(c.ctx, m.UserID)
		if err != nil {
			continue
		}
		out = append(out, MemberView{UserID: u.ID, Email: u.Email, Name: u.Name, Role: m.Role})
	}
	return list(out, len(out)), nil
}

func validRole(field, role, callerRole string) error {
	if store.RoleRank(role) == 0 {
		return store.Invalid(field, "must be owner, admin, editor or viewer")
	}
	if store.RoleRank(role) > store.RoleRank(callerRole) {
		return &store.FieldError{Kind: store.ErrForbidden, Field: field, Msg: "cannot grant a role above your own"}
	}
	return nil
}

// setMember changes the role of an existing member. Nobody changes a member
// whose role is above their own or grants a role above their own (so only
// owners grant or take away the owner role), and the last owner stays
// owner.
func (a *API) setMember(c *call) (any, error) {
	var req MemberRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if err := validRole("role", req.Role, c.role); err != nil {
		return nil, err
	}
	email := strings.ToLower(strings.TrimSpace(req.Email))
	if err := validEmail(email); err != nil {
		return nil, err
	}
	// The same answer whether the email has no account or an account that
	// is not a member: this route tells nothing about other organizations.
	notMember := &store.FieldError{Kind: store.ErrNotFound, Field: "email", Msg: "no member of this organization has this email; invite them instead"}
	u, err := a.st.GetUserByEmail(c.ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notMember
	} else if err != nil {
		return nil, err
	}
	a.ownerMu.Lock()
	defer a.ownerMu.Unlock()
	m, err := a.st.GetMember(c.ctx, c.orgID, u.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notMember
	} else if err != nil {
		return nil, err
	}
	if store.RoleRank(m.Role) > store.RoleRank(c.role) {
		return nil, store.Errorf(store.ErrForbidden, "cannot change a member whose role (%s) is above yours (%s)", m.Role, c.role)
	}
	demote := m.Role == store.RoleOwner && req.Role != store.RoleOwner
	if demote {
		if err := a.keepAnOwner(c, "demote"); err != nil {
			return nil, err
		}
	}
	if _, err := a.st.PutMember(c.ctx, c.orgID, u.ID, req.Role); err != nil {
		return nil, err
	}
	if demote {
		if err := a.ownerLeft(c, u.ID, "demote"); err != nil {
			return nil, err
		}
	}
	return &MemberView{UserID: u.ID, Email: u.Email, Name: u.Name, Role: req.Role}, nil
}

// keepAnOwner refuses (409) to take the owner role from the organization's
// last owner. The caller holds ownerMu.
func (a *API) keepAnOwner(c *call, verb string) error {
	ms, err := a.st.ListMembers(c.ctx, c.orgID)
	if err != nil {
		return err
	}
	owners := 0
	for _, x := range ms {
		if x.Role == store.RoleOwner {
			owners++
		}
	}
	if owners <= 1 {
		return store.Errorf(store.ErrConflict, "cannot %s the last owner; make another member owner first", verb)
	}
	return nil
}

// ownerLeft runs after an owner was demoted or removed: if no owner is left
// (another control instance took the last other owner away at the same
// time; ownerMu covers only this process), userID gets the owner role back
// and the change is refused (409). Each write is followed by its own
// recount, so of two racing changes the later one always sees both and
// undoes itself.
func (a *API) ownerLeft(c *call, userID, verb string) error {
	ms, err := a.st.ListMembers(c.ctx, c.orgID)
	if err != nil {
		return err
	}
	for _, x := range ms {
		if x.Role == store.RoleOwner {
			return nil
		}
	}
	if _, err := a.st.PutMember(c.ctx, c.orgID, userID, store.RoleOwner); err != nil {
		return fmt.Errorf("cannot restore the last owner %s of organization %s: %w", userID, c.orgID, err)
	}
	return store.Errorf(store.ErrConflict, "cannot %s the last owner: another owner was changed at the same time", verb)
}

func validEmail(email string) error {
	if len(email) < 3 || len(email) > 254 || strings.Count(email, "@") != 1 || strings.HasPrefix(email, "@") || strings.HasSuffix(email, "@") ||
		strings.ContainsAny(email, " \t\r\n<>\"") {
		return store.Invalid("email", "must be an email address")
	}
	return nil
}

func (a *API) removeMember(c *call) (any, error) {
	a.ownerMu.Lock()
	defer a.ownerMu.Unlock()
	m, err := a.st.GetMember(c.ctx, c.orgID, c.path("userId"))
	if err != nil {
		return nil, err
	}
	if store.RoleRank(m.Role) > store.RoleRank(c.role) {
		return nil, store.Errorf(store.ErrForbidden, "cannot remove a member whose role (%s) is above yours (%s)", m.Role, c.role)
	}
	if m.Role != store.RoleOwner {
		if err := a.st.DeleteMember(c.ctx, c.orgID, m.UserID); err != nil {
			return nil, err
		}
		a.forget(c, "user:"+m.UserID)
		return nil, nil
	}
	if err := a.keepAnOwner(c, "remove"); err != nil {
		return nil, err
	}
	if err := a.st.DeleteMember(c.ctx, c.orgID, m.UserID); err != nil {
		return nil, err
	}
	if err := a.ownerLeft(c, m.UserID, "remove"); err != nil {
		return nil, err
	}
	a.forget(c, "user:"+m.UserID)
	return nil, nil
}

func (a *API) listTokens(c *call) (any, error) {
	ts, err := a.st.ListTokens(c.ctx, c.orgID)
	if err != nil {
		return nil, err
	}
	out := make([]store.AccessToken, len(ts))
	for i, t := range ts {
		out[i] = *t
	}
	return list(out, len(out)), nil
}

func (a *API) createToken(c *call) (any, error) {
	var req TokenRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if err := domain.Text("name", strings.TrimSpace(req.Name), 1, 200); err != nil {
		return nil, err
	}
	if err := validRole("role", req.Role, c.role); err != nil {
		return nil, err
	}
	if req.ExpiresAt != 0 && req.ExpiresAt <= time.Now().UnixMilli() {
		return nil, store.Invalid("expiresAt", "must be in the future (Unix milliseconds), or omitted for a token that does not expire")
	}
	tok := auth.NewToken(auth.KindAccess)
	t := &store.AccessToken{ID: secret.NewGUID(), OrgID: c.orgID, Name: req.Name, Role: req.Role,
		Hash: auth.Hash(tok), Prefix: tok[:8], CreatedBy: c.actor(), ExpiresAt: req.ExpiresAt}
	if err := a.st.CreateToken(c.ctx, t); err != nil {
		return nil, err
	}
	return &TokenCreated{AccessToken: *t, Token: tok}, nil
}

func (a *API) deleteToken(c *call) (any, error) {
	t, err := a.st.GetToken(c.ctx, c.path("tokenId"))
	if err != nil {
		return nil, err
	}
	if t.OrgID != c.orgID {
		return nil, store.ErrNotFound
	}
	if store.RoleRank(t.Role) > store.RoleRank(c.role) {
		return nil, store.Errorf(store.ErrForbidden, "cannot revoke a token whose role (%s) is above yours (%s)", t.Role, c.role)
	}
	if err := a.st.DeleteToken(c.ctx, t.ID); err != nil {
		return nil, err
	}
	a.forget(c, "token:"+t.ID)
	return nil, nil
}

// ---- projects ----

func (a *API) listProjects(c *call) (any, error) {
	ps, err := a.st.ListProjects(c.ctx, c.orgID)
	if err != nil {
		return nil, err
	}
	out := make([]store.Project, len(ps))
	for i, p := range ps {
		out[i] = *p
	}
	return list(out, len(out)), nil
}

func (a *API) createProject(c *call) (any, error) {
	var req NameKey
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if err := nameKey(&req); err != nil {
		return nil, err
	}
	p := &store.Project{ID: secret.NewGUID(), OrgID: c.orgID, Name: req.Name, Key: req.Key}
	return p, a.st.CreateProject(c.ctx, p)
}

func (a *API) getProject(c *call) (any, error) { return c.project, nil }

func (a *API) updateProject(c *call) (any, error) {
	var req NameKey
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if err := nameKey(&req); err != nil {
		return nil, err
	}
	p := *c.project
	if err := requireVersion(req.Version, p.Version); err != nil {
		return nil, err
	}
	p.Name, p.Key = req.Name, req.Key
	return &p, a.st.UpdateProject(c.ctx, &p, req.Version)
}

func (a *API) deleteProject(c *call) (any, error) {
	return nil, a.st.DeleteProject(c.ctx, c.project.ID)
}

// ---- environments ----

func (a *API) listEnvs(c *call) (any, error) {
	es, err := a.st.ListEnvs(c.ctx, c.project.ID)
	if err != nil {
		return nil, err
	}
	out := make([]EnvView, len(es))
	for i, e := range es {
		out[i] = *c.envView(e)
	}
	return list(out, len(out)), nil
}

func envReq(req *EnvRequest) error {
	nk := NameKey{Name: req.Name, Key: req.Key}
	if err := nameKey(&nk); err != nil {
		return err
	}
	req.Name, req.Key = nk.Name, nk.Key
	return domain.Text("description", req.Description, 0, domain.MaxText)
}

func (a *API) createEnv(c *call) (any, error) {
	var req EnvRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if err := envReq(&req); err != nil {
		return nil, err
	}
	e, err := a.dom.CreateEnv(c.ctx, c.project, req.Name, req.Key, req.Description)
	if err != nil {
		return nil, err
	}
	return c.envView(e), nil
}

func (a *API) getEnv(c *call) (any, error) { return c.envView(c.env), nil }

func (a *API) updateEnv(c *call) (any, error) {
	var req EnvRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if err := envReq(&req); err != nil {
		return nil, err
	}
	e, err := a.st.UpdateEnv(c.ctx, c.env.ID, req.Name, req.Key, req.Description)
	if err != nil {
		return nil, err
	}
	return c.envView(e), nil
}

func (a *API) deleteEnv(c *call) (any, error) {
	if err := a.st.DeleteEnv(c.ctx, c.env.ID); err != nil {
		return nil, err
	}
	a.dom.Notify(c.env.ID)
	return nil, nil
}

// RotateRequest says how long the replaced secret keeps working: a Go
// duration up to 720h, or "now" (default 24h).
type RotateRequest struct {
	ExpiresIn string `json:"expiresIn"`
}

// Rotation grace of the replaced secret.
const (
	defaultSecretGrace = 24 * time.Hour
	maxSecretGrace     = 30 * 24 * time.Hour
)

func (a *API) rotateSecret(c *call) (any, error) {
	typ := c.path("type")
	if typ != codec.SecretServer && typ != codec.SecretClient {
		return nil, store.Invalid("type", "must be server or client")
	}
	var req RotateRequest
	body, err := io.ReadAll(c.r.Body)
	if err != nil {
		c.r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{err}))
	} else {
		c.r.Body = io.NopCloser(bytes.NewReader(body))
	}
	if err != nil || len(bytes.TrimSpace(body)) > 0 {
		if err := c.decode(&req); err != nil {
			return nil, err
		}
	}
	grace := defaultSecretGrace
	switch req.ExpiresIn {
	case "":
	case "now":
		grace = 0
	default:
		d, err := time.ParseDuration(req.ExpiresIn)
		if err != nil || d <= 0 || d > maxSecretGrace {
			return nil, store.Invalid("expiresIn", "must be \"now\" or a duration from 1s to 720h (e.g. \"24h\")")
		}
		grace = d
	}
	s, err := secret.New(c.env.ID)
	if err != nil {
		return nil, err
	}
	e, err := a.st.RotateSecret(c.ctx, c.env.ID, typ, s, a.st.Now()+grace.Milliseconds())
	if err != nil {
		return nil, err
	}
	a.dom.Notify(e.ID)
	return c.envView(e), nil
}
