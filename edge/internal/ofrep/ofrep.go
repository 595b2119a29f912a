// Package ofrep serves the OpenFeature Remote Evaluation Protocol (OFREP,
// github.com/open-feature/protocol service/openapi.yaml) on the edge:
// POST /ofrep/v1/evaluate/flags/{key} (single flag) and
// POST /ofrep/v1/evaluate/flags (bulk, with ETag / If-None-Match → 304) and
// the configuration extension GET /ofrep/v1/configuration (capabilities:
// polling with its minimum interval, the supported types; ETag → 304).
//
// Auth: the environment's SDK key as "Authorization: Bearer <key>",
// "X-API-Key: <key>" or FeatBit's raw "Authorization: <key>"; otherwise
// 401. Both secret types are accepted: OFREP answers evaluated values only
// (no rules, no segment members, no other user's keys), exactly what a
// client secret already gets from client streaming and client polling, and
// OpenFeature's web providers, which run in browsers, can only hold the
// public client secret. A rate-limited secret is 429 with Retry-After.
//
// Context → FeatBit user: targetingKey becomes keyId (required: 400
// TARGETING_KEY_MISSING without it), "name" the user name, and every
// string, number or boolean field a custom property (numbers and booleans
// by their JSON text); objects, arrays and nulls are ignored.
//
// Values are typed by the flag's variationType (boolean → JSON boolean,
// number → JSON number, json → the JSON document, string → string; a value
// that does not parse as its type is sent as a string). Reasons: DISABLED,
// TARGETING_MATCH (individual targeting or a rule serving one variation),
// SPLIT (a percentage rollout of several variations), DEFAULT (the
// fallthrough serving one variation). Archived and unknown flags are 404
// FLAG_NOT_FOUND; archived flags are left out of bulk results. The variant
// is the variation's name (its id when unnamed); metadata carries
// variationId, matchReason and sendToExperiment.
//
// Events and end users: every single-flag evaluation that serves a
// variation, and every bulk answer that is not a 304, is sent to Events as
// one insight batch (one evaluation event per flag, with the variation, the
// user and sendToExperiment, as an SDK's track call would carry). A bulk
// 304 sends nothing: the provider already has those values. The context's
// user goes to Users, like a client-polling user; a user already waiting in
// the current end-user batch is not copied again.
//
// The single-flag path does not allocate in steady state: the context is
// scanned in place and the user's strings are views of the request body
// (valid only while the request is handled; the evaluator keeps nothing,
// EventSink implementations do not retain a batch). Only a user not yet
// queued in the end-user batch is copied.
package ofrep

import (
	"bytes"
	"encoding/json"
	"hash/fnv"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/codec/wire"
	"github.com/switchyard/switchyard/edge/eval"
	"github.com/switchyard/switchyard/edge/internal/envstate"
	"github.com/switchyard/switchyard/edge/internal/hub"
	"github.com/switchyard/switchyard/edge/internal/metrics"
	"github.com/switchyard/switchyard/edge/internal/sink"
	"github.com/valyala/fasthttp"
)

// API is the OFREP handler.
type API struct {
	hub *hub.Hub
	m   *metrics.M
	// Auth resolves an SDK key to its environment (httpapi's API.AuthAny).
	Auth func(key []byte) (*envstate.State, error)
	// Status maps Auth errors to an HTTP status.
	Status func(error) int
	// Events receives the evaluation events (nil: none are sent).
	Events sink.EventSink
	// Users receives the evaluated contexts' users (nil: none).
	Users *sink.Users
	// MinPollInterval is the shortest bulk polling interval the
	// configuration endpoint asks providers to use (minPollingIntervalMs;
	// 0: DefaultMinPollInterval).
	MinPollInterval time.Duration

	config, configTag []byte
}

// DefaultMinPollInterval is the minPollingIntervalMs advertised when
// MinPollInterval is 0.
const DefaultMinPollInterval = 5 * time.Second

// New returns the OFREP API over h.
func New(h *hub.Hub, m *metrics.M, auth func([]byte) (*envstate.State, error), status func(error) int) *API {
	return &API{hub: h, m: m, Auth: auth, Status: status}
}

var (
	pathBulk   = []byte("/ofrep/v1/evaluate/flags")
	pathSingle = []byte("/ofrep/v1/evaluate/flags/")
	pathConfig = []byte("/ofrep/v1/configuration")
	bearer     = []byte("Bearer ")
	// Retry-After of a 429: one second, the longest a token takes to come
	// back (rates are at least 1/s)
	hdrRetryAfter = []byte("Retry-After")
	one           = []byte("1")
)

