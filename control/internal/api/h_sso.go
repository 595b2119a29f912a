package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchyard/switchyard/codec/secret"
	"github.com/switchyard/switchyard/control/internal/auth"
	"github.com/switchyard/switchyard/control/internal/domain"
	"github.com/switchyard/switchyard/control/internal/sso"
	"github.com/switchyard/switchyard/control/internal/store"
	"github.com/switchyard/switchyard/control/internal/webhook"
)

// Single sign-on (docs/access.md, "Single sign-on"): the browser starts a
// sign-in with POST auth/sso/start (which sets the flow cookie), goes to the
// issuer, comes back to GET auth/sso/callback (which checks state, redeems
// the code with the PKCE verifier, verifies the ID token and its nonce,
// finds or creates the account and stores a session in the flow), and the
// UI collects the session once with POST auth/sso/session (same cookie).

const (
	ssoCookie     = "sy_sso"
	ssoCookiePath = Prefix + "/auth/sso"
	ssoFlowTTL    = 10 * time.Minute // from start to the session collected
	// CallbackPath is where issuers send the browser back; register
	// <public URL> + CallbackPath as the client's redirect URI.
	CallbackPath = Prefix + "/auth/sso/callback"
)

// SSOIssuerRequest creates or changes an issuer of an organization.
type SSOIssuerRequest struct {
	Name      string `json:"name"`
	IssuerURL string `json:"issuerUrl"`
	ClientID  string `json:"clientId"`
	// ClientSecret: empty on an update keeps the stored one.
	ClientSecret string            `json:"clientSecret"`
	Scopes       []string          `json:"scopes"`
	TrustEmail   bool              `json:"trustEmail"`
	Role         string            `json:"role"`
	GroupClaim   string            `json:"groupClaim"`
	GroupMap     map[string]string `json:"groupMap"`
	Version      int64             `json:"version"`
}

// SSOIssuerView is an issuer as the API shows it: never the client secret.
type SSOIssuerView struct {
	ID         string            `json:"id"`
	OrgID      string            `json:"orgId"`
	Name       string            `json:"name"`
	IssuerURL  string            `json:"issuerUrl"`
	ClientID   string            `json:"clientId"`
	HasSecret  bool              `json:"hasSecret"`
	Scopes     []string          `json:"scopes"`
	TrustEmail bool              `json:"trustEmail"`
	Role       string            `json:"role"`
	GroupClaim string            `json:"groupClaim"`
	GroupMap   map[string]string `json:"groupMap"`
	// LoginURL is the page that shows this organization's sign-in buttons.
	LoginURL  string `json:"loginUrl,omitempty"`
	CreatedAt int64  `json:"createdAt"`
	Version   int64  `json:"version"`
}

// SSOButton is what the login page shows of an issuer.
type SSOButton struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// SSOStartRequest starts a sign-in; Link (with a session) links the
// issuer's identity to the signed-in account instead.
type SSOStartRequest struct {
	IssuerID string `json:"issuerId"`
	Link     bool   `json:"link"`
}

// SSOStartResponse is where to send the browser.
type SSOStartResponse struct {
	URL string `json:"url"`
}

// SSOSettingsRequest changes an organization's sign-in rules.
type SSOSettingsRequest struct {
	ForbidPassword bool  `json:"forbidPassword"`
	Version        int64 `json:"version"`
}

