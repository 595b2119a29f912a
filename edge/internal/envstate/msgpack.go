package envstate

import (
	"github.com/switchyard/switchyard/codec/wire"
	"github.com/tinylib/msgp/msgp"
)

// The binary streaming protocol (subprotocol "switchyard.msgpack.v1")
// carries the same messages as FeatBit's JSON protocol as msgpack maps with
// the same key names; flags and segments are codec.Flag and codec.Segment
// (times in Unix ms), client flags codec.ClientFlag. codec.SyncMessage
// decodes every server message.

// AppendServerSyncMP appends a server-SDK data-sync message whose items are
// already msgp-encoded.
func AppendServerSyncMP(b []byte, eventType string, flags, segs [][]byte) []byte {
	b = msgp.AppendMapHeader(b, 2)
	b = msgp.AppendString(b, "messageType")
	b = msgp.AppendString(b, "data-sync")
	b = msgp.AppendString(b, "data")
	b = msgp.AppendMapHeader(b, 3)
	b = msgp.AppendString(b, "eventType")
	b = msgp.AppendString(b, eventType)
	b = msgp.AppendString(b, "featureFlags")
	b = msgp.AppendArrayHeader(b, uint32(len(flags)))
	for _, f := range flags {
		b = append(b, f...)
	}
	b = msgp.AppendString(b, "segments")
	b = msgp.AppendArrayHeader(b, uint32(len(segs)))
	for _, s := range segs {
		b = append(b, s...)
	}
	return b
}

// AppendClientSyncMP appends a client-SDK data-sync message.
func AppendClientSyncMP(b []byte, eventType, userKeyID string, flags []wire.ClientFlag) []byte {
	b = msgp.AppendMapHeader(b, 2)
	b = msgp.AppendString(b, "messageType")
	b = msgp.AppendString(b, "data-sync")
	b = msgp.AppendString(b, "data")
	b = msgp.AppendMapHeader(b, 3)
	b = msgp.AppendString(b, "eventType")
	b = msgp.AppendString(b, eventType)
	b = msgp.AppendString(b, "userKeyId")
	b = msgp.AppendString(b, userKeyID)
	b = msgp.AppendString(b, "clientFlags")
	b = msgp.AppendArrayHeader(b, uint32(len(flags)))
	for i := range flags {
		b = AppendClientFlagMP(b, &flags[i])
	}
	return b
}

// AppendClientFlagMP appends one client flag as a codec.ClientFlag map.
func AppendClientFlagMP(b []byte, f *wire.ClientFlag) []byte {
	b = msgp.AppendMapHeader(b, 9)
	b = msgp.AppendString(b, "id")
	b = msgp.AppendString(b, f.Key)
	b = msgp.AppendString(b, "variation")
	b = msgp.AppendString(b, f.Value)
	b = msgp.AppendString(b, "variationNull")
	b = msgp.AppendBool(b, f.ValueNull)
	b = msgp.AppendString(b, "variationType")
	b = msgp.AppendString(b, f.VariationType)
	b = msgp.AppendString(b, "variationId")
	b = msgp.AppendString(b, f.VariationID)
	b = msgp.AppendString(b, "matchReason")
	b = msgp.AppendString(b, f.MatchReason)
	b = msgp.AppendString(b, "variationOptions")
	b = msgp.AppendArrayHeader(b, uint32(len(f.Options)))
	for i := range f.Options {
		b, _ = f.Options[i].MarshalMsg(b)
	}
	b = msgp.AppendString(b, "sendToExperiment")
	b = msgp.AppendBool(b, f.SendToExperiment)
	b = msgp.AppendString(b, "timestamp")
	b = msgp.AppendInt64(b, f.Timestamp)
	return b
}

// PongMP is the binary reply to a ping.
var PongMP = func() []byte {
	b := msgp.AppendMapHeader(nil, 2)
	b = msgp.AppendString(b, "messageType")
	b = msgp.AppendString(b, "pong")
	b = msgp.AppendString(b, "data")
	return msgp.AppendMapHeader(b, 0)
}()
