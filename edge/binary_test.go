package edge_test

import (
	"slices"
	"testing"

	"github.com/gobwas/ws"
	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/edge/edgetest"
)

func readMP(t *testing.T, c *edgetest.Client) *codec.SyncMessage {
	t.Helper()
	op, p, err := c.Read(wait)
	if err != nil {
		t.Fatal(err)
	}
	if op != ws.OpBinary {
		t.Fatalf("opcode %v, want binary", op)
	}
	m := new(codec.SyncMessage)
	if _, err := m.UnmarshalMsg(p); err != nil {
		t.Fatalf("decode %x: %v", p, err)
	}
	return m
}

func sendMP(t *testing.T, c *edgetest.Client, m *codec.SyncMessage) {
	t.Helper()
	b, err := m.MarshalMsg(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SendBinary(b); err != nil {
		t.Fatal(err)
	}
}

func TestBinaryProtocol(t *testing.T) {
	e := edgetest.Run(t)
	env := e.Env(t)
	c := edgetest.Dial(t, edgetest.StreamURL(e.Addr, "server", env.ServerSecret), "switchyard.msgpack.v1")
	if c.Protocol != "switchyard.msgpack.v1" {
		t.Fatalf("negotiated %q", c.Protocol)
	}
	sendMP(t, c, &codec.SyncMessage{MessageType: "data-sync"})
	m := readMP(t, c)
	if m.MessageType != "data-sync" || m.Data.EventType != "full" || len(m.Data.FeatureFlags) != len(env.Snapshot.Flags) || len(m.Data.Segments) != 1 {
		t.Fatalf("binary full sync: %+v", m)
	}
	// the edge holds items by id (the snapshot store keeps no order)
	if i := slices.IndexFunc(m.Data.FeatureFlags, func(f codec.Flag) bool { return f.Key == env.Snapshot.Flags[0].Key }); i < 0 ||
		m.Data.FeatureFlags[i].UpdatedAt != env.Snapshot.Flags[0].UpdatedAt {
		t.Fatalf("flag %s missing or different: %+v", env.Snapshot.Flags[0].Key, m.Data.FeatureFlags)
	}
	sendMP(t, c, &codec.SyncMessage{MessageType: "Ping"})
	if m := readMP(t, c); m.MessageType != "pong" {
		t.Fatalf("pong: %+v", m)
	}
	f := env.Snapshot.Flags[2]
	f.Version++
	f.UpdatedAt++
	produceFlag(t, e, env.ID, &f)
	if m := readMP(t, c); m.Data.EventType != "patch" || len(m.Data.FeatureFlags) != 1 || m.Data.FeatureFlags[0].ID != f.ID || m.Data.Segments == nil && len(m.Data.Segments) != 0 {
		t.Fatalf("binary push: %+v", m)
	}

	cc := edgetest.Dial(t, edgetest.StreamURL(e.Addr, "client", env.ClientSecret), "switchyard.msgpack.v1")
	u := &codec.EndUser{KeyID: "u-fr", Name: "Fr", Props: []codec.UserProp{{Name: "country", Value: "FR"}}}
	sendMP(t, cc, &codec.SyncMessage{MessageType: "data-sync", Data: codec.SyncData{User: u}})
	m = readMP(t, cc)
	if m.Data.UserKeyID != "u-fr" || len(m.Data.ClientFlags) != len(env.Snapshot.Flags) {
		t.Fatalf("binary client sync: %+v", m)
	}
	for _, cf := range m.Data.ClientFlags {
		if cf.Key == edgetest.FlagString && cf.Variation != "fr" {
			t.Fatalf("%+v", cf)
		}
		if cf.Key == edgetest.FlagArchived && !cf.VariationNull {
			t.Fatalf("%+v", cf)
		}
	}
	// JSON stays the default without the subprotocol
	j := edgetest.Dial(t, edgetest.StreamURL(e.Addr, "server", env.ServerSecret), "something-else")
	if j.Protocol != "" {
		t.Fatalf("negotiated %q", j.Protocol)
	}
}
