package edge_test

import (
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/edge"
)

func TestParseConfig(t *testing.T) {
	env := map[string]string{"SY_EDGE_KAFKA_BROKERS": "a:1, b:2", "SY_EDGE_REDIS_ADDR": "r:1", "SY_EDGE_IDLE_TIMEOUT": "90s", "SY_EDGE_ADDR": ":1"}
	c, err := edge.ParseConfig("edge", []string{"-addr", ":2", "-reuseport"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":2" || len(c.KafkaBrokers) != 2 || c.KafkaBrokers[1] != "b:2" || c.IdleTimeout != 90*time.Second || !c.ReusePort || c.ShutdownCode != 1012 || c.TokenWindow != 30*time.Second {
		t.Fatalf("%+v", c)
	}
	c, err = edge.ParseConfig("edge", []string{"-addr", ":7"}, func(k string) string {
		return map[string]string{"SY_EDGE_HTTP_ADDR": ":8"}[k]
	})
	if err != nil || c.HTTPAddr != ":8" {
		t.Fatalf("SY_EDGE_HTTP_ADDR: %+v %v", c, err)
	}
	if _, err := edge.ParseConfig("edge", []string{"-addr", ":7", "-http-addr", ":7"}, func(string) string { return "" }); err == nil {
		t.Fatal("HTTPAddr equal to Addr accepted")
	}
	if _, err := edge.ParseConfig("edge", []string{"-shutdown-code", "1000"}, func(string) string { return "" }); err == nil {
		t.Fatal("shutdown code 1000 accepted")
	}
	if _, err := edge.ParseConfig("edge", nil, func(k string) string {
		if k == "SY_EDGE_REDIS_ADDR" {
			return "r:1"
		}
		return ""
	}); err == nil {
		t.Fatal("redis without kafka accepted")
	}
	if _, err := edge.ParseConfig("edge", nil, func(k string) string {
		if k == "SY_EDGE_IDLE_TIMEOUT" {
			return "soon"
		}
		return ""
	}); err == nil {
		t.Fatal("bad duration accepted")
	}
}

// TestParseConfigLimits: the limits' defaults, their variables and flags,
// "off" as -1, and rates below 1/s refused (Retry-After is one second).
func TestParseConfigLimits(t *testing.T) {
	none := func(string) string { return "" }
	c, err := edge.ParseConfig("edge", nil, none)
	if err != nil {
		t.Fatal(err)
	}
	if c.RequestTimeout != 10*time.Second || c.MaxHeaderBytes != 8<<10 || c.MaxBodyBytes != 64<<10 || c.MaxTrackBytes != 1<<20 ||
		c.MaxUnfinished != 128 || c.AddrRate != 1000 || c.AddrBurst != 2000 || c.SecretRate != 20000 || c.SecretBurst != 40000 ||
		c.MaxTrackUsers != 100 || c.EndUserRate != 1000 || c.EndUserBurst != 10000 {
		t.Fatalf("defaults %+v", c)
	}
	env := map[string]string{"SY_EDGE_ADDR_RATE": "-1", "SY_EDGE_MAX_UNFINISHED": "-1", "SY_EDGE_REQUEST_TIMEOUT": "3s", "SY_EDGE_MAX_BODY_BYTES": "1024"}
	c, err = edge.ParseConfig("edge", []string{"-secret-rate", "50", "-max-track-users", "7"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.AddrRate != -1 || c.MaxUnfinished != -1 || c.RequestTimeout != 3*time.Second || c.MaxBodyBytes != 1024 || c.SecretRate != 50 || c.MaxTrackUsers != 7 {
		t.Fatalf("set %+v", c)
	}
	if _, err := edge.ParseConfig("edge", []string{"-addr-rate", "0.5"}, none); err == nil {
		t.Fatal("a rate below 1/s accepted")
	}
	if _, err := edge.ParseConfig("edge", nil, func(k string) string {
		return map[string]string{"SY_EDGE_SECRET_RATE": "lots"}[k]
	}); err == nil {
		t.Fatal("a non-numeric rate accepted")
	}
}

func TestConfigLogLevel(t *testing.T) {
	c, err := edge.ParseConfig("edge", []string{"-log-level", "debug"}, func(string) string { return "" })
	if err != nil || c.LogLevel != slog.LevelDebug {
		t.Fatalf("-log-level debug: %v %v", c.LogLevel, err)
	}
	c, err = edge.ParseConfig("edge", nil, func(k string) string {
		if k == "SY_EDGE_LOG_LEVEL" {
			return "warn"
		}
		return ""
	})
	if err != nil || c.LogLevel != slog.LevelWarn {
		t.Fatalf("SY_EDGE_LOG_LEVEL=warn: %v %v", c.LogLevel, err)
	}
	if _, err := edge.ParseConfig("edge", []string{"-log-level", "loud"}, func(string) string { return "" }); err == nil {
		t.Fatal("-log-level loud accepted")
	}
}

func TestParseConfigRedisSentinel(t *testing.T) {
	env := map[string]string{"SY_EDGE_REDIS_ADDR": "s1:26379,s2:26379", "SY_EDGE_REDIS_SENTINEL_MASTER": "sy", "SY_EDGE_KAFKA_BROKERS": "k:9092"}
	c, err := edge.ParseConfig("edge", nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.RedisSentinelMaster != "sy" || c.RedisAddr != "s1:26379,s2:26379" {
		t.Fatalf("got master %q addr %q", c.RedisSentinelMaster, c.RedisAddr)
	}
	for _, args := range [][]string{
		{"-redis-sentinel-master", "sy"},
		{"-redis-sentinel-master", "sy", "-redis", "s1", "-kafka", "k:9092"},
		{"-redis-sentinel-master", "sy", "-redis", "s1:99999", "-kafka", "k:9092"},
		{"-redis-sentinel-master", "s\ty", "-redis", "s1:26379", "-kafka", "k:9092"},
	} {
		_, err := edge.ParseConfig("edge", args, func(string) string { return "" })
		if err == nil || !strings.Contains(err.Error(), "SY_EDGE_REDIS_SENTINEL_MASTER") {
			t.Errorf("%v: got %v, want an error naming SY_EDGE_REDIS_SENTINEL_MASTER", args, err)
		}
	}
}

// TestParseConfigFile: the -config file sets what no flag or variable sets;
// the edge's older names -redis and -kafka are accepted as keys; an unknown
// key is an error naming it.
func TestParseConfigFile(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/edge.conf"
	if err := os.WriteFile(file, []byte("redis = r:1\nkafka-brokers = k:1,k:2\nidle-timeout = 90s\naddr = :9\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SY_EDGE_CONFIG": file, "SY_EDGE_ADDR": ":8"}
	c, err := edge.ParseConfig("edge", nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.RedisAddr != "r:1" || len(c.KafkaBrokers) != 2 || c.IdleTimeout != 90*time.Second || c.Addr != ":8" {
		t.Fatalf("%+v", c)
	}
	if err := os.WriteFile(file, []byte("idle-timeout = 90s\nidle-timout = 1s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := edge.ParseConfig("edge", []string{"-config", file}, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), `:2: unknown setting "idle-timout"`) {
		t.Fatalf("unknown key: %v", err)
	}
}
