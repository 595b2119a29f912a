package hub

import (
	"bytes"
	"errors"

	"github.com/switchyard/switchyard/codec/wire"
	"github.com/tinylib/msgp/msgp"
)

var errMPMessage = errors.New("hub: msgpack message must be a map with messageType and data")

// parseMP parses a binary-protocol message (a msgpack map with the keys of
// the JSON protocol: messageType, data{timestamp, user{keyId, name,
// customizedProperties[{name, value}]}}) into m without allocating; m's
// slices alias b and *props.
func parseMP(b []byte, m *wire.Message, props *[]wire.PropView) error {
	*m = wire.Message{}
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
				m.Type = wire.Ping
			case bytes.EqualFold(t, []byte("data-sync")):
				m.Type = wire.DataSync
			case bytes.EqualFold(t, []byte("echo")):
				m.Type = wire.Echo
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

func parseMPData(b []byte, m *wire.Message, props *[]wire.PropView) ([]byte, error) {
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

func parseMPUser(b []byte, u *wire.UserView, props *[]wire.PropView) ([]byte, error) {
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
				var p wire.PropView
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

func appendEchoMP(b, data []byte) []byte {
	b = msgp.AppendMapHeader(b, 2)
	b = msgp.AppendString(b, "messageType")
	b = msgp.AppendString(b, "echo")
	b = msgp.AppendString(b, "data")
	if len(data) == 0 {
		return msgp.AppendNil(b)
	}
	return append(b, data...)
}
