package control

import (
	"context"
	"testing"
	"time"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/store"
)

// TestScheduleRunsAtItsTimeWithoutPolling: with an hourly poll, a schedule
// still runs at its time, because creating it wakes the scheduler, which
// then waits only until the schedule is due.
func TestScheduleRunsAtItsTimeWithoutPolling(t *testing.T) {
	h := newHarness(t)
	h.s.wf.SetSchedulePoll(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.s.wf.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })

	env := h.env("dev")
	var f codec.Flag
	h.must(201, h.admin, "POST", h.flagsURL(env), betaFlag("wake")).decode(t, &f)
	draft := f
	draft.IsEnabled = !f.IsEnabled
	var x store.Schedule
	h.must(201, h.admin, "POST", h.flagsURL(env)+"/wake/schedules",
		map[string]any{"at": time.Now().Add(300 * time.Millisecond).UnixMilli(), "draft": draft}).decode(t, &x)

	deadline := time.Now().Add(30 * time.Second) // far below the hourly poll
	for x.Status != store.SchedApplied {
		if time.Now().After(deadline) {
			t.Fatalf("the schedule is still %s; the scheduler waited for its poll", x.Status)
		}
		time.Sleep(20 * time.Millisecond)
		h.must(200, h.admin, "GET", "/api/v1/envs/"+env+"/schedules/"+x.ID, nil).decode(t, &x)
	}
	var now codec.Flag
	h.must(200, h.admin, "GET", h.flagsURL(env)+"/wake", nil).decode(t, &now)
	if now.IsEnabled != draft.IsEnabled || now.Version != f.Version+1 {
		t.Fatalf("flag after the schedule: enabled %v version %d", now.IsEnabled, now.Version)
	}
}
