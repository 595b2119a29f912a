package control

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/control/internal/auth"
	"github.com/switchyard/switchyard/control/internal/store"
)

// lockedBuffer collects log output from concurrent goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestSecurityNoSecretLeaves runs a whole workflow that issues every kind of
// secret (admin password, SDK secrets, rotated secrets, webhook secrets,
// trigger tokens and their reset, access tokens, member passwords, session
// tokens) and captures everything that leaves control other than the one
// response that issues a secret: every webhook payload a receiver got, every
// delivery log, every audit entry and every log line. None may contain a
// secret, nor the stored hash of one.
func TestSecurityNoSecretLeaves(t *testing.T) {
	logs := &lockedBuffer{}
	h := newHarnessWith(t, allowLoopback, WithLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	rc := newReceiver(t)
	secrets := map[string]string{"admin password": "admin-password", "admin session": h.admin}
	for _, e := range h.info.Envs {
		secrets["bootstrap "+e.Name+" server secret"] = e.ServerSecret
		secrets["bootstrap "+e.Name+" client secret"] = e.ClientSecret
	}
	keep := func(name, v string) {
		t.Helper()
		if len(v) < 8 {
			t.Fatalf("%s: no secret issued (%q)", name, v)
		}
		secrets[name] = v
	}
	type created struct {
		ID, Secret, Token, URL string
		Version                int64
		Secrets                []struct{ Type, Value string }
	}

	// Webhooks in the bootstrap organization: an explicit and a random secret.
	org := h.info.OrgID
	var w1, w2 created
	h.must(201, h.admin, "POST", "/api/v1/orgs/"+org+"/webhooks", map[string]any{"name": "explicit", "url": rc.srv.URL, "events": []string{"*"},
		"secret": "whsec-explicit-secret-0123456789"}).decode(t, &w1)
	keep("webhook 1 secret", w1.Secret)
	h.must(201, h.admin, "POST", "/api/v1/orgs/"+org+"/webhooks", map[string]any{"name": "random", "url": rc.srv.URL, "events": []string{"*"}}).decode(t, &w2)
	keep("webhook 2 secret", w2.Secret)
	var w1v created
	h.must(200, h.admin, "GET", "/api/v1/orgs/"+org+"/webhooks/"+w1.ID, nil).decode(t, &w1v)
	h.must(200, h.admin, "PUT", "/api/v1/orgs/"+org+"/webhooks/"+w1.ID, map[string]any{"name": "explicit", "url": rc.srv.URL, "events": []string{"*"},
		"secret": "whsec-changed-secret-9876543210", "version": w1v.Version})
	keep("webhook 1 new secret", "whsec-changed-secret-9876543210")

	// A new organization, project and environment; rotate both secrets.
	var o, p, e created
	h.must(201, h.admin, "POST", "/api/v1/orgs", map[string]any{"name": "Acme", "key": "acme"}).decode(t, &o)
	h.must(201, h.admin, "POST", "/api/v1/orgs/"+o.ID+"/webhooks", map[string]any{"name": "acme", "url": rc.srv.URL, "events": []string{"*"}}).decode(t, &w2)
	keep("acme webhook secret", w2.Secret)
	h.must(201, h.admin, "POST", "/api/v1/orgs/"+o.ID+"/projects", map[string]any{"name": "Web", "key": "web"}).decode(t, &p)
	h.must(201, h.admin, "POST", "/api/v1/projects/"+p.ID+"/envs", map[string]any{"name": "Staging", "key": "staging"}).decode(t, &e)
	for _, s := range e.Secrets {
		keep("new env "+s.Type+" secret", s.Value)
	}
	for _, typ := range []string{"server", "client", "server"} {
		var r created
		h.must(200, h.admin, "POST", "/api/v1/envs/"+e.ID+"/secrets/"+typ+"/rotate", nil).decode(t, &r)
		for _, s := range r.Secrets {
			keep(fmt.Sprintf("rotated %s secret %s", s.Type, s.Value[:4]), s.Value)
		}
	}

	// A flag, toggled; a trigger, run, reset, run again.
	var f created
	h.must(201, h.admin, "POST", h.flagsURL(e.ID), boolFlagBody("leaky")).decode(t, &f)
	h.must(200, h.admin, "POST", h.flagsURL(e.ID)+"/leaky/toggle", map[string]any{"version": f.Version, "comment": "go"})
	var tr created
	h.must(201, h.admin, "POST", h.flagsURL(e.ID)+"/leaky/triggers", map[string]any{"action": "off"}).decode(t, &tr)
	keep("trigger token", tr.Token)
	h.must(200, "", "POST", tr.URL, nil)
	var tr2 created
	h.must(200, h.admin, "POST", "/api/v1/envs/"+e.ID+"/triggers/"+tr.ID+"/reset", nil).decode(t, &tr2)
	keep("reset trigger token", tr2.Token)
	if r := h.do("", "POST", tr.URL, nil); r.Code == 200 {
		t.Fatalf("the old trigger URL still works")
	}
	h.must(200, "", "POST", tr2.URL, nil)

	// An access token, used; a member with a password who logs in; the
	// admin changes the password.
	var at created
	h.must(201, h.admin, "POST", "/api/v1/orgs/"+o.ID+"/tokens", map[string]any{"name": "ci", "role": "editor"}).decode(t, &at)
	keep("access token", at.Token)
	h.must(200, at.Token, "GET", "/api/v1/envs/"+e.ID+"/flags", nil)
	inv := h.invite(h.admin, o.ID, "bob@example.com", "viewer")
	keep("invitation token", inv)
	h.must(200, "", "POST", "/api/v1/auth/invitations/accept", map[string]string{"token": inv, "password": "bob-password-123", "name": "Bob"})
	keep("member password", "bob-password-123")
	keep("member session", h.login("bob@example.com", "bob-password-123"))
	if r := h.do("", "POST", "/api/v1/auth/login", map[string]string{"email": "bob@example.com", "password": "wrong-password-x"}); r.Code != 401 {
		t.Fatalf("wrong password: %d", r.Code)
	}
	h.do(h.admin, "PUT", "/api/v1/auth/password", map[string]string{"oldPassword": "admin-password", "newPassword": "admin-password-2"})
	keep("changed admin password", "admin-password-2")
	h.must(200, h.admin, "POST", "/api/v1/orgs/"+org+"/webhooks/"+w1.ID+"/test", nil)

	// The stored forms of the secrets must not leave either.
	ctx := context.Background()
	for name, v := range secrets {
		if strings.HasPrefix(v, auth.KindSession) || strings.HasPrefix(v, auth.KindAccess) || strings.HasPrefix(v, "syr_") || strings.HasPrefix(v, "syi_") {
			secrets[name+" (hash)"] = auth.Hash(v)
		}
	}
	for _, email := range []string{h.info.AdminEmail, "bob@example.com"} {
		u, err := h.s.st.GetUserByEmail(ctx, email)
		if err != nil {
			t.Fatal(err)
		}
		keep(email+" password hash", u.PasswordHash)
	}

	// Deliver everything queued.
	d := h.s.wf.Webhooks()
	for deadline := time.Now().Add(20 * time.Second); d.Sweep(ctx) > 0; {
		if time.Now().After(deadline) {
			t.Fatal("webhook queue never drained")
		}
	}

	// Everything that left control.
	out := map[string]string{"logs": logs.String()}
	kinds := map[string]bool{}
	for i, g := range rc.received() {
		out[fmt.Sprintf("webhook payload %d (%s)", i, g.Event)] = string(g.Body)
		kinds[g.Event] = true
	}
	for _, k := range []string{"webhook.created", "webhook.updated", "trigger.created", "trigger.token_reset", "token.created",
		"environment.created", "environment.secret_rotated", "member.added", "flag.toggled", "webhook.test"} {
		if !kinds[k] {
			t.Errorf("no %s payload was delivered (got %v): the scan would prove nothing", k, kinds)
		}
	}
	for _, o := range []string{org, o.ID} {
		out["audit "+o] = string(h.must(200, h.admin, "GET", "/api/v1/orgs/"+o+"/audit?limit=1000", nil).Body)
		var ws struct{ Items []struct{ ID string } }
		h.must(200, h.admin, "GET", "/api/v1/orgs/"+o+"/webhooks", nil).decode(t, &ws)
		for _, w := range ws.Items {
			out["deliveries "+w.ID] = string(h.must(200, h.admin, "GET", "/api/v1/orgs/"+o+"/webhooks/"+w.ID+"/deliveries?limit=1000", nil).Body)
		}
	}
	var al struct{ Total int }
	if err := json.Unmarshal([]byte(out["audit "+o.ID]), &al); err != nil || al.Total < 10 {
		t.Fatalf("audit of the new organization: %d entries (%v)", al.Total, err)
	}
	for where, text := range out {
		for name, v := range secrets {
			if strings.Contains(text, v) {
				t.Errorf("%s leaks the %s", where, name)
			}
		}
	}
}

// TestSecurityDataFilesPrivate: the embedded store is readable by its owner
// only (directory 0700, control.db 0600), also when an older version left it
// world-readable.
func TestSecurityDataFilesPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "control")
	h := newHarnessWith(t, func(c *Config) { c.DataDir = dir })
	check := func(when string) {
		t.Helper()
		for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, "control.db"): 0o600} {
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got&^want != 0 {
				t.Errorf("%s: %s is %o, want at most %o", when, path, got, want)
			}
		}
	}
	check("created")
	if err := h.s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "control.db"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{DataDir: dir, Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	check("reopened")
}

