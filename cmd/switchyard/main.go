// Command switchyard runs the whole platform in one process on the embedded
// default (`make run`): the control plane (API and UI), the edge (FeatBit
// streaming, polling, track and OFREP) and analytics, with no external
// service. Flags and segments live in an embedded store, changes travel on an
// in-process bus straight into the edge's memory, and events go to an
// embedded event store; everything persists under -data-dir. Settings:
// flags, SY_* variables or a -config file (`switchyard -h` lists them).
//
// `switchyard admin reset-password [-data-dir DIR] [-admin-email EMAIL]
// [-admin-password PASSWORD]` sets a new password for an account of a
// stopped instance's data directory (random when none is given), prints it
// and ends the account's sessions.
//
// `switchyard import featbit [-data-dir DIR] -env ENV_ID -file EXPORT.json
// [-dry-run]` imports one FeatBit environment's flags and segments into an
// environment of a stopped instance's data directory (docs/compat.md,
// "Importing from FeatBit"); the edge serves them from the next start.
//
// For production, run the separate binaries (edge/cmd/edge,
// control/cmd/control, analytics/cmd/analytics) against Kafka, Redis, MongoDB
// and ClickHouse. This is the one package that composes all three
// components (deps_test.go holds every other package to fewer).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/switchyard/switchyard/analytics"
	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control"
	"github.com/switchyard/switchyard/edge"
	settings "github.com/switchyard/switchyard/internal/config"
)

// config is the all-in-one binary's configuration (parseConfig).
type config struct {
	dataDir       string
	controlAddr   string
	edgeAddr      string
	adminEmail    string
	adminPassword string
	retention     time.Duration
	webhookAllow  []netip.Prefix
	ssoAllow      []netip.Prefix
	publicURL     string
	printSecrets  bool
}

// parseConfig reads the all-in-one's settings; -h prints them to out. The
// variables are those of the component a setting belongs to.
func parseConfig(args []string, getenv func(string) string, out io.Writer) (config, error) {
	var c config
	var allow, ssoAllow string
	s := settings.New("switchyard", "SY_")
	s.String(&c.dataDir, "data-dir", "./data", "data directory: embedded store and events").Alias("data")
	s.String(&c.controlAddr, "addr", "127.0.0.1:8080", "control plane API and UI listen address").EnvVar("SY_CONTROL_ADDR")
	s.String(&c.edgeAddr, "edge-addr", "127.0.0.1:5100", "edge listen address for SDKs: WebSocket and HTTP").EnvVar("SY_EDGE_ADDR")
	s.String(&c.adminEmail, "admin-email", "admin@switchyard.local", "initial admin login").EnvVar("SY_CONTROL_ADMIN_EMAIL")
	s.String(&c.adminPassword, "admin-password", "", "initial admin password; empty: a random one, printed once").EnvVar("SY_CONTROL_ADMIN_PASSWORD")
	s.Duration(&c.retention, "retention", 0, "delete events older than this (0 keeps them)").EnvVar("SY_ANALYTICS_RETENTION")
	s.Bool(&c.printSecrets, "print-secrets", false, "print the SDK secrets at every start, not only the first").EnvVar("SY_PRINT_SECRETS", "SY_CONTROL_PRINT_SECRETS")
	s.String(&allow, "webhook-allow", "", "comma-separated CIDR prefixes webhooks may reach besides public addresses, e.g. 127.0.0.0/8 for a local receiver").EnvVar("SY_CONTROL_WEBHOOK_ALLOW")
	s.String(&ssoAllow, "sso-allow", "", "comma-separated CIDR prefixes OpenID issuers may be reached at besides public addresses, e.g. 127.0.0.0/8 for a local test issuer").EnvVar("SY_CONTROL_SSO_ALLOW")
	s.String(&c.publicURL, "public-url", "", "URL browsers reach control at; single sign-on's redirect URI is <public-url>/api/v1/auth/sso/callback; empty: SSO off").EnvVar("SY_CONTROL_PUBLIC_URL")
	if err := s.Parse(args, getenv, out); err != nil {
		return c, err
	}
	var err error
	if c.ssoAllow, err = control.ParseAllow(ssoAllow); err != nil {
		return c, fmt.Errorf("sso-allow: %w", err)
	}
	if c.publicURL, err = control.ParsePublicURL(c.publicURL); err != nil {
		return c, fmt.Errorf("public-url: %w", err)
	}
	if c.webhookAllow, err = control.ParseAllow(allow); err != nil {
		return c, fmt.Errorf("webhook-allow: %w", err)
	}
	if len(s.Args()) > 0 {
		return c, fmt.Errorf("unexpected arguments: %s", strings.Join(s.Args(), " "))
	}
	return c, nil
}

