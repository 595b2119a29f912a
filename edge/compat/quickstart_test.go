//go:build integration

package compat

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestQuickstartMakeRun is the README's quick start, end to end: the
// all-in-one binary behind `make run` starts on an empty data directory,
// FeatBit's official Node server SDK pointed at its edge receives the demo
// flags, a toggle made through the control API reaches the SDK, and after a
// restart on the same data directory the SDK is served the same data again
// and sees the next change.
func TestQuickstartMakeRun(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "switchyard")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/switchyard")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	data := t.TempDir()
	ctlAddr, edgeAddr := freeAddr(t), freeAddr(t)
	const password = "quickstart-password"
	run := startAllInOne(t, bin, data, ctlAddr, edgeAddr, password)
	secret := run.secret(t, "dev", "server")

	dir, argv := nodeServerSDK.start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	p := startSDK(t, ctx, "node-server-sdk", dir, []string{
		"COMPAT_SECRET=" + secret, "COMPAT_STREAMING_URL=ws://" + edgeAddr, "COMPAT_EVENTS_URL=http://" + edgeAddr, "COMPAT_PING_MS=500",
	}, argv...)
	p.waitEvent("ready", readyTimeout)
	u := user{Key: "quickstart-user", Name: "Q"}
	evalBool := func(flag string) string {
		return string(p.call(map[string]any{"cmd": "eval", "flag": flag, "type": "bool", "user": u, "default": nil}).Value)
	}
	if got := evalBool("welcome-banner"); got != "true" {
		t.Fatalf("demo flag welcome-banner = %s, want true", got)
	}
	if got := p.call(map[string]any{"cmd": "eval", "flag": "checkout-flow", "type": "string", "user": u, "default": "none"}).Value; string(got) == `"none"` {
		t.Fatalf("demo flag checkout-flow not served (got the default)")
	}

	api := &apiClient{t: t, base: "http://" + ctlAddr}
	api.login("admin@switchyard.local", password)
	env := api.envID("dev")
	toggle := func(want bool) {
		p.call(map[string]any{"cmd": "watch", "flag": "welcome-banner", "type": "bool", "user": u, "want": want, "default": !want})
		start := time.Now()
		api.toggle(env, "welcome-banner", want)
		seen := p.waitEvent("seen", 15*time.Second)
		t.Logf("toggle to %v seen by the SDK %s after the API call", want, time.Since(start).Round(time.Millisecond))
		if string(seen.Value) != fmt.Sprint(want) {
			t.Fatalf("seen %s, want %v", seen.Value, want)
		}
	}
	toggle(false)

	// Restart on the same data directory: the edge closes with 1012, the SDK
	// reconnects, and the restarted platform serves the stored change.
	run.stop(t)
	run = startAllInOne(t, bin, data, ctlAddr, edgeAddr, "")
	if s := run.secret(t, "dev", "server"); s != secret {
		t.Fatalf("after restart the dev server secret is %q, want %q", s, secret)
	}
	if strings.Contains(run.text(), password) {
		t.Fatal("the admin password is printed again after a restart")
	}
	api.login("admin@switchyard.local", password)
	toggle(true)
	if got := evalBool("welcome-banner"); got != "true" {
		t.Fatalf("after restart and toggle: welcome-banner = %s", got)
	}
	p.call(map[string]any{"cmd": "close"})
	run.stop(t)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type allInOne struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

// startAllInOne runs the binary and waits until it printed its banner.
func startAllInOne(t *testing.T, bin, data, ctlAddr, edgeAddr, password string) *allInOne {
	t.Helper()
	// -print-secrets: the restart prints the SDK secrets as well (the first
	// start prints them anyway), so the test can compare them
	cmd := exec.Command(bin, "-data", data, "-addr", ctlAddr, "-edge-addr", edgeAddr, "-print-secrets")
	cmd.Env = append(os.Environ(), "SY_CONTROL_ADMIN_PASSWORD="+password)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	a := &allInOne{cmd: cmd, done: make(chan struct{})}
	ready := make(chan struct{})
	go func() {
		defer close(a.done)
		sc := bufio.NewScanner(stdout)
		once := false
		for sc.Scan() {
			a.mu.Lock()
			a.out.WriteString(sc.Text() + "\n")
			a.mu.Unlock()
			if !once && strings.Contains(sc.Text(), "client secret") && strings.Count(a.text(), "client secret") >= 2 {
				once = true
				close(ready)
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	select {
	case <-ready:
	case <-a.done:
		t.Fatalf("switchyard exited before it was ready:\n%s\n%s", a.text(), stderr.String())
	case <-time.After(90 * time.Second):
		t.Fatalf("switchyard printed no banner within 90 s:\n%s\n%s", a.text(), stderr.String())
	}
	return a
}

func (a *allInOne) text() string { a.mu.Lock(); defer a.mu.Unlock(); return a.out.String() }

// secret reads "Environment <env> <typ> secret <value>" from the banner.
func (a *allInOne) secret(t *testing.T, env, typ string) string {
	t.Helper()
	lines := strings.Split(a.text(), "\n")
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) >= 5 && f[0] == "Environment" && f[1] == env {
			if typ == "server" {
				return f[4]
			}
			if g := strings.Fields(lines[i+1]); len(g) == 3 {
				return g[2]
			}
		}
	}
	t.Fatalf("no %s secret of %s in the banner:\n%s", typ, env, a.text())
	return ""
}

func (a *allInOne) stop(t *testing.T) {
	t.Helper()
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(30 * time.Second):
		t.Fatal("switchyard did not stop within 30 s of SIGTERM")
	}
	_ = a.cmd.Wait()
}

// apiClient is the few control API calls the quick start needs.
type apiClient struct {
	t     *testing.T
	base  string
	token string
}

func (c *apiClient) do(method, path string, body any, out any) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		c.t.Fatalf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			c.t.Fatalf("%s %s: %v in %s", method, path, err, data)
		}
	}
}

func (c *apiClient) login(email, password string) {
	var r struct{ Token string }
	c.token = ""
	c.do("POST", "/api/v1/auth/login", map[string]string{"email": email, "password": password}, &r)
	c.token = r.Token
}

type idName struct{ ID, Name string }

func (c *apiClient) envID(name string) string {
	var orgs, projects, envs struct{ Items []idName }
	c.do("GET", "/api/v1/orgs", nil, &orgs)
	c.do("GET", "/api/v1/orgs/"+orgs.Items[0].ID+"/projects", nil, &projects)
	c.do("GET", "/api/v1/projects/"+projects.Items[0].ID+"/envs", nil, &envs)
	for _, e := range envs.Items {
		if e.Name == name {
			return e.ID
		}
	}
	c.t.Fatalf("no environment %q", name)
	return ""
}

func (c *apiClient) toggle(env, key string, on bool) {
	var f struct{ Version int64 }
	c.do("GET", "/api/v1/envs/"+env+"/flags/"+key, nil, &f)
	c.do("POST", "/api/v1/envs/"+env+"/flags/"+key+"/toggle", map[string]any{"version": f.Version, "isEnabled": on}, nil)
}
