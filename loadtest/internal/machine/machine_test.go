package machine

import (
	"errors"
	"net"
	"os"
	"strconv"
	"testing"
	"time"
)

func TestReadProcSelf(t *testing.T) {
	p, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if p.RSS <= 0 || p.Threads <= 0 || p.FDs <= 0 {
		t.Fatalf("%+v", p)
	}
	for i := 0; i < 3e7; i++ { // burn a little CPU so the counter moves
		_ = strconv.Itoa(i)
	}
	q, _ := ReadProc(os.Getpid())
	if q.CPUNs <= 0 {
		t.Fatalf("cpu %d", q.CPUNs)
	}
}

func TestListenerPids(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	pids, err := ListenerPids(port)
	if err != nil {
		t.Fatal(err)
	}
	if len(pids) != 1 || pids[0] != os.Getpid() {
		t.Fatalf("pids %v, want [%d]", pids, os.Getpid())
	}
}

func TestMemAndSockets(t *testing.T) {
	m := Meminfo()
	if m["MemAvailable"] <= 0 || m["Slab"] <= 0 {
		t.Fatalf("%v", m)
	}
	if s := Sockets(); s.Alloc < 0 {
		t.Fatalf("%+v", s)
	}
}

func TestMakePlan(t *testing.T) {
	p, err := MakePlan(50000, 0, DefaultBudget)
	if err != nil {
		t.Fatal(err)
	}
	_, hard := NoFile()
	if p.PerWorker >= int(hard) || p.Workers*p.PerWorker < 50000 {
		t.Fatalf("%+v", p)
	}
	p, err = MakePlan(1000, 300, DefaultBudget)
	if err != nil || p.Workers != 4 {
		t.Fatalf("%+v %v", p, err)
	}
	// far more than any memory
	if _, err := MakePlan(100_000_000, 0, DefaultBudget); !errors.Is(err, ErrRefused) {
		t.Fatalf("want refusal, got %v", err)
	}
}

func TestCPUNsPreciseGrowsWithWork(t *testing.T) {
	pid := os.Getpid()
	a := CPUNsPrecise([]int{pid})
	if a <= 0 {
		t.Fatalf("CPU %d ns", a)
	}
	// busy until a millisecond of CPU shows, with a generous deadline: the
	// counter must move finer than stat's 10 ms ticks
	deadline := time.Now().Add(20 * time.Second)
	x, b := 0, a
	for b-a < int64(time.Millisecond) && time.Now().Before(deadline) {
		for i := 0; i < 100000; i++ {
			x += i
		}
		b = CPUNsPrecise([]int{pid})
	}
	if d := b - a; d < int64(time.Millisecond) || d >= 10*int64(time.Millisecond) {
		t.Fatalf("CPU moved %d ns (%d): want the first reading past 1 ms, well under a 10 ms tick", d, x)
	}
	if CPUNsPrecise([]int{1 << 30}) != 0 {
		t.Fatal("a missing process counts")
	}
}
