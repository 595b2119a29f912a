//go:build integration && !fakeedge

package compat

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/proctest"
)

// receipt is the part of control's delivery receipt the test reads.
type receipt struct {
	EnvVersion  int64 `json:"envVersion"`
	Connections struct {
		Server, Total int
	} `json:"connections"`
	Delivered struct {
		Server, Total int
	} `json:"delivered"`
	Fraction      float64 `json:"fraction"`
	Complete      bool    `json:"complete"`
	DeliveredInMs int64   `json:"deliveredInMs"`
	Reached       *bool   `json:"reached"`
	Edges         []struct {
		Edge        string `json:"edge"`
		Delivered   bool   `json:"delivered"`
		Connections struct{ Total int }
	} `json:"edges"`
}

// TestCompatDeliveryReceipts runs control and two edges (the real binaries)
// on Redis and Kafka with FeatBit's Node server SDK connected, two per edge,
// and checks the delivery receipts control builds from the edges' reports:
//   - a toggle's receipt, waited for with until=1, reaches the 4 connected
//     SDKs, 2 on each edge;
//   - an SDK that connects after the change is counted then;
//   - with one edge stopped (SIGSTOP) a wait for every connection times out
//     cleanly (200, reached false, only the running edge's connections
//     delivered), and completes once the edge runs again;
//   - the live view lists the connections by edge.
func TestCompatDeliveryReceipts(t *testing.T) {
	brokers, prefix := kafkaBrokers(t), topicPrefix()
	redis := os.Getenv("SY_TEST_REDIS_ADDR")
	if redis == "" {
		t.Fatal("SY_TEST_REDIS_ADDR is not set: source ops/services/env.sh")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	bin := proctest.Build(t, root, "control", "edge")
	password := fmt.Sprintf("receipt-admin-%d", rand.Uint64())
	ctlAddr := proctest.LowAddr(t)
	ctlOut, _ := proctest.Start(t, filepath.Join(bin, "control"), "-addr", ctlAddr, "-data", filepath.Join(t.TempDir(), "data"),
		"-admin-password", password, "-redis-addr", redis, "-kafka-brokers", strings.Join(brokers, ","), "-topic-prefix", prefix)
	envID, secret := proctest.Banner(t, ctlOut, "dev")
	api := &controlAPI{t: t, base: "http://" + ctlAddr}
	api.login(password)

	var edges []string
	var edgeProcs []*os.Process
	for range 2 {
		addr := proctest.LowAddr(t)
		_, p := proctest.Start(t, filepath.Join(bin, "edge"), "-addr", addr, "-redis", redis, "-kafka", strings.Join(brokers, ","),
			"-topic-prefix", prefix, "-delivery-interval", "1s", "-drain-window", "-1s")
		edges, edgeProcs = append(edges, addr), append(edgeProcs, p)
	}
	dir, argv := nodeServerSDK.start(t)
	ctx, cancel := context.WithTimeout(context.Background(), sdkRunTimeout)
	defer cancel()
	startOn := func(i, edge int) *sdkProc {
		p := startSDK(t, ctx, fmt.Sprintf("node-server-sdk-%d(edge %d)", i, edge+1), dir, append([]string{
			"COMPAT_SECRET=" + secret,
			"COMPAT_STREAMING_URL=ws://" + edges[edge],
			"COMPAT_EVENTS_URL=http://" + edges[edge],
		}, nodeServerSDK.env...), argv...)
		p.waitEvent("ready", readyTimeout)
		return p
	}
	for i := range 4 {
		startOn(i+1, i%2)
	}
	// the edges' heartbeats reach control: 4 connections in the live view
	var view struct {
		Connections struct{ Total int }
		Edges       []struct {
			Edge        string
			Connections struct{ Total int }
		}
	}
	waitUntil(t, 30*time.Second, "the live view to show 4 connections on 2 edges", func() bool {
		api.get("/api/v1/envs/"+envID+"/sdks", &view)
		return view.Connections.Total == 4 && len(view.Edges) == 2
	})

	// 1. a change reaches every connected SDK
	rid := fmt.Sprintf("receipt-%d", rand.Uint64())
	api.toggle(envID, "welcome-banner", rid)
	var r receipt
	api.get("/api/v1/envs/"+envID+"/changes/"+rid+"/receipt?until=1&timeout=30s", &r)
	if r.Reached == nil || !*r.Reached || !r.Complete || r.Connections.Total != 4 || r.Delivered.Total != 4 || r.Fraction != 1 {
		t.Fatalf("receipt after waiting for every connection: %+v", r)
	}
	for _, e := range r.Edges {
		if !e.Delivered || e.Connections.Total != 2 {
			t.Errorf("edge %s in the receipt: delivered %v with %d connections, want true with 2", e.Edge, e.Delivered, e.Connections.Total)
		}
	}
	t.Logf("receipt: delivered to %d of %d connections on %d edges in %d ms", r.Delivered.Total, r.Connections.Total, len(r.Edges), r.DeliveredInMs)

	// 2. an SDK that connects after the change is counted then
	startOn(5, 1)
	waitUntil(t, 30*time.Second, "the receipt to count the SDK that connected later", func() bool {
		api.get("/api/v1/envs/"+envID+"/changes/"+rid+"/receipt", &r)
		return r.Connections.Total == 5 && r.Delivered.Total == 5
	})

	// 3. an edge that does not run: the wait times out cleanly, then completes
	if err := edgeProcs[1].Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := true
	defer func() {
		if stopped {
			_ = edgeProcs[1].Signal(syscall.SIGCONT)
		}
	}()
	rid2 := fmt.Sprintf("receipt-%d", rand.Uint64())
	api.toggle(envID, "welcome-banner", rid2)
	api.get("/api/v1/envs/"+envID+"/changes/"+rid2+"/receipt?until=1&timeout=1s", &r)
	if r.Reached == nil || *r.Reached || r.Complete || r.Delivered.Total != 2 {
		t.Fatalf("receipt while edge 2 is stopped, after a 1 s wait: %+v (want reached false, 2 delivered)", r)
	}
	if err := edgeProcs[1].Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	stopped = false
	waitUntil(t, 30*time.Second, "the receipt to complete once edge 2 runs again", func() bool {
		api.get("/api/v1/envs/"+envID+"/changes/"+rid2+"/receipt?until=1&timeout=5s", &r)
		return r.Reached != nil && *r.Reached && r.Delivered.Total == 5
	})

	// an unknown request id is a 404 that says why
	code, body := api.raw("/api/v1/envs/" + envID + "/changes/no-such-change/receipt")
	if code != http.StatusNotFound || !strings.Contains(body, "no-such-change") {
		t.Errorf("unknown change: %d %s, want 404 naming it", code, body)
	}
}

func waitUntil(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// controlAPI calls control's REST API as the admin.
type controlAPI struct {
	t     *testing.T
	base  string
	token string
}

func (a *controlAPI) do(method, path, rid string, in, out any) (int, string) {
	a.t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, a.base+path, body)
	req.Header.Set("Content-Type", "application/json")
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	if rid != "" {
		req.Header.Set("X-Request-Id", rid)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if out != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			a.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return res.StatusCode, string(b)
}

func (a *controlAPI) raw(path string) (int, string) { return a.do("GET", path, "", nil, nil) }

func (a *controlAPI) get(path string, out any) {
	a.t.Helper()
	if code, b := a.do("GET", path, "", nil, out); code != 200 {
		a.t.Fatalf("GET %s: %d %s", path, code, b)
	}
}

func (a *controlAPI) login(password string) {
	var r struct{ Token string }
	deadline := time.Now().Add(time.Minute)
	for {
		code, b := a.do("POST", "/api/v1/auth/login", "", map[string]string{"email": "admin@switchyard.local", "password": password}, &r)
		if code == 200 && r.Token != "" {
			a.token = r.Token
			return
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("login: %d %s", code, b)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// toggle flips a flag with the given request id.
func (a *controlAPI) toggle(env, key, rid string) {
	a.t.Helper()
	var f struct {
		IsEnabled bool  `json:"isEnabled"`
		Version   int64 `json:"version"`
	}
	a.get("/api/v1/envs/"+env+"/flags/"+key, &f)
	if code, b := a.do("POST", "/api/v1/envs/"+env+"/flags/"+key+"/toggle", rid, map[string]any{"isEnabled": !f.IsEnabled, "version": f.Version}, nil); code != 200 {
		a.t.Fatalf("toggle %s: %d %s", key, code, b)
	}
}
