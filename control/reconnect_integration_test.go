//go:build integration

package control

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/codec/secret"
)

// fbClient is a FeatBit-style server SDK: it keeps every flag's state and
// the newest updatedAt it holds, and on every reconnect asks the edge only
// for the items newer than that (data-sync with "timestamp"), exactly as the
// FeatBit SDKs do. It drops its connection every few hundred milliseconds
// (network blips) and whenever the edge goes away, and reconnects to the
// current edge address.
type fbClient struct {
	secret string
	addr   *atomic.Pointer[string]

	mu     sync.Mutex
	flags  map[string]fbFlag
	cursor int64
	closes map[int]int // close codes received from the edge
	syncs  int
}

type fbFlag struct {
	enabled bool
	at      int64
}

func newFBClient(secret string, addr *atomic.Pointer[string]) *fbClient {
	return &fbClient{secret: secret, addr: addr, flags: map[string]fbFlag{}, closes: map[int]int{}}
}

func (c *fbClient) run(ctx context.Context) {
	for ctx.Err() == nil {
		c.session(ctx)
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// session is one connection: dial, ask for the items after the cursor,
// apply what arrives until the blip or an error.
func (c *fbClient) session(ctx context.Context) {
	url := fmt.Sprintf("ws://%s/streaming?type=server&token=%s", *c.addr.Load(), secret.EncodeToken(c.secret, time.Now().UnixMilli(), 7))
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	conn, br, _, err := ws.Dial(dctx, url)
	cancel()
	if err != nil {
		return
	}
	defer conn.Close()
	var r io.Reader = conn
	if br != nil {
		r = io.MultiReader(br, conn)
	}
	c.mu.Lock()
	req := fmt.Sprintf(`{"messageType":"data-sync","data":{"timestamp":%d}}`, c.cursor)
	c.mu.Unlock()
	if wsutil.WriteClientText(conn, []byte(req)) != nil {
		return
	}
	_ = conn.SetReadDeadline(time.Now().Add(time.Duration(100+rand.IntN(400)) * time.Millisecond))
	for ctx.Err() == nil {
		h, err := ws.ReadHeader(r)
		if err != nil {
			return
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(r, p); err != nil {
			return
		}
		if h.Masked {
			ws.Cipher(p, h.Mask, 0)
		}
		switch h.OpCode {
		case ws.OpPing:
			_ = wsutil.WriteClientMessage(conn, ws.OpPong, p)
			continue
		case ws.OpClose:
			if len(p) >= 2 {
				c.mu.Lock()
				c.closes[int(binary.BigEndian.Uint16(p))]++
				c.mu.Unlock()
			}
			return
		case ws.OpText:
		default:
			continue
		}
		var m syncMsg
		if json.Unmarshal(p, &m) != nil || m.MessageType != "data-sync" {
			continue
		}
		c.apply(&m)
	}
}

// apply applies a data-sync message as the SDK's store does: a full sync
// replaces everything, a patch upserts items newer than those held.
func (c *fbClient) apply(m *syncMsg) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.syncs++
	if m.Data.EventType == "full" {
		c.flags = map[string]fbFlag{}
	}
	for _, f := range m.Data.FeatureFlags {
		at, err := time.Parse(time.RFC3339Nano, f.UpdatedAt)
		if err != nil {
			continue
		}
		ms := at.UnixMilli()
		if old, ok := c.flags[f.Key]; !ok || ms > old.at {
			c.flags[f.Key] = fbFlag{enabled: f.IsEnabled, at: ms}
		}
		c.cursor = max(c.cursor, ms)
	}
}

// stale returns the flags whose state differs from want.
func (c *fbClient) stale(want map[string]fbFlag) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for k, w := range want {
		if got, ok := c.flags[k]; !ok || got != w {
			out = append(out, fmt.Sprintf("%s (has %+v, acknowledged %+v)", k, got, w))
		}
	}
	return out
}

// TestIntegrationReconnectNeverStale: 8 writers toggle 8 flags at once
// through the API (MongoDB wire store, Redis, Kafka); the edge is killed in
// the middle of the burst and another one started; FeatBit-style SDK
// clients reconnect all the time with the newest updatedAt they hold. Every
// client must end with every acknowledged value, without further changes.
// Then the environment's snapshot is lost from Redis (as after a restart
// with no data) and a third edge that never loaded it takes over: clients
// get "unavailable" (1011, retried), never "unknown" (4003), until control's
// periodic check has written the snapshot again, and again end with every
// acknowledged value without a flag change.
func TestIntegrationReconnectNeverStale(t *testing.T) {
	l := newLive(t, func(c *Config) { c.SnapshotCheck = time.Second })
	env := l.env("dev")
	url := "/api/v1/envs/" + env + "/flags"
	const writers, rounds, clients = 8, 12, 4
	versions := make([]int64, writers)
	for w := range writers {
		var f struct{ Version int64 }
		l.must(201, l.admin, "POST", url, map[string]any{"key": fmt.Sprintf("burst-%d", w), "variationType": "boolean"}).decode(t, &f)
		versions[w] = f.Version
	}
	waitFor(t, "flags in the snapshot", eventWait, func() bool { return l.snapshotFlag(env, fmt.Sprintf("burst-%d", writers-1)) != nil })

	bin := buildEdge(t)
	addr, kill := runEdge(t, l, bin)
	var cur atomic.Pointer[string]
	cur.Store(&addr)
	ctx, cancel := context.WithCancel(context.Background())
	var cwg sync.WaitGroup
	t.Cleanup(func() { cancel(); cwg.Wait() })
	sdks := make([]*fbClient, clients)
	for i := range sdks {
		sdks[i] = newFBClient(l.info.Envs[0].ServerSecret, &cur)
		cwg.Go(func() { sdks[i].run(ctx) })
	}

	// The burst: each writer toggles its own flag; the environment's
	// compare-and-set is shared by all of them.
	var (
		mu    sync.Mutex
		acked = map[string]fbFlag{}
		done  atomic.Int64
		wwg   sync.WaitGroup
	)
	for w := range writers {
		wwg.Go(func() {
			key := fmt.Sprintf("burst-%d", w)
			v := versions[w]
			for range rounds {
				r := l.do(l.admin, "POST", url+"/"+key+"/toggle", map[string]any{"version": v})
				if r.Code != 200 {
					// not acknowledged (e.g. contention): read the version, go on
					var f struct{ Version int64 }
					_ = json.Unmarshal(l.do(l.admin, "GET", url+"/"+key, nil).Body, &f)
					v = f.Version
					continue
				}
				var f struct {
					Version   int64
					UpdatedAt int64
					IsEnabled bool
				}
				if err := json.Unmarshal(r.Body, &f); err != nil {
					t.Errorf("toggle answer %q: %v", r.Body, err)
					return
				}
				v = f.Version
				mu.Lock()
				acked[key] = fbFlag{enabled: f.IsEnabled, at: f.UpdatedAt}
				mu.Unlock()
				done.Add(1)
			}
		})
	}
	waitFor(t, "half of the burst", 3*time.Minute, func() bool { return done.Load() >= writers*rounds/2 })
	kill() // the edge dies mid-burst
	addr2, kill2 := runEdge(t, l, bin)
	cur.Store(&addr2)
	wwg.Wait()
	if t.Failed() {
		return
	}
	if len(acked) != writers {
		t.Fatalf("only %d flags acknowledged a change", len(acked))
	}
	converge := func(phase string) {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for i, c := range sdks {
			for {
				s := c.stale(acked)
				if len(s) == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: SDK %d is stale on %d of %d flags: %s", phase, i, len(s), writers, strings.Join(s, "; "))
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
	converge("after the burst and the edge crash")

	// Redis loses the environment; a new edge that never loaded it serves.
	before := l.s.pub.Stats().Repaired
	if err := l.redis.Do(context.Background(), l.redis.B().Del().Key(codec.EnvKey(env)).Build()).Error(); err != nil {
		t.Fatal(err)
	}
	kill2()
	addr3, _ := runEdge(t, l, bin)
	syncs := make([]int, clients)
	for i, c := range sdks {
		c.mu.Lock()
		syncs[i] = c.syncs
		c.mu.Unlock()
	}
	cur.Store(&addr3)
	waitFor(t, "control rewrote the lost snapshot", time.Minute, func() bool { return l.s.pub.Stats().Repaired > before })
	for i, c := range sdks {
		waitFor(t, fmt.Sprintf("SDK %d served by the new edge", i), time.Minute, func() bool {
			c.mu.Lock()
			defer c.mu.Unlock()
			return c.syncs > syncs[i]
		})
	}
	converge("after the snapshot was lost")
	for i, c := range sdks {
		c.mu.Lock()
		n := c.closes[4003]
		c.mu.Unlock()
		if n > 0 {
			t.Fatalf("SDK %d was refused with 4003 %d times (FeatBit SDKs never retry that)", i, n)
		}
	}
}
