// Package worker runs client fleets in worker processes and talks to them.
//
// A worker is the loadtest binary re-executed with the "worker" argument
// (or, in tests, Serve running in a goroutine over pipes). The parent
// writes one JSON command per line on the worker's stdin and the worker
// answers with one JSON event per line on stdout:
//
//	parent → worker: {"cmd":"start","spec":{…fleet.Spec…}}
//	                 {"cmd":"report"}    ask for measurements now ("gc":true: after a GC)
//	                 {"cmd":"pingall"}   one ping on every open connection
//	                 {"cmd":"close"}     close every connection and exit
//	worker → parent: {"ev":"progress","progress":{…}}   every ~250 ms while connecting
//	                 {"ev":"connected","report":{…}}    connect phase over
//	                 {"ev":"report","report":{…},"proc":{…}}
//	                 {"ev":"closed"} / {"ev":"error","error":"…"}
//
// Stderr of a worker process is passed through to the parent's stderr.
// A worker exits when its stdin closes, so a dying parent takes its
// workers with it.
package worker

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
	"runtime/pprof"
	"strconv"
	"sync"
	"time"

	"github.com/cloudwego/netpoll"

	"github.com/switchyard/switchyard/loadtest/internal/fleet"
	"github.com/switchyard/switchyard/loadtest/internal/machine"
)

// Command is a parent → worker line.
type Command struct {
	Cmd  string      `json:"cmd"`
	Spec *fleet.Spec `json:"spec,omitempty"`
	GC   bool        `json:"gc,omitempty"` // report: collect garbage and return it to the OS first
}

// Event is a worker → parent line.
type Event struct {
	Ev       string          `json:"ev"`
	Progress *fleet.Progress `json:"progress,omitempty"`
	Report   *fleet.Report   `json:"report,omitempty"`
	Proc     *machine.Proc   `json:"proc,omitempty"`
	Error    string          `json:"error,omitempty"`
}

// ProgressInterval is how often a connecting worker reports progress.
var ProgressInterval = 250 * time.Millisecond

// Serve is the worker side: it reads commands from in and writes events to
// out until "close" or the end of in.
func Serve(ctx context.Context, in io.Reader, out io.Writer, standalone bool) error {
	var wmu sync.Mutex
	enc := json.NewEncoder(out)
	emit := func(e Event) {
		wmu.Lock()
		_ = enc.Encode(e)
		wmu.Unlock()
	}
	if standalone {
		if _, err := machine.RaiseNoFile(); err != nil {
			emit(Event{Ev: "error", Error: err.Error()})
		}
	}
	dec := json.NewDecoder(bufio.NewReader(in))
	var f *fleet.Fleet
	connected := make(chan struct{})
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	for {
		var c Command
		if err := dec.Decode(&c); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("worker: bad command: %w", err)
		}
		switch c.Cmd {
		case "start":
			if f != nil || c.Spec == nil {
				emit(Event{Ev: "error", Error: "start: already started or no spec"})
				continue
			}
			if standalone && c.Spec.SmallBuffers {
				// small netpoll buffers: ~3.5 KB per idle connection instead of ~11 KB
				_ = netpoll.Configure(netpoll.Config{BufferSize: 256})
				netpoll.LinkBufferCap = 64
			}
			var err error
			f, err = fleet.New(*c.Spec)
			if err != nil {
				emit(Event{Ev: "error", Error: err.Error()})
				close(connected)
				continue
			}
			go func(f *fleet.Fleet) {
				f.Connect(ctx, func(p fleet.Progress) { emit(Event{Ev: "progress", Progress: &p}) }, ProgressInterval)
				r := f.Report()
				emit(Event{Ev: "connected", Report: &r})
				close(connected)
			}(f)
		case "pingall":
			if f != nil {
				f.PingAll()
			}
		case "report":
			if f == nil {
				emit(Event{Ev: "error", Error: "report: not started"})
				continue
			}
			if c.GC && standalone {
				debug.FreeOSMemory()
				if p := os.Getenv("SY_LOADTEST_WORKER_MEMPROFILE"); p != "" {
					if f, err := os.Create(p + "." + strconv.Itoa(os.Getpid())); err == nil {
						_ = pprof.WriteHeapProfile(f)
						f.Close()
					}
				}
			}
			r := f.Report()
			p, _ := machine.ReadProc(os.Getpid())
			emit(Event{Ev: "report", Report: &r, Proc: &p})
		case "close":
			if f != nil {
				select {
				case <-connected:
				case <-time.After(time.Minute):
				}
				f.Close()
			}
			emit(Event{Ev: "closed"})
			return nil
		default:
			emit(Event{Ev: "error", Error: "unknown command " + c.Cmd})
		}
	}
}

