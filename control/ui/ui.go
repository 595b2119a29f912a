// Package ui serves Switchyard's operator web UI: a single-page application
// (Preact, TypeScript, bundled by esbuild from control/ui/src) whose built
// files under control/ui/dist are embedded in the binary, so a plain
// `go build` serves them and nothing is fetched from another host at run
// time.
//
// Handler serves the files: content-hashed files under /assets/ with a
// one-year immutable cache, every other path that is not a file with
// index.html (the application routes itself; "no-cache" so a new release is
// picked up), and paths under /api/ with a JSON 404 (the API is mounted in
// front of this handler; a missing route must not answer with HTML).
//
// Rebuild dist with control/ui/build.sh; `build.sh --check` (and the
// integration test TestDistUpToDate) fails when dist does not match the
// sources.
package ui

import (
	"bytes"
	"compress/gzip"
	"embed"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

//go:embed all:dist
var embedded embed.FS

// files is dist/ as the root of the served tree.
var files = func() fs.FS {
	sub, err := fs.Sub(embedded, "dist")
	if err != nil {
		panic("BUG: ui: no dist directory embedded: " + err.Error())
	}
	return sub
}()

// csp allows only this origin: scripts, styles, API calls; images may be
// data: URLs (the favicon). Inline SVG is DOM, not an image fetch.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// Handler returns the handler of the embedded UI (see the package doc). It
// is safe for concurrent use.
func Handler() http.Handler { return HandlerFS(files) }

// HandlerFS serves root (a built dist directory) the way Handler serves the
// embedded files; the dev server uses it to serve a fresh build from disk.
func HandlerFS(root fs.FS) http.Handler {
	if _, err := fs.Stat(root, "index.html"); err != nil {
		panic("BUG: ui: dist/index.html is missing; run control/ui/build.sh")
	}
	// modTime zero: ServeContent sends no Last-Modified (hashed names and
	// no-cache revalidation do the work).
	var zero time.Time
	gz := &gzipCache{m: map[string][]byte{}}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		p := path.Clean("/" + r.URL.Path)
		if p == "/api" || strings.HasPrefix(p, "/api/") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":{"code":"not_found","message":"no such API route"}}` + "\n"))
			return
		}
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		name := strings.TrimPrefix(p, "/")
		if name != "" && name != "index.html" {
			if b, err := fs.ReadFile(root, name); err == nil {
				if strings.HasPrefix(name, "assets/") {
					h.Set("Cache-Control", "public, max-age=31536000, immutable")
					if ct := mime.TypeByExtension(path.Ext(name)); compressible(ct) && len(b) >= 1024 {
						h.Add("Vary", "Accept-Encoding")
						if acceptsGzip(r) {
							h.Set("Content-Type", ct)
							h.Set("Content-Encoding", "gzip")
							b = gz.get(name, b)
						}
					}
				} else {
					h.Set("Cache-Control", "no-cache")
				}
				http.ServeContent(w, r, name, zero, bytes.NewReader(b))
				return
			}
			if strings.HasPrefix(name, "assets/") {
				// a missing asset is a 404, not the application (flag keys
				// may contain dots, so other paths fall back to index.html)
				http.NotFound(w, r)
				return
			}
		}
		index, err := fs.ReadFile(root, "index.html") // per request: -dir may be rebuilt
		if err != nil {
			http.Error(w, "ui: index.html is missing", http.StatusInternalServerError)
			return
		}
		h.Set("Cache-Control", "no-cache")
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Type", "text/html; charset=utf-8")
		http.ServeContent(w, r, "index.html", zero, bytes.NewReader(index))
	})
}

// gzipCache holds the gzip form of each asset, compressed once on first
// request. Asset names carry a content hash, so an entry never goes stale;
// the map grows only with the number of distinct asset names served
// (a handful per release).
type gzipCache struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (c *gzipCache) get(name string, raw []byte) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, ok := c.m[name]; ok {
		return b
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(raw)
	_ = zw.Close()
	c.m[name] = buf.Bytes()
	return c.m[name]
}

func compressible(contentType string) bool {
	for _, p := range []string{"text/", "application/javascript", "application/json", "image/svg+xml"} {
		if strings.HasPrefix(contentType, p) {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether the request accepts gzip (and not with q=0).
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			q := strings.ReplaceAll(params, " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}