// scratch is per-request state. Lifetime: taken at the start of a request,
// returned at its end; the user's strings point into the request body or
// into esc, so nothing may keep them.
type scratch struct {
	ctx   Context
	out   []byte
	batch codec.InsightBatch
}

var pool = sync.Pool{New: func() any { return &scratch{out: make([]byte, 0, 1024)} }}

// Handler returns the fasthttp handler for /ofrep/v1/*. Set the API's
// fields before calling it.
func (a *API) Handler() fasthttp.RequestHandler {
	a.config = appendConfig(nil, a.MinPollInterval)
	a.configTag = etagOf(nil, a.config)
	return a.serve
}

// appendConfig appends the configuration document: polling is the change
// signal (bulk ETag); no provider-side caching (a server provider would
// serve stale values without a way to learn of a change).
func appendConfig(b []byte, minPoll time.Duration) []byte {
	if minPoll <= 0 {
		minPoll = DefaultMinPollInterval
	}
	b = append(b, `{"name":"switchyard","capabilities":{"cacheInvalidation":{"polling":{"enabled":true,"minPollingIntervalMs":`...)
	b = strconv.AppendInt(b, minPoll.Milliseconds(), 10)
	b = append(b, `}},"flagEvaluation":{"supportedTypes":["boolean","string","int","float","object"]},"caching":{"enabled":false}}}`...)
	return b
}

// etagOf appends a strong entity tag of body (FNV-64a, base 36, quoted).
func etagOf(b, body []byte) []byte {
	h := fnv.New64a()
	_, _ = h.Write(body)
	b = append(b, '"')
	b = strconv.AppendUint(b, h.Sum64(), 36)
	return append(b, '"')
}

func (a *API) key(ctx *fasthttp.RequestCtx) []byte {
	if k := ctx.Request.Header.Peek("X-API-Key"); len(k) > 0 {
		return k
	}
	k := ctx.Request.Header.Peek("Authorization")
	if len(k) > len(bearer) && bytes.EqualFold(k[:len(bearer)], bearer) {
		return bytes.TrimSpace(k[len(bearer):])
	}
	return k
}

func (a *API) serve(ctx *fasthttp.RequestCtx) {
	p := ctx.Path()
	ctx.SetContentType("application/json")
	if bytes.Equal(p, pathConfig) {
		a.configuration(ctx)
		return
	}
	if !ctx.IsPost() {
		ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
		ctx.SetBodyString(`{"errorDetails":"use POST"}`)
		return
	}
	single := len(p) > len(pathSingle) && bytes.HasPrefix(p, pathSingle)
	if !single && !bytes.Equal(p, pathBulk) {
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		ctx.SetBodyString(`{"errorDetails":"no such OFREP endpoint"}`)
		return
	}
	st, ok := a.auth(ctx)
	if !ok {
		return
	}
	sc := pool.Get().(*scratch)
	defer func() {
		sc.ctx.reset()
		if cap(sc.out) > 1<<20 {
			sc.out = make([]byte, 0, 1024)
		}
		clear(sc.batch.Evals)
		sc.batch = codec.InsightBatch{Evals: sc.batch.Evals[:0]}
		pool.Put(sc)
	}()
	var key []byte
	if single {
		key = p[len(pathSingle):]
	}
	if code, msg := sc.ctx.Parse(ctx.PostBody()); code != "" {
		a.m.Error("ofrep_context")
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		sc.out = appendFailure(sc.out[:0], key, !single, code, msg)
		ctx.SetBody(sc.out)
		return
	}
	if single {
		a.single(ctx, st, sc, key)
	} else {
		a.bulk(ctx, st, sc)
	}
	a.record(ctx, st, sc)
}

// auth authenticates the request's key, answering a refusal itself.
func (a *API) auth(ctx *fasthttp.RequestCtx) (*envstate.State, bool) {
	st, err := a.Auth(a.key(ctx))
	if err == nil {
		return st, true
	}
	a.m.Error("ofrep_auth")
	code := a.Status(err)
	ctx.SetStatusCode(code)
	switch code {
	case fasthttp.StatusTooManyRequests:
		ctx.Response.Header.SetCanonical(hdrRetryAfter, one)
		ctx.SetBodyString(`{"errorDetails":"rate limit exceeded"}`)
	case fasthttp.StatusServiceUnavailable:
		ctx.SetBodyString(`{"errorDetails":"flag source unavailable"}`)
	default:
		ctx.SetBodyString(`{"errorDetails":"invalid or missing SDK key"}`)
	}
	return nil, false
}

