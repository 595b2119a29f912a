package chstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/analytics/internal/store"
	"github.com/switchyard/switchyard/codec"
)

var _ store.Store = (*Store)(nil)

// Insert implements store.Store for direct callers (tests, Service.Ingest in
// ClickHouse mode): the events get random ids, so they never collapse.
func (s *Store) Insert(ctx context.Context, b *codec.InsightBatch) error {
	var c Columns
	base := rand.Uint64()
	c.Add(b, time.Now().UnixMilli(), func(i int) uint64 { return base + uint64(i) })
	return s.Write(ctx, &c)
}

// rangeWhere is the WHERE clause of r (6 arguments, from rangeArgs): the
// DateTime bounds use the sorting key and partition pruning, the ts_ms bounds
// make it exact.
const rangeWhere = "env_id = ? AND flag_key = ? AND ts >= toDateTime(?) AND ts < toDateTime(?) AND ts_ms >= ? AND ts_ms < ?"

func rangeArgs(r store.Range) []any {
	from, to := r.FromMs(), r.ToMs()
	return []any{r.EnvID, r.FlagKey, uint32(max(from, 0) / 1000), uint32((max(to, 0) + 999) / 1000), from, to}
}

// Series implements store.Store.
func (s *Store) Series(ctx context.Context, r store.Range, b store.Bucket) ([]store.SeriesPoint, error) {
	if err := r.Validate(); err != nil || b <= 0 {
		return nil, store.ErrInvalid
	}
	q := fmt.Sprintf(`SELECT intDiv(ts_ms, %[2]d) * %[2]d AS b, variation_id, count()
		FROM %[1]s.flag_events WHERE %[3]s GROUP BY b, variation_id ORDER BY b, variation_id`, s.db, int64(b), rangeWhere)
	rows, err := s.conn.Query(ctx, q, rangeArgs(r)...)
	if err != nil {
		return nil, fmt.Errorf("cannot query evaluation series: %w", err)
	}
	defer rows.Close()
	out := []store.SeriesPoint{}
	for rows.Next() {
		var p store.SeriesPoint
		if err := rows.Scan(&p.Time, &p.VariationID, &p.Count); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// VariationUsers implements store.Store. Distinct users are uniqExact: exact
// (the API promises exact figures); its memory grows with the distinct users
// of one flag and range, which is fine up to tens of millions.
func (s *Store) VariationUsers(ctx context.Context, r store.Range) ([]store.VariationUsers, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	q := fmt.Sprintf(`SELECT variation_id, count(), uniqExact(user_key)
		FROM %s.flag_events WHERE %s GROUP BY variation_id ORDER BY variation_id`, s.db, rangeWhere)
	rows, err := s.conn.Query(ctx, q, rangeArgs(r)...)
	if err != nil {
		return nil, fmt.Errorf("cannot query users per variation: %w", err)
	}
	defer rows.Close()
	out := []store.VariationUsers{}
	for rows.Next() {
		var v store.VariationUsers
		if err := rows.Scan(&v.VariationID, &v.Evaluations, &v.Users); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// EnvVariations implements store.Store.
func (s *Store) EnvVariations(ctx context.Context, envID string, from, to time.Time) ([]store.FlagVariationCount, error) {
	if err := store.ValidateEnv(envID, from, to); err != nil {
		return nil, err
	}
	f, t := from.UnixMilli(), to.UnixMilli()
	q := fmt.Sprintf(`SELECT flag_key, variation_id, count()
		FROM %s.flag_events WHERE env_id = ? AND ts >= toDateTime(?) AND ts < toDateTime(?) AND ts_ms >= ? AND ts_ms < ?
		GROUP BY flag_key, variation_id ORDER BY flag_key, variation_id`, s.db)
	rows, err := s.conn.Query(ctx, q, envID, uint32(max(f, 0)/1000), uint32((max(t, 0)+999)/1000), f, t)
	if err != nil {
		return nil, fmt.Errorf("cannot query evaluations per flag: %w", err)
	}
	defer rows.Close()
	out := []store.FlagVariationCount{}
	for rows.Next() {
		var v store.FlagVariationCount
		if err := rows.Scan(&v.FlagKey, &v.VariationID, &v.Evaluations); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Users implements store.Store.
func (s *Store) Users(ctx context.Context, uq store.UsersQuery) ([]store.UserVariation, error) {
	if err := uq.Validate(); err != nil || uq.Limit < 0 || uq.Offset < 0 {
		return nil, store.ErrInvalid
	}
	if uq.Limit == 0 {
		uq.Limit = 100
	}
	args := append(rangeArgs(uq.Range), uq.VariationID, uq.VariationID)
	q := fmt.Sprintf(`SELECT user_key, argMax(user_name, ts_ms), variation_id, count(), max(ts_ms)
		FROM %s.flag_events WHERE %s AND (? = '' OR variation_id = ?)
		GROUP BY user_key, variation_id ORDER BY user_key, variation_id LIMIT %d, %d`,
		s.db, rangeWhere, uq.Offset, uq.Limit)
	rows, err := s.conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("cannot query users of a flag: %w", err)
	}
	defer rows.Close()
	out := []store.UserVariation{}
	for rows.Next() {
		var u store.UserVariation
		if err := rows.Scan(&u.UserKey, &u.UserName, &u.VariationID, &u.Evaluations, &u.LastSeen); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// exposuresSQL assigns each experiment user the variation of their first
// exposure (argMin; ties on the millisecond are resolved arbitrarily).
const exposuresSQL = `SELECT user_key, argMin(variation_id, ts_ms) AS variation, min(ts_ms) AS first
	FROM %s.flag_events WHERE %s AND send_to_experiment = 1 GROUP BY user_key`

// Exposures implements store.Store.
func (s *Store) Exposures(ctx context.Context, r store.Range) ([]store.Exposure, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	q := fmt.Sprintf(`SELECT variation, count(), min(first) FROM (`+exposuresSQL+`)
		GROUP BY variation ORDER BY variation`, s.db, rangeWhere)
	rows, err := s.conn.Query(ctx, q, rangeArgs(r)...)
	if err != nil {
		return nil, fmt.Errorf("cannot query experiment exposures: %w", err)
	}
	defer rows.Close()
	out := []store.Exposure{}
	for rows.Next() {
		var e store.Exposure
		if err := rows.Scan(&e.VariationID, &e.Users, &e.FirstExposure); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// metricFilter is the WHERE clause (and its arguments) of q's event type and
// URL matches over metric_events; "1" when there are none. Patterns are
// parameters, never SQL text; match() is RE2 (linear time).
func metricFilter(q store.MetricQuery) (string, []any) {
	cond, args := "1", []any{}
	if q.EventType != "" {
		cond, args = "lower(type) = lower(?)", append(args, q.EventType)
	}
	if len(q.URLs) > 0 {
		var ors []string
		for _, u := range q.URLs {
			switch u.MatchType {
			case store.URLExact:
				ors = append(ors, "route = ?")
			case store.URLContains:
				ors = append(ors, "position(route, ?) > 0")
			case store.URLRegex:
				ors = append(ors, "match(route, ?)")
			}
			args = append(args, u.URL)
		}
		cond += " AND (" + strings.Join(ors, " OR ") + ")"
	}
	return cond, args
}

// metricPostSQL is each exposed user's mean value of the metric's events at
// or after their first exposure (arguments: rangeArgs, then the event range
// and the filter). ClickHouse 18.x joins on equality only, so the "at or
// after first exposure" condition is a WHERE after an ALL INNER JOIN.
const metricPostSQL = `SELECT user_key, any(variation) AS variation, avg(numeric_value) AS v FROM (` + exposuresSQL + `)
	ALL INNER JOIN (
		SELECT user_key, ts_ms AS m_ts, numeric_value FROM %[1]s.metric_events
		WHERE env_id = ? AND event_name = ? AND ts >= toDateTime(?) AND ts < toDateTime(?) AND ts_ms >= ? AND ts_ms < ? AND %[3]s
	) USING user_key
	WHERE m_ts >= first
	GROUP BY user_key`

// Metric implements store.Store: one query, or two with winsorization (the
// cap first). Every exposed user is one row — their variation, whether and
// what they scored after exposure (p, v) and in the pre-period (pre, x) —
// then summed per variation. 18.x has one JOIN per SELECT, so the joins nest.
func (s *Store) Metric(ctx context.Context, r store.Range, mq store.MetricQuery) ([]store.MetricResult, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if err := mq.Validate(); err != nil {
		return nil, err
	}
	filt, fargs := metricFilter(mq)
	margs := rangeArgs(r)
	margs[1] = mq.EventName
	postArgs := append(append(rangeArgs(r), margs...), fargs...)
	post := fmt.Sprintf(metricPostSQL, s.db, rangeWhere, filt)
	capv := 0.0
	val, xval := "v", "x0"
	if mq.Winsorize > 0 {
		q := fmt.Sprintf("SELECT count(), quantileExact(%g)(v) FROM (%s)", mq.Winsorize, post)
		var n uint64
		if err := s.conn.QueryRow(ctx, q, postArgs...).Scan(&n, &capv); err != nil {
			return nil, fmt.Errorf("cannot query the winsorization cap: %w", err)
		}
		c := strconv.FormatFloat(capv, 'g', -1, 64)
		val, xval = "least(v, "+c+")", "least(x0, "+c+")"
	}
	preFrom := mq.PreFrom.UnixMilli()
	cuped := !mq.PreFrom.IsZero() && mq.PreFrom.Before(r.From)
	if !cuped {
		preFrom = r.FromMs() // an empty window: x = 0, pre = 0
	}
	q := fmt.Sprintf(`SELECT variation, sum(p), sum(p * v), sum(p * v * v), sum(pre), sum(pre * p), sum(p * x), sum(p * x * x), sum(p * x * v)
	FROM (
		SELECT variation, p, %[4]s AS v, pre, %[5]s AS x FROM (
			SELECT user_key, variation, p, v FROM (
				SELECT user_key, variation FROM (%[6]s)
			) ALL LEFT JOIN (
				SELECT user_key, toUInt8(1) AS p, v FROM (%[7]s)
			) USING user_key
		) ALL LEFT JOIN (
			SELECT user_key, toUInt8(1) AS pre, avg(numeric_value) AS x0 FROM %[1]s.metric_events
			WHERE env_id = ? AND event_name = ? AND ts >= toDateTime(?) AND ts < toDateTime(?) AND ts_ms >= ? AND ts_ms < ? AND %[3]s
			GROUP BY user_key
		) USING user_key
	) GROUP BY variation HAVING sum(p) + sum(pre) > 0 ORDER BY variation`, s.db, rangeWhere, filt, val, xval, fmt.Sprintf(exposuresSQL, s.db, rangeWhere), post)
	preArgs := []any{r.EnvID, mq.EventName, uint32(max(preFrom, 0) / 1000), uint32((max(r.FromMs(), 0) + 999) / 1000), preFrom, r.FromMs()}
	args := append(append(append(rangeArgs(r), postArgs...), preArgs...), fargs...)
	rows, err := s.conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("cannot query experiment metric: %w", err)
	}
	defer rows.Close()
	out := []store.MetricResult{}
	for rows.Next() {
		m := store.MetricResult{Cap: capv}
		var users, pre, both uint64
		if err := rows.Scan(&m.VariationID, &users, &m.Sum, &m.SumSq, &pre, &both, &m.PreSum, &m.PreSumSq, &m.CrossSum); err != nil {
			return nil, err
		}
		m.Users, m.PreUsers, m.PreBoth = users, pre, both
		out = append(out, m)
	}
	return out, rows.Err()
}

// ExperimentUsers implements store.Store: one query whose rows are handed
// to fn as ClickHouse streams them.
func (s *Store) ExperimentUsers(ctx context.Context, r store.Range, mq store.MetricQuery, limit int, fn func(*store.ExperimentUser) error) error {
	if err := r.Validate(); err != nil {
		return err
	}
	if err := mq.Validate(); err != nil {
		return err
	}
	filt, fargs := metricFilter(mq)
	expo := fmt.Sprintf(exposuresSQL, s.db, rangeWhere)
	q := fmt.Sprintf(`SELECT user_key, variation, first, n, v FROM (%[5]s)
	ALL LEFT JOIN (
		SELECT user_key, count() AS n, avg(numeric_value) AS v FROM (
			SELECT user_key, m_ts, numeric_value FROM (%[5]s)
			ALL INNER JOIN (
				SELECT user_key, ts_ms AS m_ts, numeric_value FROM %[1]s.metric_events
				WHERE env_id = ? AND event_name = ? AND ts >= toDateTime(?) AND ts < toDateTime(?) AND ts_ms >= ? AND ts_ms < ? AND %[3]s
			) USING user_key
			WHERE m_ts >= first
		) GROUP BY user_key
	) USING user_key
	ORDER BY user_key LIMIT %[4]d`, s.db, rangeWhere, filt, max(limit, 0), expo)
	margs := rangeArgs(r)
	margs[1] = mq.EventName
	args := append(append(append(rangeArgs(r), rangeArgs(r)...), margs...), fargs...)
	rows, err := s.conn.Query(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("cannot query experiment users: %w", err)
	}
	defer rows.Close()
	var u store.ExperimentUser
	for rows.Next() {
		if err := rows.Scan(&u.UserKey, &u.VariationID, &u.FirstExposure, &u.Events, &u.Value); err != nil {
			return err
		}
		if err := fn(&u); err != nil {
			return err
		}
	}
	return rows.Err()
}

// DeleteUser implements store.Store with one mutation per table that holds
// rows of the user, and waits until they are done.
func (s *Store) DeleteUser(ctx context.Context, envID, userKey string) error {
	return s.deleteWhere(ctx, "env_id = ? AND user_key = ?", envID, userKey)
}

// DeleteBefore implements store.Store (retention; 18.x has no table TTL).
func (s *Store) DeleteBefore(ctx context.Context, t time.Time) error {
	ms := t.UnixMilli()
	return s.deleteWhere(ctx, "ts < toDateTime(?) AND ts_ms < ?", uint32(max(ms, 0)/1000+1), ms)
}

// deleteWhere runs ALTER TABLE … DELETE WHERE cond on each event table that
// has a matching row. A mutation rewrites data parts (old releases do not skip
// parts without matching rows), so the cheap existence check (partition
// pruning on ts) keeps the hourly retention run and repeated GDPR calls from
// rewriting the tables for nothing.
func (s *Store) deleteWhere(ctx context.Context, cond string, args ...any) error {
	for _, t := range []string{"flag_events", "metric_events"} {
		var n uint64
		if err := s.conn.QueryRow(ctx, fmt.Sprintf("SELECT count() FROM (SELECT 1 FROM %s.%s WHERE %s LIMIT 1)", s.db, t, cond), args...).Scan(&n); err != nil {
			return fmt.Errorf("cannot look for events to delete in %s: %w", t, err)
		}
		if n == 0 {
			continue
		}
		if err := s.conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s.%s DELETE WHERE %s", s.db, t, cond), args...); err != nil {
			return fmt.Errorf("cannot delete events from %s: %w", t, err)
		}
	}
	return s.waitMutations(ctx)
}

// waitMutations waits until this database has no unfinished mutation.
func (s *Store) waitMutations(ctx context.Context) error {
	for {
		var n uint64
		if err := s.conn.QueryRow(ctx, "SELECT count() FROM system.mutations WHERE database = ? AND is_done = 0", s.db).Scan(&n); err != nil {
			return fmt.Errorf("cannot read mutation state: %w", err)
		}
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(errors.New("deletion accepted but still running"), ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
