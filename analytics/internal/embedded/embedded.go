// Package embedded is the Store of `make run`: no ClickHouse, events kept in
// memory and persisted to an append-only log under the data directory.
//
// Layout: <dir>/events.log holds records of
//
//	uint32 length (big endian) | uint32 CRC-32C of the payload | msgp codec.InsightBatch
//
// At Open the log is replayed into memory; a torn or corrupt tail (a crash
// during a write) is cut off. Inserts append one record (written to the kernel,
// not fsynced: a process crash loses nothing, a machine crash may lose the last
// writes). Deletions (GDPR, retention) rewrite the log without the deleted
// events into events.log.tmp, fsync it and rename it over the log.
//
// Memory is bounded by what retention keeps and by a cap on the number of
// events (the oldest ~10% are deleted beyond it): every event stays in memory
// (~150 bytes plus its strings). It is meant for development and small
// installations; production uses ClickHouse. Queries scan the events of one
// (environment, flag) or (environment, event name) under a read lock.
package embedded

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/switchyard/switchyard/analytics/internal/store"
	"github.com/switchyard/switchyard/codec"
)

const logName = "events.log"

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// maxRecord bounds one log record; larger lengths mean a corrupt log.
const maxRecord = 64 << 20

// Store is the embedded store.Store.
type Store struct {
	dir string
	max int // events kept at most (0: no cap)

	mu      sync.RWMutex                   // guards everything below
	f       *os.File                       // the log, opened for append
	evals   map[string][]codec.FlagEval    // key env\x00flag
	metrics map[string][]codec.MetricEvent // key env\x00eventName
	buf     []byte
	count   int // events held
}

var _ store.Store = (*Store)(nil)

// Open loads (or creates) the store in dir. maxEvents caps the events kept
// (0: no cap): beyond it the oldest ~10% are deleted, so memory stays bounded
// even without a retention setting.
func Open(dir string, maxEvents int) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cannot create analytics data dir: %w", err)
	}
	s := &Store{dir: dir, max: maxEvents, evals: map[string][]codec.FlagEval{}, metrics: map[string][]codec.MetricEvent{}}
	path := filepath.Join(dir, logName)
	good, err := s.replay(path)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cannot open event log: %w", err)
	}
	_ = f.Chmod(0o600) // a log created by an older version may be world-readable
	// cut a torn tail, then append after the last good record
	if err := f.Truncate(good); err != nil {
		f.Close()
		return nil, fmt.Errorf("cannot truncate event log: %w", err)
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("cannot seek event log: %w", err)
	}
	s.f = f
	if s.max > 0 && s.count > s.max {
		if err := s.trim(); err != nil {
			f.Close()
			return nil, err
		}
	}
	return s, nil
}

// replay loads the log and returns the length of its valid prefix.
func (s *Store) replay(path string) (int64, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("cannot open event log: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var hdr [8]byte
	var good int64
	var payload []byte
	var b codec.InsightBatch
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return good, nil // EOF or torn header
		}
		n := binary.BigEndian.Uint32(hdr[:4])
		if n > maxRecord {
			return good, nil
		}
		if cap(payload) < int(n) {
			payload = make([]byte, n)
		}
		payload = payload[:n]
		if _, err := io.ReadFull(r, payload); err != nil {
			return good, nil
		}
		if crc32.Checksum(payload, crcTable) != binary.BigEndian.Uint32(hdr[4:]) {
			return good, nil
		}
		b = codec.InsightBatch{}
		if _, err := b.UnmarshalMsg(payload); err != nil {
			return good, nil
		}
		s.add(&b)
		good += 8 + int64(n)
	}
}

func key(a, b string) string { return a + "\x00" + b }

// add indexes b in memory. Caller holds mu (or owns s exclusively).
func (s *Store) add(b *codec.InsightBatch) {
	for i := range b.Evals {
		e := b.Evals[i]
		if e.EnvID == "" {
			e.EnvID = b.EnvID
		}
		k := key(e.EnvID, e.FlagKey)
		s.evals[k] = append(s.evals[k], e)
	}
	s.count += len(b.Evals) + len(b.Metrics)
	for i := range b.Metrics {
		m := b.Metrics[i]
		if m.EnvID == "" {
			m.EnvID = b.EnvID
		}
		k := key(m.EnvID, m.EventName)
		s.metrics[k] = append(s.metrics[k], m)
	}
}

