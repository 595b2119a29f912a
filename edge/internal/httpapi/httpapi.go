// Package httpapi serves the edge's plain HTTP endpoints with fasthttp on
// the streaming port: FeatBit's public SDK API (insight track, server and
// client polling, flag evaluation), OFREP evaluation (delegated to package ofrep), health
// checks and Prometheus metrics.
//
// Secret scopes: a client secret is public (it ships in browser bundles),
// so routes that carry rules, targeted user keys or segment members (server
// polling) accept only a server secret; routes that return evaluated values
// or take events (client polling, evaluate, track, OFREP) accept both types
// (a server secret can already read everything a client route could tell
// it).
//
// Limits: every /api/public and /ofrep request takes a token of its
// address's bucket before anything else and, once authenticated, one of its
// secret's bucket; a refusal is 429 with Retry-After. A track request
// sent with a client secret carries at most MaxTrackUsers distinct end users.
//
// Status mapping (one place, StatusOf): a missing, malformed or unknown SDK
// key, or a secret of the wrong type, is 401; a malformed body is 400; a
// rate limit is 429; an unavailable source is 503;
// everything well-formed is 2xx (any other 4xx makes FeatBit's Node, JS and
// .NET SDKs stop sending events for good). /api/public/* and /ofrep/*
// answer CORS preflights, allow any origin and expose ETag and Retry-After
// to cross-origin scripts.
package httpapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strconv"
	"sync"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/codec/secret"
	"github.com/switchyard/switchyard/codec/wire"
	"github.com/switchyard/switchyard/edge/eval"
	"github.com/switchyard/switchyard/edge/internal/envstate"
	"github.com/switchyard/switchyard/edge/internal/hub"
	"github.com/switchyard/switchyard/edge/internal/limit"
	"github.com/switchyard/switchyard/edge/internal/metrics"
	"github.com/switchyard/switchyard/edge/internal/sink"
	"github.com/switchyard/switchyard/edge/internal/wsconn"
	"github.com/valyala/fasthttp"
)

// API holds the handlers' dependencies.
type API struct {
	Hub     *hub.Hub
	Sink    sink.EventSink
	Users   *sink.Users
	Metrics *metrics.M
	// OFREP serves /ofrep/v1/*; nil answers 404.
	OFREP fasthttp.RequestHandler
	// Ready reports the process's readiness for /health/readiness
	// (started, not shutting down).
	Ready func() bool
	// Readyz answers /readyz: ready when the process is and every
	// dependency answered its last probe, and the JSON body naming each
	// one's state (nil: /readyz is /health/readiness).
	Readyz func() (bool, []byte)
	// MoreMetrics, when set, writes further families after the counters
	// of Metrics (the readiness gauges).
	MoreMetrics func(w io.Writer)
	// ByAddr and BySecret rate-limit the public routes per client address
	// and per SDK secret (nil: no limit).
	ByAddr   *limit.Keyed[wsconn.AddrKey]
	BySecret *limit.Keyed[string]
	// MaxTrackUsers caps the distinct end users of one track request
	// (0: no cap).
	MaxTrackUsers int
}

// Scope is what a route needs of a secret.
type Scope uint8

// Scopes: ScopeServer accepts only a server secret (the route returns rules
// or segment members); ScopeAny accepts a server or a client secret.
const (
	ScopeAny Scope = iota
	ScopeServer
)

// Errors mapped by StatusOf.
var (
	ErrUnauthorized = errors.New("invalid or missing SDK key")
	ErrServerOnly   = errors.New("this endpoint needs a server secret: a client secret is public")
	ErrBadRequest   = errors.New("malformed request")
	ErrRateLimited  = errors.New("rate limit exceeded")
	ErrTooManyUsers = errors.New("too many end users in one track request")
)

// StatusOf maps an error to its HTTP status (the one place that does).
func StatusOf(err error) int {
	switch {
	case errors.Is(err, ErrUnauthorized), errors.Is(err, ErrServerOnly), errors.Is(err, hub.ErrUnknownEnv):
		return fasthttp.StatusUnauthorized
	case errors.Is(err, ErrBadRequest), errors.Is(err, ErrTooManyUsers):
		return fasthttp.StatusBadRequest
	case errors.Is(err, ErrRateLimited):
		return fasthttp.StatusTooManyRequests
	case errors.Is(err, hub.ErrUnavailable):
		return fasthttp.StatusServiceUnavailable
	}
	return fasthttp.StatusInternalServerError
}

