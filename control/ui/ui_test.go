package ui

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

func get(t *testing.T, h http.Handler, method, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Result()
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestEmbeddedIndexReferencesAssets checks that the committed dist is
// complete: index.html names a script and a stylesheet that are embedded and
// served with a long cache lifetime, and no outside host.
func TestEmbeddedIndexReferencesAssets(t *testing.T) {
	h := Handler()
	r := get(t, h, "GET", "/")
	if r.StatusCode != 200 {
		t.Fatalf("GET / = %d", r.StatusCode)
	}
	idx := body(t, r)
	if !strings.Contains(r.Header.Get("Content-Type"), "text/html") || r.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("GET / headers: %v", r.Header)
	}
	if !strings.Contains(r.Header.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Fatalf("no CSP on index.html: %v", r.Header)
	}
	if regexp.MustCompile(`(?i)(src|href)="(https?:)?//`).MatchString(idx) {
		t.Fatalf("index.html references another host:\n%s", idx)
	}
	refs := regexp.MustCompile(`(?:src|href)="(/assets/[^"]+)"`).FindAllStringSubmatch(idx, -1)
	kinds := map[string]bool{}
	for _, m := range refs {
		r := get(t, h, "GET", m[1])
		if r.StatusCode != 200 {
			t.Fatalf("GET %s = %d", m[1], r.StatusCode)
		}
		if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") || !strings.Contains(cc, "max-age=31536000") {
			t.Fatalf("GET %s Cache-Control = %q", m[1], cc)
		}
		b := body(t, r)
		if len(b) < 100 {
			t.Fatalf("GET %s: %d bytes", m[1], len(b))
		}
		if strings.Contains(b, "http://") && strings.Contains(b, "cdn") {
			t.Fatalf("%s seems to load from a CDN", m[1])
		}
		kinds[m[1][strings.LastIndex(m[1], ".")+1:]] = true
	}
	if !kinds["js"] || !kinds["css"] {
		t.Fatalf("index.html must reference a .js and a .css asset, found %v in:\n%s", kinds, idx)
	}
}

func TestRoutesAndFallback(t *testing.T) {
	root := fstest.MapFS{
		"index.html":         {Data: []byte("<!doctype html><p>app</p>")},
		"assets/app-ABC.js":  {Data: []byte("console.log(1)")},
		"robots.txt":         {Data: []byte("User-agent: *\n")},
		"assets/app-ABC.css": {Data: []byte("body{}")},
	}
	h := HandlerFS(root)
	cases := []struct {
		method, path string
		status       int
		want         string // body substring
		cache        string // Cache-Control substring
		ctype        string
	}{
		{"GET", "/", 200, "<p>app</p>", "no-cache", "text/html"},
		{"GET", "/index.html", 200, "<p>app</p>", "no-cache", "text/html"},
		{"GET", "/envs/e1/flags", 200, "<p>app</p>", "no-cache", "text/html"},
		{"GET", "/envs/e1/flags/checkout.v2", 200, "<p>app</p>", "no-cache", "text/html"}, // keys may contain dots
		{"GET", "/assets/app-ABC.js", 200, "console.log(1)", "immutable", "javascript"},
		{"GET", "/assets/app-ABC.css", 200, "body{}", "immutable", "text/css"},
		{"GET", "/robots.txt", 200, "User-agent", "no-cache", "text/plain"},
		{"GET", "/assets/app-OLD.js", 404, "", "", ""},
		{"GET", "/api/v1/nope", 404, `"code":"not_found"`, "", "application/json"},
		{"GET", "/../../etc/passwd", 200, "<p>app</p>", "no-cache", "text/html"},
		{"HEAD", "/", 200, "", "no-cache", "text/html"},
		{"POST", "/", 405, "", "", ""},
	}
	for _, c := range cases {
		r := get(t, h, c.method, c.path)
		b := body(t, r)
		if r.StatusCode != c.status {
			t.Errorf("%s %s = %d, want %d", c.method, c.path, r.StatusCode, c.status)
			continue
		}
		if !strings.Contains(b, c.want) {
			t.Errorf("%s %s body %q, want %q", c.method, c.path, b, c.want)
		}
		if c.cache != "" && !strings.Contains(r.Header.Get("Cache-Control"), c.cache) {
			t.Errorf("%s %s Cache-Control %q, want %q", c.method, c.path, r.Header.Get("Cache-Control"), c.cache)
		}
		if c.ctype != "" && !strings.Contains(r.Header.Get("Content-Type"), c.ctype) {
			t.Errorf("%s %s Content-Type %q, want %q", c.method, c.path, r.Header.Get("Content-Type"), c.ctype)
		}
	}
}
