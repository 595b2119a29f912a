// Command devserver serves the operator UI in front of a running control
// plane, for development and the browser tests until control mounts
// ui.Handler itself: /api/... is proxied to -api, everything else is
// ui.Handler (the embedded dist) or, with -dir, the files of a directory
// with the same SPA fallback.
//
//	go run ./control/ui/internal/devserver -api http://127.0.0.1:8080 -addr 127.0.0.1:8081
package main

import (
	"flag"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"

	"github.com/switchyard/switchyard/control/ui"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "listen address")
	apiURL := flag.String("api", "http://127.0.0.1:8080", "control plane base URL (API under /api/)")
	dir := flag.String("dir", "", "serve this directory (e.g. control/ui/dist after a rebuild) instead of the embedded files")
	flag.Parse()
	target, err := url.Parse(*apiURL)
	if err != nil {
		log.Fatalf("devserver: -api: %v", err)
	}
	h := ui.Handler()
	if *dir != "" {
		h = ui.HandlerFS(os.DirFS(*dir))
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", httputil.NewSingleHostReverseProxy(target))
	mux.Handle("/", h)
	log.Printf("devserver: UI on http://%s/, API proxied to %s", *addr, target)
	log.Fatal(http.ListenAndServe(*addr, mux))
}
