package wire

import (
	"testing"

	"github.com/tinylib/msgp/msgp"

	"github.com/switchyard/switchyard/codec"
)

// mpDataSync is a binary data-sync request as an SDK sends it.
func mpDataSync() []byte {
	b := msgp.AppendMapHeader(nil, 2)
	b = msgp.AppendString(b, "messageType")
	b = msgp.AppendString(b, "data-sync")
	b = msgp.AppendString(b, "data")
	b = msgp.AppendMapHeader(b, 2)
	b = msgp.AppendString(b, "timestamp")
	b = msgp.AppendInt64(b, 1700000000000)
	b = msgp.AppendString(b, "user")
	b = msgp.AppendMapHeader(b, 3)
	b = msgp.AppendString(b, "keyId")
	b = msgp.AppendString(b, "u-1")
	b = msgp.AppendString(b, "name")
	b = msgp.AppendNil(b)
	b = msgp.AppendString(b, "customizedProperties")
	b = msgp.AppendArrayHeader(b, 1)
	b = msgp.AppendMapHeader(b, 2)
	b = msgp.AppendString(b, "name")
	b = msgp.AppendString(b, "country")
	b = msgp.AppendString(b, "value")
	b = msgp.AppendString(b, "FR")
	return b
}

func TestParseMP(t *testing.T) {
	var m Message
	var props []PropView
	if err := ParseMP(mpDataSync(), &m, &props); err != nil {
		t.Fatal(err)
	}
	if m.Type != DataSync || m.Timestamp != 1700000000000 || !m.HasUser || string(m.User.KeyID) != "u-1" || !m.User.NameNull ||
		len(m.User.Props) != 1 || string(m.User.Props[0].Name) != "country" || string(m.User.Props[0].Value) != "FR" {
		t.Fatalf("%+v", m)
	}
	for _, bad := range [][]byte{nil, {0xc0}, msgp.AppendMapHeader(nil, 0), mpDataSync()[:20]} {
		if err := ParseMP(bad, &m, &props); err == nil {
			t.Errorf("%x accepted", bad)
		}
	}
	in := mpDataSync()
	if n := testing.AllocsPerRun(1000, func() { _ = ParseMP(in, &m, &props) }); n != 0 {
		t.Fatalf("ParseMP allocates %v times", n)
	}
}

// TestServerSyncMPDecodes: what the edge sends decodes as codec.SyncMessage.
func TestServerSyncMPDecodes(t *testing.T) {
	f, _ := (&codec.Flag{ID: "f1", Key: "k"}).MarshalMsg(nil)
	s, _ := (&codec.Segment{ID: "s1", Name: "beta"}).MarshalMsg(nil)
	var msg codec.SyncMessage
	if _, err := msg.UnmarshalMsg(AppendServerSyncMP(nil, "full", [][]byte{f}, [][]byte{s})); err != nil {
		t.Fatal(err)
	}
	if msg.MessageType != "data-sync" || msg.Data.EventType != "full" || len(msg.Data.FeatureFlags) != 1 || msg.Data.FeatureFlags[0].Key != "k" ||
		len(msg.Data.Segments) != 1 || msg.Data.Segments[0].Name != "beta" {
		t.Fatalf("%+v", msg)
	}
	cf := []ClientFlag{{Key: "k", Value: "true", VariationType: "boolean", VariationID: "v1", MatchReason: "fall through", Timestamp: 7}}
	msg = codec.SyncMessage{}
	if _, err := msg.UnmarshalMsg(AppendClientSyncMP(nil, "patch", "u-1", cf)); err != nil {
		t.Fatal(err)
	}
	if msg.Data.UserKeyID != "u-1" || len(msg.Data.ClientFlags) != 1 || msg.Data.ClientFlags[0].Key != "k" || msg.Data.ClientFlags[0].Timestamp != 7 {
		t.Fatalf("%+v", msg)
	}
	msg = codec.SyncMessage{}
	if _, err := msg.UnmarshalMsg(PongMP); err != nil || msg.MessageType != "pong" {
		t.Fatalf("pong: %+v %v", msg, err)
	}
}

// FuzzParseMP: the binary message parser never panics, and what it accepts
// has a type and data.
func FuzzParseMP(f *testing.F) {
	f.Add(mpDataSync())
	f.Add(PongMP)
	f.Add(AppendEchoMP(nil, msgp.AppendString(nil, "x")))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Message
		var props []PropView
		if err := ParseMP(b, &m, &props); err == nil && (!m.HasData || m.TypeName == nil) {
			t.Fatalf("accepted %x without type or data", b)
		}
	})
}
