package envstate_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/codec/secret"
	"github.com/switchyard/switchyard/edge/edgetest"
	"github.com/switchyard/switchyard/edge/internal/envstate"
)

// bigSnapshot is the demo environment with n flags (copies of the demo's
// second flag under new ids and keys).
func bigSnapshot(n int) *codec.EnvSnapshot {
	snap := edgetest.DemoSnapshot(secret.NewGUID())
	base := snap.Flags[1]
	for i := len(snap.Flags); i < n; i++ {
		f := base
		f.ID, f.Key = secret.NewGUID(), fmt.Sprintf("flag-%05d", i)
		snap.Flags = append(snap.Flags, f)
	}
	return snap
}

// TestApplyKeepsPayloadAndIndexes: an update of an existing flag keeps the
// event's msgp payload as the flag's encoding (no decode-then-re-encode) and
// leaves every other flag as it was (the same *Flag), so its cost does not
// grow with the number of flags beyond copying the pointer list.
func TestApplyKeepsPayloadAndIndexes(t *testing.T) {
	snap := bigSnapshot(100)
	st := envstate.Build(snap)
	f := snap.Flags[7]
	f.Version++
	f.IsEnabled = !f.IsEnabled
	ev := flagEvent(snap.EnvID, &f, codec.OpUpsert)
	ns, d, err := st.Apply(ev)
	if err != nil || d == nil {
		t.Fatalf("apply: %v", err)
	}
	got := ns.FlagByID(f.ID)
	if got == nil || ns.FlagByKey(f.Key) != got || got.Src.IsEnabled != f.IsEnabled {
		t.Fatalf("updated flag: %+v", got)
	}
	if &got.MP[0] != &ev.Payload[0] {
		t.Error("the payload was encoded again instead of kept")
	}
	for _, o := range snap.Flags {
		if o.ID != f.ID && ns.FlagByID(o.ID) != st.FlagByID(o.ID) {
			t.Fatalf("flag %s rebuilt by another flag's change", o.Key)
		}
	}
	if ns.Slots() != st.Slots() || ns.Full(envstate.JSON) == st.Full(envstate.JSON) {
		t.Fatal("slots changed, or the full sync was not rebuilt")
	}
}

// TestBuildKeepsStoredEncodings: a State built from a snapshot assembled
// from the stored hash (codec.EnvFromFields) keeps the stored msgp bytes of
// every item instead of encoding them again.
func TestBuildKeepsStoredEncodings(t *testing.T) {
	kv, err := codec.AppendEnvFields(nil, bigSnapshot(20))
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		fields[kv[i]] = kv[i+1]
	}
	snap, err := codec.EnvFromFields("e", fields)
	if err != nil {
		t.Fatal(err)
	}
	st := envstate.Build(snap)
	for i := range snap.Flags {
		if f := st.FlagByID(snap.Flags[i].ID); &f.MP[0] != &snap.FlagsMP[i][0] {
			t.Fatalf("flag %s encoded again", snap.Flags[i].Key)
		}
	}
	for i, sg := range st.Segs {
		if &sg.MP[0] != &snap.SegmentsMP[i][0] {
			t.Fatalf("segment %s encoded again", sg.Src.ID)
		}
	}
}

// applyCost applies updates of one flag to a State of n flags and returns
// the bytes and allocations per Apply (the events are made beforehand).
func applyCost(n, runs int) (bytesPerOp, allocsPerOp float64) {
	snap := bigSnapshot(n)
	st := envstate.Build(snap)
	f := snap.Flags[1]
	evs := make([]*codec.ChangeEvent, runs+1)
	for j := range evs {
		f.Version++
		evs[j] = flagEvent(snap.EnvID, &f, codec.OpUpsert)
	}
	if ns, _, err := st.Apply(evs[0]); err == nil { // warm
		st = ns
	}
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	for _, ev := range evs[1:] {
		ns, _, err := st.Apply(ev)
		if err != nil {
			panic(err)
		}
		st = ns
	}
	runtime.ReadMemStats(&m1)
	return float64(m1.TotalAlloc-m0.TotalAlloc) / float64(runs), float64(m1.Mallocs-m0.Mallocs) / float64(runs)
}

// TestApplyCostFlatInEnvironmentSize is the allocation budget of applying
// one flag update: the bytes and allocations per Apply at 20,000 flags are
// those at 100 flags plus 512 bytes — no copy of anything per flag (before
// the chunked list, an update copied the whole pointer list: 160 KB at
// 20,000 flags; before the chunk groups, the list of chunk pointers: 1.2 KB).
func TestApplyCostFlatInEnvironmentSize(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 20,000-flag State")
	}
	smallB, smallA := applyCost(100, 200)
	bigB, bigA := applyCost(20000, 200)
	t.Logf("per Apply: 100 flags %.0f B / %.1f allocs; 20,000 flags %.0f B / %.1f allocs", smallB, smallA, bigB, bigA)
	if budget := smallB + 512; bigB > budget {
		t.Errorf("an update allocates %.0f B at 20,000 flags, budget %.0f B (100 flags: %.0f B): it copies per flag", bigB, budget, smallB)
	}
	if bigA > smallA+2 {
		t.Errorf("an update makes %.1f allocations at 20,000 flags, %.1f at 100", bigA, smallA)
	}
}

