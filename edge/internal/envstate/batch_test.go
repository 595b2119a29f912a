package envstate_test

import (
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/codec/secret"
	"github.com/switchyard/switchyard/edge/internal/envstate"
)

func batchEvent(t testing.TB, env string, v int64, flags ...codec.Flag) *codec.ChangeEvent {
	p, err := (&codec.EnvSnapshot{EnvID: env, Version: v, Flags: flags}).MarshalMsg(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &codec.ChangeEvent{EnvID: env, Kind: codec.KindBatch, Op: codec.OpUpsert, ID: "b", Version: v, EnvVersion: v, Payload: p}
}

// TestApplyBatchIsOneChange: a batch of new and updated flags becomes one
// State and one Delta holding every applied flag; stale items are left out;
// an all-stale batch changes nothing; the original State is untouched.
func TestApplyBatchIsOneChange(t *testing.T) {
	snap := bigSnapshot(50)
	st := envstate.Build(snap)
	upd := snap.Flags[7]
	upd.Version++
	upd.IsEnabled = !upd.IsEnabled
	stale := snap.Flags[8] // same version: not newer
	stale.Description = "ignored"
	items := []codec.Flag{upd, stale}
	for i := range 100 {
		f := snap.Flags[1]
		f.ID, f.Key, f.Version = secret.NewGUID(), fmt.Sprintf("new-%03d", i), 1
		items = append(items, f)
	}
	ns, d, err := st.Apply(batchEvent(t, snap.EnvID, snap.Version+1, items...))
	if err != nil || d == nil {
		t.Fatalf("apply: %v", err)
	}
	if len(d.Flags) != 101 || len(d.Reeval) != 101 {
		t.Fatalf("delta holds %d flags (%d to re-evaluate), want 101", len(d.Flags), len(d.Reeval))
	}
	if ns.NumFlags() != st.NumFlags()+100 || ns.FlagByKey("new-042") == nil || ns.FlagByKey("new-042") != ns.FlagByID(items[44].ID) {
		t.Fatal("new flags not indexed")
	}
	if got := ns.FlagByID(upd.ID); got.Src.IsEnabled != upd.IsEnabled || got.Slot != st.FlagByID(upd.ID).Slot {
		t.Fatalf("update: %+v", got.Src)
	}
	if ns.FlagByID(stale.ID).Src.Description == "ignored" {
		t.Fatal("a stale item was applied")
	}
	if st.FlagByKey("new-000") != nil || st.FlagByID(upd.ID).Src.IsEnabled == upd.IsEnabled {
		t.Fatal("the old State changed")
	}
	if ns.Version != snap.Version+1 {
		t.Fatalf("version %d", ns.Version)
	}
	if ns2, d2, err := ns.Apply(batchEvent(t, snap.EnvID, snap.Version+2, upd, stale)); err != nil || d2 != nil || ns2 != ns {
		t.Fatalf("all-stale batch: %v %+v", err, d2)
	}
	if _, _, err := ns.Apply(&codec.ChangeEvent{EnvID: snap.EnvID, Kind: codec.KindBatch, Payload: []byte{0xc1}}); err == nil {
		t.Fatal("bad payload accepted")
	}
}

// cpuTime is the CPU time the process used so far (user + system, all
// threads: the GC's included). On a shared machine it tells the work from
// the wait for a core.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// hashFields is what a cold edge reads from Redis (HGETALL) for snap.
func hashFields(t testing.TB, snap *codec.EnvSnapshot) map[string]string {
	kv, err := codec.AppendEnvFields(nil, snap)
	if err != nil {
		t.Fatal(err)
	}
	fields := make(map[string]string, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		fields[kv[i]] = kv[i+1]
	}
	return fields
}

// BenchmarkColdLoad: what a cold edge does with an environment's hash once
// read from Redis: assemble the snapshot (codec.EnvFromFields), build the
// State (compile every flag, encode its JSON) and encode the first full
// sync. Reports the heap the State holds per flag ("B/flag", after GC,
// including the hash fields it keeps as msgp) (docs/benchmarks.md).
func BenchmarkColdLoad(b *testing.B) {
	for _, n := range []int{10, 1000, 50000} {
		b.Run(fmt.Sprintf("flags=%d", n), func(b *testing.B) {
			fields := hashFields(b, bigSnapshot(n))
			b.ReportAllocs()
			for b.Loop() {
				var m0, m1 runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&m0)
				t0, c0 := time.Now(), cpuTime()
				snap, err := codec.EnvFromFields("e", fields)
				if err != nil {
					b.Fatal(err)
				}
				st := envstate.Build(snap)
				full := st.Full(envstate.JSON)
				b.ReportMetric(float64(time.Since(t0).Milliseconds()), "ms/load")
				b.ReportMetric(float64((cpuTime() - c0).Milliseconds()), "cpu-ms/load")
				snap = nil
				runtime.GC()
				runtime.ReadMemStats(&m1)
				b.ReportMetric(float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc))/float64(n), "B/flag")
				runtime.KeepAlive(st)
				runtime.KeepAlive(full)
			}
		})
	}
}