func (a *API) ssoRoutes() []Route {
	p := Prefix
	return []Route{
		{Method: "GET", Path: p + "/auth/sso/issuers", Tag: "auth", Summary: "The sign-in buttons of an organization (?org=<orgId>)", Scope: Public, Query: []string{"org"}, Resp: List[SSOButton]{}, h: a.ssoButtons},
		{Method: "POST", Path: p + "/auth/sso/start", Tag: "auth", Summary: "Start a single sign-on: sets the flow cookie and returns the issuer's URL", Scope: Public, Body: SSOStartRequest{}, Resp: SSOStartResponse{}, h: a.ssoStart},
		{Method: "POST", Path: p + "/auth/sso/session", Tag: "auth", Summary: "Collect the session of a finished single sign-on (once, with the flow cookie)", Scope: Public, Resp: LoginResponse{}, h: a.ssoSession},
		{Method: "GET", Path: p + "/orgs/{orgId}/sso/issuers", Tag: "sso", Summary: "List the organization's OpenID issuers (no client secrets)", Scope: Org, Action: ActRead, Resp: List[SSOIssuerView]{}, h: a.listSSOIssuers},
		{Method: "POST", Path: p + "/orgs/{orgId}/sso/issuers", Tag: "sso", Summary: "Add an OpenID issuer", Scope: Org, Action: ActAccessManage, Status: http.StatusCreated, Body: SSOIssuerRequest{}, Resp: SSOIssuerView{}, h: a.createSSOIssuer},
		{Method: "PUT", Path: p + "/orgs/{orgId}/sso/issuers/{id}", Tag: "sso", Summary: "Change an OpenID issuer (an empty clientSecret keeps the stored one)", Scope: Org, Action: ActAccessManage, Body: SSOIssuerRequest{}, Resp: SSOIssuerView{}, h: a.updateSSOIssuer},
		{Method: "DELETE", Path: p + "/orgs/{orgId}/sso/issuers/{id}", Tag: "sso", Summary: "Remove an OpenID issuer", Scope: Org, Action: ActAccessManage, Status: http.StatusNoContent, h: a.deleteSSOIssuer},
		{Method: "GET", Path: p + "/orgs/{orgId}/sso/settings", Tag: "sso", Summary: "The organization's sign-in rules", Scope: Org, Action: ActRead, Resp: store.SSOSettings{}, h: a.getSSOSettings},
		{Method: "PUT", Path: p + "/orgs/{orgId}/sso/settings", Tag: "sso", Summary: "Change the organization's sign-in rules (forbidPassword)", Scope: Org, Action: ActAccessManage, Body: SSOSettingsRequest{}, Resp: store.SSOSettings{}, h: a.putSSOSettings},
	}
}

func init() {
	ssoBefore := func(c *call, _ []byte) (any, error) {
		x, err := c.a.ssoIssuer(c)
		if err != nil {
			return nil, err
		}
		return c.a.ssoView(x), nil
	}
	auditSpecs["POST /orgs/{orgId}/sso/issuers"] = auditSpec{typ: "sso-issuer", action: "created"}
	auditSpecs["PUT /orgs/{orgId}/sso/issuers/{id}"] = auditSpec{typ: "sso-issuer", action: "updated", before: ssoBefore}
	auditSpecs["DELETE /orgs/{orgId}/sso/issuers/{id}"] = auditSpec{typ: "sso-issuer", action: "deleted", before: ssoBefore}
	auditSpecs["PUT /orgs/{orgId}/sso/settings"] = auditSpec{typ: "sso-settings", action: "updated", before: func(c *call, _ []byte) (any, error) {
		return c.a.st.GetSSOSettings(c.ctx, c.orgID)
	}}
}

func (a *API) ssoView(x *store.SSOIssuer) *SSOIssuerView {
	v := &SSOIssuerView{ID: x.ID, OrgID: x.OrgID, Name: x.Name, IssuerURL: x.IssuerURL, ClientID: x.ClientID,
		HasSecret: x.ClientSecret != "", Scopes: x.Scopes, TrustEmail: x.TrustEmail, Role: x.Role,
		GroupClaim: x.GroupClaim, GroupMap: x.GroupMap, CreatedAt: x.CreatedAt, Version: x.Version}
	if a.cfg.PublicURL != "" {
		v.LoginURL = a.cfg.PublicURL + "/?org=" + url.QueryEscape(x.OrgID)
	}
	return v
}

func (a *API) ssoIssuer(c *call) (*store.SSOIssuer, error) {
	x, err := a.st.GetSSOIssuer(c.ctx, c.path("id"))
	if err == nil && x.OrgID != c.orgID {
		return nil, store.Errorf(store.ErrNotFound, "no such issuer")
	}
	return x, err
}

