package ui

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

// FuzzHandler sends arbitrary paths and Accept-Encoding headers (untrusted
// request bytes): the handler never panics, answers 200, 304, 404 or 405, and
// a 200 is either a file of the tree or index.html, never anything else.
func FuzzHandler(f *testing.F) {
	root := fstest.MapFS{
		"index.html":         {Data: []byte("INDEX")},
		"assets/app-ABC.js":  {Data: []byte(strings.Repeat("JS;", 600))},
		"assets/app-ABC.css": {Data: []byte("CSS")},
	}
	h := HandlerFS(root)
	for _, s := range []string{"/", "/assets/app-ABC.js", "/assets/../index.html", "/envs/a/flags/x.y", "/api/v1/x", "//assets//app-ABC.css", "/%2e%2e/etc", "/assets/"} {
		f.Add(s, "gzip")
	}
	f.Fuzz(func(t *testing.T, p, enc string) {
		req := httptest.NewRequest("GET", "/", nil)
		req.URL.Path = "/" + p
		req.Header.Set("Accept-Encoding", enc)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK:
			b := rec.Body.String()
			if rec.Header().Get("Content-Encoding") == "gzip" {
				return // compressed asset
			}
			if b != "INDEX" && b != "CSS" && b != strings.Repeat("JS;", 600) {
				t.Fatalf("GET %q served %q", p, b)
			}
		case http.StatusNotFound, http.StatusNotModified:
		default:
			t.Fatalf("GET %q = %d", p, rec.Code)
		}
	})
}
