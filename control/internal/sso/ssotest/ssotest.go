// Package ssotest starts the local OpenID provider of ops/oidc-provider
// (panva/oidc-provider under Node, development sign-in pages) for tests and
// drives its sign-in form like a browser. It needs node and npm on PATH; it
// installs the provider's packages (npm ci) on first use.
package ssotest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// Client is an OAuth client the provider knows.
type Client struct {
	ID           string   `json:"client_id"`
	Secret       string   `json:"client_secret,omitempty"`
	RedirectURIs []string `json:"redirect_uris"`
}

// Account is the claims of one login name.
type Account map[string]any

// Config configures a provider.
type Config struct {
	Clients  []Client           `json:"clients"`
	Accounts map[string]Account `json:"accounts"`
}

// Dir is ops/oidc-provider of this repository.
func Dir() string {
	_, f, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(f), "..", "..", "..", "..", "ops", "oidc-provider")
}

var installOnce sync.Once

func install(t testing.TB) {
	installOnce.Do(func() {
		if _, err := os.Stat(filepath.Join(Dir(), "node_modules", "oidc-provider")); err == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--prefer-offline")
		cmd.Dir = Dir()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci in %s: %v\n%s", Dir(), err, out)
		}
	})
}

// Start runs a provider until the test ends and returns its issuer URL.
func Start(t testing.TB, cfg Config) string {
	t.Helper()
	install(t)
	f := filepath.Join(t.TempDir(), "provider.json")
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", "provider.mjs", f)
	cmd.Dir = Dir()
	cmd.Stderr = io.Discard
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("node provider.mjs: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "READY "); ok {
				ready <- u
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case u := <-ready:
		return u
	case <-time.After(60 * time.Second):
		t.Fatal("the OpenID provider did not start within 60 s")
	}
	return ""
}

var formRE = regexp.MustCompile(`<form[^>]*action="([^"]+)"`)

// SignIn follows a sign-in URL with the browser-like client bc (a cookie
// jar), submits the provider's login form as login, and returns the last
// response of the redirect chain (bc decides where it stops).
func SignIn(t testing.TB, bc *http.Client, authURL, login string) *http.Response {
	t.Helper()
	resp, err := bc.Get(authURL)
	if err != nil {
		t.Fatalf("GET %s: %v", authURL, err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := formRE.FindSubmatch(page)
	if m == nil {
		t.Fatalf("no login form at %s (status %d): %.500s", resp.Request.URL, resp.StatusCode, page)
	}
	action, err := resp.Request.URL.Parse(html.UnescapeString(string(m[1])))
	if err != nil {
		t.Fatal(err)
	}
	resp, err = bc.PostForm(action.String(), url.Values{"prompt": {"login"}, "login": {login}, "password": {"any"}})
	if err != nil {
		t.Fatalf("POST %s: %v", action, err)
	}
	return resp
}

// Location is a response's redirect target, or a description of why it is
// not a redirect.
func Location(resp *http.Response) string {
	if l := resp.Header.Get("Location"); l != "" {
		return l
	}
	b, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("(status %d, no redirect: %.300s)", resp.StatusCode, b)
}