func (a *API) fail(ctx *fasthttp.RequestCtx, err error, cause string) {
	a.Metrics.Error(cause)
	ctx.SetStatusCode(StatusOf(err))
	if errors.Is(err, ErrRateLimited) {
		SetRetryAfter(ctx)
	}
	ctx.SetBodyString(err.Error())
}

var (
	hdrRetryAfter = []byte("Retry-After")
	one           = []byte("1")
)

// SetRetryAfter sets the Retry-After header of a 429: one second, the
// longest a token takes to come back (rates are at least 1/s).
func SetRetryAfter(ctx *fasthttp.RequestCtx) {
	ctx.Response.Header.SetCanonical(hdrRetryAfter, one)
}

// Handler returns the fasthttp handler.
func (a *API) Handler() fasthttp.RequestHandler {
	return a.serve
}

var (
	pathTrack        = []byte("/api/public/insight/track")
	pathServerLatest = []byte("/api/public/sdk/server/latest-all")
	pathClientLatest = []byte("/api/public/sdk/client/latest-all")
	pathEvaluate     = []byte("/api/public/featureflag/evaluate")
	pathLiveness     = []byte("/health/liveness")
	pathReadiness    = []byte("/health/readiness")
	pathMetrics      = []byte("/metrics")
	pathHealthz      = []byte("/healthz")
	pathReadyz       = []byte("/readyz")
	prefixPublic     = []byte("/api/public/")
	prefixOFREP      = []byte("/ofrep/")
)

// IsTrack reports whether a request URI (path and query) is the track
// route, whose body cap is larger than the others'.
func IsTrack(uri []byte) bool {
	if i := bytes.IndexByte(uri, '?'); i >= 0 {
		uri = uri[:i]
	}
	return eqFold(uri, pathTrack)
}

