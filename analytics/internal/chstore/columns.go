package chstore

import (
	"context"
	"fmt"
	"time"

	"github.com/switchyard/switchyard/codec"
)

// Columns buffers events column by column for one INSERT of each table. Its
// slices are reused between batches (Reset keeps their capacity), so steady
// state ingest allocates only the decoded strings. Not safe for concurrent use.
type Columns struct {
	// flag_events
	fEnv, fFlag, fVar, fValue, fUser, fName []string
	fExpt                                   []uint8
	fTs                                     []time.Time
	fTsMs                                   []int64
	fEid                                    []uint64
	// metric_events
	mEnv, mName, mRoute, mType, mApp, mUser []string
	mValue                                  []float64
	mTs                                     []time.Time
	mTsMs                                   []int64
	mEid                                    []uint64

	flagsSent bool // the flag_events part of this batch is already in ClickHouse
}

// Rows is the number of buffered events.
func (c *Columns) Rows() int { return len(c.fEnv) + len(c.mEnv) }

// Reset empties the buffer, keeping capacity.
func (c *Columns) Reset() {
	c.fEnv, c.fFlag, c.fVar, c.fValue, c.fUser, c.fName = c.fEnv[:0], c.fFlag[:0], c.fVar[:0], c.fValue[:0], c.fUser[:0], c.fName[:0]
	c.fExpt, c.fTs, c.fTsMs, c.fEid = c.fExpt[:0], c.fTs[:0], c.fTsMs[:0], c.fEid[:0]
	c.mEnv, c.mName, c.mRoute, c.mType, c.mApp, c.mUser = c.mEnv[:0], c.mName[:0], c.mRoute[:0], c.mType[:0], c.mApp[:0], c.mUser[:0]
	c.mValue, c.mTs, c.mTsMs, c.mEid = c.mValue[:0], c.mTs[:0], c.mTsMs[:0], c.mEid[:0]
	c.flagsSent = false
}

// msTime converts Unix ms to a DateTime value, clamped to DateTime's range.
func msTime(ms int64) time.Time {
	if ms < 0 {
		ms = 0
	}
	if ms > 4294967295000 {
		ms = 4294967295000
	}
	return time.Unix(ms/1000, 0).UTC()
}

// Add appends the events of b. An event without EnvID takes b.EnvID; an event
// without a timestamp takes defTs (the Kafka record time). eid(i) returns the
// event id of the i-th event of b (evaluations first, then metrics).
func (c *Columns) Add(b *codec.InsightBatch, defTs int64, eid func(i int) uint64) {
	for i := range b.Evals {
		e := &b.Evals[i]
		env := e.EnvID
		if env == "" {
			env = b.EnvID
		}
		ts := e.Timestamp
		if ts <= 0 {
			ts = defTs
		}
		var x uint8
		if e.SendToExperiment {
			x = 1
		}
		c.fEnv = append(c.fEnv, env)
		c.fFlag = append(c.fFlag, e.FlagKey)
		c.fVar = append(c.fVar, e.VariationID)
		c.fValue = append(c.fValue, e.Value)
		c.fUser = append(c.fUser, e.UserKey)
		c.fName = append(c.fName, e.UserName)
		c.fExpt = append(c.fExpt, x)
		c.fTs = append(c.fTs, msTime(ts))
		c.fTsMs = append(c.fTsMs, ts)
		c.fEid = append(c.fEid, eid(i))
	}
	n := len(b.Evals)
	for i := range b.Metrics {
		m := &b.Metrics[i]
		env := m.EnvID
		if env == "" {
			env = b.EnvID
		}
		ts := m.Timestamp
		if ts <= 0 {
			ts = defTs
		}
		c.mEnv = append(c.mEnv, env)
		c.mName = append(c.mName, m.EventName)
		c.mRoute = append(c.mRoute, m.Route)
		c.mType = append(c.mType, m.Type)
		c.mApp = append(c.mApp, m.AppType)
		c.mUser = append(c.mUser, m.UserKey)
		c.mValue = append(c.mValue, m.NumericValue)
		c.mTs = append(c.mTs, msTime(ts))
		c.mTsMs = append(c.mTsMs, ts)
		c.mEid = append(c.mEid, eid(n+i))
	}
}

// Write inserts the buffered events: one columnar INSERT per non-empty table.
// If the metric insert fails after the flag insert succeeded, a retry of
// Write sends only the metrics. The buffer is left intact; Reset it after
// success.
func (s *Store) Write(ctx context.Context, c *Columns) error {
	if len(c.fEnv) > 0 && !c.flagsSent {
		err := s.send(ctx, "flag_events (env_id, flag_key, variation_id, value, user_key, user_name, send_to_experiment, ts, ts_ms, eid)",
			c.fEnv, c.fFlag, c.fVar, c.fValue, c.fUser, c.fName, c.fExpt, c.fTs, c.fTsMs, c.fEid)
		if err != nil {
			return fmt.Errorf("cannot insert %d flag events: %w", len(c.fEnv), err)
		}
		c.flagsSent = true
	}
	if len(c.mEnv) > 0 {
		err := s.send(ctx, "metric_events (env_id, event_name, route, type, app_type, user_key, numeric_value, ts, ts_ms, eid)",
			c.mEnv, c.mName, c.mRoute, c.mType, c.mApp, c.mUser, c.mValue, c.mTs, c.mTsMs, c.mEid)
		if err != nil {
			return fmt.Errorf("cannot insert %d metric events: %w", len(c.mEnv), err)
		}
	}
	return nil
}

func (s *Store) send(ctx context.Context, target string, cols ...any) error {
	batch, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+s.db+"."+target)
	if err != nil {
		return err
	}
	for i, col := range cols {
		if err := batch.Column(i).Append(col); err != nil {
			batch.Abort()
			return fmt.Errorf("column %d: %w", i, err)
		}
	}
	return batch.Send()
}
