package embedded

import (
	"cmp"
	"context"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/switchyard/switchyard/analytics/internal/store"
	"github.com/switchyard/switchyard/codec"
)

// scan calls fn for every evaluation of r's flag in r's range. Caller holds mu.RLock.
func (s *Store) scan(r store.Range, fn func(e *codec.FlagEval)) {
	from, to := r.FromMs(), r.ToMs()
	evs := s.evals[key(r.EnvID, r.FlagKey)]
	for i := range evs {
		if ts := evs[i].Timestamp; ts >= from && ts < to {
			fn(&evs[i])
		}
	}
}

// Series implements store.Store.
func (s *Store) Series(_ context.Context, r store.Range, b store.Bucket) ([]store.SeriesPoint, error) {
	if err := r.Validate(); err != nil || b <= 0 {
		return nil, store.ErrInvalid
	}
	type k struct {
		t int64
		v string
	}
	counts := map[k]uint64{}
	s.mu.RLock()
	s.scan(r, func(e *codec.FlagEval) {
		counts[k{floorDiv(e.Timestamp, int64(b)) * int64(b), e.VariationID}]++
	})
	s.mu.RUnlock()
	out := make([]store.SeriesPoint, 0, len(counts))
	for k, n := range counts {
		out = append(out, store.SeriesPoint{Time: k.t, VariationID: k.v, Count: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Time != out[j].Time {
			return out[i].Time < out[j].Time
		}
		return out[i].VariationID < out[j].VariationID
	})
	return out, nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// VariationUsers implements store.Store.
func (s *Store) VariationUsers(_ context.Context, r store.Range) ([]store.VariationUsers, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	type agg struct {
		n     uint64
		users map[string]struct{}
	}
	m := map[string]*agg{}
	s.mu.RLock()
	s.scan(r, func(e *codec.FlagEval) {
		a := m[e.VariationID]
		if a == nil {
			a = &agg{users: map[string]struct{}{}}
			m[e.VariationID] = a
		}
		a.n++
		a.users[e.UserKey] = struct{}{}
	})
	s.mu.RUnlock()
	out := make([]store.VariationUsers, 0, len(m))
	for v, a := range m {
		out = append(out, store.VariationUsers{VariationID: v, Evaluations: a.n, Users: uint64(len(a.users))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].VariationID < out[j].VariationID })
	return out, nil
}

// EnvVariations implements store.Store.
func (s *Store) EnvVariations(_ context.Context, envID string, from, to time.Time) ([]store.FlagVariationCount, error) {
	if err := store.ValidateEnv(envID, from, to); err != nil {
		return nil, err
	}
	f, t := from.UnixMilli(), to.UnixMilli()
	type k struct{ flag, v string }
	counts := map[k]uint64{}
	prefix := envID + "\x00"
	s.mu.RLock()
	for key, evs := range s.evals {
		if !strings.HasPrefix(key, prefix) {
			continue
		}
		for i := range evs {
			if ts := evs[i].Timestamp; ts >= f && ts < t {
				counts[k{evs[i].FlagKey, evs[i].VariationID}]++
			}
		}
	}
	s.mu.RUnlock()
	out := make([]store.FlagVariationCount, 0, len(counts))
	for k, n := range counts {
		out = append(out, store.FlagVariationCount{FlagKey: k.flag, VariationID: k.v, Evaluations: n})
	}
	slices.SortFunc(out, func(a, b store.FlagVariationCount) int {
		return cmp.Or(strings.Compare(a.FlagKey, b.FlagKey), strings.Compare(a.VariationID, b.VariationID))
	})
	return out, nil
}

// Users implements store.Store.
func (s *Store) Users(_ context.Context, q store.UsersQuery) ([]store.UserVariation, error) {
	if err := q.Validate(); err != nil || q.Limit < 0 || q.Offset < 0 {
		return nil, store.ErrInvalid
	}
	if q.Limit == 0 {
		q.Limit = 100
	}
	type k struct{ u, v string }
	type agg struct {
		name     string
		nameTs   int64
		n        uint64
		lastSeen int64
	}
	m := map[k]*agg{}
	s.mu.RLock()
	s.scan(q.Range, func(e *codec.FlagEval) {
		if q.VariationID != "" && e.VariationID != q.VariationID {
			return
		}
		a := m[k{e.UserKey, e.VariationID}]
		if a == nil {
			a = &agg{name: e.UserName, nameTs: e.Timestamp, lastSeen: e.Timestamp}
			m[k{e.UserKey, e.VariationID}] = a
		}
		a.n++
		if e.Timestamp > a.lastSeen {
			a.lastSeen = e.Timestamp
		}
		if e.Timestamp > a.nameTs {
			a.name, a.nameTs = e.UserName, e.Timestamp
		}
	})
	s.mu.RUnlock()
	out := make([]store.UserVariation, 0, len(m))
	for k, a := range m {
		out = append(out, store.UserVariation{UserKey: k.u, VariationID: k.v, UserName: a.name, Evaluations: a.n, LastSeen: a.lastSeen})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].UserKey != out[j].UserKey {
			return out[i].UserKey < out[j].UserKey
		}
		return out[i].VariationID < out[j].VariationID
	})
	if q.Offset >= len(out) {
		return []store.UserVariation{}, nil
	}
	out = out[q.Offset:]
	if len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

type exposure struct {
	variation string
	first     int64
}

// exposures maps each experiment user to the variation of their first
// exposure. Ties on the timestamp go to the smallest variation id. Caller
// holds mu.RLock.
func (s *Store) exposures(r store.Range) map[string]exposure {
	m := map[string]exposure{}
	s.scan(r, func(e *codec.FlagEval) {
		if !e.SendToExperiment {
			return
		}
		x, ok := m[e.UserKey]
		if !ok || e.Timestamp < x.first || (e.Timestamp == x.first && e.VariationID < x.variation) {
			m[e.UserKey] = exposure{e.VariationID, e.Timestamp}
		}
	})
	return m
}

// Exposures implements store.Store.
func (s *Store) Exposures(_ context.Context, r store.Range) ([]store.Exposure, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	ex := s.exposures(r)
	s.mu.RUnlock()
	m := map[string]*store.Exposure{}
	for _, x := range ex {
		a := m[x.variation]
		if a == nil {
			a = &store.Exposure{VariationID: x.variation, FirstExposure: x.first}
			m[x.variation] = a
		}
		a.Users++
		if x.first < a.FirstExposure {
			a.FirstExposure = x.first
		}
	}
	out := make([]store.Exposure, 0, len(m))
	for _, a := range m {
		out = append(out, *a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].VariationID < out[j].VariationID })
	return out, nil
}