// TestSecurityStoredSecretsRedactedOnRead: deliveries and audit entries
// written by an earlier version carried a webhook secret, a trigger token
// and its URL; reading them through the API shows none of it.
func TestSecurityStoredSecretsRedactedOnRead(t *testing.T) {
	h := newHarnessWith(t, allowLoopback)
	rc := newReceiver(t)
	var w struct{ ID string }
	h.must(201, h.admin, "POST", "/api/v1/orgs/"+h.info.OrgID+"/webhooks", map[string]any{"name": "x", "url": rc.srv.URL, "events": []string{"flag.created"}}).decode(t, &w)
	const whsec, tok = "whsec_oldoldoldoldoldoldoldold0123", "syr_oldtokenoldtokenoldtoken0123456789"
	ctx := context.Background()
	old := fmt.Sprintf(`{"kind":"trigger.created","data":{"id":"t1","token":%q,"url":"/api/v1/triggers/run/%s","secret":%q}}`, tok, tok, whsec)
	if err := h.s.st.AddDelivery(ctx, &store.Delivery{ID: "old", WebhookID: w.ID, OrgID: h.info.OrgID, Event: "trigger.created", Body: old, Status: store.DeliveryDelivered}); err != nil {
		t.Fatal(err)
	}
	if err := h.s.st.AddAudit(ctx, &store.AuditEntry{ID: "old", OrgID: h.info.OrgID, At: 1, Action: "created", ResourceType: "trigger",
		Comment: "token " + tok, Changes: []string{"url set to '/api/v1/triggers/run/" + tok + "'"}}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/api/v1/orgs/" + h.info.OrgID + "/webhooks/" + w.ID + "/deliveries", "/api/v1/orgs/" + h.info.OrgID + "/audit"} {
		body := string(h.must(200, h.admin, "GET", path, nil).Body)
		if strings.Contains(body, whsec) || strings.Contains(body, tok) || strings.Contains(body, "oldtoken") {
			t.Errorf("%s leaks: %s", path, body)
		}
	}
}
