//go:build integration

package control

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/control/internal/store/mongo"
	"github.com/switchyard/switchyard/internal/tcpproxy"
)

// TestStoreOutageAnswers503Promptly: with MongoDB unreachable, or
// reachable but silent, the API answers 503 within the configured bounds
// instead of hanging for the driver's defaults, /readyz turns unready, and
// both recover when it is back.
func TestStoreOutageAnswers503Promptly(t *testing.T) {
	u, err := url.Parse(need(t, "SY_TEST_MONGO_URI"))
	if err != nil {
		t.Fatal(err)
	}
	proxy := tcpproxy.New(t, u.Host)
	id := randName()
	cfg := Config{Addr: "127.0.0.1:0", MongoURI: "mongodb://" + proxy.Addr() + "/", MongoDB: "sy_outage_" + id,
		AdminPassword: "admin-password", MongoSelectTimeout: time.Second, MongoTimeout: 2 * time.Second}
	s, err := New(cfg, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		proxy.Resume(t)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if b, ok := s.st.Backend().(*mongo.Backend); ok {
			_ = b.Database().Drop(ctx)
		}
		_ = s.Shutdown(ctx)
	})
	info, err := s.Bootstrap(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	base := "http://" + s.Addr()
	get := func(path, token string) int {
		req, _ := http.NewRequest("GET", base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 30 s", what)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	res, err := http.Post(base+"/api/v1/auth/login", "application/json",
		strings.NewReader(`{"email":"`+info.AdminEmail+`","password":"admin-password"}`))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("login: %v %v", res, err)
	}
	var lr struct{ Token string }
	err = json.NewDecoder(res.Body).Decode(&lr)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	waitFor("ready before the outage", func() bool { return get("/readyz", "") == 200 })

	// refused: the server is down (connections reset and refused);
	// hanging: it accepts and never answers (-mongo-timeout bounds that).
	for _, outage := range []struct {
		name  string
		start func()
	}{{"refused", proxy.Cut}, {"hanging", proxy.Stall}} {
		outage.start()
		// Every request during the outage fails with 503, each within the
		// configured bounds (generous upper bound: the driver's old 10 s
		// server-selection default would exceed it).
		for i := range 3 {
			start := time.Now()
			code := get("/api/v1/auth/me", lr.Token)
			if took := time.Since(start); code != http.StatusServiceUnavailable || took > 8*time.Second {
				t.Fatalf("%s: request %d during the outage: %d after %v, want 503 within the store bounds", outage.name, i, code, took)
			}
		}
		waitFor(outage.name+": /readyz unready during the outage", func() bool { return get("/readyz", "") == http.StatusServiceUnavailable })

		proxy.Resume(t)
		waitFor(outage.name+": /readyz ready after the outage", func() bool { return get("/readyz", "") == 200 })
		waitFor(outage.name+": API answers after the outage", func() bool { return get("/api/v1/auth/me", lr.Token) == 200 })
	}
}

// TestLiveReadyzProbesEveryDependency: on the real services /readyz names
// the store, Redis and Kafka, all reachable.
func TestLiveReadyzProbesEveryDependency(t *testing.T) {
	l := newLive(t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := l.do("", "GET", "/readyz", nil)
		var body struct {
			Ready  bool
			Checks map[string]string
		}
		_ = json.Unmarshal(r.Body, &body)
		if r.Code == 200 && body.Ready && body.Checks["store"] == "ok" && body.Checks["redis"] == "ok" && body.Checks["kafka"] == "ok" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz: %d %s", r.Code, r.Body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	m := l.must(200, "", "GET", "/metrics", nil)
	for _, dep := range []string{"store", "redis", "kafka"} {
		if !strings.Contains(string(m.Body), `sy_control_dependency_up{dependency="`+dep+`"} 1`) {
			t.Errorf("/metrics: %s not up:\n%s", dep, m.Body)
		}
	}
}
