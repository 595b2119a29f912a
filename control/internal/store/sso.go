package store

import (
	"context"
	"errors"
	"fmt"
)

// SSO collections: the OpenID issuers of organizations, the identities they
// vouched for, and the short-lived state of sign-ins in progress
// (docs/access.md, "Single sign-on").
const (
	CollSSOIssuers    = "sso_issuers"
	CollSSOIdentities = "sso_identities"
	CollSSOFlows      = "sso_flows"
	CollSSOSettings   = "sso_settings"
)

func init() {
	Schema = append(Schema,
		Collection{Name: CollSSOIssuers, Indexes: []Index{{Name: "org", Fields: []string{"orgId"}}}},
		Collection{Name: CollSSOIdentities, Indexes: []Index{{Name: "user", Fields: []string{"userId"}}}},
		Collection{Name: CollSSOFlows, Indexes: []Index{{Name: "expires", Fields: []string{"expires"}}}},
		Collection{Name: CollSSOSettings},
	)
}

// Limits of SSO configuration.
const (
	MaxSSOIssuers  = 10  // issuers per organization
	MaxSSOGroupMap = 100 // claim value -> group entries per issuer
)

// SSOIssuer is an OpenID Connect provider an organization trusts to sign
// its members in (authorization code flow with PKCE).
type SSOIssuer struct {
	ID           string `json:"id"`
	OrgID        string `json:"orgId"`
	Name         string `json:"name"`      // the button text: "Sign in with <Name>"
	IssuerURL    string `json:"issuerUrl"` // exactly the "iss" of its ID tokens
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"` // never in responses, audit entries or webhooks
	// Scopes requested besides "openid" (default "email profile").
	Scopes []string `json:"scopes"`
	// TrustEmail accepts the ID token's email without email_verified=true.
	TrustEmail bool `json:"trustEmail"`
	// Role is the role of accounts it creates just in time (viewer, editor).
	Role string `json:"role"`
	// GroupClaim names the ID-token claim (a string or a list of strings)
	// whose values GroupMap maps to groups of the organization.
	GroupClaim string            `json:"groupClaim"`
	GroupMap   map[string]string `json:"groupMap"` // claim value -> group id
	CreatedAt  int64             `json:"createdAt"`
	Version    int64             `json:"version"`
}

// SSOIdentity links the subject of an issuer to a user. ID is IdentityID.
type SSOIdentity struct {
	ID        string `json:"id"`
	IssuerID  string `json:"issuerId"`
	Subject   string `json:"subject"`
	UserID    string `json:"userId"`
	CreatedAt int64  `json:"createdAt"`
}

// IdentityID is the id of the identity of subject at an issuer.
func IdentityID(issuerID, subject string) string { return issuerID + "|" + subject }

// SSOFlow is a sign-in in progress, keyed by the hash of the random value of
// its browser cookie: the state, nonce and PKCE verifier the callback checks,
// and once it succeeded, the session token the browser collects (once).
type SSOFlow struct {
	ID       string `json:"id"`
	IssuerID string `json:"issuerId"`
	State    string `json:"state"`
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier"`
	// LinkUserID is the signed-in user who started the flow to link the
	// issuer's identity to their account ("" for a sign-in).
	LinkUserID string `json:"linkUserId,omitempty"`
	Expires    int64  `json:"expires"` // Unix ms
	// Done: the callback succeeded; SessionToken is handed out once.
	SessionToken string `json:"sessionToken,omitempty"`
	Error        string `json:"error,omitempty"` // the callback failed: why (safe to show)
}

// SSOSettings are an organization's sign-in rules. ID is the org id.
type SSOSettings struct {
	ID string `json:"id"`
	// ForbidPassword: members act in the organization only with a session
	// that one of its issuers signed in.
	ForbidPassword bool  `json:"forbidPassword"`
	Version        int64 `json:"version"`
}

// CreateSSOIssuer stores a new issuer (at most MaxSSOIssuers per org).
func (s *Store) CreateSSOIssuer(ctx context.Context, x *SSOIssuer) error {
	if _, n, err := s.b.Find(ctx, CollSSOIssuers, Query{Eq: orgFields(x.OrgID), Limit: 1}); err != nil {
		return fmt.Errorf("cannot count issuers: %w", err)
	} else if n >= MaxSSOIssuers {
		return Errorf(ErrConflict, "an organization has at most %d issuers", MaxSSOIssuers)
	}
	x.Version, x.CreatedAt = 1, s.Now()
	return insertDoc(ctx, s, CollSSOIssuers, x.ID, 1, orgFields(x.OrgID), x)
}

