// Command analytics runs the analytics service: Kafka insight ingest into
// ClickHouse and the query API. Every setting is a flag, an SY_ANALYTICS_*
// variable (flag name upper-cased, dashes as underscores) or a line of the
// -config file; `analytics -h` lists them (docs/analytics.md).
//
// Exit codes: 0 after -h or a clean shutdown, 1 a start or shutdown failure,
// 2 bad configuration.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/switchyard/switchyard/analytics"
	"github.com/switchyard/switchyard/internal/config"
)

// parseConfig reads analytics' settings; -h prints them to out.
func parseConfig(args []string, getenv func(string) string, out io.Writer) (analytics.Config, error) {
	var cfg analytics.Config
	s := settings(&cfg)
	if err := s.Parse(args, getenv, out); err != nil {
		return cfg, err
	}
	if len(s.Args()) > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %s", strings.Join(s.Args(), " "))
	}
	return cfg, nil
}

// settings declares analytics' settings into cfg.
func settings(cfg *analytics.Config) *config.Set {
	s := config.New("analytics", "SY_ANALYTICS_")
	s.String(&cfg.Addr, "addr", ":8090", "query API listen address")
	s.String(&cfg.ClickHouseAddr, "clickhouse-addr", "", "ClickHouse native address host:port (empty: embedded store in -data-dir)")
	s.String(&cfg.ClickHouseDB, "clickhouse-db", "switchyard", "ClickHouse database")
	s.String(&cfg.ClickHouseUser, "clickhouse-user", "default", "ClickHouse user")
	s.String(&cfg.ClickHousePassword, "clickhouse-password", "", "ClickHouse password (prefer the variable or the file: flags show in ps)")
	s.List(&cfg.KafkaBrokers, "kafka-brokers", "", "comma-separated Kafka brokers (enables ingest)").Alias("kafka")
	s.String(&cfg.TopicPrefix, "topic-prefix", "", "prefix of the sy.insights topic")
	s.String(&cfg.DataDir, "data-dir", "./data", "data directory of the embedded store").Alias("data")
	s.Int(&cfg.BatchRows, "batch-rows", 50_000, "flush an insert at this many events")
	s.Duration(&cfg.FlushInterval, "flush-interval", time.Second, "flush an insert after this long")
	s.Duration(&cfg.Retention, "retention", 0, "delete events older than this (0: keep)")
	s.Duration(&cfg.CacheTTL, "cache-ttl", 5*time.Second, "experiment result cache lifetime")
	s.Int(&cfg.ExportMaxRows, "export-max-rows", 1_000_000, "rows cap of one CSV/JSON export")
	return s
}

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Environ(), os.Stdout, os.Stderr))
}

// run is main with its inputs given; it returns the exit code.
func run(args []string, getenv func(string) string, environ []string, stdout, stderr io.Writer) int {
	cfg, err := parseConfig(args, getenv, stdout)
	if err != nil {
		if code := config.ExitCode(err); code == 0 {
			return 0
		}
		fmt.Fprintln(stderr, "analytics:", err)
		return config.ExitCode(err)
	}
	settings(new(analytics.Config)).WarnUnknown(environ, stderr)
	log := slog.New(slog.NewTextHandler(stderr, nil))
	cfg.Logger = log

	svc, err := analytics.New(cfg)
	if err != nil {
		log.Error("analytics: cannot start", "err", err)
		return 1
	}
	if err := svc.Start(); err != nil {
		log.Error("analytics: cannot start", "err", err)
		return 1
	}
	log.Info("analytics: running", "addr", cfg.Addr, "clickhouse", cfg.ClickHouseAddr != "",
		"ops", "/healthz /readyz /metrics on addr")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	<-ctx.Done()
	stop()
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := svc.Shutdown(sctx); err != nil {
		log.Error("analytics: shutdown", "err", err)
		return 1
	}
	return 0
}
