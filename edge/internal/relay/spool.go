package relay

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Spool is a bounded queue of records on disk, oldest first: one file per
// record, named by a sequence number ("%020d.rec"), written to a temporary
// name and renamed, so a record is either whole or absent after a crash
// and the queue survives a restart. When a new record would take the total
// over the cap, the oldest records are deleted (and counted) until it fits;
// a record larger than the cap itself is dropped at once.
type Spool struct {
	dir    string
	cap    int64
	onDrop func(data []byte) // told about each record deleted unsent (may read it)

	mu   sync.Mutex
	recs []rec // oldest first
	size int64
	seq  uint64
	kick chan struct{}
}

type rec struct {
	seq  uint64
	size int64
}

const recExt = ".rec"

// OpenSpool opens (creating it, mode 0700) the spool directory dir with a
// cap of capBytes, and takes over the records a previous run left there.
func OpenSpool(dir string, capBytes int64, onDrop func(data []byte)) (*Spool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("relay-buffer-dir: %w", err)
	}
	s := &Spool{dir: dir, cap: capBytes, onDrop: onDrop, kick: make(chan struct{}, 1)}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("relay-buffer-dir: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		if strings.HasSuffix(name, ".tmp") { // a write cut short
			_ = os.Remove(filepath.Join(dir, name))
			continue
		}
		if !e.Type().IsRegular() || !strings.HasSuffix(name, recExt) {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(name, recExt), 10, 64)
		if err != nil {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		s.recs = append(s.recs, rec{seq: n, size: info.Size()})
		s.size += info.Size()
		s.seq = max(s.seq, n)
	}
	sort.Slice(s.recs, func(i, j int) bool { return s.recs[i].seq < s.recs[j].seq })
	if len(s.recs) > 0 {
		s.kick <- struct{}{}
	}
	return s, nil
}

func (s *Spool) path(seq uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d%s", seq, recExt))
}

// Append writes a record. It fails only when the disk does (the caller
// counts that as lost).
func (s *Spool) Append(data []byte) error {
	n := int64(len(data))
	s.mu.Lock()
	defer s.mu.Unlock()
	if n > s.cap {
		s.onDrop(data)
		return nil
	}
	for s.size+n > s.cap && len(s.recs) > 0 {
		old := s.recs[0]
		s.recs = s.recs[1:]
		s.size -= old.size
		p := s.path(old.seq)
		if b, err := os.ReadFile(p); err == nil {
			s.onDrop(b)
		}
		_ = os.Remove(p)
	}
	s.seq++
	p := s.path(s.seq)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	s.recs = append(s.recs, rec{seq: s.seq, size: n})
	s.size += n
	select {
	case s.kick <- struct{}{}:
	default:
	}
	return nil
}

// peek returns up to n of the oldest records.
func (s *Spool) peek(n int) []rec {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]rec(nil), s.recs[:min(n, len(s.recs))]...)
}

// read returns a record's bytes; fs.ErrNotExist when the cap deleted it
// meanwhile.
func (s *Spool) read(r rec) ([]byte, error) { return os.ReadFile(s.path(r.seq)) }

// remove deletes sent records (those the cap deleted meanwhile are
// skipped).
func (s *Spool) remove(rs []rec) {
	s.mu.Lock()
	defer s.mu.Unlock()
	gone := make(map[uint64]bool, len(rs))
	for _, r := range rs {
		gone[r.seq] = true
	}
	kept := s.recs[:0]
	for _, r := range s.recs {
		if gone[r.seq] {
			if err := os.Remove(s.path(r.seq)); err == nil || errors.Is(err, fs.ErrNotExist) {
				s.size -= r.size
				continue
			}
			// not deleted: kept, sent again (at least once) rather than lost
		}
		kept = append(kept, r)
	}
	s.recs = kept
}

// Stats returns the records and bytes waiting.
func (s *Spool) Stats() (records int, bytes int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.recs), s.size
}
