//go:build unix

package control

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockFile is the name of the lock beside the embedded stores: it holds the
// pid of the process that has the directory open.
const lockFile = "switchyard.pid"

// ErrDataDirInUse reports a data directory another process holds.
var ErrDataDirInUse = errors.New("data directory in use")

type inUseError struct{ msg string }

func (e *inUseError) Error() string        { return e.msg }
func (e *inUseError) Is(target error) bool { return target == ErrDataDirInUse }

// LockDataDir takes an exclusive lock of dir (an advisory lock of
// dir/switchyard.pid, which then holds this process' pid) so that a second
// instance on the same directory fails at once with the pid of the first,
// rather than with the embedded store's lock timeout. The lock ends with the
// process or when unlock is called. New takes it for its own DataDir; the
// all-in-one binary also takes it for its top directory.
func LockDataDir(dir string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cannot create the data directory: %w", err)
	}
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cannot open %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b := make([]byte, 32)
		n, _ := f.ReadAt(b, 0)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			who := "another process"
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b[:n]))); perr == nil {
				who = "pid " + strconv.Itoa(pid)
			}
			return nil, &inUseError{fmt.Sprintf("data directory %s is in use by %s (stop it, or use another data directory)", dir, who)}
		}
		return nil, fmt.Errorf("cannot lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() { f.Close() }, nil // closing the descriptor releases the lock
}