// appendRecord encodes b as one log record into dst.
func appendRecord(dst []byte, b *codec.InsightBatch) ([]byte, error) {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0)
	dst, err := b.MarshalMsg(dst)
	if err != nil {
		return dst[:start], fmt.Errorf("cannot encode insight batch: %w", err)
	}
	p := dst[start+8:]
	binary.BigEndian.PutUint32(dst[start:], uint32(len(p)))
	binary.BigEndian.PutUint32(dst[start+4:], crc32.Checksum(p, crcTable))
	return dst, nil
}

// Insert implements store.Store.
func (s *Store) Insert(_ context.Context, b *codec.InsightBatch) error {
	if len(b.Evals) == 0 && len(b.Metrics) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return errors.New("embedded analytics store is closed")
	}
	var err error
	s.buf, err = appendRecord(s.buf[:0], b)
	if err != nil {
		return err
	}
	if _, err := s.f.Write(s.buf); err != nil {
		return fmt.Errorf("cannot append to event log: %w", err)
	}
	if cap(s.buf) > 1<<20 {
		s.buf = nil // do not pin one huge batch's buffer
	}
	s.add(b)
	if s.max > 0 && s.count > s.max {
		return s.trim()
	}
	return nil
}

// trim deletes the oldest events so that at most 90% of max remain (events
// sharing the cut-off millisecond stay). Caller holds mu.
func (s *Store) trim() error {
	ts := make([]int64, 0, s.count)
	for _, evs := range s.evals {
		for i := range evs {
			ts = append(ts, evs[i].Timestamp)
		}
	}
	for _, ms := range s.metrics {
		for i := range ms {
			ts = append(ts, ms[i].Timestamp)
		}
	}
	slices.Sort(ts)
	cut := ts[len(ts)-s.max*9/10]
	if s.deleteBefore(cut) == 0 {
		return nil
	}
	return s.rewrite()
}

// rewrite replaces the log with the in-memory state. Caller holds mu.
func (s *Store) rewrite() error {
	tmp := filepath.Join(s.dir, logName+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("cannot create event log: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var rec []byte
	write := func(b *codec.InsightBatch) error {
		rec, err = appendRecord(rec[:0], b)
		if err != nil {
			return err
		}
		_, err = w.Write(rec)
		return err
	}
	const chunk = 4096
	for _, evs := range s.evals {
		for i := 0; i < len(evs); i += chunk {
			if err := write(&codec.InsightBatch{Evals: evs[i:min(i+chunk, len(evs))]}); err != nil {
				f.Close()
				return err
			}
		}
	}
	for _, ms := range s.metrics {
		for i := 0; i < len(ms); i += chunk {
			if err := write(&codec.InsightBatch{Metrics: ms[i:min(i+chunk, len(ms))]}); err != nil {
				f.Close()
				return err
			}
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("cannot write event log: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("cannot sync event log: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, logName)); err != nil {
		f.Close()
		return fmt.Errorf("cannot replace event log: %w", err)
	}
	if s.f != nil {
		s.f.Close()
	}
	s.f = f // positioned at its end
	return nil
}

// DeleteUser implements store.Store.
func (s *Store) DeleteUser(_ context.Context, envID, userKey string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, evs := range s.evals {
		out := evs[:0]
		for _, e := range evs {
			if e.EnvID == envID && e.UserKey == userKey {
				n++
				continue
			}
			out = append(out, e)
		}
		s.evals[k] = out
	}
	for k, ms := range s.metrics {
		out := ms[:0]
		for _, m := range ms {
			if m.EnvID == envID && m.UserKey == userKey {
				n++
				continue
			}
			out = append(out, m)
		}
		s.metrics[k] = out
	}
	s.count -= n
	if n == 0 {
		return nil
	}
	return s.rewrite()
}

// DeleteBefore implements store.Store.
func (s *Store) DeleteBefore(_ context.Context, t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.deleteBefore(t.UnixMilli()) == 0 {
		return nil
	}
	return s.rewrite()
}

// deleteBefore drops events older than cut (Unix ms) from memory and returns
// how many. Caller holds mu and rewrites the log.
func (s *Store) deleteBefore(cut int64) int {
	n := 0
	for k, evs := range s.evals {
		out := evs[:0]
		for _, e := range evs {
			if e.Timestamp < cut {
				n++
				continue
			}
			out = append(out, e)
		}
		if len(out) == 0 {
			delete(s.evals, k)
		} else {
			s.evals[k] = out
		}
	}
	for k, ms := range s.metrics {
		out := ms[:0]
		for _, m := range ms {
			if m.Timestamp < cut {
				n++
				continue
			}
			out = append(out, m)
		}
		if len(out) == 0 {
			delete(s.metrics, k)
		} else {
			s.metrics[k] = out
		}
	}
	s.count -= n
	return n
}

// Close implements store.Store.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}
