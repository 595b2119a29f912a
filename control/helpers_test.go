package control

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/switchyard/switchyard/control/internal/auth"
	"github.com/switchyard/switchyard/control/internal/publish"
	"github.com/switchyard/switchyard/control/internal/store"
)

func init() { auth.BcryptCost = 4 } // keep unit tests fast; production uses the default cost

// harness is a Server on a temp data dir with in-memory sinks, driven
// through its Handler without a listener. Publishing is explicit
// (publish), so tests are deterministic.
type harness struct {
	t     testing.TB
	s     *Server
	sink  *publish.Memory
	info  *BootstrapInfo
	admin string // admin session token
}

func newHarness(t testing.TB, opts ...Option) *harness {
	t.Helper()
	return newHarnessWith(t, nil, opts...)
}

// newHarnessWith is newHarness with the Config changed by mut first.
func newHarnessWith(t testing.TB, mut func(*Config), opts ...Option) *harness {
	t.Helper()
	sink := publish.NewMemory()
	// No rate limits: fuzzing and benchmarks send far more than a client
	// would (TestSecurityRateLimit* turn them on).
	cfg := Config{DataDir: t.TempDir(), Addr: "127.0.0.1:0", AdminPassword: "admin-password", RateLimit: -1, PublicRateLimit: -1}
	if mut != nil {
		mut(&cfg)
	}
	s, err := New(cfg, append([]Option{WithSnapshotWriter(sink), WithChangeProducer(sink), WithLogger(slog.New(slog.DiscardHandler))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	info, err := s.Bootstrap(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, s: s, sink: sink, info: info}
	h.admin = h.login(info.AdminEmail, "admin-password")
	return h
}

// loopback allows webhooks to reach receivers on this machine (httptest).
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// allowLoopback is a newHarnessWith mutation for tests with local webhook
// receivers: by default deliveries refuse loopback addresses.
func allowLoopback(c *Config) { c.WebhookAllow = loopback }

type resp struct {
	Code   int
	Body   []byte
	Header http.Header
}

func (r *resp) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// errField returns the error code and field of an error response.
func (r *resp) errField(t testing.TB) (string, string) {
	t.Helper()
	var e struct {
		Error struct{ Code, Field, Message string }
	}
	r.decode(t, &e)
	return e.Error.Code, e.Error.Field
}

func (h *harness) do(token, method, path string, body any) *resp {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req := httptest.NewRequest(method, path, rd)
	req.RemoteAddr = "192.0.2.1:1234"
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.s.Handler().ServeHTTP(w, req)
	return &resp{Code: w.Code, Body: w.Body.Bytes(), Header: w.Header()}
}

// must does a request and fails unless the status is want.
func (h *harness) must(want int, token, method, path string, body any) *resp {
	h.t.Helper()
	r := h.do(token, method, path, body)
	if r.Code != want {
		h.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Code, want, r.Body)
	}
	return r
}

func (h *harness) login(email, pw string) string {
	h.t.Helper()
	var lr struct{ Token string }
	h.must(200, "", "POST", "/api/v1/auth/login", map[string]string{"email": email, "password": pw}).decode(h.t, &lr)
	return lr.Token
}

func (h *harness) env(name string) string {
	for _, e := range h.info.Envs {
		if e.Name == name {
			return e.ID
		}
	}
	h.t.Fatalf("no env %s", name)
	return ""
}

func (h *harness) flagsURL(env string) string { return "/api/v1/envs/" + env + "/flags" }

// publish sweeps until every environment is published. A sweep leaves an
// environment dirty while one of its changes is bumped but its item write
// has not landed yet (a writer that lost a race is presumed failed after
// publish.LandWait), so it sweeps again until then.
func (h *harness) publish() {
	h.t.Helper()
	deadline := time.Now().Add(publish.LandWait + 10*time.Second)
	for {
		left := h.s.PublishPending(context.Background())
		if left == 0 {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%d environments left unpublished (%+v)", left, h.s.pub.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func boolFlagBody(key string) map[string]any {
	return map[string]any{"key": key, "name": key, "variationType": "boolean"}
}

func (h *harness) envVersion(env string) (int64, int) {
	e, err := h.s.st.GetEnv(context.Background(), env)
	if err != nil {
		h.t.Fatal(err)
	}
	n, _, err := h.s.st.ListFlags(context.Background(), env, storeAll)
	if err != nil {
		h.t.Fatal(err)
	}
	return e.Version, len(n)
}

var storeAll = store.FlagFilter{Status: "all"}

// invite invites email into org with role, acting as token, and returns the
// invitation's one-time token.
func (h *harness) invite(token, org, email, role string) string {
	h.t.Helper()
	var v struct{ Token string }
	h.must(201, token, "POST", "/api/v1/orgs/"+org+"/invitations", map[string]string{"email": email, "role": role}).decode(h.t, &v)
	return v.Token
}

// addMember brings a new account into org the supported way: the admin
// invites it, the invitee accepts with its own password and logs in. It
// returns the member's session token.
func (h *harness) addMember(org, email, pw, role string) string {
	h.t.Helper()
	tok := h.invite(h.admin, org, email, role)
	h.must(200, "", "POST", "/api/v1/auth/invitations/accept", map[string]string{"token": tok, "password": pw})
	return h.login(email, pw)
}