func (a *API) listSSOIssuers(c *call) (any, error) {
	xs, err := a.st.ListSSOIssuers(c.ctx, c.orgID)
	if err != nil {
		return nil, err
	}
	out := make([]*SSOIssuerView, len(xs))
	for i, x := range xs {
		out[i] = a.ssoView(x)
	}
	return list(out, len(out)), nil
}

var scopeRE = regexp.MustCompile(`^[\x21\x23-\x5b\x5d-\x7e]{1,100}$`) // RFC 6749 scope-token

// ssoReq validates an issuer request and copies it into x.
func (a *API) ssoReq(c *call, req *SSOIssuerRequest, x *store.SSOIssuer) error {
	req.Name = strings.TrimSpace(req.Name)
	if req.Name == "" || utf8.RuneCountInString(req.Name) > 100 {
		return store.Invalid("name", "required, at most 100 characters")
	}
	req.IssuerURL = strings.TrimRight(strings.TrimSpace(req.IssuerURL), "/")
	if err := checkIssuerURL(req.IssuerURL, a.cfg.SSOAllow); err != nil {
		return store.Invalid("issuerUrl", "%v", err)
	}
	if req.ClientID == "" || len(req.ClientID) > 200 {
		return store.Invalid("clientId", "required, at most 200 bytes")
	}
	if len(req.ClientSecret) > 500 {
		return store.Invalid("clientSecret", "at most 500 bytes")
	}
	if len(req.Scopes) > 10 {
		return store.Invalid("scopes", "at most 10")
	}
	for i, s := range req.Scopes {
		if !scopeRE.MatchString(s) || s == "openid" {
			return store.Invalid("scopes["+strconv.Itoa(i)+"]", "must be an OAuth scope token of at most 100 characters (openid is always requested)")
		}
	}
	switch req.Role {
	case "":
		req.Role = store.RoleViewer
	case store.RoleViewer, store.RoleEditor:
	default:
		return store.Invalid("role", "must be viewer or editor (grant more with groups)")
	}
	if len(req.GroupClaim) > 100 {
		return store.Invalid("groupClaim", "at most 100 bytes")
	}
	if len(req.GroupMap) > store.MaxSSOGroupMap {
		return store.Invalid("groupMap", "at most %d entries", store.MaxSSOGroupMap)
	}
	if len(req.GroupMap) > 0 && req.GroupClaim == "" {
		return store.Invalid("groupClaim", "required with a groupMap")
	}
	for k, g := range req.GroupMap {
		if k == "" || len(k) > 200 {
			return store.Invalid("groupMap", "claim values are 1 to 200 bytes")
		}
		if _, err := a.st.GetGroup(c.ctx, c.orgID, g); errors.Is(err, store.ErrNotFound) {
			return store.Invalid("groupMap."+k, "no group %q in this organization", g)
		} else if err != nil {
			return err
		}
	}
	x.Name, x.IssuerURL, x.ClientID, x.Scopes, x.TrustEmail = req.Name, req.IssuerURL, req.ClientID, req.Scopes, req.TrustEmail
	x.Role, x.GroupClaim, x.GroupMap = req.Role, req.GroupClaim, req.GroupMap
	if req.ClientSecret != "" {
		x.ClientSecret = req.ClientSecret
	}
	return nil
}

// checkIssuerURL: https (http only for a loopback or allowed address, for
// tests), no credentials, query or fragment, and an address the SSO egress
// policy allows when the host is an IP literal or localhost.
func checkIssuerURL(raw string, allow []netip.Prefix) error {
	if len(raw) > 500 {
		return errors.New("at most 500 bytes")
	}
	if err := webhook.CheckURL(raw, allow); err != nil {
		return err
	}
	u, _ := url.Parse(raw)
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return errors.New("must not have a query or fragment")
	}
	if u.Scheme == "http" && len(allow) == 0 {
		return errors.New("must be https:// (http:// only with -sso-allow, for a local test issuer)")
	}
	return nil
}