// GetSSOIssuer returns an issuer by id (any organization).
func (s *Store) GetSSOIssuer(ctx context.Context, id string) (*SSOIssuer, error) {
	x, _, err := getDoc[SSOIssuer](ctx, s, CollSSOIssuers, id)
	return x, err
}

// UpdateSSOIssuer replaces x if its stored version is expect.
func (s *Store) UpdateSSOIssuer(ctx context.Context, x *SSOIssuer, expect int64) error {
	x.Version = expect + 1
	return replaceDoc(ctx, s, CollSSOIssuers, x.ID, x.Version, expect, orgFields(x.OrgID), x)
}

// DeleteSSOIssuer removes an issuer (its identities stay, unused).
func (s *Store) DeleteSSOIssuer(ctx context.Context, id string) error {
	return s.b.Delete(ctx, CollSSOIssuers, id, -1)
}

// ListSSOIssuers returns the issuers of an organization.
func (s *Store) ListSSOIssuers(ctx context.Context, orgID string) ([]*SSOIssuer, error) {
	xs, _, err := findDocs[SSOIssuer](ctx, s, CollSSOIssuers, Query{Eq: orgFields(orgID)})
	return xs, err
}

// GetSSOIdentity returns the identity of subject at an issuer.
func (s *Store) GetSSOIdentity(ctx context.Context, issuerID, subject string) (*SSOIdentity, error) {
	x, _, err := getDoc[SSOIdentity](ctx, s, CollSSOIdentities, IdentityID(issuerID, subject))
	return x, err
}

// CreateSSOIdentity links an identity to a user; ErrDuplicate if linked.
func (s *Store) CreateSSOIdentity(ctx context.Context, x *SSOIdentity) error {
	x.ID, x.CreatedAt = IdentityID(x.IssuerID, x.Subject), s.Now()
	return insertDoc(ctx, s, CollSSOIdentities, x.ID, 1, map[string]string{"userId": x.UserID}, x)
}

// CreateSSOFlow stores a sign-in in progress.
func (s *Store) CreateSSOFlow(ctx context.Context, f *SSOFlow) error {
	return insertDoc(ctx, s, CollSSOFlows, f.ID, 1, map[string]string{"expires": pad(f.Expires)}, f)
}

// GetSSOFlow returns a live flow; an expired one is ErrNotFound.
func (s *Store) GetSSOFlow(ctx context.Context, id string) (*SSOFlow, int64, error) {
	f, ver, err := getDoc[SSOFlow](ctx, s, CollSSOFlows, id)
	if err != nil {
		return nil, 0, err
	}
	if f.Expires <= s.Now() {
		_ = s.b.Delete(ctx, CollSSOFlows, id, -1)
		return nil, 0, fmt.Errorf("sign-in expired: %w", ErrNotFound)
	}
	return f, ver, nil
}

// UpdateSSOFlow replaces f if its stored version is expect (ErrConflict
// otherwise: a callback replayed in parallel loses).
func (s *Store) UpdateSSOFlow(ctx context.Context, f *SSOFlow, expect int64) error {
	return replaceDoc(ctx, s, CollSSOFlows, f.ID, expect+1, expect, map[string]string{"expires": pad(f.Expires)}, f)
}

// DeleteSSOFlow removes a flow; ErrNotFound if another request took it.
func (s *Store) DeleteSSOFlow(ctx context.Context, id string, expect int64) error {
	return s.b.Delete(ctx, CollSSOFlows, id, expect)
}

// PruneSSOFlows deletes the flows that expired before before (Unix ms).
func (s *Store) PruneSSOFlows(ctx context.Context, before int64) (int, error) {
	return pruneOldest(ctx, s, CollSSOFlows, "expires", func(f *SSOFlow) (string, pruneVerdict) {
		if f.Expires >= before {
			return f.ID, pruneStop
		}
		return f.ID, pruneDelete
	})
}

// GetSSOSettings returns an organization's sign-in rules (zero if unset).
func (s *Store) GetSSOSettings(ctx context.Context, orgID string) (*SSOSettings, error) {
	x, _, err := getDoc[SSOSettings](ctx, s, CollSSOSettings, orgID)
	if errors.Is(err, ErrNotFound) {
		return &SSOSettings{ID: orgID}, nil
	}
	return x, err
}

// PutSSOSettings stores an organization's sign-in rules if the stored
// version is x.Version (0: none yet).
func (s *Store) PutSSOSettings(ctx context.Context, x *SSOSettings) error {
	expect := x.Version
	x.Version = expect + 1
	if expect == 0 {
		return insertDoc(ctx, s, CollSSOSettings, x.ID, 1, nil, x)
	}
	return replaceDoc(ctx, s, CollSSOSettings, x.ID, x.Version, expect, nil, x)
}
