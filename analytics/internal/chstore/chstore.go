// Package chstore is analytics' ClickHouse store: schema creation and
// migration, columnar batch inserts through clickhouse-go/v2, and the
// store.Store queries in SQL for ClickHouse 18.16 (and later).
//
// Tables (database chosen by the caller):
//
//	flag_events   env_id, flag_key, variation_id, value, user_key, user_name String,
//	              send_to_experiment UInt8, ts DateTime, ts_ms Int64, eid UInt64,
//	              ingested_at DateTime DEFAULT now()   (v2)
//	metric_events env_id, event_name, route, type, app_type, user_key String,
//	              numeric_value Float64, ts DateTime, ts_ms Int64, eid UInt64,
//	              ingested_at DateTime DEFAULT now()   (v2)
//	schema_version version UInt32, applied_at DateTime (TinyLog)
//
// Both event tables are ReplacingMergeTree PARTITION BY toYYYYMM(ts) ORDER BY
// (env_id, flag_key|event_name, ts, eid). eid is a per-event id derived from
// the Kafka record (partition, offset, index in the record), so an event
// that is inserted twice (a batch re-sent after a timeout, or re-consumed after
// a crash before the offset commit) has the same sorting key and collapses at
// merge time; `SELECT … FINAL` (or count(DISTINCT eid)) sees each event once.
//
// A Store is safe for concurrent use; a Columns buffer is not (one per
// consumer loop).
package chstore

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Store is a ClickHouse connection bound to one database.
type Store struct {
	conn driver.Conn
	db   string
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Open connects to the ClickHouse native port at addr as user (empty:
// "default") with password. It does not touch the schema; call Migrate.
func Open(addr, db, user, password string) (*Store, error) {
	if user == "" {
		user = "default"
	}
	if !identRE.MatchString(db) {
		return nil, fmt.Errorf("invalid ClickHouse database name %q", db)
	}
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:            []string{addr},
		Auth:            clickhouse.Auth{Database: "default", Username: user, Password: password},
		DialTimeout:     5 * time.Second,
		ReadTimeout:     60 * time.Second,
		MaxOpenConns:    8,
		MaxIdleConns:    4,
		ConnMaxLifetime: time.Hour,
		Compression:     compression(addr),
	})
	if err != nil {
		return nil, fmt.Errorf("cannot open ClickHouse %s: %w", addr, err)
	}
	return &Store{conn: conn, db: db}, nil
}

// Ping checks the connection.
func (s *Store) Ping(ctx context.Context) error { return s.conn.Ping(ctx) }

// Conn exposes the connection (tests and benchmarks).
func (s *Store) Conn() driver.Conn { return s.conn }

// DB is the database name.
func (s *Store) DB() string { return s.db }

// Close closes the connection.
func (s *Store) Close() error { return s.conn.Close() }

// SchemaVersion is the version Migrate brings the database to.
const SchemaVersion = 2

type migration struct {
	version uint32
	apply   func(ctx context.Context, s *Store) error
}

var migrations = []migration{
	{1, func(ctx context.Context, s *Store) error {
		for _, q := range []string{
			`CREATE TABLE IF NOT EXISTS %[1]s.flag_events (
				env_id String, flag_key String, variation_id String, value String,
				user_key String, user_name String, send_to_experiment UInt8,
				ts DateTime, ts_ms Int64, eid UInt64
			) ENGINE = ReplacingMergeTree PARTITION BY toYYYYMM(ts) ORDER BY (env_id, flag_key, ts, eid)`,
			`CREATE TABLE IF NOT EXISTS %[1]s.metric_events (
				env_id String, event_name String, route String, type String, app_type String,
				user_key String, numeric_value Float64, ts DateTime, ts_ms Int64, eid UInt64
			) ENGINE = ReplacingMergeTree PARTITION BY toYYYYMM(ts) ORDER BY (env_id, event_name, ts, eid)`,
		} {
			if err := s.conn.Exec(ctx, fmt.Sprintf(q, s.db)); err != nil {
				return err
			}
		}
		return nil
	}},
	// v2: when the row reached ClickHouse, for lag measurement.
	{2, func(ctx context.Context, s *Store) error {
		for _, t := range []string{"flag_events", "metric_events"} {
			if err := s.addColumn(ctx, t, "ingested_at", "DateTime DEFAULT now()"); err != nil {
				return err
			}
		}
		return nil
	}},
}

// addColumn adds a column unless it exists (18.x has no ADD COLUMN IF NOT EXISTS).
func (s *Store) addColumn(ctx context.Context, table, col, typ string) error {
	var n uint64
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM system.columns WHERE database = ? AND table = ? AND name = ?",
		s.db, table, col).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	return s.conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s.%s ADD COLUMN %s %s", s.db, table, col, typ))
}

// Migrate creates the database and tables if missing and applies the
// migrations newer than the recorded schema_version, recording each one.
// Several instances starting at once is safe: each step is idempotent.
func (s *Store) Migrate(ctx context.Context) error {
	for _, q := range []string{
		"CREATE DATABASE IF NOT EXISTS %[1]s",
		"CREATE TABLE IF NOT EXISTS %[1]s.schema_version (version UInt32, applied_at DateTime) ENGINE = TinyLog",
	} {
		if err := s.conn.Exec(ctx, fmt.Sprintf(q, s.db)); err != nil {
			return fmt.Errorf("cannot create analytics schema: %w", err)
		}
	}
	var cur uint32
	if err := s.conn.QueryRow(ctx, fmt.Sprintf("SELECT toUInt32(max(version)) FROM %s.schema_version", s.db)).Scan(&cur); err != nil {
		return fmt.Errorf("cannot read schema version: %w", err)
	}
	for _, m := range migrations {
		if m.version <= cur {
			continue
		}
		if err := m.apply(ctx, s); err != nil {
			return fmt.Errorf("cannot apply analytics schema v%d: %w", m.version, err)
		}
		if err := s.conn.Exec(ctx, fmt.Sprintf("INSERT INTO %s.schema_version (version, applied_at) SELECT toUInt32(%d), now()", s.db, m.version)); err != nil {
			return fmt.Errorf("cannot record schema v%d: %w", m.version, err)
		}
	}
	return nil
}

// Version reads the recorded schema version.
func (s *Store) Version(ctx context.Context) (uint32, error) {
	var v uint32
	err := s.conn.QueryRow(ctx, fmt.Sprintf("SELECT toUInt32(max(version)) FROM %s.schema_version", s.db)).Scan(&v)
	return v, err
}

// compression is none on loopback (it only costs CPU there) and LZ4 across a
// network.
func compression(addr string) *clickhouse.Compression {
	host, _, err := net.SplitHostPort(addr)
	if err == nil {
		if ip := net.ParseIP(host); (ip != nil && ip.IsLoopback()) || host == "localhost" {
			return &clickhouse.Compression{Method: clickhouse.CompressionNone}
		}
	}
	return &clickhouse.Compression{Method: clickhouse.CompressionLZ4}
}