// Metric implements store.Store.
func (s *Store) Metric(_ context.Context, r store.Range, q store.MetricQuery) ([]store.MetricResult, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	match := q.RouteMatcher()
	keep := func(m *codec.MetricEvent) bool {
		return (q.EventType == "" || strings.EqualFold(m.Type, q.EventType)) && (match == nil || match(m.Route))
	}
	type u struct {
		n   int
		sum float64
	}
	post, pre := map[string]*u{}, map[string]*u{}
	add := func(m map[string]*u, k string, v float64) {
		a := m[k]
		if a == nil {
			a = &u{}
			m[k] = a
		}
		a.n++
		a.sum += v
	}
	cuped := !q.PreFrom.IsZero() && q.PreFrom.Before(r.From)
	preFrom, from, to := q.PreFrom.UnixMilli(), r.FromMs(), r.ToMs()
	s.mu.RLock()
	ex := s.exposures(r)
	for i := range s.metrics[key(r.EnvID, q.EventName)] {
		m := &s.metrics[key(r.EnvID, q.EventName)][i]
		x, ok := ex[m.UserKey]
		if !ok || !keep(m) {
			continue
		}
		switch {
		case m.Timestamp >= x.first && m.Timestamp < to:
			add(post, m.UserKey, m.NumericValue)
		case cuped && m.Timestamp >= preFrom && m.Timestamp < from:
			add(pre, m.UserKey, m.NumericValue)
		}
	}
	s.mu.RUnlock()
	capv := 0.0
	if q.Winsorize > 0 && len(post) > 0 {
		vs := make([]float64, 0, len(post))
		for _, a := range post {
			vs = append(vs, a.sum/float64(a.n))
		}
		sort.Float64s(vs)
		capv = vs[min(int(q.Winsorize*float64(len(vs))), len(vs)-1)]
	}
	value := func(a *u) float64 {
		if a == nil {
			return 0
		}
		v := a.sum / float64(a.n)
		if q.Winsorize > 0 {
			v = min(v, capv)
		}
		return v
	}
	res := map[string]*store.MetricResult{}
	row := func(v string) *store.MetricResult {
		mr := res[v]
		if mr == nil {
			mr = &store.MetricResult{VariationID: v, Cap: capv}
			res[v] = mr
		}
		return mr
	}
	for k, a := range post {
		mr := row(ex[k].variation)
		v, x := value(a), value(pre[k])
		mr.Users++
		mr.Sum += v
		mr.SumSq += v * v
		mr.PreSum += x
		mr.PreSumSq += x * x
		mr.CrossSum += x * v
		if pre[k] != nil {
			mr.PreBoth++
		}
	}
	for k := range pre {
		row(ex[k].variation).PreUsers++
	}
	out := make([]store.MetricResult, 0, len(res))
	for _, mr := range res {
		out = append(out, *mr)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].VariationID < out[j].VariationID })
	return out, nil
}

// ExperimentUsers implements store.Store.
func (s *Store) ExperimentUsers(_ context.Context, r store.Range, q store.MetricQuery, limit int, fn func(*store.ExperimentUser) error) error {
	if err := r.Validate(); err != nil {
		return err
	}
	if err := q.Validate(); err != nil {
		return err
	}
	match := q.RouteMatcher()
	s.mu.RLock()
	ex := s.exposures(r)
	users := make(map[string]*store.ExperimentUser, len(ex))
	for k, x := range ex {
		users[k] = &store.ExperimentUser{UserKey: k, VariationID: x.variation, FirstExposure: x.first}
	}
	to := r.ToMs()
	for i := range s.metrics[key(r.EnvID, q.EventName)] {
		m := &s.metrics[key(r.EnvID, q.EventName)][i]
		u, ok := users[m.UserKey]
		if !ok || m.Timestamp < u.FirstExposure || m.Timestamp >= to ||
			(q.EventType != "" && !strings.EqualFold(m.Type, q.EventType)) || (match != nil && !match(m.Route)) {
			continue
		}
		u.Events++
		u.Value += m.NumericValue // the sum until divided below
	}
	s.mu.RUnlock()
	out := make([]*store.ExperimentUser, 0, len(users))
	for _, u := range users {
		if u.Events > 0 {
			u.Value /= float64(u.Events)
		}
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UserKey < out[j].UserKey })
	for _, u := range out[:min(len(out), max(limit, 0))] {
		if err := fn(u); err != nil {
			return err
		}
	}
	return nil
}