func hasPrefixFold(p, prefix []byte) bool {
	if len(p) < len(prefix) {
		return false
	}
	for i := range prefix {
		c := p[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

func eqFold(p, q []byte) bool { return len(p) == len(q) && hasPrefixFold(p, q) }

var (
	hdrAllowOrigin  = []byte("Access-Control-Allow-Origin")
	hdrAllowMethods = []byte("Access-Control-Allow-Methods")
	hdrAllowHeaders = []byte("Access-Control-Allow-Headers")
	hdrMaxAge       = []byte("Access-Control-Max-Age")
	hdrExpose       = []byte("Access-Control-Expose-Headers")
	exposed         = []byte("ETag, Retry-After")
	allowMethods    = []byte("GET, POST, OPTIONS")
	star            = []byte("*")
	maxAge          = []byte("86400")
)

func (a *API) serve(ctx *fasthttp.RequestCtx) {
	// the request has been read: its deadline and unfinished slot end
	if d, ok := ctx.Conn().(wsconn.RequestDoner); ok {
		d.RequestDone()
	}
	a.Metrics.HTTP.Add(1)
	p := ctx.Path()
	if hasPrefixFold(p, prefixPublic) || hasPrefixFold(p, prefixOFREP) {
		if a.ByAddr.Enabled() && !a.ByAddr.Allow(wsconn.KeyOf(ctx.RemoteAddr()), 1) {
			a.Metrics.Error("rate_limit_addr")
			ctx.SetStatusCode(fasthttp.StatusTooManyRequests)
			SetRetryAfter(ctx)
			ctx.SetBodyString(ErrRateLimited.Error())
			return
		}
		// SetCanonical: the names are already canonical, so fasthttp
		// skips normalising them on every request
		h := &ctx.Response.Header
		h.SetCanonical(hdrAllowOrigin, star)
		// a cross-origin script sees only CORS-safelisted response
		// headers: OFREP's web provider needs the bulk ETag for
		// If-None-Match, and a 429's Retry-After should be readable too
		h.SetCanonical(hdrExpose, exposed)
		if ctx.IsOptions() {
			h.SetCanonical(hdrAllowMethods, allowMethods)
			h.SetCanonical(hdrAllowHeaders, star)
			h.SetCanonical(hdrMaxAge, maxAge)
			ctx.SetStatusCode(fasthttp.StatusNoContent)
			return
		}
	}
	switch {
	case eqFold(p, pathTrack) && ctx.IsPost():
		a.track(ctx)
	case eqFold(p, pathServerLatest) && ctx.IsGet():
		a.serverLatest(ctx)
	case eqFold(p, pathClientLatest) && ctx.IsPost():
		a.clientLatest(ctx)
	case eqFold(p, pathEvaluate) && ctx.IsPost():
		a.evaluate(ctx)
	case hasPrefixFold(p, prefixOFREP) && a.OFREP != nil:
		a.OFREP(ctx)
	case eqFold(p, pathLiveness):
		ctx.SetBodyString("Healthy")
	case eqFold(p, pathHealthz):
		ctx.SetBodyString("ok\n")
	case eqFold(p, pathReadyz):
		ctx.Response.Header.Set("Cache-Control", "no-store")
		if a.Readyz == nil {
			if a.Ready != nil && !a.Ready() {
				ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
			}
			return
		}
		ok, body := a.Readyz()
		ctx.SetContentType("application/json")
		if !ok {
			ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
		}
		ctx.SetBody(body)
	case eqFold(p, pathReadiness):
		if a.Ready != nil && !a.Ready() {
			ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
			ctx.SetBodyString("Unhealthy")
			return
		}
		ctx.SetBodyString("Healthy")
	case eqFold(p, pathMetrics):
		ctx.SetContentType("text/plain; version=0.0.4; charset=utf-8")
		_, _ = a.Metrics.WriteTo(ctx)
		if a.MoreMetrics != nil {
			a.MoreMetrics(ctx)
		}
	default:
		ctx.SetStatusCode(fasthttp.StatusNotFound)
	}
}

// Auth resolves a raw SDK key (FeatBit: the Authorization header, no
// prefix) to its environment State: the key must be one of the
// environment's secrets (FeatBit's server only checks its shape) and of a
// type scope accepts (ErrServerOnly otherwise), and its bucket of BySecret
// must have a token (ErrRateLimited).
func (a *API) Auth(key []byte, scope Scope) (*envstate.State, error) {
	if len(key) != secret.Length {
		return nil, ErrUnauthorized
	}
	var buf [36]byte
	id, err := secret.AppendEnvID(buf[:0], key)
	if err != nil {
		return nil, ErrUnauthorized
	}
	e, err := a.Hub.EnvBytes(context.Background(), id)
	if err != nil {
		if errors.Is(err, hub.ErrUnknownEnv) {
			return nil, ErrUnauthorized
		}
		return nil, err
	}
	st := e.State()
	typ, stored := st.Secret(key)
	switch {
	case typ == "":
		return nil, ErrUnauthorized
	case scope == ScopeServer && typ != codec.SecretServer:
		return nil, ErrServerOnly
	}
	// stored is the State's own string: a map key that costs nothing
	if a.BySecret.Enabled() && !a.BySecret.Allow(stored, 1) {
		a.Metrics.Error("rate_limit_secret")
		return nil, ErrRateLimited
	}
	return st, nil
}

// AuthAny is Auth with ScopeAny (OFREP).
func (a *API) AuthAny(key []byte) (*envstate.State, error) { return a.Auth(key, ScopeAny) }

type trackBufs struct {
	batch codec.InsightBatch
	users codec.EndUserBatch
}

var trackPool = sync.Pool{New: func() any { return new(trackBufs) }}

func (a *API) track(ctx *fasthttp.RequestCtx) {
	key := ctx.Request.Header.Peek("Authorization")
	st, err := a.Auth(key, ScopeAny)
	if err != nil {
		a.fail(ctx, err, "track_auth")
		return
	}
	tb := trackPool.Get().(*trackBufs)
	defer func() {
		tb.batch = codec.InsightBatch{Evals: tb.batch.Evals[:0], Metrics: tb.batch.Metrics[:0]}
		tb.users = codec.EndUserBatch{Users: tb.users.Users[:0]}
		trackPool.Put(tb)
	}()
	if err := wire.ParseTrack(ctx.PostBody(), st.EnvID, &tb.batch, &tb.users); err != nil {
		a.Metrics.Error("track_body")
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		ctx.SetBodyString(ErrBadRequest.Error() + ": " + err.Error()) // names the offset and the problem
		return
	}
	// the cap is for the public client secret (a browser or mobile SDK
	// names one user at a time); a server SDK batches the events of every
	// user its service saw, bounded by the body cap and the end-user rate
	if a.MaxTrackUsers > 0 && len(tb.users.Users) > a.MaxTrackUsers && st.SecretType(key) == codec.SecretClient {
		a.Metrics.Error("track_users")
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		ctx.SetBodyString(tooManyUsers(a.MaxTrackUsers))
		return
	}
	if n := len(tb.batch.Evals) + len(tb.batch.Metrics); n > 0 {
		if err := a.Sink.Insights(ctx, &tb.batch); err != nil {
			a.Metrics.Error("insights_sink")
		} else {
			a.Metrics.Insights.Add(int64(n))
		}
	}
	if a.Users != nil {
		for i := range tb.users.Users {
			a.Users.AddUser(st.EnvID, &tb.users.Users[i])
		}
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
}

func tooManyUsers(max int) string {
	return ErrTooManyUsers.Error() + ": at most " + strconv.Itoa(max) + " distinct users"
}

func timestampArg(ctx *fasthttp.RequestCtx) (int64, error) {
	v := ctx.QueryArgs().Peek("timestamp")
	if len(v) == 0 {
		return 0, nil
	}
	ts, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return 0, ErrBadRequest
	}
	return ts, nil
}

type bodyBuf struct {
	b     []byte
	lists envstate.Lists
	flags []wire.ClientFlag
}

var bodyPool = sync.Pool{New: func() any { return &bodyBuf{b: make([]byte, 0, 4096)} }}

func (a *API) serverLatest(ctx *fasthttp.RequestCtx) {
	st, err := a.Auth(ctx.Request.Header.Peek("Authorization"), ScopeServer)
	if err != nil {
		a.fail(ctx, err, "polling_auth")
		return
	}
	ts, err := timestampArg(ctx)
	if err != nil {
		a.fail(ctx, err, "polling_args")
		return
	}
	ctx.SetContentType("application/json")
	if ts <= 0 {
		ctx.SetBody(st.FullBody(envstate.JSON))
		return
	}
	bb := bodyPool.Get().(*bodyBuf)
	defer bodyPool.Put(bb)
	// an empty patch is 200 with an empty body
	empty := true
	for _, f := range st.FlagList() {
		if f.Src.UpdatedAt > ts {
			empty = false
			break
		}
	}
	for _, s := range st.Segs {
		if s.Src.UpdatedAt > ts {
			empty = false
			break
		}
	}
	if empty {
		return
	}
	bb.b = st.AppendServerPatch(bb.b[:0], envstate.JSON, ts, &bb.lists)
	ctx.SetBody(bb.b)
}

func (a *API) clientLatest(ctx *fasthttp.RequestCtx) {
	st, err := a.Auth(ctx.Request.Header.Peek("Authorization"), ScopeAny)
	if err != nil {
		a.fail(ctx, err, "polling_auth")
		return
	}
	ts, err := timestampArg(ctx)
	if err != nil {
		a.fail(ctx, err, "polling_args")
		return
	}
	var u codec.EndUser
	if err := wire.ParseUser(ctx.PostBody(), &u); err != nil {
		a.Metrics.Error("polling_user")
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		var se *wire.SyntaxError
		if errors.As(err, &se) {
			ctx.SetBodyString("invalid end user: " + se.Error())
		} else {
			ctx.SetBodyString("invalid end user")
		}
		return
	}
	eu := eval.UserFrom(&u)
	bb := bodyPool.Get().(*bodyBuf)
	defer func() { clear(bb.flags); bodyPool.Put(bb) }()
	bb.flags = hub.AppendClientFlags(bb.flags[:0], st, &eu, ts)
	a.Metrics.Evaluations.Add(int64(len(bb.flags)))
	if a.Users != nil {
		u.EnvID = st.EnvID
		a.Users.AddUser(st.EnvID, &u)
	}
	ctx.SetContentType("application/json")
	if ts > 0 && len(bb.flags) == 0 {
		return
	}
	ev := "full"
	if ts > 0 {
		ev = "patch"
	}
	bb.b = wire.AppendClientSync(bb.b[:0], ev, u.KeyID, bb.flags)
	ctx.SetBody(bb.b)
}

type evalBufs struct {
	req wire.EvaluateRequest
	b   []byte
}

var evalPool = sync.Pool{New: func() any { return &evalBufs{b: make([]byte, 0, 4096)} }}

// evaluate serves FeatBit's POST /api/public/featureflag/evaluate: the
// flags of the environment (filtered by key and tag) evaluated for the
// posted user, as [{"key","variation":{"id","type","value","matchReason",
// "sendToExperiment"}}]. Archived flags are left out; the user joins the
// end-user list like a client-polling user.
func (a *API) evaluate(ctx *fasthttp.RequestCtx) {
	st, err := a.Auth(ctx.Request.Header.Peek("Authorization"), ScopeAny)
	if err != nil {
		a.fail(ctx, err, "evaluate_auth")
		return
	}
	eb := evalPool.Get().(*evalBufs)
	defer func() {
		clear(eb.req.Keys)
		clear(eb.req.Tags)
		eb.req.User = codec.EndUser{}
		if cap(eb.b) > 1<<20 {
			eb.b = make([]byte, 0, 4096)
		}
		evalPool.Put(eb)
	}()
	r := &eb.req
	if err := wire.ParseEvaluate(ctx.PostBody(), r); err != nil {
		a.Metrics.Error("evaluate_body")
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		if errors.Is(err, wire.ErrInvalidUser) {
			ctx.SetBodyString("A valid user is required (user.keyId)")
		} else {
			ctx.SetBodyString(ErrBadRequest.Error() + ": " + err.Error())
		}
		return
	}
	eu := eval.UserFrom(&r.User)
	b := append(eb.b[:0], '[')
	n := 0
	add := func(f *envstate.Flag) {
		if f == nil || f.Src.IsArchived || !tagsMatch(f.Src.Tags, r.Tags, r.TagsAny) {
			return
		}
		res := eval.Evaluate(f.Eval, st.EvalSegs, &eu)
		v := res.Variation
		if v == nil {
			return
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = append(b, `{"key":`...)
		b = wire.AppendString(b, f.Src.Key)
		b = append(b, `,"variation":{"id":`...)
		b = wire.AppendString(b, v.ID)
		b = append(b, `,"type":`...)
		b = wire.AppendString(b, f.Src.VariationType)
		b = append(b, `,"value":`...)
		b = wire.AppendString(b, v.Value)
		b = append(b, `,"matchReason":`...)
		b = wire.AppendString(b, res.MatchReason)
		b = append(b, `,"sendToExperiment":`...)
		b = strconv.AppendBool(b, res.SendToExperiment)
		b = append(b, "}}"...)
	}
	if len(r.Keys) > 0 {
		// sorted and without repeats: each flag once, like FeatBit's query
		slices.Sort(r.Keys)
		r.Keys = slices.Compact(r.Keys)
		for _, k := range r.Keys {
			add(st.FlagByKey(k))
		}
	} else {
		for _, f := range st.FlagList() {
			add(f)
		}
	}
	b = append(b, ']')
	eb.b = b
	a.Metrics.Evaluations.Add(int64(n))
	if a.Users != nil {
		r.User.EnvID = st.EnvID
		a.Users.AddUser(st.EnvID, &r.User)
	}
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

// tagsMatch reports whether a flag's tags pass the filter: every wanted
// tag (any one when anyTag); an empty filter passes everything.
func tagsMatch(have, want []string, anyTag bool) bool {
	if len(want) == 0 {
		return true
	}
	for _, w := range want {
		if slices.Contains(have, w) == anyTag {
			return anyTag
		}
	}
	return !anyTag
}
