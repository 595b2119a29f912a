package publish

import (
	"testing"
	"time"

	"github.com/switchyard/switchyard/control/internal/store"
)

// TestAttemptGrowsWithBatch: a publish attempt of an environment whose
// outbox holds a 10,000-flag batch gets time to read every flag of it
// (cut off at Attempt, it backed off and retried without end on FerretDB);
// one without batches keeps Attempt.
func TestAttemptGrowsWithBatch(t *testing.T) {
	if got := attemptFor(&store.Env{Outbox: []store.OutboxEntry{{ID: "f1"}}}); got != Attempt {
		t.Fatalf("single change: %v, want %v", got, Attempt)
	}
	items := make([]store.BatchRef, 10000)
	e := &store.Env{Outbox: []store.OutboxEntry{{ID: "f1"}, {Items: items}}}
	if got, want := attemptFor(e), Attempt+10000*AttemptPerItem; got != want || got < Attempt+40*time.Second {
		t.Fatalf("batch of 10,000: %v, want %v (≥ Attempt + 40 s)", got, want)
	}
}
