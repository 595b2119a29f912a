//go:build integration

package edge_test

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/switchyard/switchyard/codec/secret"
	"github.com/switchyard/switchyard/edge/edgetest"
)

func redisScript(t *testing.T, action string) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "ops", "services", "redis.sh")
	out, err := exec.Command("bash", script, action).CombinedOutput()
	if err != nil {
		t.Fatalf("redis.sh %s: %v\n%s", action, err, out)
	}
}

// TestOutageRedis stops Redis: a connection to an environment the edge has
// not loaded yet is closed with 1011 (SDKs retry); an environment already in
// memory keeps serving; after Redis is back the new environment loads.
func TestOutageRedis(t *testing.T) {
	cl := newCluster(t)
	loaded := edgetest.DemoSnapshot(secret.NewGUID())
	later := edgetest.DemoSnapshot(secret.NewGUID())
	cl.writeSnapshot(loaded)
	cl.writeSnapshot(later)
	s := cl.edge(t)
	c := edgetest.Dial(t, edgetest.StreamURL(s.Addr(), "server", loaded.Secrets[0].Value))
	_ = c.Send(`{"messageType":"data-sync","data":{"timestamp":0}}`)
	readServerSync(t, c)

	redisScript(t, "stop")
	restarted := false
	defer func() {
		if !restarted {
			redisScript(t, "start")
		}
	}()
	d := edgetest.Dial(t, edgetest.StreamURL(s.Addr(), "server", later.Secrets[0].Value))
	if code, err := d.ExpectClose(30 * time.Second); err != nil || code != 1011 {
		t.Fatalf("Redis down: close %d %v, want 1011", code, err)
	}
	_ = c.Send(`{"messageType":"data-sync","data":{"timestamp":0}}`)
	if s := readServerSync(t, c); s.EventType != "full" {
		t.Fatalf("loaded env during the outage: %+v", s)
	}

	redisScript(t, "start")
	restarted = true
	deadline := time.Now().Add(30 * time.Second)
	for {
		d := edgetest.Dial(t, edgetest.StreamURL(s.Addr(), "server", later.Secrets[0].Value))
		_ = d.Send(`{"messageType":"data-sync","data":{"timestamp":0}}`)
		m, err := d.ReadJSON(5 * time.Second)
		if err == nil && m.MessageType == "data-sync" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after Redis restart: %+v %v", m, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
