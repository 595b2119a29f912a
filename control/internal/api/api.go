// Package api is control's REST API under /api/v1: the route table (method,
// pattern, required action, handler, request/response types for the OpenAPI
// document), authentication of bearer tokens, one access decision on every
// route (roles, groups and policies: access.go), request decoding with a
// body limit, and the single place where domain errors become HTTP status
// codes (writeError).
//
// Handlers are plain functions from a *call to (response, error); they never
// write to the ResponseWriter themselves. They decode the request, call the
// domain (control/internal/domain: defaults, validation, the store write
// and the publisher's notification, the audit entry and webhook event) and
// return the result; nothing is half-written because every check runs
// before the first write. The scheduler and webhook deliveries run in
// control/internal/workflow, which the API only wakes (a new schedule) and
// asks for test deliveries.
//
// An API is safe for concurrent use.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/auth"
	"github.com/switchyard/switchyard/control/internal/delivery"
	"github.com/switchyard/switchyard/control/internal/domain"
	"github.com/switchyard/switchyard/control/internal/sso"
	"github.com/switchyard/switchyard/control/internal/store"
	"github.com/switchyard/switchyard/control/internal/webhook"
	"github.com/switchyard/switchyard/control/internal/workflow"
)

// Prefix is the base path of every route.
const Prefix = "/api/v1"

// Config tunes the API.
type Config struct {
	MaxBody    int64         // request body limit in bytes (default 1 MiB)
	SessionTTL time.Duration // login session lifetime (default 24 h)
	Log        *slog.Logger
	// Insights answers how flags were evaluated (analytics); nil: unknown.
	Insights Insights
	// EdgeURL is the host:port (or URL) SDKs reach the edge at; GET
	// /auth/me reports it so the UI's SDK snippets point at the real edge.
	EdgeURL string
	// InviteTTL is how long an invitation to an organization can be
	// accepted (default 7 days).
	InviteTTL time.Duration
	// OrgCreation says who may create organizations: OrgCreationAdmins
	// (instance administrators only, the default) or OrgCreationAnyone
	// (every user with a session).
	OrgCreation string
	// UploadTimeout is the read and write deadline of routes whose body
	// limit is above MaxBody (code-reference uploads), replacing the
	// server's ReadTimeout/WriteTimeout for them (default 5 min).
	UploadTimeout time.Duration
	// RateLimit and RateBurst limit the requests per second of one session
	// or access token (default 50/s, burst 200); PublicRateLimit and
	// PublicRateBurst those of one client address on public routes and with
	// refused credentials (default 2/s, burst 20). Negative: no limit.
	// RateLimitKeys caps the keys each limiter tracks (default 100,000).
	RateLimit, PublicRateLimit float64
	RateBurst, PublicRateBurst int
	RateLimitKeys              int
	// PublicURL is the URL browsers reach control at (scheme://host[:port],
	// no path); single sign-on needs it for its redirect URI
	// (PublicURL + CallbackPath). Empty: SSO is off.
	PublicURL string
	// SSOAllow lists the prefixes OpenID issuers may be reached at besides
	// public addresses (none by default; a local test issuer needs
	// 127.0.0.0/8).
	SSOAllow []netip.Prefix
	// SSOTimeout bounds each call to an issuer (default 10 s).
	SSOTimeout time.Duration
	// Deliveries answers delivery receipts and the live SDK view (nil:
	// those routes answer 503).
	Deliveries *delivery.Tracker
}

// OrgCreation settings.
const (
	OrgCreationAdmins = "admins"
	OrgCreationAnyone = "anyone"
)

// API serves the REST API.
type API struct {
	st     *store.Store
	dom    *domain.Service    // every write of the domain, audited (control/internal/domain)
	wf     *workflow.Workflow // the scheduler and webhook deliveries (control/internal/workflow)
	lim    auth.Throttle      // the login throttle's rule; its state is in st
	cfg    Config
	routes []Route
	// ownerMu serialises the membership changes that check the number of
	// owners (demotion, removal), so two of them cannot both pass the
	// last-owner check in this process.
	ownerMu sync.Mutex

	authLim, ipLim *keyedLimiter // ratelimit.go
	codeRefs       chan struct{} // readers of stored code references (h_coderefs.go)
	sso            *sso.Client   // OpenID sign-ins (h_sso.go)
}

