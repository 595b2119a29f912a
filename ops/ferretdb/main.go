// Command ferretdb serves the MongoDB wire protocol for Switchyard's integration
// tests: FerretDB v1 embedded over its SQLite backend, listening on loopback.
//
// It lives in its own Go module so the product module never carries FerretDB's
// dependency tree. ops/services/mongo.sh builds it once per machine into the
// download cache and starts it with -listen and -dir.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27018", "TCP address to serve the MongoDB wire protocol on")
	dir := flag.String("dir", "data", "directory for the SQLite databases (one file per database)")
	flag.Parse()

	if err := run(*listen, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "ferretdb:", err)
		os.Exit(1)
	}
}

func run(listen, dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("data dir %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return fmt.Errorf("data dir %q: %w", abs, err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + abs + "/",
	})
	if err != nil {
		return fmt.Errorf("new: %w", err)
	}
	fmt.Fprintf(os.Stderr, "ferretdb: serving %s on %s (sqlite in %s)\n", f.MongoDBURI(), listen, abs)
	if err := f.Run(ctx); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	return nil
}
