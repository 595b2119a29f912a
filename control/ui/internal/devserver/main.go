// Command devserver serves the operator UI in front of a running control
// plane, for UI development: /api/... is proxied to -api, everything else is
// ui.Handler (the embedded dist) or, with -dir, the files of a directory
// (control/ui/dist after a rebuild) with the same SPA fallback, so a rebuilt
// UI is seen without restarting control (which mounts the embedded UI at /
// itself). Settings: flags or SY_DEVSERVER_* variables (`devserver -h`).
//
//	go run ./control/ui/internal/devserver -api http://127.0.0.1:8080 -addr 127.0.0.1:8081
package main

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"

	"github.com/switchyard/switchyard/control/ui"
	"github.com/switchyard/switchyard/internal/config"
)

func main() {
	var addr, apiURL, dir string
	s := config.New("devserver", "SY_DEVSERVER_")
	s.String(&addr, "addr", "127.0.0.1:8081", "listen address")
	s.String(&apiURL, "api", "http://127.0.0.1:8080", "control plane base URL (API under /api/)")
	s.String(&dir, "dir", "", "serve this directory (e.g. control/ui/dist after a rebuild) instead of the embedded files")
	if err := s.Parse(os.Args[1:], os.Getenv, os.Stdout); err != nil {
		if config.ExitCode(err) != 0 {
			fmt.Fprintln(os.Stderr, "devserver:", err)
		}
		os.Exit(config.ExitCode(err))
	}
	target, err := url.Parse(apiURL)
	if err != nil {
		log.Fatalf("devserver: -api: %v", err)
	}
	h := ui.Handler()
	if dir != "" {
		h = ui.HandlerFS(os.DirFS(dir))
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", httputil.NewSingleHostReverseProxy(target))
	mux.Handle("/", h)
	log.Printf("devserver: UI on http://%s/, API proxied to %s", addr, target)
	log.Fatal(http.ListenAndServe(addr, mux))
}