// New returns the API over a store: writes go through dom, schedules are
// woken and webhooks test-sent through wf.
func New(st *store.Store, dom *domain.Service, wf *workflow.Workflow, cfg Config) *API {
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 1 << 20
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 24 * time.Hour
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.InviteTTL <= 0 {
		cfg.InviteTTL = 7 * 24 * time.Hour
	}
	if cfg.OrgCreation == "" {
		cfg.OrgCreation = OrgCreationAdmins
	}
	if cfg.UploadTimeout <= 0 {
		cfg.UploadTimeout = 5 * time.Minute
	}
	cfg.rateDefaults()
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	if cfg.SSOTimeout <= 0 {
		cfg.SSOTimeout = 10 * time.Second
	}
	a := &API{st: st, dom: dom, wf: wf, lim: auth.DefaultThrottle(), cfg: cfg,
		authLim:  newKeyedLimiter(cfg.RateLimit, cfg.RateBurst, cfg.RateLimitKeys),
		ipLim:    newKeyedLimiter(cfg.PublicRateLimit, cfg.PublicRateBurst, cfg.RateLimitKeys),
		codeRefs: make(chan struct{}, codeRefReaders),
		sso:      sso.New(webhook.NewClient(cfg.SSOAllow, cfg.SSOTimeout))}
	a.routes = slices.Concat(a.table(), a.batchRoutes(), a.workflowRoutes(), a.ssoRoutes())
	return a
}

// Routes returns the route table.
func (a *API) Routes() []Route { return a.routes }

// Register adds every route to mux as "METHOD /api/v1/...".
func (a *API) Register(mux *http.ServeMux) {
	for i := range a.routes {
		rt := &a.routes[i]
		mux.Handle(rt.Method+" "+rt.Path, a.wrap(rt))
	}
	mux.HandleFunc("GET "+CallbackPath, a.ssoCallback)
}

// Scope says how a route finds the organization it acts in.
type Scope int

// Scopes.
const (
	Public  Scope = iota // no authentication
	User                 // any authenticated caller
	Org                  // {orgId} in the path
	Project              // {projectId} in the path
	Env                  // {envId} in the path
)

// Route is one endpoint.
type Route struct {
	Method  string
	Path    string // full pattern, e.g. /api/v1/envs/{envId}/flags
	Summary string
	Tag     string
	Scope   Scope
	Action  string // the action the caller needs on the resource (Org/Project/Env scopes; access.go)
	Status  int    // success status (default 200)
	Body    any    // request body type (nil: none), for the OpenAPI document
	Resp    any    // response type, for the OpenAPI document
	Query   []string
	MaxBody int64 // request body limit of this route (default Config.MaxBody)
	h       func(c *call) (any, error)
}

// principal is an authenticated caller: a user (session) or an access token.
type principal struct {
	user    *store.User
	session string // session id (token hash)
	ssoOrg  string // the organization whose issuer signed the session in ("" for a password session)
	token   *store.AccessToken
	// tokenRole is the access token's effective role: its own role, capped
	// by its creator's current role in the organization.
	tokenRole string
}

// call is the state of one request.
type call struct {
	a       *API
	r       *http.Request
	w       http.ResponseWriter
	ctx     context.Context
	p       *principal
	orgID   string
	role    string  // the caller's (effective) organization role
	access  *access // decides actions in the organization (access.go)
	res     string  // the resource, once named (call.resource)
	env     *store.Env
	project *store.Project
	// flagRead is the flag named in the path as the audit hook read it
	// before the handler ran (flagBefore); the handler works on a copy
	// instead of reading it again.
	flagRead *codec.Flag
}

func (c *call) path(name string) string { return c.r.PathValue(name) }

func (c *call) actor() string {
	switch {
	case c.p == nil:
		return ""
	case c.p.user != nil:
		return c.p.user.ID
	default:
		return "token:" + c.p.token.ID
	}
}

