// Command loadtest drives a Switchyard edge with FeatBit streaming
// connections and HTTP load and reports what it measured (see package
// loadtest and docs/benchmarks.md).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

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
	cfg, err := loadtest.ParseArgs(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(2)
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
