package wsconn

import (
	"errors"
	"net"
	"syscall"
	"time"
)

// retryListener keeps accepting through resource exhaustion: fasthttp's
// Serve treats any accept error other than a timeout as permanent and stops
// for good, so running out of file descriptors for a moment would leave the
// HTTP-only port dead. netpoll's own listener already backs off (it detaches
// and retries), so only plain net listeners need this.
type retryListener struct {
	net.Listener
	onErr func(error) // told about each exhausted accept (metrics), may be nil
	sleep func(time.Duration)
}

// RetryListener wraps ln so that Accept waits and retries, with a backoff of
// 5 ms doubling up to 1 s, while the process or system is out of file
// descriptors, buffers or memory, or a connection was aborted before it was
// accepted; other errors (a closed listener) are returned.
func RetryListener(ln net.Listener, onErr func(error)) net.Listener {
	return &retryListener{Listener: ln, onErr: onErr, sleep: time.Sleep}
}

func (l *retryListener) Accept() (net.Conn, error) {
	var delay time.Duration
	for {
		c, err := l.Listener.Accept()
		if err == nil || !retryable(err) {
			return c, err
		}
		if l.onErr != nil {
			l.onErr(err)
		}
		delay = min(max(2*delay, 5*time.Millisecond), time.Second)
		l.sleep(delay)
	}
}

func retryable(err error) bool {
	for _, e := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
