//go:build integration

package edge_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/switchyard/switchyard/codec/secret"
	"github.com/switchyard/switchyard/edge/edgetest"
)

// TestIntegrationColdLoadLargeEnv: an edge that has not loaded the
// environment serves a server SDK's first full sync of 50,000 flags from
// the Redis hash (HGETALL, decode, compile, encode). It logs the time from
// the data-sync request to the last byte of the full sync
// (docs/benchmarks.md quotes it with -v); it asserts the content only.
func TestIntegrationColdLoadLargeEnv(t *testing.T) {
	const n = 50000
	cl := newCluster(t)
	snap := edgetest.DemoSnapshot(secret.NewGUID())
	base := snap.Flags[1]
	for i := len(snap.Flags); i < n; i++ {
		f := base
		f.ID, f.Key = secret.NewGUID(), fmt.Sprintf("flag-%05d", i)
		snap.Flags = append(snap.Flags, f)
	}
	cl.writeSnapshot(snap)
	s := cl.edge(t)
	c := edgetest.Dial(t, edgetest.StreamURL(s.Addr(), "server", snap.Secrets[0].Value))
	t0, cpu0 := time.Now(), cpuTime()
	if err := c.Send(`{"messageType":"data-sync","data":{"timestamp":0}}`); err != nil {
		t.Fatal(err)
	}
	_, p, err := c.Read(time.Minute)
	d, cpu := time.Since(t0), cpuTime()-cpu0
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Data struct {
			EventType    string            `json:"eventType"`
			FeatureFlags []json.RawMessage `json:"featureFlags"`
		} `json:"data"`
	}
	if err := json.Unmarshal(p, &m); err != nil || m.Data.EventType != "full" || len(m.Data.FeatureFlags) != n {
		t.Fatalf("first sync: %s with %d flags, %v", m.Data.EventType, len(m.Data.FeatureFlags), err)
	}
	t.Logf("cold edge, %d flags: data-sync request → full sync received (%.1f MB) in %v; CPU of the process meanwhile (the edge and this client) %v",
		n, float64(len(p))/1e6, d.Round(time.Millisecond), cpu.Round(time.Millisecond))

	// a second connection is served from the loaded state
	c2 := edgetest.Dial(t, edgetest.StreamURL(s.Addr(), "server", snap.Secrets[0].Value))
	t0 = time.Now()
	_ = c2.Send(`{"messageType":"data-sync","data":{"timestamp":0}}`)
	if _, _, err := c2.Read(time.Minute); err != nil {
		t.Fatal(err)
	}
	t.Logf("warm edge, %d flags: full sync received in %v", n, time.Since(t0).Round(time.Millisecond))
}
