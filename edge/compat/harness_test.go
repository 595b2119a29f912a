//go:build integration

package compat

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// protoPrefix starts every protocol line a compat script writes on stdout
// (node/lib/rpc.js, python/server_sdk.py); other stdout lines are SDK noise.
const protoPrefix = "SYCOMPAT "

// cacheDir is where npm's cache and the Python virtualenvs live:
// $SY_CACHE_DIR, else ~/.cache/switchyard.
func cacheDir(t *testing.T) string {
	if d := os.Getenv("SY_CACHE_DIR"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		t.Fatalf("compat: no SY_CACHE_DIR and no home directory: %v", err)
	}
	return filepath.Join(home, ".cache", "switchyard")
}

// withFileLock runs fn while holding an exclusive flock on path, so parallel
// test binaries (or CI jobs sharing a cache) do not install at the same time.
func withFileLock(t *testing.T, path string, fn func()) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatalf("compat: %v", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatalf("compat: open lock %s: %v", path, err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("compat: flock %s: %v", path, err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	fn()
}

func fileHash(t *testing.T, extra string, paths ...string) string {
	t.Helper()
	h := sha256.New()
	h.Write([]byte(extra))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("compat: %v", err)
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// run runs a setup command, failing the test with its output on error.
func run(t *testing.T, ctx context.Context, dir string, name string, args ...string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("compat: %s %s (in %s): %v\n%s", name, strings.Join(args, " "), dir, err, out)
	}
}

func toolVersion(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("compat: %s is needed by the compatibility test: %v\n%s", name, err, out)
	}
	return strings.TrimSpace(string(out))
}

// nodeDir installs the pinned JavaScript SDKs (npm ci) when node_modules is
// missing or was installed from another package-lock.json, and returns the
// absolute path of node/.
func nodeDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("node")
	if err != nil {
		t.Fatal(err)
	}
	nodeV := toolVersion(t, "node", "--version")
	toolVersion(t, "npm", "--version")
	want := fileHash(t, nodeV, filepath.Join(dir, "package-lock.json"))
	stamp := filepath.Join(dir, "node_modules", ".sy-lock-hash")
	cache := cacheDir(t)
	withFileLock(t, filepath.Join(cache, "compat-npm.lock"), func() {
		if b, err := os.ReadFile(stamp); err == nil && strings.TrimSpace(string(b)) == want {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		start := time.Now()
		run(t, ctx, dir, "npm", "ci", "--cache", filepath.Join(cache, "npm"), "--no-audit", "--no-fund", "--prefer-offline")
		if err := os.WriteFile(stamp, []byte(want+"\n"), 0o644); err != nil {
			t.Fatalf("compat: %v", err)
		}
		t.Logf("compat: npm ci in %s (%s)", dir, time.Since(start).Round(time.Millisecond))
	})
	return dir
}

// pythonEnv creates (once per requirements hash and interpreter) a
// virtualenv with the pinned Python SDK and returns its python binary.
func pythonEnv(t *testing.T) string {
	t.Helper()
	req, err := filepath.Abs(filepath.Join("python", "requirements.txt"))
	if err != nil {
		t.Fatal(err)
	}
	pyV := toolVersion(t, "python3", "--version")
	hash := fileHash(t, pyV, req)[:16]
	cache := cacheDir(t)
	venv := filepath.Join(cache, "compat-venv", hash)
	py := filepath.Join(venv, "bin", "python")
	ok := filepath.Join(venv, ".sy-ok")
	withFileLock(t, filepath.Join(cache, "compat-venv.lock"), func() {
		if _, err := os.Stat(ok); err == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		start := time.Now()
		if err := os.RemoveAll(venv); err != nil {
			t.Fatalf("compat: %v", err)
		}
		run(t, ctx, ".", "python3", "-m", "venv", venv)
		run(t, ctx, ".", py, "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
			"--cache-dir", filepath.Join(cache, "pip"), "-r", req)
		if err := os.WriteFile(ok, []byte(pyV+"\n"), 0o644); err != nil {
			t.Fatalf("compat: %v", err)
		}
		t.Logf("compat: created %s (%s)", venv, time.Since(start).Round(time.Millisecond))
	})
	return py
}

// msg is one protocol line from a compat script: a reply (ID > 0) or an
// event (Ev set).
type msg struct {
	ID      int             `json:"id"`
	OK      bool            `json:"ok"`
	Error   string          `json:"error"`
	Ev      string          `json:"ev"`
	SDK     string          `json:"sdk"`
	Version string          `json:"version"`
	InitMs  int64           `json:"initMs"`
	Flag    string          `json:"flag"`
	Value   json.RawMessage `json:"value"`
	Kind    string          `json:"kind"`
	Reason  string          `json:"reason"`
	// Variant and ErrorCode are OpenFeature evaluation details.
	Variant   string `json:"variant"`
	ErrorCode string `json:"errorCode"`
	// ETag is the bulk entity tag a browser OFREP provider kept.
	ETag     string `json:"etag"`
	AtUs     int64  `json:"atUs"`
	Result   *bool  `json:"result"`
	Connects int    `json:"connects"`
	// CloseCodes are the close codes the SDK's connections ended with
	// (1006 in JS, null in Python: no close frame was read).
	CloseCodes []*int `json:"closeCodes"`
	// Initialized is reported with "ready" (false only when the script
	// runs with COMPAT_ALLOW_UNINITIALIZED).
	Initialized *bool `json:"initialized"`
	raw         string
}

// lockedBuffer collects a child's stderr (and its non-protocol stdout).
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.b.String()
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}

