package edge_test

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/edge/edgetest"
)

const wait = 10 * time.Second

type serverSync struct {
	EventType    string            `json:"eventType"`
	FeatureFlags []json.RawMessage `json:"featureFlags"`
	Segments     []json.RawMessage `json:"segments"`
}

type clientFlag struct {
	ID               string  `json:"id"`
	Variation        *string `json:"variation"`
	VariationID      *string `json:"variationId"`
	MatchReason      string  `json:"matchReason"`
	SendToExperiment bool    `json:"sendToExperiment"`
	Timestamp        int64   `json:"timestamp"`
}

type clientSync struct {
	EventType    string       `json:"eventType"`
	UserKeyID    *string      `json:"userKeyId"`
	FeatureFlags []clientFlag `json:"featureFlags"`
}

func readServerSync(t *testing.T, c *edgetest.Client) serverSync {
	t.Helper()
	return readServerSyncWithin(t, c, wait)
}

// readServerSyncWithin is readServerSync waiting at most d.
func readServerSyncWithin(t *testing.T, c *edgetest.Client, d time.Duration) serverSync {
	t.Helper()
	m, err := c.ReadJSON(d)
	if err != nil {
		t.Fatal(err)
	}
	if m.MessageType != "data-sync" {
		t.Fatalf("messageType %q, want data-sync", m.MessageType)
	}
	var s serverSync
	if err := json.Unmarshal(m.Data, &s); err != nil {
		t.Fatal(err)
	}
	if s.FeatureFlags == nil || s.Segments == nil {
		t.Fatalf("data-sync without both arrays: %s", m.Data)
	}
	return s
}

func readClientSync(t *testing.T, c *edgetest.Client) clientSync {
	t.Helper()
	m, err := c.ReadJSON(wait)
	if err != nil {
		t.Fatal(err)
	}
	if m.MessageType != "data-sync" {
		t.Fatalf("messageType %q, want data-sync", m.MessageType)
	}
	var s clientSync
	if err := json.Unmarshal(m.Data, &s); err != nil {
		t.Fatal(err)
	}
	if s.UserKeyID == nil || s.FeatureFlags == nil {
		t.Fatalf("client data-sync without userKeyId/featureFlags: %s", m.Data)
	}
	return s
}

func flagKey(t *testing.T, raw json.RawMessage) string {
	var f struct{ Key string }
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	return f.Key
}

func TestServerFullSyncPingAndPush(t *testing.T) {
	e := edgetest.Run(t)
	env := e.Env(t)
	c := edgetest.Dial(t, edgetest.StreamURL(e.Addr, "server", env.ServerSecret))
	if err := c.Send(`{"messageType":"data-sync","data":{"timestamp":0}}`); err != nil {
		t.Fatal(err)
	}
	s := readServerSync(t, c)
	if s.EventType != "full" || len(s.FeatureFlags) != len(env.Snapshot.Flags) || len(s.Segments) != 1 {
		t.Fatalf("full sync: %s with %d flags, %d segments", s.EventType, len(s.FeatureFlags), len(s.Segments))
	}

	for _, ping := range []string{`{"messageType":"ping","data":null}`, `{"messageType":"PING","data":{}}`, `{"messageType":"ping","data":{"timestamp":0}}`} {
		if err := c.Send(ping); err != nil {
			t.Fatal(err)
		}
		m, err := c.ReadJSON(wait)
		if err != nil {
			t.Fatal(err)
		}
		if m.MessageType != "pong" || string(m.Data) != "{}" {
			t.Fatalf("ping %s → %+v", ping, m)
		}
	}

	// a change reaches the connection as a patch with just that flag
	f := env.Snapshot.Flags[0]
	f.Version++
	f.UpdatedAt = time.Now().UnixMilli()
	f.IsEnabled = false
	produceFlag(t, e, env.ID, &f)
	s = readServerSync(t, c)
	if s.EventType != "patch" || len(s.FeatureFlags) != 1 || len(s.Segments) != 0 || flagKey(t, s.FeatureFlags[0]) != f.Key {
		t.Fatalf("push: %+v", s)
	}

	// a stale replay of the same version is not pushed; a ping still answers first
	produceFlag(t, e, env.ID, &f)
	if err := c.Send(`{"messageType":"ping","data":null}`); err != nil {
		t.Fatal(err)
	}
	if m, err := c.ReadJSON(wait); err != nil || m.MessageType != "pong" {
		t.Fatalf("after a stale change: %+v %v", m, err)
	}

	// patch request with a cursor: only newer items, always a reply
	if err := c.Send(`{"messageType":"data-sync","data":{"timestamp":` + itoa(f.UpdatedAt) + `}}`); err != nil {
		t.Fatal(err)
	}
	s = readServerSync(t, c)
	if s.EventType != "patch" || len(s.FeatureFlags) != 0 || len(s.Segments) != 0 {
		t.Fatalf("empty patch: %+v", s)
	}
	if err := c.Send(`{"messageType":"data-sync","data":{"timestamp":` + itoa(f.UpdatedAt-1) + `}}`); err != nil {
		t.Fatal(err)
	}
	s = readServerSync(t, c)
	if s.EventType != "patch" || len(s.FeatureFlags) != 1 {
		t.Fatalf("patch: %+v", s)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func produceFlag(t testing.TB, e *edgetest.Edge, envID string, f *codec.Flag) {
	t.Helper()
	p, err := f.MarshalMsg(nil)
	if err != nil {
		t.Fatal(err)
	}
	ev := &codec.ChangeEvent{EnvID: envID, Kind: codec.KindFlag, Op: codec.OpUpsert, ID: f.ID, Version: f.Version, At: time.Now().UnixMilli(), Payload: p}
	if err := e.Source.Produce(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
}

func produceSegment(t testing.TB, e *edgetest.Edge, envID string, s *codec.Segment, affected ...string) {
	t.Helper()
	p, err := s.MarshalMsg(nil)
	if err != nil {
		t.Fatal(err)
	}
	ev := &codec.ChangeEvent{EnvID: envID, Kind: codec.KindSegment, Op: codec.OpUpsert, ID: s.ID, Version: s.Version, At: time.Now().UnixMilli(), Payload: p, AffectedFlags: affected}
	if err := e.Source.Produce(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
}
