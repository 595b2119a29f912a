//go:build integration

package servicestest

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// TestClickHouse checks the native protocol through clickhouse-go/v2: a table in a random
// database, a columnar batch insert, and the count and sum read back (natively and over HTTP).
func TestClickHouse(t *testing.T) {
	addr := env(t, "SY_TEST_CLICKHOUSE_ADDR")
	httpAddr := env(t, "SY_TEST_CLICKHOUSE_HTTP")
	ctx := ctxFor(t, 120*time.Second)

	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:        []string{addr},
		Auth:        clickhouse.Auth{Database: "default", Username: "default"},
		DialTimeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatalf("open %s: %v", addr, err)
	}
	defer conn.Close()
	if err := conn.Ping(ctx); err != nil {
		t.Fatalf("ping %s: %v", addr, err)
	}

	db := "svctest_" + suffix()
	if err := conn.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatalf("create database: %v", err)
	}
	defer conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db)
	table := db + ".t"
	if err := conn.Exec(ctx, "CREATE TABLE "+table+" (a UInt64, b String) ENGINE = MergeTree ORDER BY a"); err != nil {
		t.Fatalf("create table: %v", err)
	}

	const n = 10000
	as := make([]uint64, n)
	bs := make([]string, n)
	var wantSum uint64
	for i := range as {
		as[i] = uint64(i*7 + 1)
		bs[i] = fmt.Sprintf("row-%d", i)
		wantSum += as[i]
	}
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+table+" (a, b)")
	if err != nil {
		t.Fatalf("prepare batch: %v", err)
	}
	if err := batch.Column(0).Append(as); err != nil {
		t.Fatalf("append a: %v", err)
	}
	if err := batch.Column(1).Append(bs); err != nil {
		t.Fatalf("append b: %v", err)
	}
	if err := batch.Send(); err != nil {
		t.Fatalf("send batch: %v", err)
	}

	var count, sum uint64
	if err := conn.QueryRow(ctx, "SELECT count(), sum(a) FROM "+table).Scan(&count, &sum); err != nil {
		t.Fatalf("select: %v", err)
	}
	if count != n || sum != wantSum {
		t.Fatalf("count, sum = %d, %d; want %d, %d", count, sum, n, wantSum)
	}
	var b string
	if err := conn.QueryRow(ctx, "SELECT b FROM "+table+" WHERE a = ?", as[1234]).Scan(&b); err != nil || b != "row-1234" {
		t.Fatalf("select b = %q, %v; want row-1234", b, err)
	}

	// The HTTP interface sees the same data.
	q := url.Values{"query": {"SELECT count(), sum(a) FROM " + table + " FORMAT TSV"}}
	resp, err := http.Get("http://" + httpAddr + "/?" + q.Encode())
	if err != nil {
		t.Fatalf("http query: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := fmt.Sprintf("%d\t%d", n, wantSum); resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != want {
		t.Fatalf("http answer %d %q; want 200 %q", resp.StatusCode, body, want)
	}
}
