package bolt

import (
	"errors"
	"fmt"
	"sync"

	bbolt "go.etcd.io/bbolt"
)

// Group commit. Every write of the Backend (Insert, Replace, Delete,
// Modify) is an operation handed to one committer goroutine, which runs
// every operation waiting when it becomes free in one bbolt transaction
// and commits it (one fsync for all of them); each caller returns once the
// transaction holding its operation is on disk, so a write is acknowledged
// only after its commit, as with one transaction per write. Alone, a write
// waits for nothing (no timer): batches form while a commit is running.
//
// An operation that fails leaves the others alone: operations that fail
// before changing anything (a version conflict, a missing document, a
// duplicate id or unique key: failClean) are answered and skipped; any
// other failure aborts the transaction, the failing operation gets its
// error and the rest run again without it. Each operation therefore sees
// the state the operations before it in its batch left, exactly as if the
// operations had been committed one by one in that order.

// maxGroup bounds the operations of one transaction.
const maxGroup = 256

// queueLen is the committer's queue; callers beyond it wait to enqueue.
const queueLen = 4096

// errClosed is returned by a write after Close.
var errClosed = errors.New("embedded store is closed")

// op is one write waiting for its commit.
type op struct {
	fn   func(*bbolt.Tx) error
	done chan error
	pv   any // a panic of fn, raised again in the caller
}

// cleanErr marks an error returned before the operation changed anything.
type cleanErr struct{ err error }

func (e cleanErr) Error() string { return e.err.Error() }
func (e cleanErr) Unwrap() error { return e.err }

// failClean wraps err (nil stays nil) as an error returned before the
// operation wrote anything in the transaction.
func failClean(err error) error {
	if err == nil {
		return nil
	}
	return cleanErr{err}
}

// errAbort rolls a group back after an operation failed half-way.
var errAbort = errors.New("group aborted")

// groupStats counts the committer's work (tests and benchmarks read it).
type groupStats struct {
	commits, ops, reruns int64
}

type committer struct {
	db     *bbolt.DB
	queue  chan *op
	mu     sync.RWMutex // closed, and sends on queue
	closed bool
	done   chan struct{}
	smu    sync.Mutex
	stats  groupStats
}

func newCommitter(db *bbolt.DB) *committer {
	c := &committer{db: db, queue: make(chan *op, queueLen), done: make(chan struct{})}
	go c.loop()
	return c
}

// update runs fn in a write transaction shared with the writes waiting
// with it and returns once that transaction committed (or fn failed).
func (c *committer) update(fn func(*bbolt.Tx) error) error {
	o := &op{fn: fn, done: make(chan error, 1)}
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return errClosed
	}
	c.queue <- o
	c.mu.RUnlock()
	err := <-o.done
	if o.pv != nil {
		panic(o.pv)
	}
	var ce cleanErr
	if errors.As(err, &ce) {
		return ce.err
	}
	return err
}

// close stops accepting writes, commits the queued ones and returns when
// the committer stopped.
func (c *committer) close() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.queue)
	}
	c.mu.Unlock()
	<-c.done
}

func (c *committer) loop() {
	defer close(c.done)
	batch := make([]*op, 0, maxGroup)
	for o := range c.queue {
		batch = append(batch[:0], o)
	fill:
		for len(batch) < maxGroup {
			select {
			case o, ok := <-c.queue:
				if !ok {
					break fill
				}
				batch = append(batch, o)
			default:
				break fill
			}
		}
		c.commit(batch)
	}
}

// run calls o.fn, turning a panic into an error for the group and keeping
// the value for the caller.
func run(o *op, tx *bbolt.Tx) (err error) {
	defer func() {
		if v := recover(); v != nil {
			o.pv = v
			err = fmt.Errorf("panic in a store write: %v", v)
		}
	}()
	return o.fn(tx)
}

// commit runs batch in one transaction (again without any operation that
// failed half-way) and answers every operation. The statistics are counted
// before the answers they describe, so a caller that has its answer sees
// them.
func (c *committer) commit(batch []*op) {
	for len(batch) > 0 {
		failed := -1
		var ferr error
		answered := make([]bool, len(batch))
		err := c.db.Update(func(tx *bbolt.Tx) error {
			for i, o := range batch {
				err := run(o, tx)
				if err == nil {
					continue
				}
				var ce cleanErr
				if errors.As(err, &ce) && o.pv == nil {
					answered[i] = true
					o.done <- err
					continue
				}
				failed, ferr = i, err
				return errAbort
			}
			return nil
		})
		if failed >= 0 {
			c.smu.Lock()
			c.stats.reruns++
			c.smu.Unlock()
			batch[failed].done <- ferr
			// operations answered with a clean failure came before the
			// failed one: the rerun gives the operations before them the
			// same state, so their answer stands and they are left out
			rest := batch[:0:0]
			for i, o := range batch {
				if i != failed && !answered[i] {
					rest = append(rest, o)
				}
			}
			batch = rest
			continue
		}
		c.smu.Lock()
		c.stats.commits++
		c.stats.ops += int64(len(batch))
		c.smu.Unlock()
		for i, o := range batch {
			if !answered[i] {
				o.done <- err
			}
		}
		return
	}
}
