// Package proctest runs Switchyard's own binaries in tests: build them, pick
// a port below the ephemeral range, start a binary for the test's duration
// (its output shown when the test fails) and read control's start-up banner.
// Standard library only; used by the integration tests that exercise the
// product across processes (edge/compat, ops/clustertest).
package proctest

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Build compiles the mains (e.g. "control", "edge": ./<m>/cmd/<m>) of the
// module at root into a temporary directory and returns it.
func Build(t testing.TB, root string, mains ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, m := range mains {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, m), "./"+m+"/cmd/"+m)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", m, err, out)
		}
	}
	return dir
}

// LowAddr returns a free loopback address with a port in 20000–29999,
// below the range the kernel hands out for outgoing connections.
func LowAddr(t testing.TB) string {
	t.Helper()
	for range 100 {
		addr := "127.0.0.1:" + strconv.Itoa(20000+rand.IntN(10000))
		if ln, err := net.Listen("tcp", addr); err == nil {
			ln.Close()
			return addr
		}
	}
	t.Fatal("no free port in 20000-29999")
	return ""
}

// logBuf is a process's output, bounded to its last 64 KiB.
type logBuf struct {
	mu sync.Mutex
	b  []byte
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b = append(l.b, p...)
	if n := len(l.b); n > 64<<10 {
		l.b = append(l.b[:0], l.b[n-(64<<10):]...)
	}
	return len(p), nil
}

func (l *logBuf) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.b[max(0, len(l.b)-n):])
}

// Start runs bin with args until the test ends (SIGCONT, then SIGTERM,
// SIGKILL after 20 s), shows the tail of its output if the test failed, and
// returns its stdout lines (dropped when nobody reads) and its process.
func Start(t testing.TB, bin string, args ...string) (<-chan string, *os.Process) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	logs := &logBuf{}
	cmd.Stderr = logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			fmt.Fprintln(logs, sc.Text())
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGCONT) // a test may have stopped it
		_ = cmd.Process.Signal(syscall.SIGTERM)
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("%s log (tail):\n%s", filepath.Base(bin), logs.tail(3000))
		}
	})
	return lines, cmd.Process
}

var bannerRE = regexp.MustCompile(`^env (\S+)\s+id (\S+)\s+server secret (\S+)`)

// Banner reads control's start-up banner (first run) for environment env's
// id and server secret.
func Banner(t testing.TB, lines <-chan string, env string) (id, serverSecret string) {
	t.Helper()
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("control exited before printing its banner")
			}
			if m := bannerRE.FindStringSubmatch(strings.TrimSpace(l)); m != nil && m[1] == env {
				return m[2], m[3]
			}
		case <-timeout:
			t.Fatal("control printed no banner within 2 minutes")
		}
	}
}
