package relay

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/codec/secret"
)

// fakeUpstream answers every server stream with the messages of reply.
func fakeUpstream(t *testing.T, reply func(conn wsWriter)) (url string, conns *atomic.Int64) {
	t.Helper()
	conns = new(atomic.Int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _, _, err := ws.UpgradeHTTP(r, w)
		if err != nil {
			return
		}
		defer c.Close()
		conns.Add(1)
		if _, _, err := wsutil.ReadClientData(c); err != nil { // the data-sync request
			return
		}
		reply(wsWriter{c})
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _, _ = wsutil.ReadClientData(c)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, conns
}

type wsWriter struct {
	c interface{ Write([]byte) (int, error) }
}

func (w wsWriter) text(s string) { _ = wsutil.WriteServerText(w.c, []byte(s)) }

func startTestSource(t *testing.T, upstream string, maxMsg int64) (*Source, string, *atomic.Int64) {
	t.Helper()
	env := secret.NewGUID()
	sec, _ := secret.New(env)
	var errs atomic.Int64
	s, err := NewSource(Config{Upstream: upstream, ServerSecrets: []string{sec}, MaxMessageBytes: maxMsg,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, OnError: func(string) { errs.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background(), func(*codec.ChangeEvent) {}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, env, &errs
}

// TestSecurityRelayOversizedUpstreamMessage: an upstream (or someone in
// the middle of a plain-text link) sending a message over
// -relay-max-message-bytes gets the link dropped; nothing of it is applied
// and the environment is not served from it.
func TestSecurityRelayOversizedUpstreamMessage(t *testing.T) {
	big := `{"messageType":"data-sync","data":{"eventType":"full","featureFlags":[{"id":"f","key":"` + strings.Repeat("x", 8<<10) + `"}],"segments":[]}}`
	url, conns := fakeUpstream(t, func(w wsWriter) { w.text(big) })
	s, env, errs := startTestSource(t, url, 4<<10)
	deadline := time.Now().Add(10 * time.Second)
	for conns.Load() < 2 || errs.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections, %d link errors: want the link dropped and retried", conns.Load(), errs.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := s.Snapshot(context.Background(), env); err == nil {
		t.Fatal("the environment is served from an oversized message")
	}
	if e := s.links[env].lastErr.Load(); e == nil || !strings.Contains(*e, "relay-max-message-bytes") {
		t.Fatalf("link error %v: want it to name -relay-max-message-bytes", s.links[env].lastErr.Load())
	}
}

// TestSecurityRelayUpstreamCannotWidenAccess: the secrets the relay accepts
// are its own settings: an upstream whose items claim another environment
// or carry a "secrets" field changes neither the environment they land in
// nor the secrets.
func TestSecurityRelayUpstreamCannotWidenAccess(t *testing.T) {
	other := secret.NewGUID()
	msg := `{"messageType":"data-sync","data":{"eventType":"full","secrets":[{"envId":"` + other + `","type":"server","value":"planted"}],` +
		`"featureFlags":[{"id":"f","envId":"` + other + `","key":"k","variationType":"boolean","variations":[],"updatedAt":"2026-01-01T00:00:00Z"}],"segments":[]}}`
	url, _ := fakeUpstream(t, func(w wsWriter) { w.text(msg) })
	s, env, _ := startTestSource(t, url, 0)
	deadline := time.Now().Add(10 * time.Second)
	for !s.links[env].synced.Load() {
		if time.Now().After(deadline) {
			t.Fatal("no sync")
		}
		time.Sleep(10 * time.Millisecond)
	}
	snap, err := s.Snapshot(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Secrets) != 1 || snap.Secrets[0].Value != s.links[env].secret || snap.Flags[0].EnvID != env {
		t.Fatalf("secrets %+v, flag env %s", snap.Secrets, snap.Flags[0].EnvID)
	}
	if _, err := s.Snapshot(context.Background(), other); err == nil {
		t.Fatal("an environment the relay was not given is served")
	}
}

// TestSecurityRelaySpoolIsPrivate: the spool holds end-user keys and
// attributes: its directory is 0700 and its files 0600.
func TestSecurityRelaySpoolIsPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	sp, err := OpenSpool(dir, 1<<20, func([]byte) {})
	if err != nil {
		t.Fatal(err)
	}
	if err := sp.Append(insightRecord(t, "e", 1)); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(dir)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("spool dir mode %v %v", st.Mode().Perm(), err)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		info, _ := e.Info()
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", e.Name(), info.Mode().Perm())
		}
	}
}
