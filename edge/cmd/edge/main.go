// Command edge runs Switchyard's evaluation server (see docs/edge.md):
// FeatBit-compatible streaming, SDK HTTP API, OFREP, health and metrics on
// one port. Configuration: flags, SY_EDGE_* variables or a -config file
// (edge.ParseConfig lists them; `edge -h` prints them).
//
// Exit codes: 0 after -h or a clean shutdown, 1 a start or shutdown failure,
// 2 bad configuration.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/switchyard/switchyard/edge"
	"github.com/switchyard/switchyard/internal/config"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Environ(), os.Stdout, os.Stderr))
}

// run is main with its inputs given; it returns the exit code.
func run(args []string, getenv func(string) string, environ []string, stdout, stderr io.Writer) int {
	cfg, err := edge.LoadConfig("edge", args, getenv, stdout)
	if err != nil {
		if code := config.ExitCode(err); code == 0 {
			return 0
		}
		fmt.Fprintln(stderr, "edge:", err)
		return config.ExitCode(err)
	}
	edge.ConfigSet("edge", new(edge.Config)).WarnUnknown(environ, stderr)
	s, err := edge.New(cfg)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if err := s.Start(); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stderr, "edge: listening on %s\n", s.Addr())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		fmt.Fprintln(stderr, "edge: shutdown:", err)
		return 1
	}
	return 0
}