// addRemoveCost applies, each to the same State of n flags, runs creations
// of a new flag (add) or deletions of one of its flags (!add, none the last,
// spread over the list) and returns the bytes and allocations per Apply
// (the events are made beforehand).
func addRemoveCost(n, runs int, add bool) (bytesPerOp, allocsPerOp float64) {
	snap := bigSnapshot(n)
	st := envstate.Build(snap)
	evs := make([]*codec.ChangeEvent, runs)
	for j := range evs {
		if add {
			f := snap.Flags[1]
			f.ID, f.Key = secret.NewGUID(), fmt.Sprintf("new-flag-%05d", j)
			evs[j] = flagEvent(snap.EnvID, &f, codec.OpUpsert)
		} else {
			f := st.FlagAt(j * (n - 1) / runs)
			evs[j] = &codec.ChangeEvent{EnvID: snap.EnvID, Kind: codec.KindFlag, Op: codec.OpDelete, ID: f.Src.ID, Version: f.Src.Version}
		}
	}
	apply := func(ev *codec.ChangeEvent) {
		if _, d, err := st.Apply(ev); err != nil || d == nil {
			panic(fmt.Sprintf("apply %s %s: %v", ev.Op, ev.ID, err))
		}
	}
	apply(evs[0]) // warm
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	for _, ev := range evs {
		apply(ev)
	}
	runtime.ReadMemStats(&m1)
	return float64(m1.TotalAlloc-m0.TotalAlloc) / float64(runs), float64(m1.Mallocs-m0.Mallocs) / float64(runs)
}

// TestAddRemoveCostFlatInEnvironmentSize is the allocation budget of
// creating and of deleting one flag: the bytes per Apply at 1,000, 10,000
// and 50,000 flags are those at 10 flags plus 1 KiB — no copy of anything per flag
// (before the persistent indexes both rebuilt two maps of every flag, and a
// deletion the whole flag list: 3.5 MB per creation and 4.4 MB per deletion
// at 50,000 flags).
func TestAddRemoveCostFlatInEnvironmentSize(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 50,000-flag State")
	}
	for _, add := range []bool{true, false} {
		what := map[bool]string{true: "create", false: "delete"}[add]
		smallB, smallA := addRemoveCost(10, 100, add)
		t.Logf("%s, 10 flags: %.0f B / %.1f allocs per Apply", what, smallB, smallA)
		for _, n := range []int{1000, 10000, 50000} {
			b, a := addRemoveCost(n, 100, add)
			t.Logf("%s, %d flags: %.0f B / %.1f allocs per Apply", what, n, b, a)
			if budget := smallB + 1024; b > budget {
				t.Errorf("%s at %d flags allocates %.0f B per Apply, budget %.0f B (10 flags: %.0f B): it grows with the environment", what, n, b, budget, smallB)
			}
			if a > smallA+4 {
				t.Errorf("%s at %d flags makes %.1f allocations per Apply, %.1f at 10 flags", what, n, a, smallA)
			}
		}
	}
}

// BenchmarkApplyFlagUpdate: one flag update applied to an environment of
// 10, 1,000, 10,000 and 50,000 flags (docs/benchmarks.md).
func BenchmarkApplyFlagUpdate(b *testing.B) {
	for _, n := range []int{10, 1000, 10000, 50000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			snap := bigSnapshot(n)
			st := envstate.Build(snap)
			f := snap.Flags[1]
			evs := make([]*codec.ChangeEvent, 64)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if i%len(evs) == 0 {
					b.StopTimer()
					for j := range evs {
						f.Version++
						evs[j] = flagEvent(snap.EnvID, &f, codec.OpUpsert)
					}
					b.StartTimer()
				}
				ns, _, err := st.Apply(evs[i%len(evs)])
				if err != nil {
					b.Fatal(err)
				}
				st = ns
			}
		})
	}
}

