package ready

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func waitState(t *testing.T, p *Prober, want bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for p.State(nil) != want {
		if time.Now().After(deadline) {
			_, body := p.Report(nil)
			t.Fatalf("state never %v: %s", want, body)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestProberFollowsChecksAndBounds: a failing check is reported with its
// error; a probe that hangs past its timeout counts as failed (not as the
// last good answer); extra states count; nothing is ready before the first
// probe.
func TestProberFollowsChecksAndBounds(t *testing.T) {
	var fail, hang atomic.Bool
	p := New([]Check{
		{Name: "a", Probe: func(context.Context) error {
			if fail.Load() {
				return errors.New("refused")
			}
			return nil
		}},
		{Name: "b", Probe: func(ctx context.Context) error {
			if hang.Load() {
				time.Sleep(200 * time.Millisecond) // ignores ctx
			}
			return nil
		}},
	}, 10*time.Millisecond, 50*time.Millisecond)
	if p.State(nil) {
		t.Fatal("ready before any probe")
	}
	p.Start()
	defer p.Stop()
	waitState(t, p, true)
	fail.Store(true)
	waitState(t, p, false)
	ok, body := p.Report(nil)
	var r struct {
		Ready  bool
		Checks map[string]string
	}
	if err := json.Unmarshal(body, &r); err != nil || ok || r.Ready || r.Checks["a"] != "refused" || r.Checks["b"] != "ok" {
		t.Fatalf("report %s (%v)", body, err)
	}
	fail.Store(false)
	waitState(t, p, true)
	hang.Store(true)
	waitState(t, p, false)
	if _, body := p.Report(nil); !strings.Contains(string(body), `"b":"context deadline exceeded"`) && !strings.Contains(string(body), `"b":"no probe result`) {
		t.Fatalf("a hung probe: %s", body)
	}
	hang.Store(false)
	waitState(t, p, true)
	if ok, _ := p.Report(map[string]string{"server": "shutting down"}); ok {
		t.Fatal("ready while the server is shutting down")
	}
}