// BenchmarkSegmentMemberMemory: heap an edge State holds per included key of
// a segment of 100,000 members (decoded strings, the compiled set, the
// msgp and JSON encodings), built from the hash fields as on a cold load.
func BenchmarkSegmentMemberMemory(b *testing.B) {
	const n = 100000
	snap := bigSnapshot(10)
	sg := snap.Segments[0]
	sg.Included = make([]string, n)
	for i := range sg.Included {
		sg.Included[i] = fmt.Sprintf("5f2b8e4a-9c1d-4a7e-b3f6-%012d", i)
	}
	snap.Segments = []codec.Segment{sg}
	fields := hashFields(b, snap)
	base := hashFields(b, bigSnapshot(10))
	load := func(f map[string]string) *envstate.State {
		s, err := codec.EnvFromFields("e", f)
		if err != nil {
			b.Fatal(err)
		}
		return envstate.Build(s)
	}
	for b.Loop() {
		var m0, m1, m2 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		small := load(base)
		runtime.GC()
		runtime.ReadMemStats(&m1)
		big := load(fields)
		runtime.GC()
		runtime.ReadMemStats(&m2)
		b.ReportMetric(float64(int64(m2.HeapAlloc-m1.HeapAlloc)-int64(m1.HeapAlloc-m0.HeapAlloc))/n, "B/member")
		runtime.KeepAlive(small)
		runtime.KeepAlive(big)
	}
}

// FuzzApplyBatch: any payload of a batch event either fails to decode or
// yields a State whose indexes (by id and by key) agree with its flags;
// never a panic.
func FuzzApplyBatch(f *testing.F) {
	snap := bigSnapshot(8)
	st := envstate.Build(snap)
	upd := snap.Flags[2]
	upd.Version++
	nf := snap.Flags[1]
	nf.ID, nf.Key, nf.Version = "n1", "new-1", 1
	f.Add(batchEvent(f, snap.EnvID, 9, upd, nf).Payload)
	f.Add(batchEvent(f, snap.EnvID, 9).Payload)
	f.Add([]byte{0x80})
	f.Add([]byte("\x85\xa5flags\xdd\x7f\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, p []byte) {
		ns, d, err := st.Apply(&codec.ChangeEvent{EnvID: snap.EnvID, Kind: codec.KindBatch, Op: codec.OpUpsert, EnvVersion: 9, Payload: p})
		if err != nil || d == nil {
			return
		}
		for _, fl := range ns.FlagList() {
			if ns.FlagByID(fl.Src.ID) != fl {
				t.Fatalf("flag %q not indexed by id", fl.Src.ID)
			}
			if g := ns.FlagByKey(fl.Src.Key); g == nil || g.Src.Key != fl.Src.Key {
				t.Fatalf("flag %q not indexed by key %q", fl.Src.ID, fl.Src.Key)
			}
		}
		ns.Full(envstate.JSON)
	})
}