// TestAddRemoveKeepsIndexes: random creations, deletions, key changes and
// updates against a model: after each, every flag is found by id and key,
// deleted ones are not, and the full sync holds exactly the live flags;
// earlier States are unchanged.
func TestAddRemoveKeepsIndexes(t *testing.T) {
	snap := bigSnapshot(300)
	st := envstate.Build(snap)
	live := map[string]codec.Flag{} // by id
	for _, f := range snap.Flags {
		live[f.ID] = f
	}
	r := rand.New(rand.NewPCG(3, 4))
	type saved struct {
		st   *envstate.State
		live map[string]codec.Flag
	}
	var history []saved
	check := func(st *envstate.State, live map[string]codec.Flag, step int) {
		if st.NumFlags() != len(live) {
			t.Fatalf("step %d: %d flags, want %d", step, st.NumFlags(), len(live))
		}
		for id, f := range live {
			g := st.FlagByID(id)
			if g == nil || g.Src.Key != f.Key || g.Src.Version != f.Version || st.FlagByKey(f.Key) != g || st.FlagByKeyBytes([]byte(f.Key)) != g {
				t.Fatalf("step %d: flag %s (%s) not found by id and key: %+v", step, id, f.Key, g)
			}
		}
		var full struct {
			Data struct {
				FeatureFlags []struct{ ID string } `json:"featureFlags"`
			} `json:"data"`
		}
		if err := json.Unmarshal(st.FullBody(envstate.JSON), &full); err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, f := range full.Data.FeatureFlags {
			if _, ok := live[f.ID]; !ok || seen[f.ID] {
				t.Fatalf("step %d: full sync has %s (deleted or twice)", step, f.ID)
			}
			seen[f.ID] = true
		}
		if len(seen) != len(live) {
			t.Fatalf("step %d: full sync has %d flags, want %d", step, len(seen), len(live))
		}
	}
	ids := func() []string {
		out := make([]string, 0, len(live))
		for _, f := range st.Flags() {
			out = append(out, f.Src.ID)
		}
		return out
	}
	for step := range 600 {
		var ev *codec.ChangeEvent
		switch k := r.IntN(4); {
		case k == 0 || len(live) < 5: // create
			f := snap.Flags[1]
			f.ID, f.Key, f.Version = secret.NewGUID(), fmt.Sprintf("created-%d", step), 1
			live[f.ID] = f
			ev = flagEvent(snap.EnvID, &f, codec.OpUpsert)
		case k == 1: // delete
			all := ids()
			f := live[all[r.IntN(len(all))]]
			delete(live, f.ID)
			ev = &codec.ChangeEvent{EnvID: snap.EnvID, Kind: codec.KindFlag, Op: codec.OpDelete, ID: f.ID, Version: f.Version}
		default: // update, every other one with a new key
			all := ids()
			f := live[all[r.IntN(len(all))]]
			f.Version++
			if k == 2 {
				f.Key = fmt.Sprintf("rekeyed-%d", step)
			}
			live[f.ID] = f
			ev = flagEvent(snap.EnvID, &f, codec.OpUpsert)
		}
		ns, d, err := st.Apply(ev)
		if err != nil || d == nil {
			t.Fatalf("step %d: apply %s: %v", step, ev.Op, err)
		}
		st = ns
		check(st, live, step)
		if step%50 == 0 {
			history = append(history, saved{st, maps.Clone(live)})
		}
	}
	for i, h := range history {
		check(h.st, h.live, -i)
	}
}

// BenchmarkApplyFlagCreateDelete: creating one flag and deleting one flag in
// an environment of 10, 1,000, 10,000 and 50,000 flags (docs/benchmarks.md;
// each op applied to the same State).
func BenchmarkApplyFlagCreateDelete(b *testing.B) {
	for _, op := range []string{"create", "delete"} {
		for _, n := range []int{10, 1000, 10000, 50000} {
			b.Run(fmt.Sprintf("%s/%d", op, n), func(b *testing.B) {
				snap := bigSnapshot(n)
				st := envstate.Build(snap)
				evs := make([]*codec.ChangeEvent, 64)
				for j := range evs {
					if op == "create" {
						f := snap.Flags[1]
						f.ID, f.Key = secret.NewGUID(), fmt.Sprintf("new-flag-%05d", j)
						evs[j] = flagEvent(snap.EnvID, &f, codec.OpUpsert)
					} else {
						f := st.FlagAt(j * (n - 1) / len(evs))
						evs[j] = &codec.ChangeEvent{EnvID: snap.EnvID, Kind: codec.KindFlag, Op: codec.OpDelete, ID: f.Src.ID, Version: f.Src.Version}
					}
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := range b.N {
					if _, _, err := st.Apply(evs[i%len(evs)]); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestBuildLargeSnapshot: a snapshot large enough to be compiled in
// parallel (5,000 flags, one id twice) gives every flag once, the newer
// copy of the duplicate, slots 0..n-1 in snapshot order.
func TestBuildLargeSnapshot(t *testing.T) {
	snap := bigSnapshot(5000)
	dup := snap.Flags[2500]
	dup.Version++
	dup.Description = "newer"
	snap.Flags = append(snap.Flags, dup)
	st := envstate.Build(snap)
	if st.NumFlags() != 5000 || st.Slots() != 5000 {
		t.Fatalf("%d flags, %d slots; want 5,000", st.NumFlags(), st.Slots())
	}
	for i, f := range snap.Flags[:5000] {
		g := st.FlagByID(f.ID)
		if g == nil || g.Slot != int32(i) || st.FlagAt(i) != g || g.Eval == nil || len(g.JSON) == 0 {
			t.Fatalf("flag %d: %+v", i, g)
		}
	}
	if st.FlagByID(dup.ID).Src.Description != "newer" {
		t.Fatal("the older copy of a duplicate id was kept")
	}
}
