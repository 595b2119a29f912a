// Package machine reads what the load harness needs to know about this
// Linux machine and its processes: open-file limits, fs.file-max, memory,
// kernel slab and socket counters, per-process RSS and CPU time, and which
// processes listen on a TCP port. Everything comes from /proc and
// getrlimit; nothing here changes the system except RaiseNoFile, which
// lifts the calling process's soft open-files limit to its hard limit.
//
// Plan turns a requested connection count into a number of worker
// processes, or refuses with an error that says which limit is in the way.
package machine

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// RaiseNoFile lifts the soft RLIMIT_NOFILE to the hard limit and returns
// the resulting soft limit.
func RaiseNoFile() (uint64, error) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, fmt.Errorf("getrlimit: %w", err)
	}
	if r.Cur < r.Max {
		r.Cur = r.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
			return 0, fmt.Errorf("setrlimit: %w", err)
		}
	}
	return r.Cur, nil
}

// NoFile returns the soft and hard RLIMIT_NOFILE of this process.
func NoFile() (soft, hard uint64) {
	var r syscall.Rlimit
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r)
	return r.Cur, r.Max
}

func readInt(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseInt(f[0], 10, 64)
	return v
}

// FileMax returns fs.file-max and the number of file handles allocated now.
func FileMax() (max, used int64) {
	max = readInt("/proc/sys/fs/file-max")
	b, _ := os.ReadFile("/proc/sys/fs/file-nr")
	if f := strings.Fields(string(b)); len(f) > 0 {
		used, _ = strconv.ParseInt(f[0], 10, 64)
	}
	return max, used
}

// PortRange returns net.ipv4.ip_local_port_range.
func PortRange() (lo, hi int) {
	b, _ := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	f := strings.Fields(string(b))
	if len(f) == 2 {
		lo, _ = strconv.Atoi(f[0])
		hi, _ = strconv.Atoi(f[1])
	}
	return lo, hi
}

// Meminfo returns /proc/meminfo in bytes by field name (MemAvailable, Slab, …).
func Meminfo() map[string]int64 {
	m := map[string]int64{}
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return m
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), ":")
		if !ok {
			continue
		}
		fs := strings.Fields(v)
		if len(fs) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(fs[0], 10, 64)
		if len(fs) > 1 && fs[1] == "kB" {
			n *= 1024
		}
		m[k] = n
	}
	return m
}

// SockStat is the TCP line of /proc/net/sockstat plus sockstat6.
type SockStat struct {
	InUse    int64 `json:"inuse"`  // IPv4 TCP sockets in use
	InUse6   int64 `json:"inuse6"` // IPv6 TCP sockets in use (Go's dual-stack listener's children)
	TimeWait int64 `json:"tw"`
	Alloc    int64 `json:"alloc"`
	MemPages int64 `json:"memPages"` // pages of TCP buffer memory
}

// Sockets reads /proc/net/sockstat and /proc/net/sockstat6.
func Sockets() SockStat {
	var s SockStat
	parse := func(path string, fn func(k string, v int64)) {
		b, _ := os.ReadFile(path)
		for _, line := range strings.Split(string(b), "\n") {
			if !strings.HasPrefix(line, "TCP:") && !strings.HasPrefix(line, "TCP6:") {
				continue
			}
			f := strings.Fields(line)[1:]
			for i := 0; i+1 < len(f); i += 2 {
				v, _ := strconv.ParseInt(f[i+1], 10, 64)
				fn(f[i], v)
			}
		}
	}
	parse("/proc/net/sockstat", func(k string, v int64) {
		switch k {
		case "inuse":
			s.InUse = v
		case "tw":
			s.TimeWait = v
		case "alloc":
			s.Alloc = v
		case "mem":
			s.MemPages = v
		}
	})
	parse("/proc/net/sockstat6", func(k string, v int64) {
		if k == "inuse" {
			s.InUse6 = v
		}
	})
	return s
}

// Proc is a process's memory and CPU usage.
type Proc struct {
	Pid     int   `json:"pid"`
	RSS     int64 `json:"rss"`   // bytes (VmRSS)
	CPUNs   int64 `json:"cpuNs"` // user+system CPU time
	Threads int   `json:"threads"`
	FDs     int   `json:"fds"`
}

