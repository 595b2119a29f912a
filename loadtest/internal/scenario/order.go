package scenario

import (
	"sort"
	"time"
)

// WriteAck is one write the control API acknowledged: the write number
// (its marker), the flag it changed, the version the API returned and
// when the request was sent.
type WriteAck struct {
	Marker  int64
	Flag    int
	Version int64
	SentNs  int64
}

// Delivery is one flag state an SDK connection read, in the order it read
// them: the marker carried by the flag's value (-1: not a marker of this
// run, e.g. the state before the run in the full sync), the flag's
// updatedAt (Unix ms), when it was read, and which message carried it
// (items of one message are one change set).
type Delivery struct {
	Flag      int
	Marker    int64
	UpdatedAt int64
	RecvNs    int64
	Msg       int
	Full      bool // part of a full sync (the state before the run)
}

// OrderStats is what the order checker found for one connection (or the
// sum over several).
type OrderStats struct {
	Acked        int64 // acknowledged writes
	Delivered    int64 // acknowledged writes whose state the connection read, in order
	Collapsed    int64 // acknowledged writes never read as such (a later state of the flag arrived instead)
	OutOfOrder   int64 // a state older than one already read for the flag
	Duplicates   int64 // the same state read twice
	MissingFinal int64 // flags whose last state read is not the last acknowledged one
	Unknown      int64 // patches carrying a value no acknowledged write set
	StampBack    int64 // a new state whose updatedAt is below one read in an earlier message (a FeatBit SDK reconnecting in between would miss it)
	FlagsChecked int64 // flags with at least one acknowledged write
}

// Add sums o into s.
func (s *OrderStats) Add(o OrderStats) {
	s.Acked += o.Acked
	s.Delivered += o.Delivered
	s.Collapsed += o.Collapsed
	s.OutOfOrder += o.OutOfOrder
	s.Duplicates += o.Duplicates
	s.MissingFinal += o.MissingFinal
	s.Unknown += o.Unknown
	s.StampBack += o.StampBack
	s.FlagsChecked += o.FlagsChecked
}

// OK reports whether nothing was out of order, duplicated, unknown, stamped
// backwards or missing at the end (collapsed intermediate states are fine).
func (s OrderStats) OK() bool {
	return s.OutOfOrder == 0 && s.Duplicates == 0 && s.MissingFinal == 0 && s.Unknown == 0 && s.StampBack == 0
}

// Acks indexes acknowledged writes by marker and knows each flag's last
// acknowledged write (the highest version). Not safe for concurrent use.
type Acks struct {
	byMarker map[int64]WriteAck
	last     map[int]WriteAck
	dupVer   int64
	seen     map[[2]int64]bool
}

// NewAcks returns an empty index.
func NewAcks() *Acks {
	return &Acks{byMarker: map[int64]WriteAck{}, last: map[int]WriteAck{}, seen: map[[2]int64]bool{}}
}

// Add records an acknowledged write.
func (a *Acks) Add(w WriteAck) {
	a.byMarker[w.Marker] = w
	k := [2]int64{int64(w.Flag), w.Version}
	if a.seen[k] {
		a.dupVer++ // two acknowledged writes got the same version of one flag
	}
	a.seen[k] = true
	if l, ok := a.last[w.Flag]; !ok || w.Version > l.Version {
		a.last[w.Flag] = w
	}
}

// Len is the number of acknowledged writes.
func (a *Acks) Len() int { return len(a.byMarker) }

// SameVersion counts acknowledged writes that got a version another
// acknowledged write of the same flag got (must be 0: the compare-and-set
// lets one of them through).
func (a *Acks) SameVersion() int64 { return a.dupVer }

// Last returns the flag's last acknowledged write.
func (a *Acks) Last(flag int) (WriteAck, bool) {
	w, ok := a.last[flag]
	return w, ok
}

// Get returns the acknowledged write with the marker.
func (a *Acks) Get(marker int64) (WriteAck, bool) {
	w, ok := a.byMarker[marker]
	return w, ok
}

// CheckOrder checks one connection's deliveries against the acknowledged
// writes: per flag the versions read must increase and end at the last
// acknowledged version; patch timestamps must not go back across messages.
// lat, if not nil, gets the time from each delivered write's request to
// its reading.
func CheckOrder(a *Acks, ds []Delivery, lat func(time.Duration)) OrderStats {
	var st OrderStats
	st.Acked = int64(a.Len())
	lastVer := map[int]int64{} // flag → version last read (0: the state before the run)
	var maxStamp int64         // highest updatedAt of earlier patch messages
	msgMax, msg := int64(0), -1
	for _, d := range ds {
		if d.Msg != msg {
			maxStamp = max(maxStamp, msgMax)
			msg = d.Msg
		}
		msgMax = max(msgMax, d.UpdatedAt)
		if d.Full {
			continue // the full sync is the starting point
		}
		w, ok := a.Get(d.Marker)
		if !ok || w.Flag != d.Flag {
			st.Unknown++
			continue
		}
		prev := lastVer[d.Flag]
		switch {
		case w.Version == prev:
			st.Duplicates++
		case w.Version < prev:
			st.OutOfOrder++
		default:
			// a new state stamped before one read earlier: a FeatBit SDK
			// reconnecting in between would have asked past it (a state read
			// again, e.g. after a reconnect, is no loss)
			if d.UpdatedAt < maxStamp {
				st.StampBack++
			}
			st.Delivered++
			lastVer[d.Flag] = w.Version
			if lat != nil {
				lat(time.Duration(d.RecvNs - w.SentNs))
			}
		}
	}
	flags := make([]int, 0, len(a.last))
	for f := range a.last {
		flags = append(flags, f)
	}
	sort.Ints(flags)
	for _, f := range flags {
		st.FlagsChecked++
		if lastVer[f] != a.last[f].Version {
			st.MissingFinal++
		}
	}
	st.Collapsed = st.Acked - st.Delivered
	return st
}
