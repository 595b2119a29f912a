//go:build integration

package clustertest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/switchyard/switchyard/codec/secret"
	"github.com/switchyard/switchyard/internal/proctest"
)

// TestOutageProductRedisFailover runs the product's own binaries on the Sentinel-managed Redis
// pair and the Kafka cluster: control (embedded store, -redis-sentinel-master) and an edge
// (-redis-sentinel-master), with a FeatBit server-SDK stream open on the edge. A writer toggles
// four flags through the API, one acknowledged write after the other, while the test SIGKILLs
// the Redis primary. Control's publisher must carry every acknowledged change through the
// failover (its environment hashes go to whichever primary the sentinels name), so that:
//   - the open stream ends with every flag at its last acknowledged state, and
//   - an edge started after the failover, which knows nothing but what it reads from Redis,
//     serves that same state in its first full data-sync.
//
// The stall (SIGKILL → the first change acknowledged after it reaching the stream) is logged
// and bounded by redisFailoverBound plus the publisher's retry backoff.
func TestOutageProductRedisFailover(t *testing.T) {
	sentinels := need(t, "SY_TEST_REDIS_SENTINELS")
	masterSet := need(t, "SY_TEST_REDIS_MASTER_SET")
	brokers := need(t, "SY_TEST_KAFKA_BROKERS")
	redisHA(t, "start")
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	bin := proctest.Build(t, root, "control", "edge")
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()

	// a primary with its replica online first (a previous outage test may still be resyncing)
	var old string
	waitFor(t, ctx, "a primary with an online replica", func() bool {
		old = sentinelPrimary(ctx, strings.Split(sentinels, ",")[0], masterSet)
		if old == "" {
			return false
		}
		info, err := infoReplication(ctx, old)
		return err == nil && strings.Contains(info, "connected_slaves:1") && strings.Contains(info, "state=online")
	})
	oldID := nodeID(t, old)

	prefix := fmt.Sprintf("sy.productfailover.%d.", time.Now().UnixNano())
	password := fmt.Sprintf("failover-admin-%d", rand.Uint64())
	ctlAddr := proctest.LowAddr(t)
	ctlOut, _ := proctest.Start(t, filepath.Join(bin, "control"), "-addr", ctlAddr, "-data", filepath.Join(t.TempDir(), "data"),
		"-admin-password", password, "-redis-addr", sentinels, "-redis-sentinel-master", masterSet,
		"-kafka-brokers", brokers, "-topic-prefix", prefix, "-snapshot-check", "1s")
	envID, serverSecret := proctest.Banner(t, ctlOut, "dev")
	if !secret.Valid(serverSecret) {
		t.Fatalf("control printed an invalid server secret %q", serverSecret)
	}
	api := &apiClient{t: t, base: "http://" + ctlAddr}
	api.login(password)

	startEdge := func() string {
		addr := proctest.LowAddr(t)
		proctest.Start(t, filepath.Join(bin, "edge"), "-addr", addr, "-redis", sentinels, "-redis-sentinel-master", masterSet,
			"-kafka", brokers, "-topic-prefix", prefix)
		return addr
	}
	edge1 := startEdge()
	stream := dialStream(t, ctx, edge1, serverSecret)

	flags := []string{"welcome-banner", "checkout-flow", "max-items", "theme-config"}
	type state struct {
		on      bool
		version int64
		ackedAt time.Time
	}
	var (
		mu    sync.Mutex
		acked = map[string]state{}
		fails int
	)
	for _, k := range flags {
		on, v := api.flag(envID, k)
		acked[k] = state{on: on, version: v}
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // one acknowledged toggle after the other, round robin over the flags
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			k := flags[i%len(flags)]
			mu.Lock()
			cur := acked[k]
			mu.Unlock()
			on, v, err := api.toggle(envID, k, !cur.on, cur.version)
			mu.Lock()
			if err != nil {
				fails++
				if on2, v2 := api.flag(envID, k); v2 > cur.version { // the write may have landed before the error
					acked[k] = state{on: on2, version: v2, ackedAt: time.Now()}
				}
			} else {
				acked[k] = state{on: on, version: v, ackedAt: time.Now()}
			}
			mu.Unlock()
		}
	}()
	snapshot := func() map[string]state {
		mu.Lock()
		defer mu.Unlock()
		m := make(map[string]state, len(acked))
		for k, v := range acked {
			m[k] = v
		}
		return m
	}
	converged := func(s *streamState, want map[string]state) string {
		for _, k := range flags {
			got, ok := s.get(k)
			if !ok {
				return k + " missing"
			}
			if got != want[k].on {
				return fmt.Sprintf("%s isEnabled %v, last acknowledged %v (version %d)", k, got, want[k].on, want[k].version)
			}
		}
		return ""
	}

	waitFor(t, ctx, "40 acknowledged toggles seen by the stream before the kill", func() bool {
		return stream.updates() >= 40
	})
	killAt := time.Now()
	redisHA(t, "kill", strconv.Itoa(oldID))
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			redisHA(t, "start", strconv.Itoa(oldID))
		}
	})
	// the stall: the first toggle acknowledged after the kill reaching the stream
	var stall time.Duration
	waitFor(t, ctx, "a change acknowledged after the kill on the stream", func() bool {
		for k, st := range snapshot() {
			if st.ackedAt.After(killAt) {
				if got, ok := stream.get(k); ok && got == st.on && stream.lastUpdate().After(st.ackedAt) {
					stall = time.Since(killAt)
					return true
				}
			}
		}
		return false
	})
	waitFor(t, ctx, "the sentinels to name a new primary", func() bool {
		p := sentinelPrimary(ctx, strings.Split(sentinels, ",")[0], masterSet)
		return p != "" && p != old
	})
	n0 := stream.updates()
	waitFor(t, ctx, "40 more changes on the stream after the failover", func() bool { return stream.updates() >= n0+40 })
	close(stop)
	<-done
	final := snapshot()
	var why string
	waitFor(t, ctx, "the open stream at every last acknowledged state", func() bool {
		why = converged(stream, final)
		return why == ""
	})
	t.Logf("redis failover, product path: STALL %v from SIGKILL of the primary to the first change acknowledged after it on the stream; %d updates on the stream, %d refused writes retried",
		stall.Round(time.Millisecond), stream.updates(), fails)
	if bound := redisFailoverBound + 15*time.Second; stall > bound {
		t.Errorf("changes resumed %v after the primary was killed; bound %v", stall, bound)
	}

	// an edge that starts now knows only what Redis (the promoted replica) holds
	edge2 := startEdge()
	cold := dialStream(t, ctx, edge2, serverSecret)
	if why := converged(cold, final); why != "" {
		t.Errorf("the first full data-sync of an edge started after the failover: %s", why)
	}
	redisHA(t, "start", strconv.Itoa(oldID))
	restarted = true
	waitFor(t, ctx, old+" back as a replica, in sync", func() bool {
		info, err := infoReplication(ctx, old)
		return err == nil && strings.Contains(info, "role:slave") && strings.Contains(info, "master_link_status:up")
	})
}