// clkTck is USER_HZ, 100 on every Linux this runs on.
const clkTck = 100

// ReadProc reads /proc/<pid>/status and /proc/<pid>/stat.
func ReadProc(pid int) (Proc, error) {
	p := Proc{Pid: pid}
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return p, fmt.Errorf("process %d: %w", pid, err)
	}
	// fields after the ")" of comm: state is field 3; utime 14, stime 15
	i := bytes.LastIndexByte(st, ')')
	if i < 0 {
		return p, errors.New("bad /proc/pid/stat")
	}
	f := strings.Fields(string(st[i+1:]))
	if len(f) > 13 {
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		stm, _ := strconv.ParseInt(f[12], 10, 64)
		p.CPUNs = (ut + stm) * (1e9 / clkTck)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return p, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		switch {
		case strings.HasPrefix(line, "VmRSS:"):
			fs := strings.Fields(line)
			if len(fs) >= 2 {
				v, _ := strconv.ParseInt(fs[1], 10, 64)
				p.RSS = v * 1024
			}
		case strings.HasPrefix(line, "Threads:"):
			fs := strings.Fields(line)
			if len(fs) >= 2 {
				p.Threads, _ = strconv.Atoi(fs[1])
			}
		}
	}
	if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
		p.FDs = len(ents)
	}
	return p, nil
}

// ReadProcs sums ReadProc over pids (missing processes are skipped).
func ReadProcs(pids []int) (total Proc, each []Proc) {
	for _, pid := range pids {
		p, err := ReadProc(pid)
		if err != nil {
			continue
		}
		each = append(each, p)
		total.RSS += p.RSS
		total.CPUNs += p.CPUNs
		total.Threads += p.Threads
		total.FDs += p.FDs
	}
	return total, each
}

// ListenerPids returns the processes that hold a listening TCP socket on
// port (IPv4 or IPv6, any address).
func ListenerPids(port int) ([]int, error) {
	inodes := map[string]bool{}
	hexPort := fmt.Sprintf(":%04X", port)
	for _, path := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != "0A" || !strings.HasSuffix(f[1], hexPort) {
				continue
			}
			inodes["socket:["+f[9]+"]"] = true
		}
	}
	if len(inodes) == 0 {
		return nil, fmt.Errorf("no process listens on port %d", port)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/fd")
	var pids []int
	for _, fdDir := range procs {
		ents, err := os.ReadDir(fdDir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			l, err := os.Readlink(filepath.Join(fdDir, e.Name()))
			if err == nil && inodes[l] {
				pid, _ := strconv.Atoi(strings.Split(fdDir, "/")[2])
				pids = append(pids, pid)
				break
			}
		}
	}
	if len(pids) == 0 {
		return nil, fmt.Errorf("port %d is listening but its process is not visible", port)
	}
	return pids, nil
}

// Budget is the per-connection cost used to plan a run.
type Budget struct {
	ClientBytes int64 // client process memory per connection
	KernelBytes int64 // kernel memory per connection (both socket ends on loopback)
	EdgeBytes   int64 // edge process memory per connection, when the edge runs here
	EdgeFDs     int   // file descriptors the edge needs per connection here (0 if remote)
}

// DefaultBudget is what was measured on this machine (docs/benchmarks.md):
// a netpoll client connection ~5.5 KiB (the epoll engine ~0.8 KiB, see
// EpollClientBytes), ~10 KiB of kernel memory for a loopback socket pair,
// the edge ~4.5 KiB.
var DefaultBudget = Budget{ClientBytes: 5632, KernelBytes: 10 << 10, EdgeBytes: 4608, EdgeFDs: 1}

// EpollClientBytes is the client memory per connection of the epoll engine.
const EpollClientBytes = 1024

// Plan is how a run of N connections is spread over worker processes.
type Plan struct {
	Conns      int   `json:"conns"`
	Workers    int   `json:"workers"`
	PerWorker  int   `json:"perWorker"`
	FDLimit    int   `json:"fdLimit"`
	FileMax    int64 `json:"fileMax"`
	FilesUsed  int64 `json:"filesUsed"`
	MemNeed    int64 `json:"memNeed"`
	MemAvail   int64 `json:"memAvailable"`
	EdgeProcs  int   `json:"edgeProcs"` // edge processes needed here for the fd limit (0: remote edge)
	PortsPerIP int   `json:"portsPerIp"`
}

