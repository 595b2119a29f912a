// Package hist is a concurrent, mergeable latency histogram with
// HDR-style log-linear buckets: every power-of-two range is split into 32
// linear sub-buckets, so a recorded value is known within ~3 % over the
// whole range 1 ns … 2^44 ns (~4.9 h).
//
// Record is lock-free (atomic adds) and allocation-free, so many netpoll
// handler goroutines may record into one H at once. Snapshot copies the
// counters into a Snap, which is what the harness serializes (sparse
// bucket list), merges across worker processes and renders.
package hist

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

const (
	subBits  = 5
	subCount = 1 << subBits // linear sub-buckets per power of two
	maxExp   = 44           // values ≥ 2^maxExp are clamped
	// NumBuckets is the number of buckets of a histogram.
	NumBuckets = (maxExp - subBits + 1) * subCount
)

// index maps a value to its bucket.
func index(v uint64) int {
	if v < subCount {
		return int(v)
	}
	if v >= 1<<maxExp {
		v = 1<<maxExp - 1
	}
	e := bits.Len64(v) - subBits - 1 // v>>e is in [32,63]
	return (e+1)*subCount + int(v>>uint(e)) - subCount
}

// Lower returns the smallest value that falls into bucket i.
func Lower(i int) uint64 {
	if i < subCount {
		return uint64(i)
	}
	e := i/subCount - 1
	m := uint64(i%subCount + subCount)
	return m << uint(e)
}

// Upper returns the largest value that falls into bucket i.
func Upper(i int) uint64 {
	if i+1 >= NumBuckets {
		return 1<<maxExp - 1
	}
	return Lower(i+1) - 1
}

// H is a live histogram of durations in nanoseconds. The zero value is
// ready to use. It is about 10 KiB; allocate one per metric, not per event.
type H struct {
	counts [NumBuckets]atomic.Uint64
	n      atomic.Uint64
	sum    atomic.Uint64
	min    atomic.Uint64 // stored as value+1 so 0 means "unset"
	max    atomic.Uint64
}

// Record adds one observation of d (negative durations count as 0).
func (h *H) Record(d time.Duration) {
	v := uint64(0)
	if d > 0 {
		v = uint64(d)
	}
	h.counts[index(v)].Add(1)
	h.n.Add(1)
	h.sum.Add(v)
	for {
		m := h.min.Load()
		if m != 0 && m <= v+1 {
			break
		}
		if h.min.CompareAndSwap(m, v+1) {
			break
		}
	}
	for {
		m := h.max.Load()
		if m >= v || h.max.CompareAndSwap(m, v) {
			break
		}
	}
}

// Count returns the number of observations.
func (h *H) Count() uint64 { return h.n.Load() }

// Snapshot returns a copy of the current counts.
func (h *H) Snapshot() Snap {
	s := Snap{N: h.n.Load(), Sum: h.sum.Load(), Max: h.max.Load()}
	if m := h.min.Load(); m > 0 {
		s.Min = m - 1
	}
	for i := range h.counts {
		if c := h.counts[i].Load(); c > 0 {
			s.Buckets = append(s.Buckets, [2]uint64{uint64(i), c})
		}
	}
	return s
}

// Snap is an immutable copy of a histogram: sparse buckets [index, count]
// in increasing index order. It is the JSON form exchanged with workers.
type Snap struct {
	N       uint64      `json:"n"`
	Sum     uint64      `json:"sum"`
	Min     uint64      `json:"min"`
	Max     uint64      `json:"max"`
	Buckets [][2]uint64 `json:"buckets"`
}

// Merge returns the sum of s and o.
func (s Snap) Merge(o Snap) Snap {
	if o.N == 0 {
		return s
	}
	if s.N == 0 {
		return o
	}
	r := Snap{N: s.N + o.N, Sum: s.Sum + o.Sum, Min: min(s.Min, o.Min), Max: max(s.Max, o.Max)}
	i, j := 0, 0
	for i < len(s.Buckets) || j < len(o.Buckets) {
		switch {
		case j >= len(o.Buckets) || (i < len(s.Buckets) && s.Buckets[i][0] < o.Buckets[j][0]):
			r.Buckets = append(r.Buckets, s.Buckets[i])
			i++
		case i >= len(s.Buckets) || o.Buckets[j][0] < s.Buckets[i][0]:
			r.Buckets = append(r.Buckets, o.Buckets[j])
			j++
		default:
			r.Buckets = append(r.Buckets, [2]uint64{s.Buckets[i][0], s.Buckets[i][1] + o.Buckets[j][1]})
			i++
			j++
		}
	}
	return r
}

// Quantile returns the value at quantile q (0..1): the upper bound of the
// bucket holding the q-th observation, clamped to [Min, Max].
func (s Snap) Quantile(q float64) time.Duration {
	if s.N == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(s.N)))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for _, b := range s.Buckets {
		seen += b[1]
		if seen >= rank {
			v := Upper(int(b[0]))
			v = min(max(v, s.Min), s.Max)
			return time.Duration(v)
		}
	}
	return time.Duration(s.Max)
}

// Mean returns the average observation.
func (s Snap) Mean() time.Duration {
	if s.N == 0 {
		return 0
	}
	return time.Duration(s.Sum / s.N)
}

// Summary is the usual set of percentiles, in milliseconds, for tables and JSON.
type Summary struct {
	N     uint64  `json:"n"`
	Mean  float64 `json:"meanMs"`
	P50   float64 `json:"p50Ms"`
	P90   float64 `json:"p90Ms"`
	P99   float64 `json:"p99Ms"`
	P999  float64 `json:"p999Ms"`
	Max   float64 `json:"maxMs"`
	Min   float64 `json:"minMs"`
	Total float64 `json:"-"`
}

// Summarize computes the Summary of s.
func (s Snap) Summarize() Summary {
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	return Summary{
		N: s.N, Mean: ms(s.Mean()), P50: ms(s.Quantile(0.5)), P90: ms(s.Quantile(0.9)),
		P99: ms(s.Quantile(0.99)), P999: ms(s.Quantile(0.999)), Max: ms(time.Duration(s.Max)), Min: ms(time.Duration(s.Min)),
	}
}
