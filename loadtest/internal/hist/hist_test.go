package hist

import (
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"
)

func TestIndexBounds(t *testing.T) {
	for _, v := range []uint64{0, 1, 31, 32, 33, 63, 64, 65, 1000, 1e6, 123456789, 1<<44 - 1} {
		i := index(v)
		if v < Lower(i) || v > Upper(i) {
			t.Fatalf("v=%d in bucket %d [%d,%d]", v, i, Lower(i), Upper(i))
		}
		if v >= 64 && float64(Upper(i)-Lower(i)) > float64(v)*0.035 {
			t.Fatalf("bucket %d too wide for %d: [%d,%d]", i, v, Lower(i), Upper(i))
		}
	}
	if index(1<<50) != NumBuckets-1 {
		t.Fatalf("clamp: %d", index(1<<50))
	}
}

func TestQuantilesMatchExact(t *testing.T) {
	var h H
	vals := make([]float64, 0, 100000)
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		d := time.Duration(r.ExpFloat64() * float64(2*time.Millisecond))
		h.Record(d)
		vals = append(vals, float64(d))
	}
	sort.Float64s(vals)
	s := h.Snapshot()
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		exact := vals[int(q*float64(len(vals)))-1]
		got := float64(s.Quantile(q))
		if got < exact*0.96 || got > exact*1.04 {
			t.Errorf("q%.3f: got %v want ~%v", q, time.Duration(got), time.Duration(exact))
		}
	}
	if s.N != 100000 {
		t.Fatalf("n=%d", s.N)
	}
}

func TestMergeEqualsCombined(t *testing.T) {
	var a, b, c H
	for i := range 5000 {
		d := time.Duration(i*i) * time.Microsecond / 7
		if i%2 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
		c.Record(d)
	}
	m := a.Snapshot().Merge(b.Snapshot())
	want := c.Snapshot()
	if m.N != want.N || m.Sum != want.Sum || m.Min != want.Min || m.Max != want.Max || len(m.Buckets) != len(want.Buckets) {
		t.Fatalf("merge mismatch: %+v vs %+v", m.Summarize(), want.Summarize())
	}
	for i := range m.Buckets {
		if m.Buckets[i] != want.Buckets[i] {
			t.Fatalf("bucket %d: %v vs %v", i, m.Buckets[i], want.Buckets[i])
		}
	}
}

func TestConcurrentRecord(t *testing.T) {
	var h H
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 10000 {
				h.Record(time.Duration(g*10000 + i))
			}
		})
	}
	wg.Wait()
	s := h.Snapshot()
	if s.N != 80000 || s.Min != 0 || s.Max != 79999 {
		t.Fatalf("n=%d min=%d max=%d", s.N, s.Min, s.Max)
	}
	var total uint64
	for _, b := range s.Buckets {
		total += b[1]
	}
	if total != 80000 {
		t.Fatalf("bucket total %d", total)
	}
}

func TestRecordIsAllocationFree(t *testing.T) {
	var h H
	if a := testing.AllocsPerRun(1000, func() { h.Record(1234567) }); a != 0 {
		t.Fatalf("Record allocates %v", a)
	}
}