// ErrRefused wraps every refusal of Plan.
var ErrRefused = errors.New("refused")

// MakePlan spreads n connections over workers holding at most perWorker
// each (0: the open-files hard limit minus a reserve), and refuses when the
// machine cannot hold them: not enough file handles (fs.file-max), memory
// (MemAvailable against the budget), or source ports per local address.
func MakePlan(n, perWorker int, b Budget) (Plan, error) {
	_, hard := NoFile()
	p := Plan{Conns: n, FDLimit: int(hard)}
	p.FileMax, p.FilesUsed = FileMax()
	lo, hi := PortRange()
	p.PortsPerIP = hi - lo + 1
	reserve := 256
	maxPer := int(hard) - reserve
	if maxPer < 1 {
		return p, fmt.Errorf("%w: open-files limit %d leaves no room for connections", ErrRefused, hard)
	}
	if p.PortsPerIP > 0 && maxPer > p.PortsPerIP-1000 {
		maxPer = p.PortsPerIP - 1000 // one source address per worker; keep ports spare
	}
	if perWorker <= 0 || perWorker > maxPer {
		perWorker = maxPer
	}
	p.PerWorker = perWorker
	p.Workers = (n + perWorker - 1) / perWorker
	if b.EdgeFDs > 0 {
		p.EdgeProcs = (n*b.EdgeFDs + maxPer - 1) / maxPer
	}
	p.MemAvail = Meminfo()["MemAvailable"]
	p.MemNeed = int64(n) * (b.ClientBytes + b.KernelBytes + b.EdgeBytes)
	p.MemNeed += int64(p.Workers) * (24 << 20) // runtime and buffers per worker process
	needFiles := int64(n) * int64(1+b.EdgeFDs)
	if free := p.FileMax - p.FilesUsed - 10000; needFiles > free {
		return p, fmt.Errorf("%w: %d connections need %d file handles (client + edge ends) but fs.file-max %d leaves %d free; raise fs.file-max or use fewer connections",
			ErrRefused, n, needFiles, p.FileMax, free)
	}
	if p.MemAvail > 0 && p.MemNeed > p.MemAvail*9/10 {
		return p, fmt.Errorf("%w: %d connections need about %d MiB (client %d + kernel %d + edge %d bytes each, plus %d workers) but only %d MiB are available; at most ~%d connections fit",
			ErrRefused, n, p.MemNeed>>20, b.ClientBytes, b.KernelBytes, b.EdgeBytes, p.Workers, p.MemAvail>>20,
			(p.MemAvail*9/10)/(b.ClientBytes+b.KernelBytes+b.EdgeBytes+(24<<20)/int64(perWorker)))
	}
	return p, nil
}

// CPUTimes returns the machine's busy and total CPU time since boot (all
// cores, from /proc/stat; busy excludes idle and iowait).
func CPUTimes() (busyNs, totalNs int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0
	}
	var total, idle int64
	for i, s := range f[1:] {
		v, _ := strconv.ParseInt(s, 10, 64)
		if i >= 8 { // guest time is already counted in user
			break
		}
		total += v
		if i == 3 || i == 4 {
			idle += v
		}
	}
	return (total - idle) * (1e9 / clkTck), total * (1e9 / clkTck)
}

// CPUNsPrecise is the CPU time of the processes in nanoseconds from the
// scheduler's per-thread accounting (/proc/<pid>/task/*/schedstat, first
// field), finer than /proc/<pid>/stat's clock ticks (10 ms); a process
// whose tasks cannot be read counts its stat figure. Threads that exited
// are not counted (Go runtime threads rarely exit).
func CPUNsPrecise(pids []int) int64 {
	var total int64
	for _, pid := range pids {
		dirs, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
		var sum int64
		ok := err == nil && len(dirs) > 0
		for _, p := range dirs {
			b, err := os.ReadFile(p)
			f := strings.Fields(string(b))
			if err != nil || len(f) == 0 {
				continue // the thread exited since the glob
			}
			n, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				ok = false
				break
			}
			sum += n
		}
		if !ok {
			p, err := ReadProc(pid)
			if err != nil {
				continue
			}
			sum = p.CPUNs
		}
		total += sum
	}
	return total
}
