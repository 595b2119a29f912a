//go:build integration

package clustertest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"
)

// redisFailoverBound is the longest time from the SIGKILL of the Redis primary to the first write
// acknowledged by the promoted replica (docs/operations.md, "Redis: losing the primary"): the
// sentinels' down-after (2 s in ops/services/redisha.sh), their election and the promotion, and
// the client learning the new primary (+switch-master, or its topology refresh).
const redisFailoverBound = 30 * time.Second

// TestOutageRedisSentinelFailover SIGKILLs the primary of the Sentinel-managed pair that
// ops/services/redisha.sh runs while a rueidis Sentinel client (ClientOption.Sentinel) writes a
// numbered key every 5 ms, measures the stall until a write succeeds on the promoted replica,
// checks that no write acknowledged after the failover is missing and that only writes from the
// last moment before the kill can be (replication is asynchronous), restarts the old primary and
// waits until it is a replica of the new one.
func TestOutageRedisSentinelFailover(t *testing.T) {
	sentinels := strings.Split(need(t, "SY_TEST_REDIS_SENTINELS"), ",")
	masterSet := need(t, "SY_TEST_REDIS_MASTER_SET")
	redisHA(t, "start")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	sent, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: sentinels[:1], DisableCache: true, DisableRetry: true})
	if err != nil {
		t.Fatalf("sentinel client: %v", err)
	}
	defer sent.Close()
	primary := func() string {
		a, err := sent.Do(ctx, sent.B().Arbitrary("SENTINEL", "get-master-addr-by-name", masterSet).Build()).AsStrSlice()
		if err != nil || len(a) != 2 {
			return ""
		}
		return a[0] + ":" + a[1]
	}
	// a healthy pair first: the primary has its replica online (a previous run may still be syncing)
	var old string
	waitFor(t, ctx, "a primary with an online replica", func() bool {
		old = primary()
		if old == "" {
			return false
		}
		info, err := infoReplication(ctx, old)
		return err == nil && strings.Contains(info, "connected_slaves:1") && strings.Contains(info, "state=online")
	})
	oldID := nodeID(t, old)

	cl, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress: sentinels, DisableCache: true,
		Sentinel: rueidis.SentinelOption{MasterSet: masterSet, TopologyRefreshInterval: time.Second},
	})
	if err != nil {
		t.Fatalf("rueidis sentinel client: %v", err)
	}
	defer cl.Close()
	prefix := fmt.Sprintf("sy:clustertest:%d:", time.Now().UnixNano())
	key := func(i int) string { return prefix + strconv.Itoa(i) }

	var (
		mu      sync.Mutex
		ackedAt []time.Time // ackedAt[i]: when write i was acknowledged
		fails   int
		lastErr error
	)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			wctx, wcancel := context.WithTimeout(ctx, 2*time.Second)
			err := cl.Do(wctx, cl.B().Set().Key(key(i)).Value("v").Build()).Error()
			wcancel()
			mu.Lock()
			if err != nil {
				fails++
				lastErr = err
			} else {
				ackedAt = append(ackedAt, time.Now())
				i++
			}
			mu.Unlock()
		}
	}()
	acked := func() int { mu.Lock(); defer mu.Unlock(); return len(ackedAt) }

	waitFor(t, ctx, "200 writes before the kill", func() bool { return acked() >= 200 })
	killAt := time.Now()
	redisHA(t, "kill", strconv.Itoa(oldID))
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			redisHA(t, "start", strconv.Itoa(oldID))
		}
	})
	afterKill := acked()
	var stall time.Duration
	waitFor(t, ctx, "a write acknowledged after the kill", func() bool {
		mu.Lock()
		defer mu.Unlock()
		if len(ackedAt) > afterKill {
			stall = ackedAt[afterKill].Sub(killAt)
			return true
		}
		return false
	})
	// the sentinel asked may learn the new configuration a moment after the one that failed over
	var newPrimary string
	waitFor(t, ctx, "the sentinels to name a new primary", func() bool {
		newPrimary = primary()
		return newPrimary != "" && newPrimary != old
	})
	t.Logf("redis: STALL %v from SIGKILL of the primary %s to the first write acknowledged after it; sentinels now name %s",
		stall.Round(time.Millisecond), old, newPrimary)
	if stall > redisFailoverBound {
		t.Errorf("writes resumed %v after the primary was killed; documented bound %v", stall, redisFailoverBound)
	}
	n0 := acked()
	waitFor(t, ctx, "200 more writes", func() bool { return acked() >= n0+200 })
	redisHA(t, "start", strconv.Itoa(oldID))
	restarted = true
	waitFor(t, ctx, old+" back as a replica, in sync", func() bool {
		info, err := infoReplication(ctx, old)
		return err == nil && strings.Contains(info, "role:slave") && strings.Contains(info, "master_link_status:up")
	})
	close(stop)
	<-done

	// every acknowledged write is on the new primary, except possibly the last ones before the
	// kill (asynchronous replication): those must lie within 1 s of the kill
	mu.Lock()
	defer mu.Unlock()
	var lost []int
	for i := range ackedAt {
		n, err := cl.Do(ctx, cl.B().Exists().Key(key(i)).Build()).AsInt64()
		if err != nil {
			t.Fatalf("exists %s: %v", key(i), err)
		}
		if n == 0 {
			lost = append(lost, i)
		}
	}
	t.Logf("redis: %d writes acknowledged, %d lost (%v), %d failed attempts retried (last: %v)", len(ackedAt), len(lost), lost, fails, lastErr)
	for _, i := range lost {
		if i >= afterKill || killAt.Sub(ackedAt[i]) > time.Second {
			t.Errorf("write %d (acknowledged %v before the kill) is missing: only the last moment before the kill may be lost",
				i, killAt.Sub(ackedAt[i]))
		}
	}
	for i := range ackedAt { // clean up
		cl.Do(ctx, cl.B().Del().Key(key(i)).Build())
	}
}

// need returns the environment variable or fails the test.
func need(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: start the services (make services-up) and source ops/services/env.sh", name)
	}
	return v
}

// infoReplication returns INFO replication of the node at addr (a direct connection).
func infoReplication(ctx context.Context, addr string) (string, error) {
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true, DisableRetry: true,
		Dialer: net.Dialer{Timeout: 2 * time.Second}})
	if err != nil {
		return "", err
	}
	defer c.Close()
	return c.Do(ctx, c.B().Info().Section("replication").Build()).ToString()
}

// nodeID maps a data node address to its redisha.sh id (port SY_REDIS_HA_PORT is node 1).
func nodeID(t *testing.T, addr string) int {
	t.Helper()
	base := 16380
	if v := os.Getenv("SY_REDIS_HA_PORT"); v != "" {
		base, _ = strconv.Atoi(v)
	}
	_, p, _ := strings.Cut(addr, ":")
	port, err := strconv.Atoi(p)
	if err != nil || port < base || port > base+1 {
		t.Fatalf("primary %s is not a node of ops/services/redisha.sh (ports %d, %d)", addr, base, base+1)
	}
	return port - base + 1
}

// redisHA runs ops/services/redisha.sh with args and fails the test if it fails.
func redisHA(t *testing.T, args ...string) {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	out, err := exec.Command("bash", append([]string{filepath.Join(root, "ops", "services", "redisha.sh")}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("redisha.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("redisha.sh %s (%v): %s", strings.Join(args, " "), time.Since(t0).Round(time.Millisecond), strings.TrimSpace(string(out)))
}