// sdkProc is one running compat script.
type sdkProc struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan msg
	events []msg // events read while waiting for a reply
	logs   *lockedBuffer
	nextID int
	quit   chan struct{} // closed by stop: the reader then drops lines
	exited chan struct{}
	err    error // the process's exit error, valid after exited is closed
}

// startSDK starts a compat script; the process is killed when ctx ends and
// stopped at test cleanup.
func startSDK(t *testing.T, ctx context.Context, name, dir string, env []string, argv ...string) *sdkProc {
	t.Helper()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 5 * time.Second
	p := &sdkProc{t: t, name: name, cmd: cmd, lines: make(chan msg, 256), logs: &lockedBuffer{},
		quit: make(chan struct{}), exited: make(chan struct{})}
	cmd.Stderr = p.logs
	// stdout goes through an io.Pipe, so Wait returns only after all of it
	// was copied, and the reader sees EOF once the process is gone.
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("compat: start %s: %v", name, err)
	}
	go func() {
		defer close(p.lines)
		defer io.Copy(io.Discard, pr) // never leave the copy blocked
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			line := sc.Text()
			rest, ok := strings.CutPrefix(line, protoPrefix)
			if !ok {
				fmt.Fprintln(p.logs, "[stdout]", line)
				continue
			}
			var m msg
			if err := json.Unmarshal([]byte(rest), &m); err != nil {
				fmt.Fprintln(p.logs, "[bad protocol line]", line)
				continue
			}
			m.raw = rest
			select {
			case p.lines <- m:
			case <-p.quit:
			}
		}
	}()
	go func() {
		p.err = cmd.Wait()
		pw.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stop(10 * time.Second)
		if os.Getenv("COMPAT_DEBUG") != "" {
			t.Logf("--- %s stderr (COMPAT_DEBUG) ---\n%s", name, p.logs.tail(64<<10))
		}
	})
	return p
}

// stop closes stdin (the scripts then close their SDK client and exit) and
// kills the process if it has not exited within grace.
func (p *sdkProc) stop(grace time.Duration) {
	p.stdin.Close()
	close(p.quit)
	select {
	case <-p.exited:
	case <-time.After(grace):
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// errorf marks the test failed, showing the script's stderr.
func (p *sdkProc) errorf(format string, args ...any) {
	p.t.Helper()
	p.t.Errorf("%s: %s\n--- %s stderr (tail) ---\n%s", p.name, fmt.Sprintf(format, args...), p.name, p.logs.tail(8000))
}

// fatalf fails the test showing the script's stderr.
func (p *sdkProc) fatalf(format string, args ...any) {
	p.t.Helper()
	p.t.Fatalf("%s: %s\n--- %s stderr (tail) ---\n%s", p.name, fmt.Sprintf(format, args...), p.name, p.logs.tail(8000))
}

// next returns the next protocol line, failing when the process ends or
// timeout passes first.
func (p *sdkProc) next(timeout time.Duration, waitingFor string) msg {
	p.t.Helper()
	m, ok := p.nextOrTimeout(timeout, waitingFor)
	if !ok {
		p.fatalf("no %s within %s", waitingFor, timeout)
	}
	return m
}

// nextOrTimeout returns the next protocol line, or false when timeout
// passes first; it fails when the process ends.
func (p *sdkProc) nextOrTimeout(timeout time.Duration, waitingFor string) (msg, bool) {
	p.t.Helper()
	timer := time.NewTimer(max(timeout, 0))
	defer timer.Stop()
	select {
	case m, ok := <-p.lines:
		if !ok {
			<-p.exited
			p.fatalf("process ended (%v) while waiting for %s", p.err, waitingFor)
		}
		if m.Ev == "fatal" {
			p.fatalf("script failed while waiting for %s: %s", waitingFor, m.Error)
		}
		return m, true
	case <-timer.C:
		return msg{}, false
	}
}

// waitEvent returns the first event ev (buffered or new) within timeout.
func (p *sdkProc) waitEvent(ev string, timeout time.Duration) msg {
	p.t.Helper()
	m, ok := p.tryEvent(ev, timeout)
	if !ok {
		p.fatalf("no event %s within %s", ev, timeout)
	}
	return m
}

// tryEvent is waitEvent that reports a timeout instead of failing.
func (p *sdkProc) tryEvent(ev string, timeout time.Duration) (msg, bool) {
	p.t.Helper()
	for i, m := range p.events {
		if m.Ev == ev {
			p.events = append(p.events[:i], p.events[i+1:]...)
			return m, true
		}
	}
	deadline := time.Now().Add(timeout)
	for {
		m, ok := p.nextOrTimeout(time.Until(deadline), "event "+ev)
		if !ok {
			return msg{}, false
		}
		if m.Ev == ev {
			return m, true
		}
		if m.Ev != "" {
			p.events = append(p.events, m)
		}
	}
}

// call sends a command and returns its successful reply.
func (p *sdkProc) call(cmd map[string]any) msg {
	p.t.Helper()
	p.nextID++
	id := p.nextID
	cmd["id"] = id
	b, err := json.Marshal(cmd)
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.stdin.Write(append(b, '\n')); err != nil {
		p.fatalf("write command %s: %v", b, err)
	}
	for {
		m := p.next(30*time.Second, fmt.Sprintf("reply to %s", b))
		if m.Ev != "" {
			p.events = append(p.events, m)
			continue
		}
		if m.ID != id {
			p.fatalf("reply %s while waiting for the reply to command %d", m.raw, id)
		}
		if !m.OK {
			p.fatalf("command %s failed: %s", b, m.Error)
		}
		return m
	}
}
