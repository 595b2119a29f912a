package edge_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/edge"
	"github.com/switchyard/switchyard/edge/edgetest"
)

// TestSecuritySlowReaderIsCutOff: a streaming client that stops reading
// while changes keep coming (pushes pile up in the kernel's socket buffers,
// then in the edge's) is disconnected once a write has been blocked for
// -write-timeout: the edge drops the connection, releases its buffers, and
// the client, when it reads again, gets what was sent and then the end of
// the connection — never a connection left open with nothing behind it.
func TestSecuritySlowReaderIsCutOff(t *testing.T) {
	e := edgetest.Run(t, edge.Config{WriteTimeout: 300 * time.Millisecond})
	env := e.Env(t)
	c := edgetest.Dial(t, edgetest.StreamURL(e.Addr, "server", env.ServerSecret))
	if err := c.Send(`{"messageType":"data-sync","data":{"timestamp":0}}`); err != nil {
		t.Fatal(err)
	}
	readServerSync(t, c)
	// 256 KiB per change: a few dozen fill loopback's socket buffers
	f := env.Snapshot.Flags[0]
	big := strings.Repeat("x", 256<<10)
	deadline := time.Now().Add(2 * time.Minute)
	for i := 0; e.Server.Connections() > 0; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("a client that does not read is still connected after %d pushes of 256 KiB", i)
		}
		f.Version++
		f.UpdatedAt = time.Now().UnixMilli()
		f.Description = big[:len(big)-i%7]
		produceFlag(t, e, env.ID, &f)
		time.Sleep(10 * time.Millisecond)
	}
	// the client drains what reached it, then sees the connection end
	for {
		_, _, err := c.Read(10 * time.Second)
		if err == nil {
			continue
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatal("the edge dropped the session but left the TCP connection open: the client waits for ever")
		}
		break
	}
}
