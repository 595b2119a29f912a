package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/edge/edgetest"
	"github.com/switchyard/switchyard/loadtest/internal/report"
	"github.com/switchyard/switchyard/loadtest/internal/scenario"
	"github.com/switchyard/switchyard/loadtest/internal/worker"
)

// TestMain lets the test binary act as a worker process, so the tests
// exercise the real re-exec path.
func TestMain(m *testing.M) {
	if os.Getenv("LOADTEST_TEST_EDGENODE") == "1" && len(os.Args) >= 2 && !strings.HasPrefix(os.Args[1], "-") {
		if err := EdgeNode(context.Background(), os.Args[1:]); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	if os.Getenv("LOADTEST_TEST_WORKER") == "1" {
		if err := worker.Serve(context.Background(), os.Stdin, os.Stdout, true); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestParseArgs(t *testing.T) {
	c, err := ParseArgs([]string{"-conns", "5000", "-kafka", "a:1,b:2", "-redis", "r:1", "-edge-pids", "10,11", "hold", "push"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Scenario.Conns != 5000 || len(c.KafkaBrokers) != 2 || len(c.Scenario.EdgePids) != 2 || strings.Join(c.Scenarios, ",") != "hold,push" {
		t.Fatalf("%+v", c)
	}
	t.Setenv("SY_LOADTEST_PUSH_RATE", "7.5")
	c, err = ParseArgs([]string{"all"}, io.Discard)
	if err != nil || c.Scenario.PushRate != 7.5 || len(c.Scenarios) != len(Scenarios) {
		t.Fatalf("%+v %v", c, err)
	}
	for _, bad := range [][]string{{}, {"nope"}, {"-redis", "x:1", "connect"}, {"-edge-pids", "x", "connect"}} {
		if _, err := ParseArgs(bad, io.Discard); err == nil {
			t.Errorf("%v: want an error", bad)
		}
	}
}

// TestHarnessWithWorkerProcesses runs the harness end to end with worker
// processes (this test binary re-executed) against an in-process edge.
func TestHarnessWithWorkerProcesses(t *testing.T) {
	e := edgetest.Run(t)
	out := t.TempDir()
	cfg, err := ParseArgs([]string{"-target", e.Addr, "-conns", "300", "-per-worker", "100", "-rate", "0", "-client-share", "0.3",
		"-ping", "200ms", "-hold", "300ms", "-settle", "100ms", "-pushes", "3", "-push-rate", "10",
		"-duration", "300ms", "-http-concurrency", "4", "-mix", "client-poll", "-events-per-request", "5", "-out", out,
		"connect", "hold", "push", "evaluate", "events"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("LOADTEST_TEST_WORKER", "1")
	cfg.Scenario.Source = e.Source
	cfg.Scenario.InEdge = true
	cfg.Scenario.WorkerExe = os.Args[0]
	cfg.Scenario.WorkerArgs = []string{}
	cfg.Scenario.Out = io.Discard
	var sb strings.Builder
	h, err := New(cfg, &sb)
	if err != nil {
		t.Fatal(err)
	}
	err = h.Run(context.Background())
	h.Shutdown(context.Background())
	t.Log(sb.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"connect", "hold", "push", "evaluate", "events"} {
		var r report.Result
		b, err := os.ReadFile(filepath.Join(out, name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		if !r.OK() || len(r.Failures) != 0 {
			t.Fatalf("%s: checks %+v failures %v", name, r.Checks, r.Failures)
		}
		if _, err := os.Stat(filepath.Join(out, name+".html")); err != nil {
			t.Fatal(err)
		}
		if name == "push" && r.Metric("pushes delivered").Value != 900 {
			t.Fatalf("push delivered %v", r.Metric("pushes delivered").Value)
		}
		if name == "hold" && r.Metric("worker processes").Value != 3 {
			t.Fatalf("workers %v", r.Metric("worker processes").Value)
		}
	}
	if e.Server.Connections() != 0 {
		// workers are gone; the edge sees the closes shortly
		t.Logf("edge still counts %d connections right after shutdown", e.Server.Connections())
	}
}

func TestRefusesMoreThanTheMachineHolds(t *testing.T) {
	e := edgetest.Run(t)
	cfg, err := ParseArgs([]string{"-target", e.Addr, "-conns", "100000000", "-out", t.TempDir(), "connect"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Scenario.Source = e.Source
	cfg.Scenario.Out = io.Discard
	h, err := New(cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Shutdown(context.Background())
	err = h.Run(context.Background())
	if err == nil || errors.Is(err, scenario.ErrChecks) || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("want a refusal, got %v", err)
	}
	t.Log(err)
}

// TestEdgeNodesShareOnePort launches two edge processes (this test binary
// as edge nodes) on one port with SO_REUSEPORT and runs connect and push
// through them with worker processes.
func TestEdgeNodesShareOnePort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	out := t.TempDir()
	cfg, err := ParseArgs([]string{"-target", addr, "-edge-nodes", "2", "-conns", "200", "-per-worker", "100", "-rate", "0",
		"-ping", "0", "-edge-idle-timeout", "10m", "-pushes", "3", "-push-rate", "10", "-out", out, "connect", "push"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("LOADTEST_TEST_EDGENODE", "1")
	t.Setenv("LOADTEST_TEST_WORKER", "1")
	cfg.EdgeNodeExe, cfg.EdgeNodeArgs = os.Args[0], []string{}
	cfg.Scenario.WorkerExe, cfg.Scenario.WorkerArgs = os.Args[0], []string{}
	cfg.Scenario.Out = io.Discard
	var sb strings.Builder
	h, err := New(cfg, &sb)
	if err != nil {
		t.Fatal(err)
	}
	pids := h.cfg.Scenario.EdgePids
	err = h.Run(context.Background())
	h.Shutdown(context.Background())
	t.Log(sb.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(pids) != 2 {
		t.Fatalf("edge pids %v", pids)
	}
	for _, pid := range pids {
		if _, err := os.FindProcess(pid); err == nil {
			if p, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status")); len(p) > 0 && !strings.Contains(string(p), "State:\tZ") {
				t.Errorf("edge node %d still running after Shutdown", pid)
			}
		}
	}
	var r report.Result
	b, _ := os.ReadFile(filepath.Join(out, "push.json"))
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.Metric("pushes delivered").Value != 600 || !r.OK() {
		t.Fatalf("push: %+v", r.Checks)
	}
	if r.Params["edgeProcs"] != nil {
		t.Logf("edge procs %v", r.Params["edgeProcs"])
	}
}

func TestParseArgsScale(t *testing.T) {
	c, err := ParseArgs([]string{"-scale-sizes", "10,100", "-control-pid", "12,34", "scale"}, io.Discard)
	if err != nil || len(c.ScaleSizes) != 2 || c.ScaleSizes[1] != 100 || c.ScaleBatch != 1000 || len(c.ControlPids) != 2 {
		t.Fatalf("%+v %v", c, err)
	}
	if c, err = ParseArgs([]string{"-full-sync-share", "0.05", "-scale-members", "10,100000", "scale"}, io.Discard); err != nil || c.FullSyncShare != 0.05 || len(c.ScaleMembers) != 2 {
		t.Fatalf("-full-sync-share, -scale-members: %v %v %v", c.FullSyncShare, c.ScaleMembers, err)
	}
	if c, err = ParseArgs([]string{"scale"}, io.Discard); err != nil || len(c.ScaleSizes) != 4 || c.ScaleSizes[3] != 50000 || c.FullSyncShare != 1 {
		t.Fatalf("defaults: %v %v", c.ScaleSizes, err)
	}
	for _, args := range [][]string{
		{"-scale-sizes", "100,10", "scale"},
		{"-scale-batch", "1001", "scale"},
		{"-scale-batch", "0", "scale"},
		{"-control-pid", "x", "scale"},
		{"-sync-timeout", "0s", "scale"},
		{"-full-sync-share", "1.5", "scale"},
		{"-full-sync-share", "-0.1", "scale"},
		{"-full-sync-share", "NaN", "scale"},
		{"-scale-members", "200000", "scale"},
		{"-scale-members", "10,5", "scale"},
		{"-cold-edge-cmd", "bin/edge -addr 127.0.0.1:5100", "scale"},
	} {
		if _, err := ParseArgs(args, io.Discard); err == nil || !strings.Contains(err.Error(), args[0]) {
			t.Errorf("%v: err %v, want one naming %s", args, err, args[0])
		}
	}
	for _, s := range Scenarios {
		if s == "scale" {
			t.Fatal(`"all" must not run scale (it creates up to 50,000 flags)`)
		}
	}
}
