//go:build integration

package servicestest

import (
	"context"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/redis/rueidis"
)

// TestOutageClickHouseRestart stops ClickHouse with ops/services/clickhouse.sh, checks that a
// query fails while it is down, starts it again, and checks that the table written before the
// outage is still there and that inserts work again on the same connection pool.
func TestOutageClickHouseRestart(t *testing.T) {
	addr := env(t, "SY_TEST_CLICKHOUSE_ADDR")
	ctx := ctxFor(t, 5*time.Minute)

	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:        []string{addr},
		Auth:        clickhouse.Auth{Database: "default", Username: "default"},
		DialTimeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatalf("open %s: %v", addr, err)
	}
	defer conn.Close()
	db := "svctest_outage_" + suffix()
	if err := conn.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatalf("create database: %v", err)
	}
	defer conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db)
	table := db + ".t"
	if err := conn.Exec(ctx, "CREATE TABLE "+table+" (a UInt64) ENGINE = MergeTree ORDER BY a"); err != nil {
		t.Fatalf("create table: %v", err)
	}
	insert := func(ctx context.Context, from, to uint64) error {
		b, err := conn.PrepareBatch(ctx, "INSERT INTO "+table+" (a)")
		if err != nil {
			return err
		}
		vals := make([]uint64, 0, to-from)
		for i := from; i < to; i++ {
			vals = append(vals, i)
		}
		if err := b.Column(0).Append(vals); err != nil {
			return err
		}
		return b.Send()
	}
	if err := insert(ctx, 0, 1000); err != nil {
		t.Fatalf("insert before outage: %v", err)
	}

	stopped := true
	serviceScript(t, "clickhouse", "stop")
	t.Cleanup(func() {
		if stopped {
			serviceScript(t, "clickhouse", "start")
		}
	})
	down, cancel := context.WithTimeout(ctx, 10*time.Second)
	var n uint64
	err = conn.QueryRow(down, "SELECT count() FROM "+table).Scan(&n)
	cancel()
	if err == nil {
		t.Fatalf("query succeeded while ClickHouse was stopped")
	}
	t.Logf("query while down failed as expected: %v", err)

	serviceScript(t, "clickhouse", "start")
	stopped = false

	// The pool may hand out a dead connection first; retry until the deadline.
	deadline := time.Now().Add(60 * time.Second)
	for {
		err = insert(ctx, 1000, 2000)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("insert after restart: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var sum uint64
	if err := conn.QueryRow(ctx, "SELECT count(), sum(a) FROM "+table).Scan(&n, &sum); err != nil {
		t.Fatalf("select after restart: %v", err)
	}
	if n != 2000 || sum != 1999*2000/2 {
		t.Fatalf("count, sum = %d, %d after restart; want 2000, %d", n, sum, 1999*2000/2)
	}
}

// TestOutageRedisRestart stops Redis with ops/services/redis.sh (which saves on SIGTERM),
// checks that commands fail while it is down, and that after the start the key written before
// the outage is back and the same client works again.
func TestOutageRedisRestart(t *testing.T) {
	addr := env(t, "SY_TEST_REDIS_ADDR")
	ctx := ctxFor(t, 3*time.Minute)

	client, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}})
	if err != nil {
		t.Fatalf("rueidis client: %v", err)
	}
	defer client.Close()
	key := "sy:svctest:outage:" + suffix()
	defer client.Do(context.Background(), client.B().Del().Key(key).Build())
	if err := client.Do(ctx, client.B().Set().Key(key).Value("before").Build()).Error(); err != nil {
		t.Fatalf("SET: %v", err)
	}

	stopped := true
	serviceScript(t, "redis", "stop")
	t.Cleanup(func() {
		if stopped {
			serviceScript(t, "redis", "start")
		}
	})
	down, cancel := context.WithTimeout(ctx, 5*time.Second)
	err = client.Do(down, client.B().Ping().Build()).Error()
	cancel()
	if err == nil {
		t.Fatalf("PING succeeded while Redis was stopped")
	}
	t.Logf("PING while down failed as expected: %v", err)

	serviceScript(t, "redis", "start")
	stopped = false

	deadline := time.Now().Add(60 * time.Second)
	for {
		got, err := client.Do(ctx, client.B().Get().Key(key).Build()).ToString()
		if err == nil {
			if got != "before" {
				t.Fatalf("GET after restart = %q; want the value written before the outage", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET after restart: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
