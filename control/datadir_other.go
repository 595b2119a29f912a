//go:build !unix

package control

import (
	"errors"
	"fmt"
	"os"
)

// ErrDataDirInUse reports a data directory another process holds.
var ErrDataDirInUse = errors.New("data directory in use")

// LockDataDir only creates dir on systems without flock: the embedded
// store's own lock (with a timeout) keeps a second instance out.
func LockDataDir(dir string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cannot create the data directory: %w", err)
	}
	return func() {}, nil
}