func (a *API) createSSOIssuer(c *call) (any, error) {
	var req SSOIssuerRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	x := &store.SSOIssuer{ID: secret.NewGUID(), OrgID: c.orgID}
	if err := a.ssoReq(c, &req, x); err != nil {
		return nil, err
	}
	if err := a.st.CreateSSOIssuer(c.ctx, x); err != nil {
		return nil, err
	}
	return a.ssoView(x), nil
}

func (a *API) updateSSOIssuer(c *call) (any, error) {
	var req SSOIssuerRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	x, err := a.ssoIssuer(c)
	if err != nil {
		return nil, err
	}
	if err := requireVersion(req.Version, x.Version); err != nil {
		return nil, err
	}
	if err := a.ssoReq(c, &req, x); err != nil {
		return nil, err
	}
	if err := a.st.UpdateSSOIssuer(c.ctx, x, req.Version); err != nil {
		return nil, err
	}
	return a.ssoView(x), nil
}

func (a *API) deleteSSOIssuer(c *call) (any, error) {
	x, err := a.ssoIssuer(c)
	if err != nil {
		return nil, err
	}
	return nil, a.st.DeleteSSOIssuer(c.ctx, x.ID)
}

func (a *API) getSSOSettings(c *call) (any, error) { return a.st.GetSSOSettings(c.ctx, c.orgID) }

func (a *API) putSSOSettings(c *call) (any, error) {
	var req SSOSettingsRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	cur, err := a.st.GetSSOSettings(c.ctx, c.orgID)
	if err != nil {
		return nil, err
	}
	if req.Version != cur.Version {
		return nil, store.Errorf(store.ErrConflict, "the settings changed (version %d); reload and retry", cur.Version)
	}
	if req.ForbidPassword {
		xs, err := a.st.ListSSOIssuers(c.ctx, c.orgID)
		if err != nil {
			return nil, err
		}
		if len(xs) == 0 {
			return nil, store.Invalid("forbidPassword", "add an issuer first: nobody could sign in")
		}
		if c.p.user != nil && c.p.ssoOrg != c.orgID {
			return nil, store.Invalid("forbidPassword", "sign in with one of the organization's issuers first, so you know it works")
		}
	}
	cur.ForbidPassword = req.ForbidPassword
	if err := a.st.PutSSOSettings(c.ctx, cur); err != nil {
		return nil, err
	}
	return cur, nil
}

// passwordForbidden refuses a password session in an organization that
// forbids it. The one exception is an owner turning the rule off (the way
// back when the issuer is down).
func (a *API) passwordForbidden(c *call, rt *Route) error {
	if c.p == nil || c.p.user == nil || c.p.ssoOrg == c.orgID {
		return nil
	}
	st, err := a.st.GetSSOSettings(c.ctx, c.orgID)
	if err != nil || !st.ForbidPassword {
		return err
	}
	if c.role == store.RoleOwner && rt.Method == "PUT" && rt.Path == Prefix+"/orgs/{orgId}/sso/settings" {
		return nil
	}
	return store.Errorf(store.ErrForbidden, "this organization requires single sign-on: sign in with one of its issuers")
}

// ---- the flow ----

func (a *API) ssoButtons(c *call) (any, error) {
	org := c.r.URL.Query().Get("org")
	if org == "" || len(org) > 100 {
		return nil, store.Invalid("org", "required: the organization id")
	}
	xs, err := a.st.ListSSOIssuers(c.ctx, org)
	if err != nil {
		return nil, err
	}
	out := make([]SSOButton, len(xs))
	for i, x := range xs {
		out[i] = SSOButton{ID: x.ID, Name: x.Name}
	}
	return list(out, len(out)), nil
}

func (a *API) ssoRedirect() (string, error) {
	if a.cfg.PublicURL == "" {
		return "", store.Errorf(store.ErrUnavailable, "single sign-on is not configured: set -public-url")
	}
	return a.cfg.PublicURL + CallbackPath, nil
}

func issuerOf(x *store.SSOIssuer) *sso.Issuer {
	return &sso.Issuer{ID: x.ID, URL: x.IssuerURL, ClientID: x.ClientID, ClientSecret: x.ClientSecret,
		Version: x.Version, Scopes: x.Scopes, GroupClaim: x.GroupClaim}
}