// sentinelPrimary asks one sentinel for the primary of masterSet ("" when it cannot tell).
func sentinelPrimary(ctx context.Context, sentinel, masterSet string) string {
	c, err := net.DialTimeout("tcp", sentinel, 2*time.Second)
	if err != nil {
		return ""
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	fmt.Fprintf(c, "SENTINEL get-master-addr-by-name %s\r\n", masterSet)
	r := bufio.NewReader(c)
	var parts []string
	for len(parts) < 2 {
		line, err := r.ReadString('\n')
		if err != nil || strings.HasPrefix(line, "*-1") || strings.HasPrefix(line, "-") {
			return ""
		}
		if strings.HasPrefix(line, "$") || strings.HasPrefix(line, "*") {
			continue
		}
		parts = append(parts, strings.TrimSpace(line))
	}
	return parts[0] + ":" + parts[1]
}

// apiClient calls control's REST API with an admin session.
type apiClient struct {
	t     *testing.T
	base  string
	token string
}

func (a *apiClient) do(method, path string, in, out any) (int, error) {
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = strings.NewReader(string(b))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, a.base+path, body)
	req.Header.Set("Content-Type", "application/json")
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode >= 300 {
		return res.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, b)
	}
	if out != nil {
		return res.StatusCode, json.Unmarshal(b, out)
	}
	return res.StatusCode, nil
}

