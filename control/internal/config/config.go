// Package config reads control's typed configuration for the production
// main from command-line flags, SY_CONTROL_* environment variables and the
// optional -config file, with the loader every main shares
// (internal/config: a flag wins over its variable, which wins over the file,
// which wins over the default). Only mains use it; the control package takes
// a control.Config.
package config

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/control"
	"github.com/switchyard/switchyard/control/internal/publish"
	"github.com/switchyard/switchyard/control/internal/webhook"
	settings "github.com/switchyard/switchyard/internal/config"
)

// knob is one setting: flag name, environment variable, default, help.
type knob struct {
	flag, env, def, help string
}

// Knobs lists every setting (docs/control.md shows the same table).
var Knobs = []knob{
	{"addr", "SY_CONTROL_ADDR", ":8080", "listen address of the REST API"},
	{"data-dir", "SY_CONTROL_DATA_DIR", "./data", "data directory of the embedded store (used when -mongo-uri is empty)"},
	{"mongo-uri", "SY_CONTROL_MONGO_URI", "", "MongoDB URI; empty selects the embedded store"},
	{"mongo-db", "SY_CONTROL_MONGO_DB", "switchyard", "MongoDB database"},
	{"mongo-select-timeout", "SY_CONTROL_MONGO_SELECT_TIMEOUT", "2s", "how long a store operation waits for a reachable MongoDB server before the API answers 503 (100ms..1m)"},
	{"mongo-timeout", "SY_CONTROL_MONGO_TIMEOUT", "5s", "deadline of each MongoDB operation (a server that accepts but does not answer; 100ms..5m)"},
	{"redis-addr", "SY_CONTROL_REDIS_ADDR", "", "Redis address for environment hashes (sy:env:{envId}); with -redis-sentinel-master, comma-separated Redis Sentinel addresses"},
	{"redis-sentinel-master", "SY_CONTROL_REDIS_SENTINEL_MASTER", "", "Redis Sentinel master set name: -redis-addr lists the sentinels and the primary they name is used (followed across a failover); empty: -redis-addr is the Redis server"},
	{"kafka-brokers", "SY_CONTROL_KAFKA_BROKERS", "", "comma-separated Kafka brokers (change events, end-user ingestion)"},
	{"kafka-request-timeout", "SY_CONTROL_KAFKA_REQUEST_TIMEOUT", "5s", "how long a broker may wait for the in-sync replicas before a change event is retried (100ms..1m)"},
	{"kafka-retry-backoff", "SY_CONTROL_KAFKA_RETRY_BACKOFF", "250ms", "longest pause between retries of a change event (10ms..10s)"},
	{"kafka-delivery-timeout", "SY_CONTROL_KAFKA_DELIVERY_TIMEOUT", "15s", "how long a change event is retried before the publish attempt fails and backs off (1s..5m)"},
	{"topic-prefix", "SY_CONTROL_TOPIC_PREFIX", "", "prefix of every Kafka topic name"},
	{"analytics-url", "SY_CONTROL_ANALYTICS_URL", "", "base URL of analytics' query API (stale-flag report, GDPR erasure of events), e.g. http://analytics:8090"},
	{"edge-url", "SY_CONTROL_EDGE_URL", "", "where SDKs reach the edge (host:port or URL), shown in the UI's SDK snippets"},
	{"admin-email", "SY_CONTROL_ADMIN_EMAIL", "admin@switchyard.local", "email of the initial admin created on first run"},
	{"admin-password", "SY_CONTROL_ADMIN_PASSWORD", "", "password of the initial admin (default: random, printed once)"},
	{"print-secrets", "SY_CONTROL_PRINT_SECRETS", "false", "print the demo environments' SDK secrets at start-up even when not first run (they are printed on the first run only)"},
	{"max-body", "SY_CONTROL_MAX_BODY", "1048576", "request body limit in bytes"},
	{"read-timeout", "SY_CONTROL_READ_TIMEOUT", "15s", "deadline for reading a request, headers and body (slow clients are cut off)"},
	{"write-timeout", "SY_CONTROL_WRITE_TIMEOUT", "60s", "deadline from the end of a request's headers to the end of its response"},
	{"upload-timeout", "SY_CONTROL_UPLOAD_TIMEOUT", "5m", "read and write deadline of code-reference uploads (instead of the two above)"},
	{"max-header-bytes", "SY_CONTROL_MAX_HEADER_BYTES", "65536", "request header limit in bytes (larger → 431)"},
	{"max-conns-per-ip", "SY_CONTROL_MAX_CONNS_PER_IP", "256", "open connections one client address (IPv6: one /64) may hold; more are closed on accept; 0: no cap (behind a reverse proxy raise it or use 0)"},
	{"rate-limit", "SY_CONTROL_RATE_LIMIT", "50", "requests per second of one session or access token (429 + Retry-After beyond); 0: no limit"},
	{"rate-burst", "SY_CONTROL_RATE_BURST", "200", "burst of -rate-limit"},
	{"public-rate-limit", "SY_CONTROL_PUBLIC_RATE_LIMIT", "2", "requests per second of one client address (IPv6: /64) on public routes (login, trigger runs) and with refused credentials; 0: no limit"},
	{"public-rate-burst", "SY_CONTROL_PUBLIC_RATE_BURST", "20", "burst of -public-rate-limit"},
	{"session-ttl", "SY_CONTROL_SESSION_TTL", "24h", "lifetime of a login session"},
	{"webhook-allow", "SY_CONTROL_WEBHOOK_ALLOW", "", "comma-separated CIDR prefixes webhooks may reach besides public addresses (e.g. 10.0.0.0/8); loopback, private, link-local and reserved addresses are refused otherwise"},
	{"public-url", "SY_CONTROL_PUBLIC_URL", "", "URL browsers reach control at (e.g. https://flags.example.com); single sign-on registers <public-url>/api/v1/auth/sso/callback as its redirect URI; empty: SSO is off"},
	{"sso-allow", "SY_CONTROL_SSO_ALLOW", "", "comma-separated CIDR prefixes OpenID issuers may be reached at besides public addresses (e.g. 127.0.0.0/8 for a local test issuer); refused otherwise, like webhooks"},
	{"audit-retention", "SY_CONTROL_AUDIT_RETENTION", "0", "delete audit entries older than this, checked hourly (e.g. 8760h); 0 keeps them forever"},
	{"invite-ttl", "SY_CONTROL_INVITE_TTL", "168h", "how long an invitation to an organization can be accepted"},
	{"org-creation", "SY_CONTROL_ORG_CREATION", "admins", "who may create organizations: admins (instance administrators) or anyone"},
	{"snapshot-check", "SY_CONTROL_SNAPSHOT_CHECK", "30s", "how often every live environment's snapshot is checked for presence in Redis and rewritten if missing (1s..1h)"},
}

