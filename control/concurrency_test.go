package control

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/switchyard/switchyard/codec"
)

// TestConcurrentWriters: writers racing on one version get exactly one 200
// and 409s; writers on different flags all succeed while the publisher runs,
// and in the end the snapshot holds every flag's last version.
func TestConcurrentWriters(t *testing.T) {
	h := newHarness(t)
	env := h.env("dev")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go h.s.pub.Run(ctx)

	var f codec.Flag
	h.must(200, h.admin, "GET", h.flagsURL(env)+"/welcome-banner", nil).decode(t, &f)
	codes := make([]int, 8)
	var wg sync.WaitGroup
	for i := range codes {
		wg.Go(func() {
			codes[i] = h.do(h.admin, "POST", h.flagsURL(env)+"/welcome-banner/toggle", map[string]any{"version": f.Version}).Code
		})
	}
	wg.Wait()
	won := 0
	for _, c := range codes {
		switch c {
		case 200:
			won++
		case 409:
		default:
			t.Fatalf("status %d", c)
		}
	}
	if won != 1 {
		t.Fatalf("%d writers won the same version: %v", won, codes)
	}

	const writers, rounds = 4, 10
	for w := range writers {
		wg.Go(func() {
			key := fmt.Sprintf("w-%d", w)
			if r := h.do(h.admin, "POST", h.flagsURL(env), boolFlagBody(key)); r.Code != 201 {
				t.Errorf("create %s: %d %s", key, r.Code, r.Body)
				return
			}
			for v := int64(1); v <= rounds; v++ {
				if r := h.do(h.admin, "POST", h.flagsURL(env)+"/"+key+"/toggle", map[string]any{"version": v}); r.Code != 200 {
					t.Errorf("toggle %s v%d: %d %s", key, v, r.Code, r.Body)
					return
				}
			}
		})
	}
	wg.Wait()
	cancel()
	h.publish()
	snap := h.sink.Snapshot(env)
	got := map[string]int64{}
	for _, fl := range snap.Flags {
		got[fl.Key] = fl.Version
	}
	for w := range writers {
		if v := got[fmt.Sprintf("w-%d", w)]; v != rounds+1 {
			t.Errorf("w-%d at version %d in the snapshot, want %d", w, v, rounds+1)
		}
	}
	e, _ := h.s.st.GetEnv(context.Background(), env)
	if e.PublishedVersion != e.Version || snap.Version != e.Version {
		t.Fatalf("publish state %d/%d, snapshot %d", e.PublishedVersion, e.Version, snap.Version)
	}
	// Every flag event of the writers arrived, in order per flag.
	last := map[string]int64{}
	for _, ev := range h.sink.Events() {
		if ev.Kind == codec.KindFlag && ev.Version < last[ev.ID] {
			t.Fatalf("flag %s: version %d after %d", ev.ID, ev.Version, last[ev.ID])
		}
		last[ev.ID] = ev.Version
	}
}