func (a *apiClient) login(password string) {
	var r struct {
		Token string `json:"token"`
	}
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := a.do("POST", "/api/v1/auth/login", map[string]string{"email": "admin@switchyard.local", "password": password}, &r)
		if err == nil && r.Token != "" {
			a.token = r.Token
			return
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("login: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

type apiFlag struct {
	IsEnabled bool  `json:"isEnabled"`
	Version   int64 `json:"version"`
}

func (a *apiClient) flag(env, key string) (bool, int64) {
	var f apiFlag
	if _, err := a.do("GET", "/api/v1/envs/"+env+"/flags/"+key, nil, &f); err != nil {
		a.t.Errorf("read %s: %v", key, err)
	}
	return f.IsEnabled, f.Version
}

func (a *apiClient) toggle(env, key string, on bool, version int64) (bool, int64, error) {
	var f apiFlag
	_, err := a.do("POST", "/api/v1/envs/"+env+"/flags/"+key+"/toggle", map[string]any{"isEnabled": on, "version": version}, &f)
	return f.IsEnabled, f.Version, err
}

// streamState is a FeatBit server-SDK stream: the last isEnabled of every flag it was sent.
type streamState struct {
	mu   sync.Mutex
	on   map[string]bool
	n    int
	last time.Time
}

func (s *streamState) get(k string) (bool, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.on[k]
	return v, ok
}

func (s *streamState) updates() int { s.mu.Lock(); defer s.mu.Unlock(); return s.n }

func (s *streamState) lastUpdate() time.Time { s.mu.Lock(); defer s.mu.Unlock(); return s.last }

// apply records a data-sync message and returns its event type ("full" or "patch").
func (s *streamState) apply(b []byte) string {
	var m struct {
		MessageType string `json:"messageType"`
		Data        struct {
			EventType    string `json:"eventType"`
			FeatureFlags []struct {
				Key       string `json:"key"`
				IsEnabled bool   `json:"isEnabled"`
			} `json:"featureFlags"`
		} `json:"data"`
	}
	if json.Unmarshal(b, &m) != nil || m.MessageType != "data-sync" {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range m.Data.FeatureFlags {
		s.on[f.Key] = f.IsEnabled
	}
	if m.Data.EventType == "patch" {
		s.n += len(m.Data.FeatureFlags)
		s.last = time.Now()
	}
	return m.Data.EventType
}

// dialStream opens a server-type streaming connection (retried until the edge serves the
// environment), completes the full data-sync and keeps reading pushes until the test ends.
func dialStream(t *testing.T, ctx context.Context, addr, serverSecret string) *streamState {
	t.Helper()
	s := &streamState{on: map[string]bool{}}
	var conn net.Conn
	var lastErr error
	for conn == nil {
		if ctx.Err() != nil {
			t.Fatalf("no full data-sync from the edge at %s: %v", addr, lastErr)
		}
		u := "ws://" + addr + "/streaming?type=server&token=" + url.QueryEscape(secret.EncodeToken(serverSecret, time.Now().UnixMilli(), 7))
		dctx, dcancel := context.WithTimeout(ctx, 5*time.Second)
		c, _, _, err := ws.Dial(dctx, u)
		dcancel()
		if err == nil {
			if err = wsutil.WriteClientText(c, []byte(`{"messageType":"data-sync","data":{"timestamp":0}}`)); err == nil {
				_ = c.SetReadDeadline(time.Now().Add(15 * time.Second))
				for {
					var b []byte
					if b, err = wsutil.ReadServerText(c); err != nil {
						break
					}
					if s.apply(b) == "full" {
						conn = c
						break
					}
				}
			}
			if conn == nil {
				c.Close()
			}
		}
		if conn == nil {
			lastErr = err
			time.Sleep(300 * time.Millisecond)
		}
	}
	_ = conn.SetReadDeadline(time.Time{})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var wmu sync.Mutex
	wg.Add(2)
	go func() { // keep-alive like the SDKs
		defer wg.Done()
		tk := time.NewTicker(5 * time.Second)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				wmu.Lock()
				_ = wsutil.WriteClientText(conn, []byte(`{"messageType":"ping","data":null}`))
				wmu.Unlock()
			}
		}
	}()
	go func() {
		defer wg.Done()
		for {
			b, err := wsutil.ReadServerText(conn)
			if err != nil {
				select {
				case <-stop:
				default:
					t.Errorf("the stream from %s broke: %v", addr, err)
				}
				return
			}
			s.apply(b)
		}
	}()
	t.Cleanup(func() { close(stop); conn.Close(); wg.Wait() })
	return s
}
