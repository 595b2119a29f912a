package analytics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/analytics/internal/store"
)

// APIPrefix is the path prefix of the query API.
const APIPrefix = "/api/analytics/v1"

// queryTimeout bounds one API call (a GDPR delete waits for its mutations
// within it; a timeout answers 504 and the deletion completes anyway).
const queryTimeout = 60 * time.Second

// maxBuckets bounds a series answer (range / bucket).
const maxBuckets = 50_000

// errBadRequest wraps parameter errors; apiError maps errors to statuses.
var errBadRequest = store.ErrInvalid

type handlerFunc func(w http.ResponseWriter, r *http.Request) (any, error)

func (s *Service) routes() http.Handler {
	mux := http.NewServeMux()
	h := func(pattern string, f handlerFunc) { mux.Handle(pattern, s.wrap(f)) }
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET /metrics", s.metricsHandler)
	h("GET "+APIPrefix+"/health", s.health)
	h("GET "+APIPrefix+"/envs/{env}/flags/{flag}/evaluations", s.evaluations)
	h("GET "+APIPrefix+"/envs/{env}/flags/{flag}/variations", s.variations)
	h("GET "+APIPrefix+"/envs/{env}/flags/{flag}/users", s.users)
	h("GET "+APIPrefix+"/envs/{env}/variations", s.envVariations)
	h("GET "+APIPrefix+"/envs/{env}/flags/{flag}/experiment", s.experimentGet)
	h("POST "+APIPrefix+"/envs/{env}/flags/{flag}/experiment", s.experimentPost)
	h("DELETE "+APIPrefix+"/envs/{env}/users/{user}", s.deleteUser)
	mux.HandleFunc("GET "+APIPrefix+"/envs/{env}/flags/{flag}/experiment/export", s.exportExperiment)
	mux.HandleFunc("GET "+APIPrefix+"/envs/{env}/flags/{flag}/experiment/users/export", s.exportExperimentUsers)
	mux.HandleFunc("GET "+APIPrefix+"/envs/{env}/flags/{flag}/users/export", s.exportFlagUsers)
	return mux
}

// wrap runs f, encodes its answer as JSON and maps errors to statuses in one
// place: ErrInvalid → 400 with its text; anything else → 500 with a generic
// text (the detail goes to the log).
func (s *Service) wrap(f handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), queryTimeout)
		defer cancel()
		v, err := f(w, r.WithContext(ctx))
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			status, msg := http.StatusInternalServerError, "internal error"
			switch {
			case errors.Is(err, store.ErrInvalid):
				status, msg = http.StatusBadRequest, err.Error()
			case errors.Is(err, context.DeadlineExceeded):
				status, msg = http.StatusGatewayTimeout, "query timed out"
			default:
				s.log.Error("analytics: query failed", "path", r.URL.Path, "err", err)
			}
			w.WriteHeader(status)
			json.NewEncoder(w).Encode(map[string]string{"error": msg})
			return
		}
		if v == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		json.NewEncoder(w).Encode(v)
	})
}

// parseTime accepts Unix milliseconds or RFC 3339.
func parseTime(s string, def time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: time %q is neither Unix ms nor RFC 3339", errBadRequest, s)
	}
	return t.UTC(), nil
}

// rangeOf reads env, flag, from (default to-7d) and to (default now).
func rangeOf(r *http.Request) (store.Range, error) {
	rg, err := envRangeOf(r)
	if err != nil {
		return rg, err
	}
	rg.FlagKey = r.PathValue("flag")
	if err := rg.Validate(); err != nil {
		return rg, fmt.Errorf("%w: need from < to", errBadRequest)
	}
	return rg, nil
}

// envRangeOf is rangeOf without a flag.
func envRangeOf(r *http.Request) (store.Range, error) {
	q := r.URL.Query()
	to, err := parseTime(q.Get("to"), time.Now().UTC())
	if err != nil {
		return store.Range{}, err
	}
	from, err := parseTime(q.Get("from"), to.Add(-7*24*time.Hour))
	if err != nil {
		return store.Range{}, err
	}
	rg := store.Range{EnvID: r.PathValue("env"), From: from, To: to}
	if err := store.ValidateEnv(rg.EnvID, from, to); err != nil {
		return rg, fmt.Errorf("%w: need an environment and from < to", err)
	}
	return rg, nil
}

func (s *Service) health(_ http.ResponseWriter, _ *http.Request) (any, error) {
	backend := "embedded"
	if s.ch != nil {
		backend = "clickhouse"
	}
	// The cached probe results (health.go): a request never reaches ClickHouse.
	ready, checks := s.readiness()
	return map[string]any{"backend": backend, "ok": ready, "checks": checks, "ingest": s.IngestStats()}, nil
}

