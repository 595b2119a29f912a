package sink

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/switchyard/switchyard/analytics/internal/store"
	"github.com/switchyard/switchyard/codec"
)

var _ store.Store = (*Sink)(nil)

// Insert implements store.Store for direct callers (tests, Service.Ingest in
// ClickHouse mode): the events get random ids, so they never collapse.
func (s *Sink) Insert(ctx context.Context, b *codec.InsightBatch) error {
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
func (s *Sink) Series(ctx context.Context, r store.Range, b store.Bucket) ([]store.SeriesPoint, error) {
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
func (s *Sink) VariationUsers(ctx context.Context, r store.Range) ([]store.VariationUsers, error) {
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
func (s *Sink) EnvVariations(ctx context.Context, envID string, from, to time.Time) ([]store.FlagVariationCount, error) {
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
func (s *Sink) Users(ctx context.Context, uq store.UsersQuery) ([]store.UserVariation, error) {
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
func (s *Sink) Exposures(ctx context.Context, r store.Range) ([]store.Exposure, error) {
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

// Metric implements store.Store. ClickHouse 18.x joins on equality only, so
// the "at or after first exposure" condition is a WHERE after an ALL INNER
// JOIN of the exposures with the user's events.
func (s *Sink) Metric(ctx context.Context, r store.Range, eventName string) ([]store.MetricResult, error) {
	if err := r.Validate(); err != nil || eventName == "" {
		return nil, store.ErrInvalid
	}
	q := fmt.Sprintf(`SELECT variation, count(), sum(v), sum(v * v) FROM (
		SELECT user_key, any(variation) AS variation, avg(numeric_value) AS v FROM (`+exposuresSQL+`)
		ALL INNER JOIN (
			SELECT user_key, ts_ms AS m_ts, numeric_value FROM %[1]s.metric_events
			WHERE env_id = ? AND event_name = ? AND ts >= toDateTime(?) AND ts < toDateTime(?) AND ts_ms >= ? AND ts_ms < ?
		) USING user_key
		WHERE m_ts >= first
		GROUP BY user_key
	) GROUP BY variation ORDER BY variation`, s.db, rangeWhere)
	args := rangeArgs(r)
	margs := rangeArgs(r)
	margs[1] = eventName
	rows, err := s.conn.Query(ctx, q, append(args, margs...)...)
	if err != nil {
		return nil, fmt.Errorf("cannot query experiment metric: %w", err)
	}
	defer rows.Close()
	out := []store.MetricResult{}
	for rows.Next() {
		var m store.MetricResult
		if err := rows.Scan(&m.VariationID, &m.Users, &m.Sum, &m.SumSq); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// DeleteUser implements store.Store with one mutation per table that holds
// rows of the user, and waits until they are done.
func (s *Sink) DeleteUser(ctx context.Context, envID, userKey string) error {
	return s.deleteWhere(ctx, "env_id = ? AND user_key = ?", envID, userKey)
}

// DeleteBefore implements store.Store (retention; 18.x has no table TTL).
func (s *Sink) DeleteBefore(ctx context.Context, t time.Time) error {
	ms := t.UnixMilli()
	return s.deleteWhere(ctx, "ts < toDateTime(?) AND ts_ms < ?", uint32(max(ms, 0)/1000+1), ms)
}

// deleteWhere runs ALTER TABLE … DELETE WHERE cond on each event table that
// has a matching row. A mutation rewrites data parts (old releases do not skip
// parts without matching rows), so the cheap existence check (partition
// pruning on ts) keeps the hourly retention run and repeated GDPR calls from
// rewriting the tables for nothing.
func (s *Sink) deleteWhere(ctx context.Context, cond string, args ...any) error {
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
func (s *Sink) waitMutations(ctx context.Context) error {
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
