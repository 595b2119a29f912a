package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestHelpExitsZero: -h exits 0 and lists every variable; a bad value exits
// 2 naming it.
func TestHelpExitsZero(t *testing.T) {
	noEnv := func(string) string { return "" }
	var out, errOut bytes.Buffer
	if code := run([]string{"-h"}, noEnv, nil, &out, &errOut); code != 0 {
		t.Fatalf("-h: exit %d, stderr %s", code, errOut.String())
	}
	for _, want := range []string{"SY_ANALYTICS_CONFIG", "SY_ANALYTICS_ADDR", "SY_ANALYTICS_CLICKHOUSE_ADDR", "SY_ANALYTICS_CLICKHOUSE_PASSWORD",
		"SY_ANALYTICS_KAFKA_BROKERS", "SY_ANALYTICS_DATA_DIR", "SY_ANALYTICS_EXPORT_MAX_ROWS"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-h lacks %s:\n%s", want, out.String())
		}
	}
	if code := run([]string{"-batch-rows", "many"}, noEnv, nil, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "-batch-rows") {
		t.Errorf("bad value: exit %d, stderr %s", code, errOut.String())
	}
}

// TestParseConfig: defaults, variables over the file, flags over variables.
func TestParseConfig(t *testing.T) {
	file := filepath.Join(t.TempDir(), "analytics.conf")
	if err := os.WriteFile(file, []byte("clickhouse-password = \"s e\"\nretention = 2160h\nbatch-rows = 10\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SY_ANALYTICS_CONFIG": file, "SY_ANALYTICS_BATCH_ROWS": "20", "SY_ANALYTICS_KAFKA_BROKERS": "a:1, b:2"}
	cfg, err := parseConfig([]string{"-addr", ":1"}, func(k string) string { return env[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != ":1" || cfg.ClickHousePassword != "s e" || cfg.Retention != 2160*time.Hour || cfg.BatchRows != 20 ||
		len(cfg.KafkaBrokers) != 2 || cfg.KafkaBrokers[1] != "b:2" || cfg.DataDir != "./data" || cfg.CacheTTL != 5*time.Second {
		t.Fatalf("%+v", cfg)
	}
}

// TestEveryVariableDocumented: docs/analytics.md's table (flag /
// SY_ANALYTICS_… suffix) names every variable -h lists.
func TestEveryVariableDocumented(t *testing.T) {
	var out bytes.Buffer
	run([]string{"-h"}, func(string) string { return "" }, nil, &out, &out)
	doc, err := os.ReadFile("../../../docs/analytics.md")
	if err != nil {
		t.Fatal(err)
	}
	vars := regexp.MustCompile(`SY_ANALYTICS_[A-Z_]+`).FindAllString(out.String(), -1)
	if len(vars) < 10 {
		t.Fatalf("-h lists %d variables", len(vars))
	}
	for _, v := range vars {
		if !strings.Contains(string(doc), "/ `"+strings.TrimPrefix(v, "SY_ANALYTICS_")+"`") {
			t.Errorf("docs/analytics.md does not document %s", v)
		}
	}
}
