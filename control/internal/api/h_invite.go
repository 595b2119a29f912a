package api

import (
	"errors"
	"strings"
	"time"

	"github.com/switchyard/switchyard/codec/secret"
	"github.com/switchyard/switchyard/control/internal/auth"
	"github.com/switchyard/switchyard/control/internal/domain"
	"github.com/switchyard/switchyard/control/internal/store"
)

// Invitations are the only way into an organization (docs/control.md,
// "Invitations"): an admin invites an email with a role and passes the
// one-time token on; its holder accepts. Accepting without a session
// creates the account when the email has none; an existing account joins
// only by accepting from a session of that account. Nothing here tells the
// inviter whether the email has an account.

// MaxPendingInvitations caps the open invitations of one organization.
const MaxPendingInvitations = 500

// maxAcceptBody limits the body of the public accept route.
const maxAcceptBody = 4 << 10

func init() {
	auditSpecs["POST /orgs/{orgId}/invitations"] = auditSpec{typ: "invitation", action: "created", self: true}
	auditSpecs["DELETE /orgs/{orgId}/invitations/{id}"] = auditSpec{typ: "invitation", action: "revoked", self: true}
}

// InvitationRequest invites an email address with a role.
type InvitationRequest struct {
	Email string `json:"email"`
	Role  string `json:"role"`
}

// InvitationCreated is the only response that carries an invitation's
// token; the inviter passes it (or the UI link AcceptPath) to the invitee.
type InvitationCreated struct {
	store.Invitation
	Token string `json:"token"`
	// AcceptPath is the UI's accept page for the token, relative to the
	// UI's base URL; the token is in the fragment, which browsers do not
	// send to servers (nor in Referer headers).
	AcceptPath string `json:"acceptPath"`
}

// AcceptRequest accepts an invitation. Password (8-72 characters) and Name
// are for a new account and are required without a session.
type AcceptRequest struct {
	Token    string `json:"token"`
	Password string `json:"password,omitempty"`
	Name     string `json:"name,omitempty"`
}

// AcceptResponse is the answer to an accepted invitation. Without a session
// it has the same status and shape whether or not the email had an account:
// the caller logs in next.
type AcceptResponse struct {
	OrgID string `json:"orgId"`
	Email string `json:"email"`
	// Joined is true when the caller's session joined the organization;
	// false when accepted without a session (log in as Email next).
	Joined bool   `json:"joined"`
	Role   string `json:"role,omitempty"`
}

func (a *API) listInvitations(c *call) (any, error) {
	vs, err := a.st.ListInvitations(c.ctx, c.orgID)
	if err != nil {
		return nil, err
	}
	out := make([]store.Invitation, len(vs))
	for i, v := range vs {
		out[i] = *v
	}
	return list(out, len(out)), nil
}

func (a *API) createInvitation(c *call) (any, error) {
	var req InvitationRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	// A token acts with its effective role (c.role): it cannot invite above
	// it, and nobody invites above their own role.
	if err := validRole("role", req.Role, c.role); err != nil {
		return nil, err
	}
	email := strings.ToLower(strings.TrimSpace(req.Email))
	if err := validEmail(email); err != nil {
		return nil, err
	}
	vs, err := a.st.ListInvitations(c.ctx, c.orgID)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	open := 0
	for _, v := range vs {
		if v.ExpiresAt <= now.UnixMilli() {
			_ = a.st.DeleteInvitation(c.ctx, v.ID) // expired: make room
			continue
		}
		open++
	}
	if open >= MaxPendingInvitations {
		return nil, store.Errorf(store.ErrConflict, "this organization has %d open invitations, the most allowed; revoke some first", open)
	}
	tok := auth.NewToken(auth.KindInvite)
	v := &store.Invitation{ID: secret.NewGUID(), OrgID: c.orgID, Email: email, Role: req.Role, Hash: auth.Hash(tok),
		CreatedBy: c.actor(), CreatedAt: now.UnixMilli(), ExpiresAt: now.Add(a.cfg.InviteTTL).UnixMilli()}
	if err := a.st.CreateInvitation(c.ctx, v); err != nil {
		return nil, err
	}
	a.dom.Record(c.ctx, &domain.Change{Actor: c.actor(), ActorName: c.actorName(), OrgID: c.orgID, Type: "invitation", Action: "created",
		Comment: commentOf(c.ctx), After: v, Extra: []string{"invited " + email + " as " + req.Role}, SkipDiff: true})
	return &InvitationCreated{Invitation: *v, Token: tok, AcceptPath: "/accept#token=" + tok}, nil
}

func (a *API) deleteInvitation(c *call) (any, error) {
	v, err := a.st.GetInvitation(c.ctx, c.path("id"))
	if err != nil {
		return nil, err
	}
	if v.OrgID != c.orgID {
		return nil, store.ErrNotFound
	}
	if store.RoleRank(v.Role) > store.RoleRank(c.role) {
		return nil, store.Errorf(store.ErrForbidden, "cannot revoke an invitation whose role (%s) is above yours (%s)", v.Role, c.role)
	}
	if err := a.st.DeleteInvitation(c.ctx, v.ID); err != nil {
		return nil, err
	}
	a.dom.Record(c.ctx, &domain.Change{Actor: c.actor(), ActorName: c.actorName(), OrgID: c.orgID, Type: "invitation", Action: "revoked",
		Comment: commentOf(c.ctx), Before: v, Extra: []string{"revoked the invitation of " + v.Email + " as " + v.Role}, SkipDiff: true})
	return nil, nil
}