func (s *Service) evaluations(_ http.ResponseWriter, r *http.Request) (any, error) {
	rg, err := rangeOf(r)
	if err != nil {
		return nil, err
	}
	b, ok := store.ParseBucket(r.URL.Query().Get("bucket"))
	if !ok {
		return nil, fmt.Errorf("%w: bucket must be minute, hour or day", errBadRequest)
	}
	if rg.To.Sub(rg.From).Milliseconds()/int64(b) > maxBuckets {
		return nil, fmt.Errorf("%w: more than %d buckets; use a wider bucket", errBadRequest, maxBuckets)
	}
	pts, err := s.store.Series(r.Context(), rg, b)
	if err != nil {
		return nil, err
	}
	return map[string]any{"bucketMs": int64(b), "points": pts}, nil
}

func (s *Service) variations(_ http.ResponseWriter, r *http.Request) (any, error) {
	rg, err := rangeOf(r)
	if err != nil {
		return nil, err
	}
	v, err := s.store.VariationUsers(r.Context(), rg)
	if err != nil {
		return nil, err
	}
	return map[string]any{"variations": v}, nil
}

// envVariations answers every flag's evaluations per variation of one
// environment in [from, to) (default the last 7 days).
func (s *Service) envVariations(_ http.ResponseWriter, r *http.Request) (any, error) {
	rg, err := envRangeOf(r)
	if err != nil {
		return nil, err
	}
	v, err := s.store.EnvVariations(r.Context(), rg.EnvID, rg.From, rg.To)
	if err != nil {
		return nil, err
	}
	return map[string]any{"flags": v}, nil
}

func intParam(q url.Values, name string, def, max int) (int, error) {
	s := q.Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > max {
		return 0, fmt.Errorf("%w: %s must be an integer in [0, %d]", errBadRequest, name, max)
	}
	return n, nil
}

func (s *Service) users(_ http.ResponseWriter, r *http.Request) (any, error) {
	rg, err := rangeOf(r)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	limit, err := intParam(q, "limit", 100, 10_000)
	if err != nil {
		return nil, err
	}
	if limit == 0 {
		limit = 100
	}
	offset, err := intParam(q, "offset", 0, 1<<30)
	if err != nil {
		return nil, err
	}
	u, err := s.store.Users(r.Context(), store.UsersQuery{Range: rg, VariationID: q.Get("variation"), Limit: limit, Offset: offset})
	if err != nil {
		return nil, err
	}
	return map[string]any{"users": u, "limit": limit, "offset": offset}, nil
}

// experimentGet: ?baseline=a&metric=buy:conversion&metric=amount:numeric&split=a:50,b:50&confidence=0.95
// &sequential=false&correction=bh&cupedDays=0&from&to (a metric's other settings need the POST form)
func (s *Service) experimentGet(_ http.ResponseWriter, r *http.Request) (any, error) {
	eq, err := experimentQueryOf(r)
	if err != nil {
		return nil, err
	}
	return s.Experiment(r.Context(), eq)
}

// experimentQueryOf reads the GET form of the experiment query.
func experimentQueryOf(r *http.Request) (ExperimentQuery, error) {
	rg, err := rangeOf(r)
	if err != nil {
		return ExperimentQuery{}, err
	}
	q := r.URL.Query()
	eq := ExperimentQuery{EnvID: rg.EnvID, FlagKey: rg.FlagKey, From: rg.From, To: rg.To, BaselineVariationID: q.Get("baseline")}
	for _, m := range q["metric"] {
		name, typ, ok := strings.Cut(m, ":")
		if !ok {
			return eq, fmt.Errorf("%w: metric must be eventName:conversion|numeric", errBadRequest)
		}
		eq.Metrics = append(eq.Metrics, MetricSpec{EventName: name, Type: typ})
	}
	if sp := q.Get("split"); sp != "" {
		eq.ExpectedSplit = map[string]float64{}
		for _, part := range strings.Split(sp, ",") {
			v, w, ok := strings.Cut(part, ":")
			f, err := strconv.ParseFloat(w, 64)
			if !ok || err != nil || f < 0 {
				return eq, fmt.Errorf("%w: split must be variation:weight pairs separated by commas", errBadRequest)
			}
			eq.ExpectedSplit[v] = f
		}
	}
	if c := q.Get("confidence"); c != "" {
		if eq.Confidence, err = strconv.ParseFloat(c, 64); err != nil {
			return eq, fmt.Errorf("%w: confidence", errBadRequest)
		}
	}
	if v := q.Get("sequential"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return eq, fmt.Errorf("%w: sequential must be true or false", errBadRequest)
		}
		eq.Sequential = &b
	}
	eq.Correction = q.Get("correction")
	if v := q.Get("cupedDays"); v != "" {
		d, err := intParam(q, "cupedDays", 0, MaxCUPEDDays)
		if err != nil {
			return eq, err
		}
		eq.CUPEDDays = &d
	}
	return eq, nil
}