func (a *API) ssoStart(c *call) (any, error) {
	var req SSOStartRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	redirect, err := a.ssoRedirect()
	if err != nil {
		return nil, err
	}
	if req.IssuerID == "" || len(req.IssuerID) > 100 {
		return nil, store.Invalid("issuerId", "required")
	}
	x, err := a.st.GetSSOIssuer(c.ctx, req.IssuerID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, store.Invalid("issuerId", "no such issuer")
	} else if err != nil {
		return nil, err
	}
	f := &store.SSOFlow{IssuerID: x.ID, Expires: time.Now().Add(ssoFlowTTL).UnixMilli()}
	if req.Link {
		p, err := a.authenticate(c.ctx, c.r)
		if err != nil {
			return nil, err
		}
		if p.user == nil {
			return nil, store.Invalid("link", "only a signed-in user links an identity (not an access token)")
		}
		f.LinkUserID = p.user.ID
	}
	st, err := a.sso.Begin(c.ctx, issuerOf(x), redirect)
	if err != nil {
		a.cfg.Log.Warn("sso: cannot start a sign-in", "issuer", x.ID, "err", err)
		return nil, store.Errorf(store.ErrUnavailable, "the issuer %q cannot be reached", x.Name)
	}
	cookie := auth.NewToken(auth.KindInvite)
	f.ID, f.State, f.Nonce, f.Verifier = auth.Hash(cookie), st.State, st.Nonce, st.Verifier
	if err := a.st.CreateSSOFlow(c.ctx, f); err != nil {
		return nil, err
	}
	http.SetCookie(c.w, a.flowCookie(cookie, int(ssoFlowTTL/time.Second)))
	return &SSOStartResponse{URL: st.URL}, nil
}

func (a *API) flowCookie(v string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: ssoCookie, Value: v, Path: ssoCookiePath, MaxAge: maxAge, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: strings.HasPrefix(a.cfg.PublicURL, "https://")}
}

// flowOf returns the flow of the request's cookie.
func (a *API) flowOf(ctx context.Context, r *http.Request) (*store.SSOFlow, int64, error) {
	ck, err := r.Cookie(ssoCookie)
	if err != nil || ck.Value == "" || len(ck.Value) > 200 {
		return nil, 0, store.Errorf(store.ErrUnauthorized, "no sign-in in progress in this browser (cookies blocked, or it took longer than %s)", ssoFlowTTL)
	}
	f, ver, err := a.st.GetSSOFlow(ctx, auth.Hash(ck.Value))
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, store.Errorf(store.ErrUnauthorized, "the sign-in expired or was already used; start again")
	}
	return f, ver, err
}

