package wsconn

import (
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// flakyListener fails its first accepts with the given errors.
type flakyListener struct {
	net.Listener
	errs []error
}

func (f *flakyListener) Accept() (net.Conn, error) {
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		return nil, err
	}
	return f.Listener.Accept()
}

func TestRetryListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opErr := func(e syscall.Errno) error {
		return &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", e)}
	}
	fl := &flakyListener{Listener: ln, errs: []error{opErr(syscall.EMFILE), opErr(syscall.EMFILE), opErr(syscall.ENFILE), opErr(syscall.ECONNABORTED)}}
	var seen []error
	var slept []time.Duration
	rl := &retryListener{Listener: fl, onErr: func(e error) { seen = append(seen, e) }, sleep: func(d time.Duration) { slept = append(slept, d) }}
	go func() {
		if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
			defer c.Close()
			time.Sleep(time.Second)
		}
	}()
	c, err := rl.Accept()
	if err != nil {
		t.Fatalf("accept after exhaustion: %v", err)
	}
	c.Close()
	if len(seen) != 4 || len(slept) != 4 || slept[0] != 5*time.Millisecond || slept[3] != 40*time.Millisecond {
		t.Fatalf("errors %v, backoff %v", seen, slept)
	}
	// a closed listener is not retried
	ln.Close()
	if _, err := rl.Accept(); err == nil || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("closed listener: %v", err)
	}
}