// experimentBody is the POST form of the experiment query.
type experimentBody struct {
	BaselineVariationID string             `json:"baselineVariationId"`
	From                json.RawMessage    `json:"from"`
	To                  json.RawMessage    `json:"to"`
	Metrics             []MetricSpec       `json:"metrics"`
	ExpectedSplit       map[string]float64 `json:"expectedSplit"`
	Confidence          float64            `json:"confidence"`
	Sequential          *bool              `json:"sequential"`
	SequentialN         float64            `json:"sequentialN"`
	Correction          string             `json:"correction"`
	CUPEDDays           *int               `json:"cupedDays"`
}

func rawTime(m json.RawMessage, def time.Time) (time.Time, error) {
	s := strings.Trim(string(m), `"`)
	if s == "null" {
		s = ""
	}
	return parseTime(s, def)
}

func (s *Service) experimentPost(w http.ResponseWriter, r *http.Request) (any, error) {
	var b experimentBody
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&b); err != nil {
		return nil, fmt.Errorf("%w: body: %v", errBadRequest, err)
	}
	to, err := rawTime(b.To, time.Now().UTC())
	if err != nil {
		return nil, err
	}
	from, err := rawTime(b.From, to.Add(-7*24*time.Hour))
	if err != nil {
		return nil, err
	}
	return s.Experiment(r.Context(), ExperimentQuery{EnvID: r.PathValue("env"), FlagKey: r.PathValue("flag"),
		BaselineVariationID: b.BaselineVariationID, From: from, To: to, Metrics: b.Metrics,
		ExpectedSplit: b.ExpectedSplit, Confidence: b.Confidence, Sequential: b.Sequential, SequentialN: b.SequentialN,
		Correction: b.Correction, CUPEDDays: b.CUPEDDays})
}

// Experiment computes (or returns a cached, at most CacheTTL old) experiment
// result. A query whose To is recent (or in the future) is cached under its
// query with To rounded down to the cache TTL, so repeated "until now" queries
// share one computation.
func (s *Service) Experiment(ctx context.Context, q ExperimentQuery) (*ExperimentResult, error) {
	kq := q
	if time.Since(q.To) < s.cfg.CacheTTL {
		kq.To = q.To.Truncate(s.cfg.CacheTTL)
	}
	k, err := json.Marshal(kq)
	if err != nil {
		return nil, err
	}
	if r := s.cache.get(string(k)); r != nil {
		return r, nil
	}
	res, err := experiment(ctx, s.store, q)
	if err != nil {
		return nil, err
	}
	s.cache.put(string(k), res)
	return res, nil
}

func (s *Service) deleteUser(_ http.ResponseWriter, r *http.Request) (any, error) {
	env, user := r.PathValue("env"), r.PathValue("user")
	if env == "" || user == "" {
		return nil, fmt.Errorf("%w: env and user are required", errBadRequest)
	}
	if err := s.DeleteUser(r.Context(), env, user); err != nil {
		return nil, err
	}
	return map[string]any{"deleted": true, "envId": env, "userKey": user}, nil
}

// DeleteUser removes every event of one end user (GDPR) and drops cached
// experiment results.
func (s *Service) DeleteUser(ctx context.Context, envID, userKey string) error {
	err := s.store.DeleteUser(ctx, envID, userKey)
	s.cache.invalidate()
	return err
}

// EnvFlagVariations returns, for every flag of an environment evaluated in
// [from, to), its evaluations per variation id: one query for the whole
// environment (the control plane's stale-flag report asks it).
func (s *Service) EnvFlagVariations(ctx context.Context, envID string, from, to time.Time) (map[string]map[string]int64, error) {
	vs, err := s.store.EnvVariations(ctx, envID, from, to) // validates
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]int64{}
	for _, v := range vs {
		m := out[v.FlagKey]
		if m == nil {
			m = map[string]int64{}
			out[v.FlagKey] = m
		}
		m[v.VariationID] += int64(v.Evaluations)
	}
	return out, nil
}
