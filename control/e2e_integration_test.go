//go:build integration

package control

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/switchyard/switchyard/codec/secret"
)

// startEdge builds the edge binary and runs it against the live services
// (black box: the control package does not import the edge).
func startEdge(t *testing.T, l *live) string {
	t.Helper()
	addr, _ := runEdge(t, l, buildEdge(t))
	return addr
}

// buildEdge builds edge/cmd/edge into a temporary directory.
func buildEdge(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	repo := filepath.Join(filepath.Dir(file), "..")
	bin := filepath.Join(t.TempDir(), "edge")
	build := exec.Command("go", "build", "-o", bin, "./edge/cmd/edge")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build edge: %v\n%s", err, out)
	}
	return bin
}

// runEdge starts the edge binary bin against the live services; kill ends
// the process at once (SIGKILL), as a crash would.
func runEdge(t *testing.T, l *live, bin string) (addr string, kill func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "-addr", addr, "-redis", os.Getenv("SY_TEST_REDIS_ADDR"),
		"-kafka", strings.Join(l.brokers, ","), "-topic-prefix", l.prefix)
	logf, err := os.Create(filepath.Join(t.TempDir(), "edge.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("edge log:\n%s", b)
		}
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	kill = func() { once.Do(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }) }
	t.Cleanup(kill)
	waitFor(t, "edge listening", time.Minute, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return addr, kill
}

// sdkConn is a minimal FeatBit server-SDK streaming connection.
type sdkConn struct {
	t *testing.T
	c net.Conn
	r io.Reader
}

func dialSDK(t *testing.T, addr, serverSecret string) *sdkConn {
	t.Helper()
	url := fmt.Sprintf("ws://%s/streaming?type=server&token=%s", addr, secret.EncodeToken(serverSecret, time.Now().UnixMilli(), 7))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, br, _, err := ws.Dial(ctx, url)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close() })
	s := &sdkConn{t: t, c: conn, r: conn}
	if br != nil {
		s.r = io.MultiReader(br, conn)
	}
	return s
}

type syncMsg struct {
	MessageType string `json:"messageType"`
	Data        struct {
		EventType    string `json:"eventType"`
		FeatureFlags []struct {
			Key       string `json:"key"`
			IsEnabled bool   `json:"isEnabled"`
			UpdatedAt string `json:"updatedAt"` // ISO 8601, FeatBit's format
		} `json:"featureFlags"`
	} `json:"data"`
}

// next returns the next data-sync message; it fails the test on an error.
func (s *sdkConn) next(d time.Duration) *syncMsg {
	s.t.Helper()
	m, err := s.read(d)
	if err != nil {
		s.t.Fatal(err)
	}
	return m
}

// read returns the next data-sync message (answering pings, skipping other
// messages); safe to call from a goroutine other than the test's.
func (s *sdkConn) read(d time.Duration) (*syncMsg, error) {
	_ = s.c.SetReadDeadline(time.Now().Add(d))
	for {
		h, err := ws.ReadHeader(s.r)
		if err != nil {
			return nil, fmt.Errorf("read: %w", err)
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(s.r, p); err != nil {
			return nil, fmt.Errorf("read: %w", err)
		}
		if h.Masked {
			ws.Cipher(p, h.Mask, 0)
		}
		switch h.OpCode {
		case ws.OpPing:
			_ = wsutil.WriteClientMessage(s.c, ws.OpPong, p)
			continue
		case ws.OpClose:
			return nil, fmt.Errorf("edge closed the connection: %q", p)
		case ws.OpText, ws.OpBinary:
		default:
			continue
		}
		var m syncMsg
		if err := json.Unmarshal(p, &m); err != nil {
			return nil, fmt.Errorf("message %.200q: %w", p, err)
		}
		if m.MessageType == "data-sync" {
			return &m, nil
		}
	}
}

// TestIntegrationEndToEndChangeReachesSDK: a flag change made through the
// API reaches a FeatBit server-SDK connection on a real edge process (API →
// MongoDB → Redis/Kafka → edge → WebSocket), and the delay is measured.
func TestIntegrationEndToEndChangeReachesSDK(t *testing.T) {
	l := newLive(t)
	env := l.env("dev")
	waitFor(t, "snapshot in Redis", eventWait, func() bool { return l.snapshotFlag(env, "welcome-banner") != nil })
	addr := startEdge(t, l)
	sdk := dialSDK(t, addr, l.info.Envs[0].ServerSecret)
	if err := wsutil.WriteClientText(sdk.c, []byte(`{"messageType":"data-sync","data":{"timestamp":0}}`)); err != nil {
		t.Fatal(err)
	}
	full := sdk.next(30 * time.Second)
	if full.Data.EventType != "full" || len(full.Data.FeatureFlags) != 4 {
		t.Fatalf("full sync: %+v", full.Data)
	}
	enabled := false
	for _, f := range full.Data.FeatureFlags {
		if f.Key == "welcome-banner" {
			enabled = f.IsEnabled
		}
	}
	url := "/api/v1/envs/" + env + "/flags/welcome-banner"
	var cur struct{ Version int64 }
	l.must(200, l.admin, "GET", url, nil).decode(t, &cur)
	const n = 20
	var delays []time.Duration
	for i := range n {
		t0 := time.Now()
		var res struct {
			Version   int64
			UpdatedAt int64
			IsEnabled bool
		}
		l.must(200, l.admin, "POST", url+"/toggle", map[string]any{"version": cur.Version}).decode(t, &res)
		cur.Version = res.Version
		enabled = !enabled
		if res.IsEnabled != enabled {
			t.Fatalf("toggle %d answered isEnabled %v", i, res.IsEnabled)
		}
		for {
			m := sdk.next(eventWait)
			if m.Data.EventType != "patch" {
				continue
			}
			got := false
			for _, f := range m.Data.FeatureFlags {
				at, err := time.Parse(time.RFC3339Nano, f.UpdatedAt)
				if err != nil {
					t.Fatalf("updatedAt %q: %v", f.UpdatedAt, err)
				}
				if f.Key == "welcome-banner" && at.UnixMilli() == res.UpdatedAt {
					if f.IsEnabled != enabled {
						t.Fatalf("change %d: patch isEnabled %v, want %v", i, f.IsEnabled, enabled)
					}
					got = true
				}
			}
			if got {
				break
			}
		}
		delays = append(delays, time.Since(t0))
	}
	slices.Sort(delays)
	r := func(d time.Duration) time.Duration { return d.Round(time.Millisecond / 10) }
	t.Logf("%d API toggles → patch on an SDK connection (API request included): p50 %v p90 %v max %v",
		n, r(delays[n/2]), r(delays[n*9/10]), r(delays[n-1]))
}
