// Command loadtest drives a Switchyard edge with FeatBit streaming
// connections and HTTP load and reports what it measured (see package
// loadtest and docs/benchmarks.md). Exit codes: 0 after -h or a finished
// run, 1 a failed run, 2 bad configuration.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/switchyard/switchyard/internal/config"
	"github.com/switchyard/switchyard/loadtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) > 1 && os.Args[1] == "worker" {
		if err := loadtest.Worker(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest worker:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "render" {
		if err := loadtest.Render(os.Args[2:], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest render:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "edge-node" {
		if err := loadtest.EdgeNode(ctx, os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest edge-node:", err)
			os.Exit(1)
		}
		return
	}
	cfg, code := parse(os.Args[1:], os.Stdout, os.Stderr)
	if code >= 0 {
		os.Exit(code)
	}
	h, err := loadtest.New(cfg, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(2)
	}
	err = h.Run(ctx)
	h.Shutdown(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

// parse reads the harness configuration; a code >= 0 means exit with it
// (0 after -h, which prints the settings to stdout; 2 bad configuration).
func parse(args []string, stdout, stderr io.Writer) (loadtest.Config, int) {
	cfg, err := loadtest.ParseArgs(args, stdout)
	if err != nil {
		if code := config.ExitCode(err); code == 0 {
			return cfg, 0
		}
		fmt.Fprintln(stderr, "loadtest:", err)
		return cfg, config.ExitCode(err)
	}
	return cfg, -1
}
