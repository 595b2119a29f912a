package analytics

import (
	"errors"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Config configures a Service. The zero value of every field but DataDir (or
// ClickHouseAddr) has a working default.
type Config struct {
	// Addr is the query API listen address (default ":8090"); "-" means do
	// not listen (the caller mounts Handler itself).
	Addr string
	// ClickHouseAddr is the ClickHouse native-protocol address (host:9000).
	// Empty selects the embedded store under DataDir.
	ClickHouseAddr string
	// ClickHouseDB is the database (default "switchyard"); created at Start.
	ClickHouseDB string
	// ClickHouseUser and ClickHousePassword authenticate to ClickHouse
	// (default user "default", no password). The user needs CREATE DATABASE
	// and ALTER TABLE on ClickHouseDB (Start migrates the schema).
	ClickHouseUser, ClickHousePassword string
	// KafkaBrokers enables the Kafka consumer (ClickHouse mode only).
	KafkaBrokers []string
	// TopicPrefix is prepended to "sy.insights".
	TopicPrefix string
	// DataDir holds the embedded store (<DataDir>/analytics/events.log).
	DataDir string
	// BatchRows flushes an insert at this many events (default 50,000).
	BatchRows int
	// FlushInterval flushes an insert when its oldest event waited this long
	// (default 1s).
	FlushInterval time.Duration
	// Retention deletes events older than this (0: keep forever). Checked
	// hourly (or every Retention/10 if shorter, at least every minute).
	Retention time.Duration
	// CacheTTL is how long an experiment result is reused (default 5s).
	CacheTTL time.Duration
	// ExportMaxRows caps the rows of one CSV/JSON export (default
	// 1,000,000); a request's ?limit may only lower it.
	ExportMaxRows int
	// Logger (default slog.Default()).
	Logger *slog.Logger

	kafkaOpts       []kgo.Opt     // tests: extra franz-go options (short heartbeats)
	httpReadTimeout time.Duration // whole request incl. body (default 30s; tests shorten it)
}

func (c *Config) setDefaults() error {
	if c.Addr == "" {
		c.Addr = ":8090"
	}
	if c.ClickHouseDB == "" {
		c.ClickHouseDB = "switchyard"
	}
	if c.ClickHouseAddr == "" && c.DataDir == "" {
		return errors.New("analytics: set ClickHouseAddr or DataDir")
	}
	if c.BatchRows <= 0 {
		c.BatchRows = 50_000
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = time.Second
	}
	if c.Retention < 0 {
		return errors.New("analytics: negative Retention")
	}
	if c.httpReadTimeout <= 0 {
		c.httpReadTimeout = 30 * time.Second
	}
	if c.ExportMaxRows <= 0 {
		c.ExportMaxRows = 1_000_000
	}
	if c.CacheTTL <= 0 {
		c.CacheTTL = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// InsightTopic is the topic name for prefix.
func InsightTopic(prefix string) string { return prefix + "sy.insights" }

// ConsumerGroup is the Kafka consumer group of analytics; like the topic it
// takes TopicPrefix, so test runs sharing a broker do not share a group.
const ConsumerGroup = "sy-analytics"

// EmbeddedMaxEvents caps the embedded store (about 1 GB of memory with
// typical keys); beyond it the oldest ~10% of events are deleted.
const EmbeddedMaxEvents = 5_000_000
