package edge_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/codec/secret"
	"github.com/switchyard/switchyard/edge"
	"github.com/switchyard/switchyard/edge/edgetest"
)

// lockedBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// TestPushLogNamesTheRequestID: at debug level the edge logs each pushed
// change with the request id of the API call that made it.
func TestPushLogNamesTheRequestID(t *testing.T) {
	var logs lockedBuffer
	src := edge.NewLocalSource()
	s, err := edge.New(edge.Config{Addr: "127.0.0.1:0", DrainWindow: -1}, edge.WithSource(src),
		edge.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	snap := edgetest.DemoSnapshot(secret.NewGUID())
	if err := src.WriteSnapshot(context.Background(), snap); err != nil {
		t.Fatal(err)
	}
	env := &edgetest.DemoEnv{ID: snap.EnvID, ServerSecret: snap.Secrets[0].Value, Snapshot: snap}
	c := dialSynced(t, s.Addr(), env, 1)[0]

	f := snap.Flags[0]
	f.Version++
	f.UpdatedAt = time.Now().UnixMilli()
	p, err := f.MarshalMsg(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Produce(context.Background(), &codec.ChangeEvent{EnvID: env.ID, Kind: codec.KindFlag, Op: codec.OpUpsert,
		ID: f.ID, Version: f.Version, At: f.UpdatedAt, Payload: p, RequestID: "trace-7c1e"}); err != nil {
		t.Fatal(err)
	}
	if got := readServerSync(t, c); got.EventType != "patch" {
		t.Fatalf("want the patch, got %+v", got)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "request_id=trace-7c1e") {
		if time.Now().After(deadline) {
			t.Fatalf("no push log line with the request id:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
