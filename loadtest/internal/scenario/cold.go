package scenario

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// ColdEdge starts a fresh edge process that loads the environment on its
// own (from Redis on the production path) and returns its address and a
// stop function. The scale scenario times, at each size, the start of
// the process → its first full sync holding the environment.
type ColdEdge func(ctx context.Context) (addr string, stop func(), err error)

// ColdEdgeCommand is a ColdEdge running the command line cmdline (fields
// split on spaces, no shell) with every "{addr}" replaced by a free
// loopback address, e.g.
//
//	bin/edge -addr {addr} -redis-addr 127.0.0.1:16379 -kafka-brokers 127.0.0.1:19092 -topic-prefix p.
//
// The process is killed by stop (and by the kernel if the harness dies).
func ColdEdgeCommand(cmdline string) (ColdEdge, error) {
	args := strings.Fields(cmdline)
	if len(args) == 0 {
		return nil, errors.New("-cold-edge-cmd: empty command")
	}
	if !strings.Contains(cmdline, "{addr}") {
		return nil, errors.New("-cold-edge-cmd: the command must listen on {addr} (the harness picks a free loopback port)")
	}
	return func(ctx context.Context) (string, func(), error) {
		addr, err := freeAddr()
		if err != nil {
			return "", nil, err
		}
		a := make([]string, len(args))
		for i, s := range args {
			a[i] = strings.ReplaceAll(s, "{addr}", addr)
		}
		cmd := exec.Command(a[0], a[1:]...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			return "", nil, fmt.Errorf("-cold-edge-cmd: %w", err)
		}
		stop := func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		return addr, stop, nil
	}, nil
}

// freeAddr is a loopback address with a port the kernel just handed out.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr, nil
}

// coldSync starts a cold edge and probes it until a full sync holds at
// least flags flags: the time from the start to that full sync read.
func coldSync(ctx context.Context, start ColdEdge, serverSecret string, flags int, wait time.Duration) (time.Duration, Probe, error) {
	t0 := time.Now()
	addr, stop, err := start(ctx)
	if err != nil {
		return 0, Probe{}, err
	}
	defer stop()
	deadline := t0.Add(wait)
	var last error
	for {
		p, err := ProbeFullSync(ctx, addr, serverSecret, time.Until(deadline))
		if err == nil && p.Flags >= flags {
			return time.Since(t0), p, nil
		}
		if err == nil {
			err = fmt.Errorf("full sync with %d flags, want ≥ %d", p.Flags, flags)
		}
		last = err
		if time.Now().After(deadline) || ctx.Err() != nil {
			return 0, p, fmt.Errorf("cold edge %s: no full sync of the environment within %s: %w", addr, wait, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