// Handle is the parent side of one worker.
type Handle struct {
	ID     int
	cmd    *exec.Cmd
	wmu    sync.Mutex
	enc    *json.Encoder
	stdin  io.Closer
	events chan Event
	done   chan struct{}

	mu       sync.Mutex
	progress fleet.Progress
}

// Spawn starts exe with args (normally the loadtest binary and "worker").
func Spawn(id int, exe string, args ...string) (*Handle, error) {
	cmd := exec.Command(exe, args...)
	cmd.Stderr = os.Stderr
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start worker %d: %w", id, err)
	}
	h := newHandle(id, in, out)
	h.cmd = cmd
	return h, nil
}

// InProcess runs a worker in this process (tests, small runs).
func InProcess(ctx context.Context, id int) *Handle {
	cr, cw := io.Pipe()
	er, ew := io.Pipe()
	go func() {
		err := Serve(ctx, cr, ew, false)
		if err != nil {
			_ = json.NewEncoder(ew).Encode(Event{Ev: "error", Error: err.Error()})
		}
		ew.Close()
		cr.Close()
	}()
	return newHandle(id, cw, er)
}

func newHandle(id int, in io.WriteCloser, out io.Reader) *Handle {
	h := &Handle{ID: id, enc: json.NewEncoder(in), stdin: in, events: make(chan Event, 64), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		defer close(h.events)
		dec := json.NewDecoder(bufio.NewReaderSize(out, 1<<16))
		for {
			var e Event
			if err := dec.Decode(&e); err != nil {
				return
			}
			if e.Ev == "progress" && e.Progress != nil {
				h.mu.Lock()
				h.progress = *e.Progress
				h.mu.Unlock()
				continue
			}
			if e.Report != nil {
				h.mu.Lock()
				h.progress = e.Report.Progress
				h.mu.Unlock()
			}
			h.events <- e
		}
	}()
	return h
}

// Pid is the worker's process id (0 in process).
func (h *Handle) Pid() int {
	if h.cmd == nil || h.cmd.Process == nil {
		return 0
	}
	return h.cmd.Process.Pid
}

// Progress is the last progress the worker reported.
func (h *Handle) Progress() fleet.Progress {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.progress
}

func (h *Handle) send(c Command) error {
	h.wmu.Lock()
	defer h.wmu.Unlock()
	return h.enc.Encode(c)
}

// Start sends the fleet spec.
func (h *Handle) Start(s fleet.Spec) error { return h.send(Command{Cmd: "start", Spec: &s}) }

// wait returns the next event of kind ev (errors are returned as errors).
func (h *Handle) wait(ctx context.Context, ev string) (Event, error) {
	for {
		select {
		case e, ok := <-h.events:
			if !ok {
				return Event{}, fmt.Errorf("worker %d exited", h.ID)
			}
			if e.Ev == "error" {
				return e, fmt.Errorf("worker %d: %s", h.ID, e.Error)
			}
			if e.Ev == ev {
				return e, nil
			}
		case <-ctx.Done():
			return Event{}, fmt.Errorf("worker %d: waiting for %s: %w", h.ID, ev, ctx.Err())
		}
	}
}

// WaitConnected waits for the end of the connect phase.
func (h *Handle) WaitConnected(ctx context.Context) (fleet.Report, error) {
	e, err := h.wait(ctx, "connected")
	if err != nil {
		return fleet.Report{}, err
	}
	return *e.Report, nil
}

// Report asks for the current measurements; with gc the worker first
// collects garbage and returns it to the OS, so its RSS is what it holds.
func (h *Handle) Report(ctx context.Context, gc bool) (fleet.Report, machine.Proc, error) {
	if err := h.send(Command{Cmd: "report", GC: gc}); err != nil {
		return fleet.Report{}, machine.Proc{}, err
	}
	e, err := h.wait(ctx, "report")
	if err != nil {
		return fleet.Report{}, machine.Proc{}, err
	}
	var p machine.Proc
	if e.Proc != nil {
		p = *e.Proc
	}
	return *e.Report, p, nil
}

// PingAll asks the worker to ping every open connection once.
func (h *Handle) PingAll() error { return h.send(Command{Cmd: "pingall"}) }

// Close closes the worker's connections and waits for it to exit; a worker
// process that does not exit within the timeout is killed.
func (h *Handle) Close(timeout time.Duration) {
	_ = h.send(Command{Cmd: "close"})
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, _ = h.wait(ctx, "closed")
	_ = h.stdin.Close()
	if h.cmd != nil {
		exited := make(chan struct{})
		go func() { _ = h.cmd.Wait(); close(exited) }()
		select {
		case <-exited:
		case <-time.After(timeout):
			_ = h.cmd.Process.Kill()
			<-exited
		}
	}
	select {
	case <-h.done:
	case <-time.After(timeout):
	}
}
