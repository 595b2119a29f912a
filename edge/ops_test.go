package edge_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/edge"
	"github.com/switchyard/switchyard/edge/edgetest"
)

func TestReusePortSharesTheAddress(t *testing.T) {
	a, err := edge.New(edge.Config{Addr: "127.0.0.1:0", ReusePort: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown(context.Background())
	b, err := edge.New(edge.Config{Addr: a.Addr(), ReusePort: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatalf("second edge on %s: %v", a.Addr(), err)
	}
	defer b.Shutdown(context.Background())
	if code, body, _ := do(t, "GET", "http://"+a.Addr()+"/health/readiness", "", ""); code != 200 {
		t.Fatalf("readiness %d %q", code, body)
	}
	// without the option the port is taken
	c, _ := edge.New(edge.Config{Addr: a.Addr()})
	if err := c.Start(); err == nil {
		c.Shutdown(context.Background())
		t.Fatal("a second edge without -reuseport could bind")
	}
}

func TestMetricsExposition(t *testing.T) {
	e := edgetest.Run(t)
	env := e.Env(t)
	c := edgetest.Dial(t, edgetest.StreamURL(e.Addr, "server", env.ServerSecret))
	_ = c.Send(`{"messageType":"ping","data":null}`)
	if _, err := c.ReadJSON(wait); err != nil {
		t.Fatal(err)
	}
	bad := edgetest.Dial(t, edgetest.StreamURL(e.Addr, "server", env.ClientSecret))
	_, _ = bad.ExpectClose(wait)
	wants := []string{
		`sy_edge_connections{type="server"} 1`,
		`sy_edge_connections{type="client"} 0`,
		"sy_edge_messages_in_total 1",
		"sy_edge_messages_out_total 1",
		`sy_edge_errors_total{cause="bad_secret"} 1`,
		"# TYPE sy_edge_push_seconds histogram",
		`sy_edge_push_seconds_bucket{le="+Inf"} 0`,
	}
	// counters are bumped right after the write the client saw: poll
	deadline := time.Now().Add(wait)
	for {
		code, body, h := do(t, "GET", e.URL()+"/metrics", "", "")
		if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
			t.Fatalf("metrics %d %v", code, h)
		}
		missing := ""
		for _, want := range wants {
			if !strings.Contains(body, want) {
				missing = want
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics lack %q:\n%s", missing, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
