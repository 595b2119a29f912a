package publish

import (
	"context"
	"encoding/json"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard/switchyard/control/internal/store"
)

// benchEnv returns a store with environment "e" holding n flags (written
// in one transaction) and a publisher over sinks that discard, after the
// first (whole) publish.
func benchEnv(b *testing.B, n int) (*store.Store, *Publisher) {
	ctx := context.Background()
	st := envStore(b)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("f%05d", i)
	}
	err := st.Backend().Modify(ctx, store.CollFlags, ids, func(id string, _ *store.Doc) (*store.Doc, error) {
		f := flag("e", id, "key-"+id)
		f.Version = 1
		data, err := json.Marshal(f)
		return &store.Doc{ID: id, Version: 1, Fields: map[string]string{"envId": "e", "key": f.Key}, Data: data}, err
	})
	if err != nil {
		b.Fatal(err)
	}
	p := New(st, Discard{}, Discard{}, nil)
	if err := p.PublishEnv(ctx, "e"); err != nil {
		b.Fatal(err)
	}
	return st, p
}

// BenchmarkPublishChange: control's work to publish one flag change (store
// reads, event encoding, publish mark; sinks discard) in an environment of
// 10 and 10,000 flags, incremental (what the publisher does) and whole (what
// a whole write — and every publish before incremental publishing — costs).
// The write of the change itself is outside the timer.
//
// cpu-µs/op is the process's CPU time (user + system) per publish, which on
// a shared machine tells control's work from the wait for a core and the
// disk (the goal: within 2x from 10 to 50,000 flags).
func BenchmarkPublishChange(b *testing.B) {
	for _, n := range []int{10, 1000, 10000, 50000} {
		for _, whole := range []bool{false, true} {
			if whole && (n == 1000 || n == 50000) {
				continue // seconds per op at 50,000: the incremental publish is the point
			}
			name := fmt.Sprintf("flags=%d/incremental", n)
			if whole {
				name = fmt.Sprintf("flags=%d/whole", n)
			}
			b.Run(name, func(b *testing.B) {
				st, p := benchEnv(b, n)
				ctx := context.Background()
				b.ReportAllocs()
				var cpu time.Duration
				for b.Loop() {
					b.StopTimer()
					f, err := st.GetFlag(ctx, "e", "f00000")
					if err != nil {
						b.Fatal(err)
					}
					f.IsEnabled = !f.IsEnabled
					if err := st.UpdateFlag(ctx, f, f.Version); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					c0 := cpuTime()
					if err := p.publish(ctx, "e", whole); err != nil {
						b.Fatal(err)
					}
					cpu += cpuTime() - c0
				}
				b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
			})
		}
	}
}

// cpuTime is the CPU time the process used so far (user + system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
