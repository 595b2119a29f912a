package ui

import (
	"bytes"
	"compress/gzip"
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

func TestGzipAssets(t *testing.T) {
	js := bytes.Repeat([]byte("console.log('switchyard');\n"), 200)
	h := HandlerFS(fstest.MapFS{
		"index.html":        {Data: []byte("<!doctype html>")},
		"assets/app-ABC.js": {Data: js},
		"assets/small.css":  {Data: []byte("body{}")},
	})
	for _, c := range []struct {
		accept string
		gzip   bool
	}{{"gzip, deflate, br", true}, {"br;q=1.0, gzip;q=0.8", true}, {"gzip;q=0", false}, {"", false}, {"identity", false}} {
		for range 2 { // the second answer comes from the cache
			req := httptest.NewRequest("GET", "/assets/app-ABC.js", nil)
			if c.accept != "" {
				req.Header.Set("Accept-Encoding", c.accept)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			r := rec.Result()
			b := body(t, r)
			if !strings.Contains(r.Header.Get("Vary"), "Accept-Encoding") || !strings.Contains(r.Header.Get("Content-Type"), "javascript") {
				t.Fatalf("Accept-Encoding %q: headers %v", c.accept, r.Header)
			}
			if got := r.Header.Get("Content-Encoding") == "gzip"; got != c.gzip {
				t.Fatalf("Accept-Encoding %q: gzip %v, want %v", c.accept, got, c.gzip)
			}
			if c.gzip {
				zr, err := gzip.NewReader(strings.NewReader(b))
				if err != nil {
					t.Fatal(err)
				}
				plain, err := io.ReadAll(zr)
				if err != nil || !bytes.Equal(plain, js) {
					t.Fatalf("gzip body does not decode to the asset (%v)", err)
				}
				if len(b) >= len(js)/4 {
					t.Fatalf("gzip body %d bytes for %d plain", len(b), len(js))
				}
			} else if b != string(js) {
				t.Fatalf("Accept-Encoding %q: body is not the plain asset", c.accept)
			}
		}
	}
	req := httptest.NewRequest("GET", "/assets/small.css", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Result().Header.Get("Content-Encoding") != "" {
		t.Fatal("a tiny asset is sent compressed")
	}
}