// aliases are older flag names still accepted.
var aliases = map[string][]string{"data-dir": {"data"}}

// Load parses args (without the program name) over the environment and the
// -config file; -h prints the settings to out and returns settings.ErrHelp.
func Load(args []string, getenv func(string) string, out io.Writer) (control.Config, error) {
	vals := map[string]*string{}
	var printSecrets bool
	s := newSet(vals, &printSecrets)
	if err := s.Parse(args, getenv, out); err != nil {
		return control.Config{}, err
	}
	if len(s.Args()) > 0 {
		return control.Config{}, fmt.Errorf("unexpected arguments: %v", s.Args())
	}
	return build(vals, printSecrets)
}

// WarnUnknown writes a warning to w for each SY_CONTROL_ variable of
// environ that is no setting (a misspelling would otherwise be ignored).
func WarnUnknown(environ []string, w io.Writer) {
	newSet(map[string]*string{}, new(bool)).WarnUnknown(environ, w)
}

// newSet declares the Knobs: text settings into vals, the switch
// -print-secrets into printSecrets.
func newSet(vals map[string]*string, printSecrets *bool) *settings.Set {
	s := settings.New("control", "SY_CONTROL_")
	for _, k := range Knobs {
		var st *settings.Setting
		if k.flag == "print-secrets" { // a switch: -print-secrets alone means true
			st = s.Bool(printSecrets, k.flag, false, k.help)
		} else {
			v := new(string)
			vals[k.flag] = v
			st = s.String(v, k.flag, k.def, k.help)
		}
		st.Alias(aliases[k.flag]...)
		if st.Env != k.env {
			st.EnvVar(k.env)
		}
	}
	return s
}

