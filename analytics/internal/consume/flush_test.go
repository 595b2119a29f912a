package consume

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/switchyard/switchyard/analytics/internal/chstore"
	"github.com/switchyard/switchyard/analytics/internal/metrics"
)

type flakyWriter struct {
	fail  int // fail this many calls, then succeed
	calls int
}

func (w *flakyWriter) Write(ctx context.Context, c *chstore.Columns) error {
	w.calls++
	if w.calls <= w.fail {
		return errors.New("connection refused")
	}
	return nil
}

func TestFlushRetriesUntilAccepted(t *testing.T) {
	w := &flakyWriter{fail: 3}
	c := &Consumer{cfg: Config{MaxBackoff: 10 * time.Millisecond}, w: w, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		insertSeconds: metrics.NewHistogram(insertBuckets...), batchRows: metrics.NewHistogram(batchBuckets...)}
	if err := c.flush(context.Background(), &chstore.Columns{}); err != nil {
		t.Fatal(err)
	}
	st := c.Stats()
	if w.calls != 4 || st.FlushErrors != 3 || st.Flushes != 1 {
		t.Fatalf("calls %d stats %+v, want 4 calls, 3 errors, 1 flush", w.calls, st)
	}
}

func TestFlushGivesUpOnlyWithContext(t *testing.T) {
	w := &flakyWriter{fail: 1 << 30}
	c := &Consumer{cfg: Config{MaxBackoff: 5 * time.Millisecond}, w: w, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		insertSeconds: metrics.NewHistogram(insertBuckets...), batchRows: metrics.NewHistogram(batchBuckets...)}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := c.flush(ctx, &chstore.Columns{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the context's", err)
	}
	if w.calls < 3 || c.Stats().Flushes != 0 {
		t.Fatalf("calls %d flushes %d", w.calls, c.Stats().Flushes)
	}
}