// configuration answers GET /ofrep/v1/configuration. It needs a secret of
// a known environment, like the evaluation routes: the document is the
// same for every environment, but a caller without a key learns nothing.
func (a *API) configuration(ctx *fasthttp.RequestCtx) {
	if !ctx.IsGet() && !ctx.IsHead() {
		ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
		ctx.SetBodyString(`{"errorDetails":"use GET"}`)
		return
	}
	if _, ok := a.auth(ctx); !ok {
		return
	}
	ctx.Response.Header.SetBytesV("ETag", a.configTag)
	if inm := ctx.Request.Header.Peek("If-None-Match"); len(inm) > 0 && etagMatch(inm, a.configTag) {
		ctx.SetStatusCode(fasthttp.StatusNotModified)
		ctx.Response.SkipBody = true
		return
	}
	ctx.SetBody(a.config)
}

// record sends the request's evaluation events (sc.batch, filled by single
// and bulk) and its user.
func (a *API) record(ctx *fasthttp.RequestCtx, st *envstate.State, sc *scratch) {
	if a.Events != nil && len(sc.batch.Evals) > 0 {
		sc.batch.EnvID = st.EnvID
		if err := a.Events.Insights(ctx, &sc.batch); err != nil {
			a.m.Error("insights_sink")
		} else {
			a.m.Insights.Add(int64(len(sc.batch.Evals)))
		}
	}
	u := &sc.ctx.User
	if a.Users == nil || a.Users.Queued(st.EnvID, u.KeyID) {
		return
	}
	// the user's strings are views of the request body: copy them
	eu := codec.EndUser{EnvID: st.EnvID, KeyID: strings.Clone(u.KeyID), Name: strings.Clone(u.Name),
		LastSeen: time.Now().UnixMilli()}
	if len(u.Props) > 0 {
		eu.Props = make([]codec.UserProp, len(u.Props))
		for i, p := range u.Props {
			eu.Props[i] = codec.UserProp{Name: strings.Clone(p.Name), Value: strings.Clone(p.Value)}
		}
	}
	a.Users.AddUser(st.EnvID, &eu)
}

// addEvent queues the evaluation event of f for the request's user.
func (a *API) addEvent(sc *scratch, env string, f *envstate.Flag, res *eval.Result, now int64) {
	v := res.Variation
	if a.Events == nil || v == nil {
		return
	}
	sc.batch.Evals = append(sc.batch.Evals, codec.FlagEval{
		EnvID: env, FlagKey: f.Src.Key, VariationID: v.ID, Value: v.Value,
		UserKey: sc.ctx.User.KeyID, UserName: sc.ctx.User.Name,
		SendToExperiment: res.SendToExperiment, Timestamp: now,
	})
}

func appendFailure(b, key []byte, bulk bool, code, msg string) []byte {
	b = append(b, '{')
	if !bulk {
		b = append(b, `"key":`...)
		b = wire.AppendString(b, string(key))
		b = append(b, ',')
	}
	b = append(b, `"errorCode":`...)
	b = wire.AppendString(b, code)
	b = append(b, `,"errorDetails":`...)
	b = wire.AppendString(b, msg)
	return append(b, '}')
}

func (a *API) single(ctx *fasthttp.RequestCtx, st *envstate.State, sc *scratch, key []byte) {
	f := st.FlagByKeyBytes(key)
	if f == nil || f.Src.IsArchived {
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		sc.out = appendFailure(sc.out[:0], key, false, "FLAG_NOT_FOUND", "flag not found")
		ctx.SetBody(sc.out)
		return
	}
	res := eval.Evaluate(f.Eval, st.EvalSegs, &sc.ctx.User)
	a.m.Evaluations.Add(1)
	a.addEvent(sc, st.EnvID, f, &res, time.Now().UnixMilli())
	var ok bool
	sc.out, ok = appendResult(sc.out[:0], f, &res)
	if !ok {
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
	}
	ctx.SetBody(sc.out)
}

