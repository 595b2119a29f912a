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
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27018", "TCP address to serve the MongoDB wire protocol on")
	dir := flag.String("dir", "data", "directory for the SQLite databases (one file per database)")
	every := flag.Duration("id-index-interval", envDuration("SY_FERRETDB_ID_INDEX_INTERVAL", time.Second),
		"how often new collections get the _id index FerretDB's queries use (0: never; env SY_FERRETDB_ID_INDEX_INTERVAL)")
	flag.Parse()

	if err := run(*listen, *dir, *every); err != nil {
		fmt.Fprintln(os.Stderr, "ferretdb:", err)
		os.Exit(1)
	}
}

func envDuration(name string, def time.Duration) time.Duration {
	if v := os.Getenv(name); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
		fmt.Fprintf(os.Stderr, "ferretdb: %s=%q is not a duration; using %s\n", name, v, def)
	}
	return def
}

func run(listen, dir string, every time.Duration) error {
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
	if every > 0 {
		go indexIDs(ctx, abs, every, logger)
	}
	if err := f.Run(ctx); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	return nil
}
