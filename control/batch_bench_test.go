package control

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/switchyard/switchyard/edge/edgetest"
)

// BenchmarkFlagBatch10000: one op is a bulk write of 10,000 new flags
// through the API (embedded bbolt store), its publish and its delivery to a
// connected server SDK on an in-process edge as one patch (the all-in-one
// path). docs/benchmarks.md quotes it.
func BenchmarkFlagBatch10000(b *testing.B) {
	const n = 10000
	e := edgetest.Run(b)
	h := newHarness(b, WithSnapshotWriter(e.Source), WithChangeProducer(e.Source))
	env := h.info.Envs[0]
	h.publish()
	c := edgetest.Dial(b, edgetest.StreamURL(e.Addr, "server", env.ServerSecret))
	if err := c.Send(`{"messageType":"data-sync","data":{"timestamp":0}}`); err != nil {
		b.Fatal(err)
	}
	next := func() (string, int) { return nextDataSync(b, c) }
	next() // full
	bodies := make([][]byte, b.N)
	for i := range bodies {
		j, err := json.Marshal(batchOf(n, fmt.Sprintf("b%d", i)))
		if err != nil {
			b.Fatal(err)
		}
		bodies[i] = j
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.must(200, h.admin, "POST", batchURL(env.ID), bodies[i])
		h.publish()
		if typ, got := next(); typ != "patch" || got != n {
			b.Fatalf("%s with %d flags, want one patch with %d", typ, got, n)
		}
	}
}

// nextDataSync reads c's next data-sync message and returns its event type
// and how many flags it carries.
func nextDataSync(b *testing.B, c *edgetest.Client) (string, int) {
	for {
		m, err := c.ReadJSON(2 * time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		if m.MessageType != "data-sync" {
			continue
		}
		var s struct {
			EventType    string            `json:"eventType"`
			FeatureFlags []json.RawMessage `json:"featureFlags"`
		}
		if err := json.Unmarshal(m.Data, &s); err != nil {
			b.Fatal(err)
		}
		return s.EventType, len(s.FeatureFlags)
	}
}
