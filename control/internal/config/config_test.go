package config

import (
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

func TestLoadPrecedence(t *testing.T) {
	env := map[string]string{"SY_CONTROL_ADDR": ":9000", "SY_CONTROL_KAFKA_BROKERS": "a:1, b:2", "SY_CONTROL_MONGO_URI": "mongodb://x"}
	cfg, err := Load([]string{"-addr", ":9100", "-session-ttl", "2h"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != ":9100" || cfg.MongoURI != "mongodb://x" || len(cfg.KafkaBrokers) != 2 || cfg.KafkaBrokers[1] != "b:2" ||
		cfg.SessionTTL != 2*time.Hour || cfg.DataDir != "./data" || cfg.MaxBody != 1<<20 || cfg.AuditRetention != 0 ||
		cfg.InviteTTL != 7*24*time.Hour || cfg.OrgCreation != "admins" {
		t.Fatalf("%+v", cfg)
	}
	env["SY_CONTROL_AUDIT_RETENTION"] = "720h"
	if cfg, err = Load(nil, func(k string) string { return env[k] }, io.Discard); err != nil || cfg.AuditRetention != 720*time.Hour {
		t.Fatalf("audit retention: %v %v", cfg.AuditRetention, err)
	}
	env["SY_CONTROL_ORG_CREATION"], env["SY_CONTROL_INVITE_TTL"] = "anyone", "48h"
	if cfg, err = Load(nil, func(k string) string { return env[k] }, io.Discard); err != nil || cfg.OrgCreation != "anyone" || cfg.InviteTTL != 48*time.Hour {
		t.Fatalf("org creation %q, invite TTL %v: %v", cfg.OrgCreation, cfg.InviteTTL, err)
	}
	if cfg.SnapshotCheck != 30*time.Second {
		t.Fatalf("snapshot check default %v", cfg.SnapshotCheck)
	}
	env["SY_CONTROL_SNAPSHOT_CHECK"] = "5s"
	if cfg, err = Load(nil, func(k string) string { return env[k] }, io.Discard); err != nil || cfg.SnapshotCheck != 5*time.Second {
		t.Fatalf("snapshot check: %v %v", cfg.SnapshotCheck, err)
	}
}

func TestLoadRejects(t *testing.T) {
	none := func(string) string { return "" }
	for _, args := range [][]string{{"-max-body", "12"}, {"-session-ttl", "soon"}, {"-admin-password", "short"}, {"extra"}, {"-nope"},
		{"-audit-retention", "forever"}, {"-audit-retention", "5m"}, {"-invite-ttl", "soon"}, {"-invite-ttl", "9000h"},
		{"-org-creation", "everyone"}, {"-snapshot-check", "0"}, {"-snapshot-check", "2h"}, {"-webhook-allow", "10.0.0.0/8,intranet"},
		{"-read-timeout", "0"}, {"-write-timeout", "x"}, {"-upload-timeout", "10ms"}, {"-max-header-bytes", "100"},
		{"-max-conns-per-ip", "-1"}, {"-rate-limit", "NaN"}, {"-public-rate-limit", "-2"}, {"-rate-burst", "0"},
		{"-print-secrets=maybe"}} {
		if _, err := Load(args, none, io.Discard); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

func TestLoadLimits(t *testing.T) {
	none := func(string) string { return "" }
	cfg, err := Load(nil, none, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ReadTimeout != 15*time.Second || cfg.WriteTimeout != time.Minute || cfg.UploadTimeout != 5*time.Minute ||
		cfg.MaxHeaderBytes != 64<<10 || cfg.MaxConnsPerIP != 256 || cfg.RateLimit != 50 || cfg.RateBurst != 200 ||
		cfg.PublicRateLimit != 2 || cfg.PublicRateBurst != 20 || len(cfg.WebhookAllow) != 0 || cfg.PrintSecrets {
		t.Fatalf("defaults %+v", cfg)
	}
	cfg, err = Load([]string{"-rate-limit", "0", "-max-conns-per-ip", "0", "-webhook-allow", "10.0.0.0/8, 127.0.0.1", "-print-secrets"}, none, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RateLimit >= 0 || cfg.MaxConnsPerIP >= 0 || len(cfg.WebhookAllow) != 2 || !cfg.PrintSecrets {
		t.Fatalf("0 must switch limits off, allow-list parsed: %+v", cfg)
	}
}

func TestLoadOutageBounds(t *testing.T) {
	none := func(string) string { return "" }
	cfg, err := Load(nil, none, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MongoSelectTimeout != 2*time.Second || cfg.MongoTimeout != 5*time.Second || cfg.KafkaRequestTimeout != 5*time.Second ||
		cfg.KafkaRetryBackoff != 250*time.Millisecond || cfg.KafkaDeliveryTimeout != 15*time.Second {
		t.Fatalf("defaults: %+v", cfg)
	}
	env := map[string]string{"SY_CONTROL_MONGO_SELECT_TIMEOUT": "500ms", "SY_CONTROL_KAFKA_DELIVERY_TIMEOUT": "30s"}
	if cfg, err = Load([]string{"-mongo-timeout", "3s"}, func(k string) string { return env[k] }, io.Discard); err != nil ||
		cfg.MongoSelectTimeout != 500*time.Millisecond || cfg.MongoTimeout != 3*time.Second || cfg.KafkaDeliveryTimeout != 30*time.Second {
		t.Fatalf("set: %v %+v", err, cfg)
	}
	for _, args := range [][]string{{"-mongo-select-timeout", "0s"}, {"-mongo-timeout", "10m"}, {"-kafka-request-timeout", "x"},
		{"-kafka-retry-backoff", "1ms"}, {"-kafka-delivery-timeout", "500ms"}} {
		if _, err := Load(args, none, io.Discard); err == nil || !strings.Contains(err.Error(), args[0][1:]) {
			t.Errorf("%v: %v, want an error naming the setting", args, err)
		}
	}
}

func TestLoadRedisSentinel(t *testing.T) {
	env := map[string]string{"SY_CONTROL_REDIS_ADDR": "s1:26379, s2:26379,s3:26379", "SY_CONTROL_REDIS_SENTINEL_MASTER": "sy"}
	cfg, err := Load(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RedisSentinelMaster != "sy" || cfg.RedisAddr != "s1:26379, s2:26379,s3:26379" {
		t.Fatalf("got master %q addr %q", cfg.RedisSentinelMaster, cfg.RedisAddr)
	}
	if cfg, err = Load([]string{"-redis-addr", "r:6379"}, func(string) string { return "" }, io.Discard); err != nil || cfg.RedisSentinelMaster != "" {
		t.Fatalf("plain Redis: %v %q", err, cfg.RedisSentinelMaster)
	}
	for _, c := range []struct {
		args  []string
		field string
	}{
		{[]string{"-redis-sentinel-master", "sy"}, "redis-sentinel-master"},
		{[]string{"-redis-sentinel-master", "sy", "-redis-addr", "s1"}, "redis address"},
		{[]string{"-redis-sentinel-master", "sy", "-redis-addr", "s1:0"}, "redis address"},
		{[]string{"-redis-sentinel-master", "sy", "-redis-addr", ":26379"}, "redis address"},
		{[]string{"-redis-sentinel-master", "sy", "-redis-addr", " , "}, "redis address"},
		{[]string{"-redis-sentinel-master", "sy", "-redis-addr", strings.Repeat("s:1,", 17)}, "redis address"},
		{[]string{"-redis-sentinel-master", "s y", "-redis-addr", "s1:26379"}, "redis-sentinel-master"},
		{[]string{"-redis-sentinel-master", strings.Repeat("m", 129), "-redis-addr", "s1:26379"}, "redis-sentinel-master"},
	} {
		_, err := Load(c.args, func(string) string { return "" }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%v: got %v, want an error naming %s", c.args, err, c.field)
		}
	}
}

// TestLoadFileAndAlias: the -config file (SY_CONTROL_CONFIG) under the
// variables, -data as the older name of -data-dir.
func TestLoadFileAndAlias(t *testing.T) {
	file := t.TempDir() + "/control.conf"
	if err := os.WriteFile(file, []byte("# control\nsession-ttl = 3h\naddr = :1\nprint-secrets = true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SY_CONTROL_CONFIG": file, "SY_CONTROL_ADDR": ":2"}
	cfg, err := Load([]string{"-data", "/srv/sy"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SessionTTL != 3*time.Hour || cfg.Addr != ":2" || cfg.DataDir != "/srv/sy" || !cfg.PrintSecrets {
		t.Fatalf("%+v", cfg)
	}
}