func (a *API) bulk(ctx *fasthttp.RequestCtx, st *envstate.State, sc *scratch) {
	b := append(sc.out[:0], `{"flags":[`...)
	n := 0
	now := time.Now().UnixMilli()
	for _, f := range st.FlagList() {
		if f.Src.IsArchived {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		res := eval.Evaluate(f.Eval, st.EvalSegs, &sc.ctx.User)
		b, _ = appendResult(b, f, &res)
		a.addEvent(sc, st.EnvID, f, &res, now)
		n++
	}
	a.m.Evaluations.Add(int64(n))
	b = append(b, "]}"...)
	sc.out = b
	var tag [20]byte
	t := etagOf(tag[:0], b)
	ctx.Response.Header.SetBytesV("ETag", t)
	if inm := ctx.Request.Header.Peek("If-None-Match"); len(inm) > 0 && etagMatch(inm, t) {
		ctx.SetStatusCode(fasthttp.StatusNotModified)
		ctx.Response.SkipBody = true
		clear(sc.batch.Evals) // nothing new reached the provider
		sc.batch.Evals = sc.batch.Evals[:0]
		return
	}
	ctx.SetBody(b)
}

// etagMatch reports whether the If-None-Match list contains tag (weak
// comparison: a W/ prefix is ignored) or is "*".
func etagMatch(list, tag []byte) bool {
	for len(list) > 0 {
		var item []byte
		if i := bytes.IndexByte(list, ','); i >= 0 {
			item, list = list[:i], list[i+1:]
		} else {
			item, list = list, nil
		}
		item = bytes.TrimSpace(item)
		item = bytes.TrimPrefix(item, []byte("W/"))
		if bytes.Equal(item, tag) || bytes.Equal(item, []byte("*")) {
			return true
		}
	}
	return false
}

// reason maps an evaluation to an OpenFeature reason.
func reason(f *envstate.Flag, res *eval.Result) string {
	switch res.Kind {
	case eval.ReasonDisabled:
		return "DISABLED"
	case eval.ReasonTargeted:
		return "TARGETING_MATCH"
	case eval.ReasonRule:
		if res.RuleIndex >= 0 && res.RuleIndex < len(f.Src.Rules) && splits(f.Src.Rules[res.RuleIndex].Variations) {
			return "SPLIT"
		}
		return "TARGETING_MATCH"
	case eval.ReasonFallthrough:
		if splits(f.Src.Fallthrough.Variations) {
			return "SPLIT"
		}
		return "DEFAULT"
	}
	return "UNKNOWN"
}

// splits reports whether more than one variation gets a share.
func splits(vs []codec.RolloutVariation) bool {
	n := 0
	for _, v := range vs {
		if v.Rollout[1] > v.Rollout[0] {
			n++
		}
	}
	return n > 1
}

// appendResult appends an evaluationSuccess (or, when no variation was
// served, an evaluationFailure with GENERAL; ok is then false).
func appendResult(b []byte, f *envstate.Flag, res *eval.Result) ([]byte, bool) {
	v := res.Variation
	if v == nil {
		b = append(b, `{"key":`...)
		b = wire.AppendString(b, f.Src.Key)
		b = append(b, `,"errorCode":"GENERAL","errorDetails":"no variation is served to this context"}`...)
		return b, false
	}
	b = append(b, `{"key":`...)
	b = wire.AppendString(b, f.Src.Key)
	b = append(b, `,"value":`...)
	b = appendValue(b, f.Src.VariationType, v.Value)
	b = append(b, `,"reason":"`...)
	b = append(b, reason(f, res)...)
	b = append(b, `","variant":`...)
	if v.Name != "" {
		b = wire.AppendString(b, v.Name)
	} else {
		b = wire.AppendString(b, v.ID)
	}
	b = append(b, `,"metadata":{"variationId":`...)
	b = wire.AppendString(b, v.ID)
	b = append(b, `,"matchReason":`...)
	b = wire.AppendString(b, res.MatchReason)
	b = append(b, `,"sendToExperiment":`...)
	b = strconv.AppendBool(b, res.SendToExperiment)
	return append(b, "}}"...), true
}

// appendValue appends a variation value typed by the flag's variationType.
func appendValue(b []byte, typ, v string) []byte {
	switch typ {
	case "boolean":
		switch v {
		case "true", "false":
			return append(b, v...)
		}
	case "number":
		if _, err := strconv.ParseFloat(v, 64); err == nil && isJSONNumber(v) {
			return append(b, v...)
		}
	case "json":
		if json.Valid([]byte(v)) {
			return append(b, v...)
		}
	}
	return wire.AppendString(b, v)
}

// isJSONNumber reports whether s is a number in JSON syntax (ParseFloat
// also accepts "Inf", "0x1p3", "1_000", leading '+').
func isJSONNumber(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || c == '-' || c == '.' || c == 'e' || c == 'E' || c == '+' && i > 0) {
			return false
		}
	}
	return len(s) > 0 && s[0] != '.' && !(len(s) > 1 && s[0] == '0' && s[1] != '.' && s[1] != 'e' && s[1] != 'E')
}