// ssoCallback is where the issuer sends the browser back (not a route of the
// table: it answers with a redirect to the UI, never JSON).
func (a *API) ssoCallback(w http.ResponseWriter, r *http.Request) {
	done := func(msg string) {
		to := "/sso"
		if msg != "" {
			to += "?error=" + url.QueryEscape(msg)
		}
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, to, http.StatusSeeOther)
	}
	if err := a.limitAddr(r); err != nil {
		writeError(w, a.cfg.Log, err)
		return
	}
	ctx := r.Context()
	f, ver, err := a.flowOf(ctx, r)
	if err != nil {
		done(safeMessage(err))
		return
	}
	q := r.URL.Query()
	fail := func(msg string) {
		f.Error, f.State = msg, ""
		_ = a.st.UpdateSSOFlow(ctx, f, ver) // the session route reports it
		done(msg)
	}
	if f.State == "" || f.SessionToken != "" {
		done("this sign-in was already used; start again")
		return
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(f.State)) != 1 {
		fail("the answer does not belong to this sign-in (state mismatch); start again")
		return
	}
	if e := q.Get("error"); e != "" {
		fail("the issuer refused the sign-in: " + truncate(e+" "+q.Get("error_description"), 200))
		return
	}
	x, err := a.st.GetSSOIssuer(ctx, f.IssuerID)
	if err != nil {
		fail("the issuer was removed")
		return
	}
	redirect, err := a.ssoRedirect()
	if err != nil {
		fail(safeMessage(err))
		return
	}
	code := q.Get("code")
	if code == "" || len(code) > 2000 {
		fail("the issuer returned no code")
		return
	}
	cl, err := a.sso.Finish(ctx, issuerOf(x), redirect, code, f.Verifier, f.Nonce)
	if err != nil {
		a.cfg.Log.Warn("sso: sign-in not verified", "issuer", x.ID, "err", err)
		fail("the sign-in could not be verified")
		return
	}
	u, err := a.ssoAccount(ctx, x, f, cl)
	if err != nil {
		if !isSafe(err) {
			a.cfg.Log.Error("sso: cannot sign in", "issuer", x.ID, "err", err)
		}
		fail(safeMessage(err))
		return
	}
	tok := auth.NewToken(auth.KindSession)
	s := &store.Session{ID: auth.Hash(tok), UserID: u.ID, ExpiresAt: time.Now().Add(a.cfg.SessionTTL).UnixMilli(),
		SSOIssuerID: x.ID, SSOOrgID: x.OrgID}
	if err := a.st.CreateSession(ctx, s); err != nil {
		fail("cannot create a session; try again")
		return
	}
	f.SessionToken, f.State = tok, ""
	if err := a.st.UpdateSSOFlow(ctx, f, ver); err != nil {
		_ = a.st.DeleteSession(ctx, s.ID) // a replay raced us: neither gets it
		done("this sign-in was already used; start again")
		return
	}
	done("")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func isSafe(err error) bool {
	var fe *store.FieldError
	return errors.Is(err, store.ErrForbidden) || errors.Is(err, store.ErrConflict) || errors.As(err, &fe)
}

func safeMessage(err error) string {
	if isSafe(err) || errors.Is(err, store.ErrUnauthorized) || errors.Is(err, store.ErrUnavailable) {
		return err.Error()
	}
	return "the sign-in failed; try again"
}

