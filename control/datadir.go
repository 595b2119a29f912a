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
			pid, perr := strconv.Atoi(strings.TrimSpace(string(b[:n])))
			if perr != nil {
				return nil, fmt.Errorf("%w: %s is locked by another process (stop it, or use another data directory)", ErrDataDirInUse, dir)
			}
			return nil, fmt.Errorf("%w: %s is in use by pid %d (stop it, or use another data directory)", ErrDataDirInUse, dir, pid)
		}
		return nil, fmt.Errorf("cannot lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() { f.Close() }, nil // closing the descriptor releases the lock
}
