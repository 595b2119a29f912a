package wire

import (
	"bytes"
	"errors"

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
	b = AppendServerSyncMPHead(b, eventType, len(flags))
	for _, f := range flags {
		b = append(b, f...)
	}
	b = AppendServerSyncMPMid(b, len(segs))
	for _, s := range segs {
		b = append(b, s...)
	}
	return b
}

// AppendServerSyncMPHead appends the head of AppendServerSyncMP's message,
// up to the header of the featureFlags array of nflags items; the flags
// follow, then AppendServerSyncMPMid and the segments (to stream items
// yourself, like AppendServerSyncHead and ServerSyncMid).
func AppendServerSyncMPHead(b []byte, eventType string, nflags int) []byte {
	b = msgp.AppendMapHeader(b, 2)
	b = msgp.AppendString(b, "messageType")
	b = msgp.AppendString(b, "data-sync")
	b = msgp.AppendString(b, "data")
	b = msgp.AppendMapHeader(b, 3)
	b = msgp.AppendString(b, "eventType")
	b = msgp.AppendString(b, eventType)
	b = msgp.AppendString(b, "featureFlags")
	return msgp.AppendArrayHeader(b, uint32(nflags))
}

// AppendServerSyncMPMid appends what comes between the flags and the nsegs
// segments of AppendServerSyncMP's message.
func AppendServerSyncMPMid(b []byte, nsegs int) []byte {
	b = msgp.AppendString(b, "segments")
	return msgp.AppendArrayHeader(b, uint32(nsegs))
}

// AppendClientSyncMP appends a client-SDK data-sync message.
func AppendClientSyncMP(b []byte, eventType, userKeyID string, flags []ClientFlag) []byte {
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
func AppendClientFlagMP(b []byte, f *ClientFlag) []byte {
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

var errMPMessage = errors.New("wire: msgpack message must be a map with messageType and data")

// ParseMP parses a binary-protocol message (a msgpack map with the keys of
// the JSON protocol: messageType, data{timestamp, user{keyId, name,
// customizedProperties[{name, value}]}}) into m without allocating; m's
// slices alias b and *props.
func ParseMP(b []byte, m *Message, props *[]PropView) error {
	*m = Message{}
	*props = (*props)[:0]
	n, b, err := msgp.ReadMapHeaderBytes(b)
	if err != nil {
		return err
	}
	hasType := false
	for ; n > 0; n-- {
		var k []byte
		if k, b, err = msgp.ReadMapKeyZC(b); err != nil {
			return err
		}
		switch string(k) {
		case "messageType":
			var t []byte
			if t, b, err = msgp.ReadStringZC(b); err != nil {
				return err
			}
			hasType = true
			m.TypeName = t
			switch {
			case bytes.EqualFold(t, []byte("ping")):
				m.Type = Ping
			case bytes.EqualFold(t, []byte("data-sync")):
				m.Type = DataSync
			case bytes.EqualFold(t, []byte("echo")):
				m.Type = Echo
			}
		case "data":
			m.HasData = true
			start := b
			if b, err = parseMPData(b, m, props); err != nil {
				return err
			}
			m.Data = start[:len(start)-len(b)]
		default:
			if b, err = msgp.Skip(b); err != nil {
				return err
			}
		}
	}
	if !hasType || !m.HasData {
		return errMPMessage
	}
	return nil
}

func parseMPData(b []byte, m *Message, props *[]PropView) ([]byte, error) {
	if msgp.IsNil(b) {
		return b[1:], nil
	}
	if msgp.NextType(b) != msgp.MapType {
		return msgp.Skip(b)
	}
	n, b, err := msgp.ReadMapHeaderBytes(b)
	if err != nil {
		return b, err
	}
	for ; n > 0; n-- {
		var k []byte
		if k, b, err = msgp.ReadMapKeyZC(b); err != nil {
			return b, err
		}
		switch {
		case string(k) == "timestamp" && !msgp.IsNil(b):
			if m.Timestamp, b, err = msgp.ReadInt64Bytes(b); err != nil {
				return b, err
			}
		case string(k) == "user" && !msgp.IsNil(b):
			m.HasUser = true
			if b, err = parseMPUser(b, &m.User, props); err != nil {
				return b, err
			}
		default:
			if b, err = msgp.Skip(b); err != nil {
				return b, err
			}
		}
	}
	return b, nil
}

func parseMPUser(b []byte, u *UserView, props *[]PropView) ([]byte, error) {
	n, b, err := msgp.ReadMapHeaderBytes(b)
	if err != nil {
		return b, err
	}
	for ; n > 0; n-- {
		var k []byte
		if k, b, err = msgp.ReadMapKeyZC(b); err != nil {
			return b, err
		}
		switch string(k) {
		case "keyId":
			u.KeyID, b, err = msgp.ReadStringZC(b)
		case "name":
			if msgp.IsNil(b) {
				b, u.NameNull = b[1:], true
				continue
			}
			u.Name, b, err = msgp.ReadStringZC(b)
		case "customizedProperties", "props":
			var an uint32
			if an, b, err = msgp.ReadArrayHeaderBytes(b); err != nil {
				return b, err
			}
			for ; an > 0; an-- {
				var p PropView
				var pn uint32
				if pn, b, err = msgp.ReadMapHeaderBytes(b); err != nil {
					return b, err
				}
				for ; pn > 0; pn-- {
					var pk []byte
					if pk, b, err = msgp.ReadMapKeyZC(b); err != nil {
						return b, err
					}
					switch string(pk) {
					case "name":
						p.Name, b, err = msgp.ReadStringZC(b)
					case "value":
						p.Value, b, err = msgp.ReadStringZC(b)
					default:
						b, err = msgp.Skip(b)
					}
					if err != nil {
						return b, err
					}
				}
				*props = append(*props, p)
			}
			u.Props = *props
		default:
			b, err = msgp.Skip(b)
		}
		if err != nil {
			return b, err
		}
	}
	return b, nil
}

// AppendEchoMP appends the binary reply to an echo message carrying data
// (the raw msgpack of the request's data; nil when empty).
func AppendEchoMP(b, data []byte) []byte {
	b = msgp.AppendMapHeader(b, 2)
	b = msgp.AppendString(b, "messageType")
	b = msgp.AppendString(b, "echo")
	b = msgp.AppendString(b, "data")
	if len(data) == 0 {
		return msgp.AppendNil(b)
	}
	return append(b, data...)
}