// ssoAccount finds or creates the account the verified claims stand for,
// makes it a member of the issuer's organization (only that one) and
// applies the group mapping.
func (a *API) ssoAccount(ctx context.Context, x *store.SSOIssuer, f *store.SSOFlow, cl *sso.Claims) (*store.User, error) {
	if cl.Subject == "" || len(cl.Subject) > 255 {
		return nil, store.Errorf(store.ErrForbidden, "the issuer's ID token has no usable subject")
	}
	var u *store.User
	id, err := a.st.GetSSOIdentity(ctx, x.ID, cl.Subject)
	switch {
	case err == nil:
		if u, err = a.st.GetUser(ctx, id.UserID); err != nil {
			return nil, err
		}
		if f.LinkUserID != "" && f.LinkUserID != u.ID {
			return nil, store.Errorf(store.ErrConflict, "this %s identity is linked to another account", x.Name)
		}
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	case f.LinkUserID != "":
		// The signed-in user proved the password; now the issuer vouched.
		if u, err = a.st.GetUser(ctx, f.LinkUserID); err != nil {
			return nil, err
		}
		if err := a.st.CreateSSOIdentity(ctx, &store.SSOIdentity{IssuerID: x.ID, Subject: cl.Subject, UserID: u.ID}); err != nil {
			return nil, err
		}
	default:
		email := sso.TrustedEmail(cl, x.TrustEmail)
		if email == "" || len(email) > 254 || !strings.Contains(email, "@") {
			return nil, store.Errorf(store.ErrForbidden, "%s did not vouch for your email address (email_verified is not true)", x.Name)
		}
		if _, err := a.st.GetUserByEmail(ctx, email); err == nil {
			return nil, store.Errorf(store.ErrConflict, "an account with the email %s exists: sign in with its password and link %s from your account", email, x.Name)
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		name := truncate(strings.TrimSpace(cl.Name), 100)
		u = &store.User{ID: secret.NewGUID(), Email: email, Name: name} // no password: SSO only
		if err := a.st.CreateUser(ctx, u); err != nil {
			return nil, err
		}
		if err := a.st.CreateSSOIdentity(ctx, &store.SSOIdentity{IssuerID: x.ID, Subject: cl.Subject, UserID: u.ID}); err != nil {
			return nil, err
		}
	}
	if _, err := a.st.GetMember(ctx, x.OrgID, u.ID); errors.Is(err, store.ErrNotFound) {
		if _, err := a.st.PutMember(ctx, x.OrgID, u.ID, x.Role); err != nil {
			return nil, err
		}
		a.dom.Record(ctx, &domain.Change{Actor: u.ID, ActorName: u.Email, OrgID: x.OrgID, Type: "member", Action: "updated",
			After: map[string]string{"userId": u.ID, "email": u.Email, "role": x.Role},
			Extra: []string{"joined through single sign-on with " + x.Name + " as " + x.Role}, SkipDiff: true})
	} else if err != nil {
		return nil, err
	}
	return u, a.ssoGroups(ctx, x, u, cl)
}

// ssoGroups makes the user a member of exactly the mapped groups its claim
// names, among the groups the issuer maps to (groups it does not map to are
// left alone).
func (a *API) ssoGroups(ctx context.Context, x *store.SSOIssuer, u *store.User, cl *sso.Claims) error {
	if len(x.GroupMap) == 0 {
		return nil
	}
	want := sso.MapGroups(cl.Groups, x.GroupMap)
	mapped := map[string]bool{}
	for _, g := range x.GroupMap {
		mapped[g] = true
	}
	for gid := range mapped {
		in := slices.Contains(want, gid)
		for range 5 {
			g, err := a.st.GetGroup(ctx, x.OrgID, gid)
			if errors.Is(err, store.ErrNotFound) {
				break // deleted since: nothing to do
			}
			if err != nil {
				return err
			}
			has := slices.Contains(g.Members, u.ID)
			if has == in {
				break
			}
			before := *g
			before.Members = slices.Clone(g.Members)
			if in {
				if len(g.Members) >= store.MaxGroupUsers {
					a.cfg.Log.Warn("sso: group full", "group", g.ID)
					break
				}
				g.Members = append(g.Members, u.ID)
			} else {
				g.Members = slices.DeleteFunc(g.Members, func(m string) bool { return m == u.ID })
			}
			err = a.st.UpdateGroup(ctx, g, before.Version)
			if errors.Is(err, store.ErrConflict) {
				continue
			}
			if err != nil {
				return err
			}
			a.dom.Record(ctx, &domain.Change{Actor: u.ID, ActorName: u.Email, OrgID: x.OrgID, Type: "group", Action: "updated",
				Before: &before, After: g, Extra: []string{"group claim of " + x.Name}})
			break
		}
	}
	return nil
}

func (a *API) ssoSession(c *call) (any, error) {
	f, ver, err := a.flowOf(c.ctx, c.r)
	if err != nil {
		return nil, err
	}
	if f.Error != "" {
		_ = a.st.DeleteSSOFlow(c.ctx, f.ID, ver)
		http.SetCookie(c.w, a.flowCookie("", -1))
		return nil, store.Errorf(store.ErrUnauthorized, "%s", f.Error)
	}
	if f.SessionToken == "" {
		return nil, store.Errorf(store.ErrConflict, "the sign-in has not finished")
	}
	if err := a.st.DeleteSSOFlow(c.ctx, f.ID, ver); err != nil {
		return nil, store.Errorf(store.ErrUnauthorized, "the sign-in was already used; start again")
	}
	http.SetCookie(c.w, a.flowCookie("", -1))
	s, err := a.st.GetSession(c.ctx, auth.Hash(f.SessionToken))
	if err != nil {
		return nil, unauthorized(err)
	}
	u, err := a.st.GetUser(c.ctx, s.UserID)
	if err != nil {
		return nil, err
	}
	orgs, err := a.orgRoles(c.ctx, u.ID)
	if err != nil {
		return nil, err
	}
	return &LoginResponse{Token: f.SessionToken, ExpiresAt: s.ExpiresAt, User: userView(u), Orgs: orgs}, nil
}