// events routes the edge's events in-process: insights to analytics' embedded
// store, end users to the control plane's store.
type events struct {
	an  *analytics.Service
	ctl *control.Server
}

func (e events) Insights(ctx context.Context, b *codec.InsightBatch) error {
	return e.an.Ingest(ctx, b)
}
func (e events) EndUsers(ctx context.Context, b *codec.EndUserBatch) error {
	return e.ctl.IngestEndUsers(ctx, b)
}
func (e events) Deliveries(ctx context.Context, r *codec.DeliveryReport) error {
	return e.ctl.Deliveries(ctx, r)
}

func main() {
	os.Exit(mainCode(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// mainCode runs the command args name and returns the exit code: 0 after
// -h or a clean shutdown, 1 a failure, 2 bad configuration.
func mainCode(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "import" {
		if err := importCmd(args[1:], getenv, stdout, stderr); err != nil {
			if errors.Is(err, settings.ErrHelp) {
				return 0
			}
			fmt.Fprintln(stderr, "switchyard:", err)
			return 1
		}
		return 0
	}
	adminCmd := ""
	if len(args) > 0 && args[0] == "admin" {
		if len(args) < 2 || args[1] != "reset-password" {
			fmt.Fprintln(stderr, "usage: switchyard admin reset-password [-data-dir DIR] [-admin-email EMAIL] [-admin-password PASSWORD]")
			return 2
		}
		args, adminCmd = args[2:], args[1]
	}
	cfg, err := parseConfig(args, getenv, stdout)
	if err != nil {
		if code := settings.ExitCode(err); code == 0 {
			return 0
		}
		fmt.Fprintln(stderr, "switchyard:", err)
		return settings.ExitCode(err)
	}
	if adminCmd != "" {
		err = resetPassword(cfg, stdout)
	} else {
		err = run(cfg)
	}
	if err != nil {
		fmt.Fprintln(stderr, "switchyard:", err)
		return 1
	}
	return 0
}

// resetPassword is `switchyard admin reset-password`.
func resetPassword(cfg config, w io.Writer) error {
	unlock, err := control.LockDataDir(cfg.dataDir)
	if err != nil {
		return err
	}
	defer unlock()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctl, err := control.New(control.Config{DataDir: filepath.Join(cfg.dataDir, "control"), AdminEmail: cfg.adminEmail},
		control.WithLogger(log))
	if err != nil {
		return err
	}
	defer ctl.Shutdown(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pw, err := ctl.ResetPassword(ctx, cfg.adminEmail, cfg.adminPassword)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "new password of %s: %s  (every session of the account ended)\n", cfg.adminEmail, pw)
	return nil
}

// importCmd is `switchyard import featbit`.
func importCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return importFrom(os.Stdin, args, getenv, stdout, stderr)
}

// importFrom is importCmd with stdin given ("-file -").
func importFrom(stdin io.Reader, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "featbit" {
		return errors.New("usage: switchyard import featbit [-data-dir DIR] -env ENV_ID -file EXPORT.json [-dry-run] [-max-bytes N] [-max-flags N] [-max-segments N]")
	}
	opts, rest, err := control.ParseImportOptions("switchyard import featbit", args[1:], getenv, stderr)
	if err != nil {
		return err
	}
	cfg, err := parseConfig(rest, getenv, stdout)
	if err != nil {
		return err
	}
	var r io.Reader = stdin
	if opts.File != "-" {
		f, err := opts.Open()
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	unlock, err := control.LockDataDir(cfg.dataDir)
	if err != nil {
		return err
	}
	defer unlock()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctl, err := control.New(control.Config{DataDir: filepath.Join(cfg.dataDir, "control"), AdminEmail: cfg.adminEmail},
		control.WithLogger(log))
	if err != nil {
		return err
	}
	defer ctl.Shutdown(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	// Not published here: the next start loads every environment into the
	// edge (RepublishAll).
	rep, err := ctl.ImportFeatBit(ctx, opts.EnvID, r, opts.Limits, opts.DryRun)
	if rep != nil {
		rep.Print(stdout)
	}
	return err
}

func run(cfg config) error {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	// One process per data directory: a second one fails here naming the
	// first one's pid.
	unlock, err := control.LockDataDir(cfg.dataDir)
	if err != nil {
		return err
	}
	defer unlock()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	src := edge.NewLocalSource()
	an, err := analytics.New(analytics.Config{Addr: "-", DataDir: filepath.Join(cfg.dataDir, "analytics"), Retention: cfg.retention, Logger: log})
	if err != nil {
		return err
	}
	if err := an.Start(); err != nil {
		return fmt.Errorf("cannot start analytics: %w", err)
	}
	defer an.Shutdown(context.Background())

	ctl, err := control.New(control.Config{
		Addr: cfg.controlAddr, DataDir: filepath.Join(cfg.dataDir, "control"),
		AdminEmail: cfg.adminEmail, AdminPassword: cfg.adminPassword, WebhookAllow: cfg.webhookAllow, EdgeURL: cfg.edgeAddr,
		SSOAllow: cfg.ssoAllow, PublicURL: cfg.publicURL,
	}, control.WithSnapshotWriter(src), control.WithChangeProducer(src),
		control.WithGuardedEnvHandler("/api/analytics/", an.Handler()), control.WithInsights(inProcInsights{an}), control.WithLogger(log))
	if err != nil {
		return err
	}
	defer ctl.Shutdown(context.Background())
	// Bind before the bootstrap: a port already taken must fail before a
	// first run creates the admin, whose password is printed only once.
	if err := ctl.Listen(); err != nil {
		return fmt.Errorf("cannot start the control plane: %w", err)
	}
	info, err := ctl.Bootstrap(ctx)
	if err != nil {
		return fmt.Errorf("cannot bootstrap: %w", err)
	}
	// Past this point a failure still prints the first run's password.
	started := false
	defer func() {
		if !started && info.AdminPassword != "" {
			fmt.Fprintf(os.Stdout, "\n  Admin login  %s / %s   (created on this failed start: keep it)\n\n", info.AdminEmail, info.AdminPassword)
		}
	}()
	if err := ctl.Start(); err != nil {
		return fmt.Errorf("cannot start the control plane: %w", err)
	}
	// The edge holds snapshots in memory: load every environment into it
	// (the control plane's publisher retries any that fail).
	if err := ctl.RepublishAll(ctx); err != nil {
		log.Warn("some environments could not be loaded into the edge yet", "err", err)
	}

	e, err := edge.New(edge.Config{Addr: cfg.edgeAddr, DrainWindow: -1 /* one edge: no other to spread to */}, edge.WithSource(src), edge.WithEventSink(events{an: an, ctl: ctl}))
	if err != nil {
		return err
	}
	if err := e.Start(); err != nil {
		return fmt.Errorf("cannot start the edge: %w", err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		e.Shutdown(sctx)
	}()

	started = true
	printBanner(os.Stdout, cfg, info, ctl.Addr(), e.Addr())
	<-ctx.Done()
	fmt.Fprintln(os.Stderr, "switchyard: shutting down")
	return nil
}

func printBanner(w *os.File, cfg config, info *control.BootstrapInfo, ctlAddr, edgeAddr string) {
	fmt.Fprintf(w, "\nSwitchyard is running (data in %s)\n\n", cfg.dataDir)
	fmt.Fprintf(w, "  UI and API   http://%s/   (API under /api/v1, OpenAPI at /api/openapi.json)\n", ctlAddr)
	fmt.Fprintf(w, "  SDK endpoint ws://%s  and  http://%s   (streaming, polling, track, OFREP)\n\n", edgeAddr, edgeAddr)
	if info.AdminPassword != "" {
		fmt.Fprintf(w, "  Admin login  %s / %s   (shown once: keep it)\n\n", info.AdminEmail, info.AdminPassword)
	} else {
		fmt.Fprintf(w, "  Admin login  %s   (password shown on first start)\n\n", info.AdminEmail)
	}
	for _, env := range info.Envs {
		if info.FirstRun || cfg.printSecrets {
			fmt.Fprintf(w, "  Environment %-6s server secret %s\n                     client secret %s\n", env.Name, env.ServerSecret, env.ClientSecret)
		} else {
			fmt.Fprintf(w, "  Environment %-6s SDK secrets in the UI (or start with -print-secrets)\n", env.Name)
		}
	}
	fmt.Fprintln(w)
}

// inProcInsights gives control the in-process analytics service: its
// Experiment answers in the form of the HTTP route (as control's insights
// client does for a separate analytics deployment), so the experiment
// results route and the guarded rollouts work in the all-in-one binary.
type inProcInsights struct{ *analytics.Service }

func (i inProcInsights) Experiment(ctx context.Context, envID, flagKey string, query any) (json.RawMessage, error) {
	return i.ExperimentRaw(ctx, envID, flagKey, query)
}
