// Package config reads control's typed configuration for the production
// main from command-line flags and SY_CONTROL_* environment variables (a
// flag given on the command line wins over the variable, which wins over the
// default). Only mains use it; the control package takes a control.Config.
package config

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/control"
)

// knob is one setting: flag name, environment variable, default, help.
type knob struct {
	flag, env, def, help string
}

// Knobs lists every setting (docs/control.md shows the same table).
var Knobs = []knob{
	{"addr", "SY_CONTROL_ADDR", ":8080", "listen address of the REST API"},
	{"data", "SY_CONTROL_DATA_DIR", "./data", "data directory of the embedded store (used when -mongo-uri is empty)"},
	{"mongo-uri", "SY_CONTROL_MONGO_URI", "", "MongoDB URI; empty selects the embedded store"},
	{"mongo-db", "SY_CONTROL_MONGO_DB", "switchyard", "MongoDB database"},
	{"redis-addr", "SY_CONTROL_REDIS_ADDR", "", "Redis address for environment hashes (sy:env:{envId})"},
	{"kafka-brokers", "SY_CONTROL_KAFKA_BROKERS", "", "comma-separated Kafka brokers (change events, end-user ingestion)"},
	{"topic-prefix", "SY_CONTROL_TOPIC_PREFIX", "", "prefix of every Kafka topic name"},
	{"analytics-url", "SY_CONTROL_ANALYTICS_URL", "", "base URL of analytics' query API (stale-flag report, GDPR erasure of events), e.g. http://analytics:8090"},
	{"admin-email", "SY_CONTROL_ADMIN_EMAIL", "admin@switchyard.local", "email of the initial admin created on first run"},
	{"admin-password", "SY_CONTROL_ADMIN_PASSWORD", "", "password of the initial admin (default: random, printed once)"},
	{"max-body", "SY_CONTROL_MAX_BODY", "1048576", "request body limit in bytes"},
	{"session-ttl", "SY_CONTROL_SESSION_TTL", "24h", "lifetime of a login session"},
	{"audit-retention", "SY_CONTROL_AUDIT_RETENTION", "0", "delete audit entries older than this, checked hourly (e.g. 8760h); 0 keeps them forever"},
	{"snapshot-check", "SY_CONTROL_SNAPSHOT_CHECK", "30s", "how often every live environment's snapshot is checked for presence in Redis and rewritten if missing (1s..1h)"},
}

// Load parses args (without the program name) over the environment.
func Load(args []string, getenv func(string) string, out io.Writer) (control.Config, error) {
	fs := flag.NewFlagSet("control", flag.ContinueOnError)
	fs.SetOutput(out)
	vals := map[string]*string{}
	for _, k := range Knobs {
		def := k.def
		if v := getenv(k.env); v != "" {
			def = v
		}
		vals[k.flag] = fs.String(k.flag, def, k.help+" (env "+k.env+")")
	}
	if err := fs.Parse(args); err != nil {
		return control.Config{}, err
	}
	if fs.NArg() > 0 {
		return control.Config{}, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	get := func(name string) string { return strings.TrimSpace(*vals[name]) }
	cfg := control.Config{
		Addr: get("addr"), DataDir: get("data"), MongoURI: get("mongo-uri"), MongoDB: get("mongo-db"),
		RedisAddr: get("redis-addr"), TopicPrefix: get("topic-prefix"), AnalyticsURL: get("analytics-url"),
		AdminEmail: get("admin-email"), AdminPassword: *vals["admin-password"],
	}
	for _, b := range strings.Split(get("kafka-brokers"), ",") {
		if b = strings.TrimSpace(b); b != "" {
			cfg.KafkaBrokers = append(cfg.KafkaBrokers, b)
		}
	}
	n, err := strconv.ParseInt(get("max-body"), 10, 64)
	if err != nil || n < 1024 {
		return cfg, fmt.Errorf("max-body: want a number of bytes >= 1024, got %q", get("max-body"))
	}
	cfg.MaxBody = n
	d, err := time.ParseDuration(get("session-ttl"))
	if err != nil || d < time.Minute {
		return cfg, fmt.Errorf("session-ttl: want a duration >= 1m, got %q", get("session-ttl"))
	}
	cfg.SessionTTL = d
	if v := get("audit-retention"); v != "0" {
		r, err := time.ParseDuration(v)
		if err != nil || r < time.Hour {
			return cfg, fmt.Errorf("audit-retention: want 0 or a duration >= 1h, got %q", v)
		}
		cfg.AuditRetention = r
	}
	sc, err := time.ParseDuration(get("snapshot-check"))
	if err != nil || sc < time.Second || sc > time.Hour {
		return cfg, fmt.Errorf("snapshot-check: want a duration from 1s to 1h, got %q", get("snapshot-check"))
	}
	cfg.SnapshotCheck = sc
	if cfg.AdminPassword != "" && len(cfg.AdminPassword) < 8 {
		return cfg, fmt.Errorf("admin-password: at least 8 characters")
	}
	return cfg, nil
}
