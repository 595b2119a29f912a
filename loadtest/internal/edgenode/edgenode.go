// Package edgenode runs the edge (package edge, with a LocalSource) inside
// a process of the load harness and feeds it over a pipe, so the harness
// can start several edge processes sharing one port (SO_REUSEPORT) without
// Redis or Kafka: every change reaches every node directly, and what is
// measured is the edge alone.
//
// Protocol, one JSON object per line: the parent writes
// {"cmd":"snapshot"|"change","data":<msgp bytes>}, {"cmd":"gc"} (collect
// garbage and return it to the OS) or {"cmd":"stop"} on the
// node's stdin; the node answers {"ev":"ready","addr":…,"pid":…} once
// listening and {"ev":"ok"} or {"ev":"error","error":…} per command. A node
// exits (after Shutdown) on "stop" or when its stdin closes.
package edgenode

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/edge"
)

type command struct {
	Cmd  string `json:"cmd"`
	Data []byte `json:"data,omitempty"`
}

type event struct {
	Ev    string `json:"ev"`
	Addr  string `json:"addr,omitempty"`
	Pid   int    `json:"pid,omitempty"`
	Error string `json:"error,omitempty"`
}

// Serve runs one edge node listening on addr with SO_REUSEPORT until stop;
// idle is the edge's IdleTimeout (0: the edge's default).
func Serve(ctx context.Context, addr string, idle time.Duration, in io.Reader, out io.Writer) error {
	src := edge.NewLocalSource()
	// the load comes from one host and one secret per environment: the
	// per-address, per-secret and per-environment limits would measure
	// themselves, so they are off (-1) here
	srv, err := edge.New(edge.Config{Addr: addr, ReusePort: true, IdleTimeout: idle,
		AddrRate: -1, SecretRate: -1, EndUserRate: -1, MaxUnfinished: -1}, edge.WithSource(src))
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	enc := json.NewEncoder(out)
	_ = enc.Encode(event{Ev: "ready", Addr: srv.Addr(), Pid: os.Getpid()})
	dec := json.NewDecoder(bufio.NewReader(in))
	for {
		var c command
		if err := dec.Decode(&c); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		var err error
		switch c.Cmd {
		case "snapshot":
			var s codec.EnvSnapshot
			if _, err = s.UnmarshalMsg(c.Data); err == nil {
				err = src.WriteSnapshot(ctx, &s)
			}
		case "change":
			var ev codec.ChangeEvent
			if _, err = ev.UnmarshalMsg(c.Data); err == nil {
				err = src.Produce(ctx, &ev)
			}
		case "gc":
			debug.FreeOSMemory()
		case "stop":
			_ = enc.Encode(event{Ev: "ok"})
			return nil
		default:
			err = fmt.Errorf("unknown command %q", c.Cmd)
		}
		if err != nil {
			_ = enc.Encode(event{Ev: "error", Error: err.Error()})
		} else {
			_ = enc.Encode(event{Ev: "ok"})
		}
	}
}

// Node is the parent side of one edge node.
type Node struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	enc  *json.Encoder
	dec  *json.Decoder
	Addr string
	Pid  int
}

// Nodes is a set of edge nodes sharing one address. It implements the
// harness's Source (WriteSnapshot, Produce) by sending to every node.
type Nodes struct {
	mu    sync.Mutex
	nodes []*Node
}

// Launch starts n nodes (exe args… with addr and, if set, the idle
// timeout appended) and waits until each is listening.
func Launch(n int, addr string, idle time.Duration, exe string, args ...string) (*Nodes, error) {
	ns := &Nodes{}
	for i := 0; i < n; i++ {
		a := append(append([]string{}, args...), addr)
		if idle > 0 {
			a = append(a, idle.String())
		}
		cmd := exec.Command(exe, a...)
		cmd.Stderr = os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		in, err := cmd.StdinPipe()
		if err != nil {
			ns.Stop()
			return nil, err
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			ns.Stop()
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			ns.Stop()
			return nil, fmt.Errorf("start edge node %d: %w", i, err)
		}
		nd := &Node{cmd: cmd, in: in, enc: json.NewEncoder(in), dec: json.NewDecoder(bufio.NewReader(out))}
		ns.nodes = append(ns.nodes, nd)
		var ev event
		if err := nd.dec.Decode(&ev); err != nil || ev.Ev != "ready" {
			ns.Stop()
			return nil, fmt.Errorf("edge node %d did not start: %v %s", i, err, ev.Error)
		}
		nd.Addr, nd.Pid = ev.Addr, ev.Pid
	}
	return ns, nil
}

// Pids returns the nodes' process ids.
func (ns *Nodes) Pids() []int {
	var p []int
	for _, n := range ns.nodes {
		p = append(p, n.Pid)
	}
	return p
}

func (ns *Nodes) all(c command) error {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	for _, n := range ns.nodes {
		if err := n.enc.Encode(c); err != nil {
			return fmt.Errorf("edge node %d: %w", n.Pid, err)
		}
	}
	var errs []error
	for _, n := range ns.nodes {
		var ev event
		if err := n.dec.Decode(&ev); err != nil {
			errs = append(errs, fmt.Errorf("edge node %d: %w", n.Pid, err))
		} else if ev.Ev == "error" {
			errs = append(errs, fmt.Errorf("edge node %d: %s", n.Pid, ev.Error))
		}
	}
	return errors.Join(errs...)
}

// WriteSnapshot sends s to every node.
func (ns *Nodes) WriteSnapshot(_ context.Context, s *codec.EnvSnapshot) error {
	b, err := s.MarshalMsg(nil)
	if err != nil {
		return err
	}
	return ns.all(command{Cmd: "snapshot", Data: b})
}

// Produce sends ev to every node (each node queues it; the reply comes
// before the fan-out is done).
func (ns *Nodes) Produce(_ context.Context, ev *codec.ChangeEvent) error {
	b, err := ev.MarshalMsg(nil)
	if err != nil {
		return err
	}
	return ns.all(command{Cmd: "change", Data: b})
}

// GC makes every node collect garbage and return free memory to the OS,
// so its RSS is what it holds.
func (ns *Nodes) GC() error { return ns.all(command{Cmd: "gc"}) }

// Stop stops every node (stop command, then SIGKILL after 30 s).
func (ns *Nodes) Stop() {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	for _, n := range ns.nodes {
		_ = n.enc.Encode(command{Cmd: "stop"})
		_ = n.in.Close()
	}
	for _, n := range ns.nodes {
		done := make(chan struct{})
		go func() { _ = n.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = n.cmd.Process.Kill()
			<-done
		}
	}
	ns.nodes = nil
}
