package delivery

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/codec"
)

type recorder struct {
	mu   sync.Mutex
	reps []codec.DeliveryReport
	hold chan struct{} // when set, Deliveries waits on it
}

func (r *recorder) Deliveries(_ context.Context, rep *codec.DeliveryReport) error {
	if r.hold != nil {
		<-r.hold
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reps = append(r.reps, *rep)
	return nil
}

func (r *recorder) changes() (envs []codec.EnvDelivery) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rep := range r.reps {
		if !rep.Heartbeat {
			envs = append(envs, rep.Envs...)
		}
	}
	return envs
}

func TestChangesAreSentInOrderAndHeartbeatsCarryTheCensus(t *testing.T) {
	rec := &recorder{}
	census := []codec.EnvDelivery{{EnvID: "env", EnvVersion: 9, Server: 2}}
	r := New(Config{Interval: time.Hour, Census: func() []codec.EnvDelivery { return census }}, rec)
	for v := int64(1); v <= 5; v++ {
		r.Delivered(codec.EnvDelivery{EnvID: "env", EnvVersion: v, RequestID: "r", Server: 2})
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(rec.changes()) < 5 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	r.Close()
	got := rec.changes()
	if len(got) != 5 {
		t.Fatalf("change reports sent: %d, want 5", len(got))
	}
	for i, d := range got {
		if d.EnvVersion != int64(i+1) {
			t.Fatalf("report %d has version %d: out of order", i, d.EnvVersion)
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if !rec.reps[0].Heartbeat || len(rec.reps[0].Envs) != 1 || rec.reps[0].Envs[0].EnvVersion != 9 || rec.reps[0].Edge != r.ID() {
		t.Fatalf("first report is not the census heartbeat: %+v", rec.reps[0])
	}
}

// A sender that does not return holds the reporter, never the hub: the
// queue stays bounded and the newest version of each environment is kept.
func TestSlowSenderBoundsTheQueue(t *testing.T) {
	rec := &recorder{hold: make(chan struct{})}
	r := New(Config{Interval: time.Hour, MaxQueued: 8}, rec)
	for v := int64(1); v <= 100; v++ {
		r.Delivered(codec.EnvDelivery{EnvID: "env", EnvVersion: v})
	}
	r.mu.Lock()
	n, last := len(r.queued), r.queued[len(r.queued)-1].EnvVersion
	r.mu.Unlock()
	if n > 8 || last != 100 {
		t.Fatalf("queued %d (cap 8), newest %d (want 100)", n, last)
	}
	if r.Dropped() < 92 {
		t.Fatalf("dropped %d, want at least 92", r.Dropped())
	}
	close(rec.hold)
	r.Close()
}
