package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestProbe(t *testing.T) {
	ready := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/redirect":
			http.Redirect(w, r, "/ok", http.StatusFound)
		case r.URL.Path == "/slow":
			<-r.Context().Done() // until the client gives up
		case !ready:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	if err := probe(srv.URL+"/ok", time.Second); err != nil {
		t.Errorf("healthy: %v", err)
	}
	ready = false
	if err := probe(srv.URL+"/ok", time.Second); err == nil {
		t.Error("503 accepted")
	}
	if err := probe(srv.URL+"/redirect", time.Second); err == nil {
		t.Error("redirect followed or accepted")
	}
	if err := probe(srv.URL+"/slow", 100*time.Millisecond); err == nil {
		t.Error("no timeout")
	}
	for _, bad := range []string{"", "file:///etc/passwd", "https://x", "http://"} {
		if err := probe(bad, time.Second); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