// acceptInvitation is public: the token is the credential. With a session
// (Authorization: Bearer sys_…) the logged-in user joins, and must have
// the invited email. Without one, a new account is created with the
// password when the email has none; when it has one, nothing changes and
// the invitation stays open for that account's session — the answer is
// the same in both cases.
func (a *API) acceptInvitation(c *call) (any, error) {
	var req AcceptRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	badToken := store.Invalid("token", "unknown, used, revoked or expired invitation")
	if auth.Kind(req.Token) != auth.KindInvite {
		return nil, badToken
	}
	var p *principal
	if c.r.Header.Get("Authorization") != "" {
		var err error
		if p, err = a.authenticate(c.ctx, c.r); err != nil {
			return nil, err
		}
		if p.user == nil {
			return nil, store.Errorf(store.ErrForbidden, "an access token cannot accept invitations; log in as the invited user")
		}
	}
	if p == nil {
		// Only the length here: bcrypt runs once the token proved valid, so
		// this public route spends no hashing on made-up tokens.
		if len(req.Password) < auth.MinPasswordLen || len(req.Password) > 72 {
			return nil, store.Invalid("password", "must be %d to 72 characters (the password of the new account)", auth.MinPasswordLen)
		}
		if err := domain.Text("name", strings.TrimSpace(req.Name), 0, 200); err != nil {
			return nil, err
		}
	}
	v, err := a.st.GetInvitationByHash(c.ctx, auth.Hash(req.Token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, badToken
	} else if err != nil {
		return nil, err
	}
	if _, err := a.st.GetOrg(c.ctx, v.OrgID); errors.Is(err, store.ErrNotFound) {
		_ = a.st.DeleteInvitation(c.ctx, v.ID)
		return nil, badToken
	} else if err != nil {
		return nil, err
	}
	if p != nil {
		return a.joinBySession(c, p.user, v, badToken)
	}
	resp := &AcceptResponse{OrgID: v.OrgID, Email: v.Email}
	if _, err := a.st.GetUserByEmail(c.ctx, v.Email); err == nil {
		// An account exists: the password is ignored and the invitation
		// stays open for that account. Spend the time a new account costs.
		auth.BurnPasswordCheck(req.Password)
		return resp, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	h, err := auth.HashPassword(req.Password)
	if err != nil {
		return nil, err
	}
	if err := a.st.ConsumeInvitation(c.ctx, v.ID); errors.Is(err, store.ErrNotFound) {
		return nil, badToken
	} else if err != nil {
		return nil, err
	}
	u := &store.User{ID: secret.NewGUID(), Email: v.Email, Name: strings.TrimSpace(req.Name), PasswordHash: h}
	if err := a.st.CreateUser(c.ctx, u); errors.Is(err, store.ErrDuplicate) {
		// The account appeared meanwhile: give the invitation back to it.
		if err := a.st.CreateInvitation(c.ctx, v); err != nil {
			return nil, err
		}
		return resp, nil
	} else if err != nil {
		return nil, err
	}
	if _, err := a.st.PutMember(c.ctx, v.OrgID, u.ID, v.Role); err != nil {
		return nil, err
	}
	a.dom.Record(c.ctx, &domain.Change{Actor: u.ID, ActorName: u.Email, OrgID: v.OrgID, Type: "member", Action: "added",
		After: &MemberView{UserID: u.ID, Email: u.Email, Name: u.Name, Role: v.Role}})
	return resp, nil
}

// joinBySession makes the session's user a member with the invited role
// (a higher role it already has is kept).
func (a *API) joinBySession(c *call, u *store.User, v *store.Invitation, badToken error) (any, error) {
	if !strings.EqualFold(u.Email, v.Email) {
		return nil, store.Errorf(store.ErrForbidden, "this invitation is for another email address; log in as the invited user")
	}
	if err := a.st.ConsumeInvitation(c.ctx, v.ID); errors.Is(err, store.ErrNotFound) {
		return nil, badToken
	} else if err != nil {
		return nil, err
	}
	role := v.Role
	old, err := a.st.GetMember(c.ctx, v.OrgID, u.ID)
	switch {
	case err == nil && store.RoleRank(old.Role) >= store.RoleRank(role):
		return &AcceptResponse{OrgID: v.OrgID, Email: u.Email, Joined: true, Role: old.Role}, nil
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	if _, err := a.st.PutMember(c.ctx, v.OrgID, u.ID, role); err != nil {
		return nil, err
	}
	a.dom.Record(c.ctx, &domain.Change{Actor: u.ID, ActorName: u.Email, OrgID: v.OrgID, Type: "member", Action: "added",
		After: &MemberView{UserID: u.ID, Email: u.Email, Name: u.Name, Role: role}})
	return &AcceptResponse{OrgID: v.OrgID, Email: u.Email, Joined: true, Role: role}, nil
}