var errTooLarge = errors.New("request body too large")

func (a *API) wrap(rt *Route) http.Handler {
	status := rt.Status
	if status == 0 {
		status = http.StatusOK
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				a.cfg.Log.Error("panic in handler", "route", rt.Method+" "+rt.Path, "panic", v)
				writeError(w, a.cfg.Log, fmt.Errorf("panic: %v", v))
			}
		}()
		limit := a.cfg.MaxBody
		if rt.MaxBody > 0 {
			limit = rt.MaxBody
		}
		if limit > a.cfg.MaxBody {
			// A large upload may take longer than the server's deadlines.
			rc := http.NewResponseController(w)
			_ = rc.SetReadDeadline(time.Now().Add(a.cfg.UploadTimeout))
			_ = rc.SetWriteDeadline(time.Now().Add(a.cfg.UploadTimeout))
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		c := &call{a: a, r: r, w: w, ctx: store.WithRequestMemo(r.Context())} // store/memo.go
		res, err := a.serve(c, rt)
		if err != nil {
			writeError(w, a.cfg.Log, err)
			return
		}
		if res == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if _, ok := res.(written); ok { // the handler streamed its answer
			return
		}
		writeJSON(w, status, res)
	})
}

func (a *API) serve(c *call, rt *Route) (any, error) {
	if rt.Scope == Public {
		if err := a.limitAddr(c.r); err != nil {
			return nil, err
		}
	} else {
		p, err := a.authenticate(c.ctx, c.r)
		if err != nil {
			if lerr := a.limitAddr(c.r); lerr != nil {
				return nil, lerr
			}
			return nil, err
		}
		if err := a.limitPrincipal(p); err != nil {
			return nil, err
		}
		c.p = p
	}
	switch rt.Scope {
	case Org:
		c.orgID = c.path("orgId")
		if _, err := a.st.GetOrg(c.ctx, c.orgID); err != nil {
			return nil, err
		}
	case Project:
		p, err := a.st.GetProject(c.ctx, c.path("projectId"))
		if err != nil {
			return nil, err
		}
		c.project, c.orgID = p, p.OrgID
	case Env:
		e, err := a.st.GetEnvMeta(c.ctx, c.path("envId"))
		if err != nil {
			return nil, err
		}
		c.env, c.orgID = e, e.OrgID
	}
	if c.orgID != "" {
		ac, role, err := a.accessIn(c.ctx, c.p, c.orgID)
		if err != nil {
			return nil, err
		}
		c.access, c.role = ac, role
		if err := a.passwordForbidden(c, rt); err != nil {
			return nil, err
		}
		if !c.can(rt.Action) {
			return nil, forbidden(rt.Action, c.resource())
		}
	}
	// Protected environments: a route that writes flags or segments is
	// refused here with a clear error (the store refuses the write itself
	// too, so copies into the environment, schedules and triggers are
	// refused when they run).
	if rt.Scope == Env && gatedActions[rt.Action] {
		if err := a.st.Gate(c.ctx, c.env.ID); err != nil {
			return nil, err
		}
	}
	return a.run(c, rt) // h_audit.go: audit log and webhook events of writes
}

// roleIn returns the caller's role in an organization (ErrForbidden if none).
func (a *API) roleIn(ctx context.Context, p *principal, orgID string) (string, error) {
	if p.token != nil {
		if p.token.OrgID != orgID {
			return "", store.Errorf(store.ErrForbidden, "the access token belongs to another organization")
		}
		return p.tokenRole, nil
	}
	m, err := a.st.GetMember(ctx, orgID, p.user.ID)
	if errors.Is(err, store.ErrNotFound) {
		return "", store.Errorf(store.ErrForbidden, "you are not a member of this organization")
	}
	if err != nil {
		return "", err
	}
	return m.Role, nil
}

