// Command control runs Switchyard's control plane in production mode
// (MongoDB, Redis, Kafka), or on the embedded store when no MongoDB URI is
// given. Flags and SY_CONTROL_* variables: see `control -h` and
// docs/control.md.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/switchyard/switchyard/control"
	"github.com/switchyard/switchyard/control/internal/config"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "control:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := config.Load(os.Args[1:], os.Getenv, os.Stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	s, err := control.New(cfg, control.WithLogger(log))
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	info, err := s.Bootstrap(ctx)
	if err != nil {
		return err
	}
	if err := s.Start(); err != nil {
		return err
	}
	printInfo(os.Stdout, s.Addr(), info, cfg.PrintSecrets)
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return s.Shutdown(sctx)
}

// printInfo prints the start-up banner: the admin's password only on the
// run that created it, SDK secrets only then or with -print-secrets.
func printInfo(w io.Writer, addr string, info *control.BootstrapInfo, secrets bool) {
	fmt.Fprintf(w, "control API on http://%s/api/v1 (OpenAPI: /api/openapi.json)\n", addr)
	if info.AdminPassword != "" {
		fmt.Fprintf(w, "initial admin: %s  password: %s  (shown once)\n", info.AdminEmail, info.AdminPassword)
	} else {
		fmt.Fprintf(w, "admin: %s\n", info.AdminEmail)
	}
	for _, e := range info.Envs {
		if info.FirstRun || secrets {
			fmt.Fprintf(w, "env %-6s id %s  server secret %s  client secret %s\n", e.Name, e.ID, e.ServerSecret, e.ClientSecret)
		} else {
			fmt.Fprintf(w, "env %-6s id %s  (SDK secrets: in the UI, or start with -print-secrets)\n", e.Name, e.ID)
		}
	}
}