// build checks the settings' text and makes the control.Config.
func build(vals map[string]*string, printSecrets bool) (control.Config, error) {
	get := func(name string) string { return strings.TrimSpace(*vals[name]) }
	cfg := control.Config{
		Addr: get("addr"), DataDir: get("data-dir"), MongoURI: get("mongo-uri"), MongoDB: get("mongo-db"),
		RedisAddr: get("redis-addr"), TopicPrefix: get("topic-prefix"), AnalyticsURL: get("analytics-url"), EdgeURL: get("edge-url"),
		AdminEmail: get("admin-email"), AdminPassword: *vals["admin-password"],
	}
	if m := get("redis-sentinel-master"); m != "" {
		if cfg.RedisAddr == "" {
			return cfg, fmt.Errorf("redis-sentinel-master: needs -redis-addr (the sentinel addresses)")
		}
		if _, err := publish.RedisOption(cfg.RedisAddr, m); err != nil {
			return cfg, err
		}
		cfg.RedisSentinelMaster = m
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
	for _, t := range []struct {
		name string
		to   *time.Duration
	}{{"read-timeout", &cfg.ReadTimeout}, {"write-timeout", &cfg.WriteTimeout}, {"upload-timeout", &cfg.UploadTimeout}} {
		d, err := time.ParseDuration(get(t.name))
		if err != nil || d < time.Second {
			return cfg, fmt.Errorf("%s: want a duration >= 1s, got %q", t.name, get(t.name))
		}
		*t.to = d
	}
	mh, err := strconv.Atoi(get("max-header-bytes"))
	if err != nil || mh < 4096 || mh > 16<<20 {
		return cfg, fmt.Errorf("max-header-bytes: want a number of bytes from 4096 to 16777216, got %q", get("max-header-bytes"))
	}
	cfg.MaxHeaderBytes = mh
	mc, err := strconv.Atoi(get("max-conns-per-ip"))
	if err != nil || mc < 0 {
		return cfg, fmt.Errorf("max-conns-per-ip: want a number >= 0, got %q", get("max-conns-per-ip"))
	}
	cfg.MaxConnsPerIP = mc
	if mc == 0 {
		cfg.MaxConnsPerIP = -1 // control.Config: negative is no cap
	}
	for _, r := range []struct {
		name  string
		limit *float64
		burst string
		b     *int
	}{{"rate-limit", &cfg.RateLimit, "rate-burst", &cfg.RateBurst}, {"public-rate-limit", &cfg.PublicRateLimit, "public-rate-burst", &cfg.PublicRateBurst}} {
		f, err := strconv.ParseFloat(get(r.name), 64)
		if err != nil || !(f >= 0) || math.IsInf(f, 0) {
			return cfg, fmt.Errorf("%s: want requests per second >= 0, got %q", r.name, get(r.name))
		}
		*r.limit = f
		if f == 0 {
			*r.limit = -1 // control.Config: negative is no limit
		}
		b, err := strconv.Atoi(get(r.burst))
		if err != nil || b < 1 {
			return cfg, fmt.Errorf("%s: want a number >= 1, got %q", r.burst, get(r.burst))
		}
		*r.b = b
	}
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
	if d, err = time.ParseDuration(get("invite-ttl")); err != nil || d < time.Minute || d > 90*24*time.Hour {
		return cfg, fmt.Errorf("invite-ttl: want a duration from 1m to 2160h (90 days), got %q", get("invite-ttl"))
	}
	cfg.InviteTTL = d
	switch cfg.OrgCreation = get("org-creation"); cfg.OrgCreation {
	case "admins", "anyone":
	default:
		return cfg, fmt.Errorf("org-creation: want admins or anyone, got %q", cfg.OrgCreation)
	}
	cfg.PrintSecrets = printSecrets
	allow, err := webhook.ParseAllow(get("webhook-allow"))
	if err != nil {
		return cfg, fmt.Errorf("webhook-allow: %w", err)
	}
	cfg.WebhookAllow = allow
	if cfg.SSOAllow, err = webhook.ParseAllow(get("sso-allow")); err != nil {
		return cfg, fmt.Errorf("sso-allow: %w", err)
	}
	if cfg.PublicURL, err = ParsePublicURL(get("public-url")); err != nil {
		return cfg, fmt.Errorf("public-url: %w", err)
	}
	sc, err := time.ParseDuration(get("snapshot-check"))
	if err != nil || sc < time.Second || sc > time.Hour {
		return cfg, fmt.Errorf("snapshot-check: want a duration from 1s to 1h, got %q", get("snapshot-check"))
	}
	cfg.SnapshotCheck = sc
	for _, t := range []struct {
		name     string
		to       *time.Duration
		min, max time.Duration
	}{
		{"mongo-select-timeout", &cfg.MongoSelectTimeout, 100 * time.Millisecond, time.Minute},
		{"mongo-timeout", &cfg.MongoTimeout, 100 * time.Millisecond, 5 * time.Minute},
		{"kafka-request-timeout", &cfg.KafkaRequestTimeout, 100 * time.Millisecond, time.Minute},
		{"kafka-retry-backoff", &cfg.KafkaRetryBackoff, 10 * time.Millisecond, 10 * time.Second},
		{"kafka-delivery-timeout", &cfg.KafkaDeliveryTimeout, time.Second, 5 * time.Minute},
	} {
		d, err := time.ParseDuration(get(t.name))
		if err != nil || d < t.min || d > t.max {
			return cfg, fmt.Errorf("%s: want a duration from %v to %v, got %q", t.name, t.min, t.max, get(t.name))
		}
		*t.to = d
	}
	if cfg.AdminPassword != "" && len(cfg.AdminPassword) < 8 {
		return cfg, fmt.Errorf("admin-password: at least 8 characters")
	}
	return cfg, nil
}

// ParsePublicURL checks a public URL (control.ParsePublicURL).
func ParsePublicURL(s string) (string, error) { return control.ParsePublicURL(s) }