func (a *API) authenticate(ctx context.Context, r *http.Request) (*principal, error) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		return nil, store.Errorf(store.ErrUnauthorized, "missing bearer token (Authorization: Bearer <token>)")
	}
	hash := auth.Hash(tok)
	switch auth.Kind(tok) {
	case auth.KindSession:
		s, err := a.st.GetSession(ctx, hash)
		if err != nil {
			return nil, unauthorized(err)
		}
		u, err := a.st.GetUser(ctx, s.UserID)
		if err != nil {
			return nil, unauthorized(err)
		}
		return &principal{user: u, session: hash, ssoOrg: s.SSOOrgID}, nil
	case auth.KindAccess:
		t, err := a.st.GetTokenByHash(ctx, hash)
		if err != nil {
			return nil, unauthorized(err)
		}
		role, err := a.effectiveRole(ctx, t)
		if err != nil {
			return nil, err
		}
		return &principal{token: t, tokenRole: role}, nil
	}
	return nil, store.Errorf(store.ErrUnauthorized, "unknown token")
}

// maxTokenChain bounds how many creating tokens effectiveRole follows (a
// token created by a token created by …).
const maxTokenChain = 8

// effectiveRole is the role an access token acts with: its own role capped
// by its creator's current role in the token's organization (a user's
// membership, or for a token created by a token, that token's effective
// role). An expired token, or one whose creator is gone (member removed,
// creating token revoked or expired), is ErrUnauthorized.
func (a *API) effectiveRole(ctx context.Context, t *store.AccessToken) (string, error) {
	dead := func(why string) error {
		return store.Errorf(store.ErrUnauthorized, "invalid or expired token: %s", why)
	}
	role := t.Role
	now := time.Now().UnixMilli()
	for range maxTokenChain {
		if t.ExpiresAt != 0 && t.ExpiresAt <= now {
			return "", dead("expired")
		}
		creator, isToken := strings.CutPrefix(t.CreatedBy, "token:")
		if creator == "" {
			return "", dead("it has no creator")
		}
		var limit string
		if isToken {
			parent, err := a.st.GetToken(ctx, creator)
			if errors.Is(err, store.ErrNotFound) || (err == nil && parent.OrgID != t.OrgID) {
				return "", dead("the token that created it was revoked")
			}
			if err != nil {
				return "", err
			}
			limit, t = parent.Role, parent
		} else {
			m, err := a.st.GetMember(ctx, t.OrgID, creator)
			if errors.Is(err, store.ErrNotFound) {
				return "", dead("its creator is no longer a member of the organization")
			}
			if err != nil {
				return "", err
			}
			limit = m.Role
		}
		if store.RoleRank(limit) < store.RoleRank(role) {
			role = limit
		}
		if !isToken {
			return role, nil
		}
	}
	return "", dead("too long a chain of tokens creating tokens")
}

func unauthorized(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return store.Errorf(store.ErrUnauthorized, "invalid or expired token")
	}
	return err
}

// ---- responses and the one error mapping ----

