package machine

import (
	"errors"
	"net"
	"os"
	"strconv"
	"testing"
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
