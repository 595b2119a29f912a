// Command control runs Switchyard's control plane in production mode
// (MongoDB, Redis, Kafka), or on the embedded store when no MongoDB URI is
// given. Flags, SY_CONTROL_* variables and the -config file: see
// `control -h` and docs/control.md.
//
// Exit codes: 0 after -h or a clean shutdown, 1 a failure, 2 bad
// configuration.
//
// `control admin reset-password [flags]` sets a new password for the
// account -admin-email (-admin-password, or a random one), on the store the
// same flags select, prints it and ends the account's sessions.
//
// `control import featbit -env ENV_ID -file EXPORT.json [-dry-run] [store
// flags]` imports one FeatBit environment's flags and segments into a
// Switchyard environment (docs/compat.md, "Importing from FeatBit") on the
// store the flags select, and publishes the changes when Redis or Kafka is
// configured (otherwise the running control plane does).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/switchyard/switchyard/control"
	"github.com/switchyard/switchyard/control/internal/config"
	"github.com/switchyard/switchyard/control/internal/featbit"
	settings "github.com/switchyard/switchyard/internal/config"
)

func main() {
	os.Exit(mainCode(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// mainCode runs the command args name and returns the exit code.
func mainCode(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var err error
	switch {
	case len(args) > 0 && args[0] == "admin":
		err = admin(args[1:], getenv, stdout, stderr)
	case len(args) > 0 && args[0] == "import":
		err = importCmd(args[1:], getenv, stdout, stderr)
	default:
		err = run(args, getenv, stdout, stderr)
	}
	var bad badConfig
	switch {
	case err == nil || errors.Is(err, settings.ErrHelp):
		return 0
	case errors.As(err, &bad):
		fmt.Fprintln(stderr, "control:", err)
		return 2
	}
	fmt.Fprintln(stderr, "control:", err)
	return 1
}

// badConfig marks a configuration error (exit code 2).
type badConfig struct{ error }

func (b badConfig) Unwrap() error { return b.error }

// environ is os.Environ (tests replace it): its misspelt SY_CONTROL_
// variables are warned about.
var environ = os.Environ

// load is config.Load with its errors marked as configuration errors; it
// warns on stderr about SY_CONTROL_ variables that are no setting.
func load(args []string, getenv func(string) string, stdout, stderr io.Writer) (control.Config, error) {
	cfg, err := config.Load(args, getenv, stdout)
	if err != nil {
		return cfg, badConfig{err}
	}
	config.WarnUnknown(environ(), stderr)
	return cfg, nil
}

// admin runs an administration command on the configured store.
func admin(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "reset-password" {
		return badConfig{errors.New("usage: control admin reset-password [-admin-email EMAIL] [-admin-password PASSWORD] [store flags, see control -h]")}
	}
	cfg, err := load(args[1:], getenv, stdout, stderr)
	if err != nil {
		return err
	}
	s, err := control.New(cfg, control.WithLogger(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	if err != nil {
		return err
	}
	defer s.Shutdown(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pw, err := s.ResetPassword(ctx, cfg.AdminEmail, cfg.AdminPassword)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "new password of %s: %s  (every session of the account ended)\n", cfg.AdminEmail, pw)
	return nil
}

// importCmd is `control import featbit`.
func importCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "featbit" {
		return badConfig{errors.New("usage: control import featbit -env ENV_ID -file EXPORT.json [-dry-run] [-max-bytes N] [-max-flags N] [-max-segments N] [store flags, see control -h]")}
	}
	opts, rest, err := featbit.ParseOptions("control import featbit", args[1:], getenv, stderr)
	if err != nil {
		return badConfig{err}
	}
	cfg, err := load(rest, getenv, stdout, stderr)
	if err != nil {
		return err
	}
	f, err := opts.Open()
	if err != nil {
		return err
	}
	defer f.Close()
	s, err := control.New(cfg, control.WithLogger(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	if err != nil {
		return err
	}
	defer s.Shutdown(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	rep, err := s.ImportFeatBit(ctx, opts.EnvID, f, opts.Limits, opts.DryRun)
	if rep != nil {
		rep.Print(stdout)
	}
	if err != nil {
		return err
	}
	if !opts.DryRun && (cfg.RedisAddr != "" || len(cfg.KafkaBrokers) > 0) {
		if left := s.PublishPending(ctx); left != 0 {
			fmt.Fprintln(stderr, "control: the import is stored; its publication to the edges is pending (the running control plane retries it)")
		}
	}
	return nil
}

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := load(args, getenv, stdout, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	s, err := control.New(cfg, control.WithLogger(log))
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Bind first: a port already taken must fail before a first run creates
	// the admin, whose password is printed only once.
	if err := s.Listen(); err != nil {
		s.Shutdown(context.Background())
		return err
	}
	info, err := s.Bootstrap(ctx)
	if err != nil {
		s.Shutdown(context.Background())
		return err
	}
	if err := s.Start(); err != nil {
		printInfo(stdout, s.Addr(), info, cfg.PrintSecrets) // the password, even though the start failed
		s.Shutdown(context.Background())
		return err
	}
	printInfo(stdout, s.Addr(), info, cfg.PrintSecrets)
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