// ErrorBody is the JSON body of every error response.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail describes an error; Field is the JSON path of the offending
// request field, when there is one.
type ErrorDetail struct {
	Code    string `json:"code"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// retryAfter is an error that carries a Retry-After delay.
type retryAfter struct {
	wait time.Duration
	err  error
}

func (e *retryAfter) Error() string { return e.err.Error() }
func (e *retryAfter) Unwrap() error { return e.err }

// writeError is the one place where errors become status codes.
func writeError(w http.ResponseWriter, log *slog.Logger, err error) {
	var (
		status int
		code   string
	)
	switch {
	case errors.Is(err, errTooLarge):
		status, code = http.StatusRequestEntityTooLarge, "too_large"
	case errors.Is(err, store.ErrInvalid):
		status, code = http.StatusBadRequest, "invalid"
	case errors.Is(err, store.ErrDuplicate):
		status, code = http.StatusBadRequest, "duplicate"
	case errors.Is(err, store.ErrNotFound):
		status, code = http.StatusNotFound, "not_found"
	case errors.Is(err, store.ErrConflict):
		status, code = http.StatusConflict, "conflict"
	case errors.Is(err, store.ErrChangeRequest):
		status, code = http.StatusConflict, "change_request_required"
	case errors.Is(err, store.ErrUnauthorized):
		status, code = http.StatusUnauthorized, "unauthorized"
	case errors.Is(err, store.ErrForbidden):
		status, code = http.StatusForbidden, "forbidden"
	case errors.Is(err, store.ErrTooMany):
		status, code = http.StatusTooManyRequests, "too_many_requests"
	case errors.Is(err, store.ErrUnavailable):
		status, code = http.StatusServiceUnavailable, "unavailable"
		err = &retryAfter{wait: 5 * time.Second, err: err}
	default:
		status, code = http.StatusInternalServerError, "internal"
	}
	body := ErrorDetail{Code: code, Message: err.Error()}
	var fe *store.FieldError
	if errors.As(err, &fe) {
		body.Field, body.Message = fe.Field, fe.Msg
	}
	if status == http.StatusNotFound && fe == nil {
		body.Message = "not found"
	}
	if status == http.StatusInternalServerError || status == http.StatusServiceUnavailable {
		log.Error("request failed", "status", status, "err", err)
		body.Message = http.StatusText(status)
	}
	var ra *retryAfter
	if errors.As(err, &ra) {
		w.Header().Set("Retry-After", strconv.Itoa(int(ra.wait.Seconds()+0.999)))
	}
	writeJSON(w, status, ErrorBody{Error: body})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"cannot encode response"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// decode reads the JSON body into v: unknown fields, wrong types, trailing
// data, duplicate keys, NUL in object names and nesting deeper than
// maxJSONDepth are ErrInvalid naming the field (strictJSON); an oversized
// body is errTooLarge (413).
func (c *call) decode(v any) error {
	b, err := io.ReadAll(c.r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fmt.Errorf("limit %d bytes: %w", mbe.Limit, errTooLarge)
		}
		return store.Invalid("", "cannot read the request body: %v", err)
	}
	if err := strictJSON(b); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	if err == nil {
		if _, err2 := dec.Token(); err2 != io.EOF {
			var mbe *http.MaxBytesError
			if errors.As(err2, &mbe) {
				return fmt.Errorf("limit %d bytes: %w", mbe.Limit, errTooLarge)
			}
			return store.Invalid("", "unexpected data after the JSON document")
		}
		return nil
	}
	var (
		mbe *http.MaxBytesError
		se  *json.SyntaxError
		te  *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &mbe):
		return fmt.Errorf("limit %d bytes: %w", mbe.Limit, errTooLarge)
	case errors.Is(err, io.EOF):
		return store.Invalid("", "request body is empty; a JSON object is expected")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return store.Invalid("", "request body is truncated JSON")
	case errors.As(err, &se):
		return store.Invalid("", "malformed JSON at byte %d: %v", se.Offset, se)
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "(body)"
		}
		return store.Invalid(field, "must be %s, not JSON %s", jsonKind(te.Type.Kind().String()), te.Value)
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		f = strings.Trim(f, `"`)
		return store.Invalid(f, "unknown field %q", f)
	}
	return store.Invalid("", "invalid JSON: %v", err)
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	}
	return "a number"
}

// queryInt reads an integer query parameter in [0, max].
func (c *call) queryInt(name string, def, max int) (int, error) {
	s := c.r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > max {
		return 0, store.Invalid(name, "must be an integer from 0 to %d", max)
	}
	return n, nil
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// List is the response of every list endpoint.
type List[T any] struct {
	Items []T `json:"items"`
	Total int `json:"total"`
}

func list[T any](items []T, total int) *List[T] {
	if items == nil {
		items = []T{}
	}
	return &List[T]{Items: items, Total: total}
}

// Limits of request lists whose entries each cost a store read (webhook
// filters, experiment metrics) or a write (flags copied at once).
const (
	maxRefList  = 100  // webhook events, projectIds, envIds; experiment metricIds; copy parts
	maxCopyKeys = 1000 // flags copied across environments in one request
)

// listCap refuses a list longer than max, naming the field.
func listCap(field string, n, max int) error {
	if n > max {
		return store.Invalid(field, "at most %d entries, got %d", max, n)
	}
	return nil
}
