// Command analytics runs the analytics service: Kafka insight ingest into
// ClickHouse and the query API. Every flag has an SY_ANALYTICS_* environment
// variable (flag name upper-cased, dashes as underscores); flags win.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/switchyard/switchyard/analytics"
)

func main() {
	var cfg analytics.Config
	var brokers string
	fs := flag.NewFlagSet("analytics", flag.ExitOnError)
	fs.StringVar(&cfg.Addr, "addr", ":8090", "query API listen address")
	fs.StringVar(&cfg.ClickHouseAddr, "clickhouse-addr", "", "ClickHouse native address host:port (empty: embedded store in -data-dir)")
	fs.StringVar(&cfg.ClickHouseDB, "clickhouse-db", "switchyard", "ClickHouse database")
	fs.StringVar(&cfg.ClickHouseUser, "clickhouse-user", "default", "ClickHouse user")
	fs.StringVar(&cfg.ClickHousePassword, "clickhouse-password", "", "ClickHouse password (prefer the environment variable: flags show in ps)")
	fs.StringVar(&brokers, "kafka-brokers", "", "comma-separated Kafka brokers (enables ingest)")
	fs.StringVar(&cfg.TopicPrefix, "topic-prefix", "", "prefix of the sy.insights topic")
	fs.StringVar(&cfg.DataDir, "data-dir", "./data", "data directory of the embedded store")
	fs.IntVar(&cfg.BatchRows, "batch-rows", 50_000, "flush an insert at this many events")
	fs.DurationVar(&cfg.FlushInterval, "flush-interval", time.Second, "flush an insert after this long")
	fs.DurationVar(&cfg.Retention, "retention", 0, "delete events older than this (0: keep)")
	fs.DurationVar(&cfg.CacheTTL, "cache-ttl", 5*time.Second, "experiment result cache lifetime")
	fs.IntVar(&cfg.ExportMaxRows, "export-max-rows", 1_000_000, "rows cap of one CSV/JSON export")
	fs.VisitAll(func(f *flag.Flag) {
		env := "SY_ANALYTICS_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if err := f.Value.Set(v); err != nil {
				fmt.Fprintf(os.Stderr, "invalid %s: %v\n", env, err)
				os.Exit(2)
			}
		}
	})
	fs.Parse(os.Args[1:])
	if brokers != "" {
		cfg.KafkaBrokers = strings.Split(brokers, ",")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg.Logger = log

	svc, err := analytics.New(cfg)
	if err != nil {
		log.Error("analytics: cannot start", "err", err)
		os.Exit(1)
	}
	if err := svc.Start(); err != nil {
		log.Error("analytics: cannot start", "err", err)
		os.Exit(1)
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
		os.Exit(1)
	}
}
