package wire

import "github.com/switchyard/switchyard/codec"

// Event types of a data-sync reply.
const (
	EventFull  = "full"
	EventPatch = "patch"
)

// AppendFlag appends f in the JSON shape FeatBit sends to server SDKs, with
// exactly these fields in this order: id, envId, name, description, key,
// variationType, variations, targetUsers, rules, isEnabled,
// disabledVariationId, fallthrough, exptIncludeAllTargets, tags, updatedAt,
// isArchived. dispatchKey and a condition's op are null when empty; updatedAt
// is RFC 3339 UTC with millisecond precision.
func AppendFlag(b []byte, f *codec.Flag) []byte {
	b = append(b, `{"id":`...)
	b = AppendString(b, f.ID)
	b = append(b, `,"envId":`...)
	b = AppendString(b, f.EnvID)
	b = append(b, `,"name":`...)
	b = AppendString(b, f.Name)
	b = append(b, `,"description":`...)
	b = AppendString(b, f.Description)
	b = append(b, `,"key":`...)
	b = AppendString(b, f.Key)
	b = append(b, `,"variationType":`...)
	b = AppendString(b, f.VariationType)
	b = append(b, `,"variations":[`...)
	for i := range f.Variations {
		if i > 0 {
			b = append(b, ',')
		}
		v := &f.Variations[i]
		b = append(b, `{"id":`...)
		b = AppendString(b, v.ID)
		b = append(b, `,"name":`...)
		b = AppendString(b, v.Name)
		b = append(b, `,"value":`...)
		b = AppendString(b, v.Value)
		b = append(b, '}')
	}
	b = append(b, `],"targetUsers":[`...)
	for i := range f.TargetUsers {
		if i > 0 {
			b = append(b, ',')
		}
		tu := &f.TargetUsers[i]
		b = append(b, `{"keyIds":`...)
		b = appendStrings(b, tu.KeyIDs)
		b = append(b, `,"variationId":`...)
		b = AppendString(b, tu.VariationID)
		b = append(b, '}')
	}
	b = append(b, `],"rules":[`...)
	for i := range f.Rules {
		if i > 0 {
			b = append(b, ',')
		}
		r := &f.Rules[i]
		b = append(b, `{"id":`...)
		b = AppendString(b, r.ID)
		b = append(b, `,"name":`...)
		b = AppendString(b, r.Name)
		b = append(b, `,"dispatchKey":`...)
		b = appendNullableString(b, r.DispatchKey)
		b = append(b, `,"includedInExpt":`...)
		b = AppendBool(b, r.IncludedInExpt)
		b = append(b, `,"conditions":`...)
		b = appendConditions(b, r.Conditions)
		b = append(b, `,"variations":`...)
		b = appendRollouts(b, r.Variations)
		b = append(b, '}')
	}
	b = append(b, `],"isEnabled":`...)
	b = AppendBool(b, f.IsEnabled)
	b = append(b, `,"disabledVariationId":`...)
	b = AppendString(b, f.DisabledVariationID)
	b = append(b, `,"fallthrough":{"dispatchKey":`...)
	b = appendNullableString(b, f.Fallthrough.DispatchKey)
	b = append(b, `,"includedInExpt":`...)
	b = AppendBool(b, f.Fallthrough.IncludedInExpt)
	b = append(b, `,"variations":`...)
	b = appendRollouts(b, f.Fallthrough.Variations)
	b = append(b, `},"exptIncludeAllTargets":`...)
	b = AppendBool(b, f.ExptIncludeAllTargets)
	b = append(b, `,"tags":`...)
	b = appendStrings(b, f.Tags)
	b = append(b, `,"updatedAt":`...)
	b = AppendTime(b, f.UpdatedAt)
	b = append(b, `,"isArchived":`...)
	b = AppendBool(b, f.IsArchived)
	return append(b, '}')
}

func appendConditions(b []byte, cs []codec.Condition) []byte {
	b = append(b, '[')
	for i := range cs {
		if i > 0 {
			b = append(b, ',')
		}
		c := &cs[i]
		b = append(b, `{"id":`...)
		b = AppendString(b, c.ID)
		b = append(b, `,"property":`...)
		b = AppendString(b, c.Property)
		b = append(b, `,"op":`...)
		b = appendNullableString(b, c.Op)
		b = append(b, `,"value":`...)
		b = AppendString(b, c.Value)
		b = append(b, '}')
	}
	return append(b, ']')
}

func appendRollouts(b []byte, vs []codec.RolloutVariation) []byte {
	b = append(b, '[')
	for i := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		v := &vs[i]
		b = append(b, `{"id":`...)
		b = AppendString(b, v.ID)
		b = append(b, `,"rollout":[`...)
		b = AppendFloat(b, v.Rollout[0])
		b = append(b, ',')
		b = AppendFloat(b, v.Rollout[1])
		b = append(b, `],"exptRollout":`...)
		b = AppendFloat(b, v.ExptRollout)
		b = append(b, '}')
	}
	return append(b, ']')
}

// AppendSegment appends s in the JSON shape FeatBit sends to server SDKs:
// id, envId, name, description, included, excluded, rules (id, name,
// conditions), updatedAt, isArchived.
func AppendSegment(b []byte, s *codec.Segment) []byte {
	b = append(b, `{"id":`...)
	b = AppendString(b, s.ID)
	b = append(b, `,"envId":`...)
	b = AppendString(b, s.EnvID)
	b = append(b, `,"name":`...)
	b = AppendString(b, s.Name)
	b = append(b, `,"description":`...)
	b = AppendString(b, s.Description)
	b = append(b, `,"included":`...)
	b = appendStrings(b, s.Included)
	b = append(b, `,"excluded":`...)
	b = appendStrings(b, s.Excluded)
	b = append(b, `,"rules":[`...)
	for i := range s.Rules {
		if i > 0 {
			b = append(b, ',')
		}
		r := &s.Rules[i]
		b = append(b, `{"id":`...)
		b = AppendString(b, r.ID)
		b = append(b, `,"name":`...)
		b = AppendString(b, r.Name)
		b = append(b, `,"conditions":`...)
		b = appendConditions(b, r.Conditions)
		b = append(b, '}')
	}
	b = append(b, `],"updatedAt":`...)
	b = AppendTime(b, s.UpdatedAt)
	b = append(b, `,"isArchived":`...)
	b = AppendBool(b, s.IsArchived)
	return append(b, '}')
}

// AppendServerSync appends a server-SDK data-sync message:
//
//	{"messageType":"data-sync","data":{"eventType":…,"featureFlags":[…],"segments":[…]}}
//
// eventType is EventFull or EventPatch. Nil entries of flags and segs are
// skipped. The same bytes are the body of GET /api/public/sdk/server/latest-all.
func AppendServerSync(b []byte, eventType string, flags []*codec.Flag, segs []*codec.Segment) []byte {
	b = AppendServerSyncHead(b, eventType)
	n := 0
	for _, f := range flags {
		if f == nil {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		b = AppendFlag(b, f)
		n++
	}
	b = append(b, ServerSyncMid...)
	n = 0
	for _, s := range segs {
		if s == nil {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		b = AppendSegment(b, s)
		n++
	}
	return append(b, ServerSyncTail...)
}

// AppendServerSyncRaw is AppendServerSync from items that are already
// encoded (by AppendFlag and AppendSegment; the edge caches them). Items are
// copied verbatim; empty items are skipped.
func AppendServerSyncRaw(b []byte, eventType string, flagJSON, segJSON [][]byte) []byte {
	b = AppendServerSyncHead(b, eventType)
	b = appendRawList(b, flagJSON)
	b = append(b, ServerSyncMid...)
	b = appendRawList(b, segJSON)
	return append(b, ServerSyncTail...)
}

func appendRawList(b []byte, items [][]byte) []byte {
	n := 0
	for _, it := range items {
		if len(it) == 0 {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, it...)
		n++
	}
	return b
}

// The pieces of a server-SDK data-sync message, for callers that stream
// items themselves: Head, then flag items separated by ',', then
// ServerSyncMid, then segment items separated by ',', then ServerSyncTail.
const (
	ServerSyncMid  = `],"segments":[`
	ServerSyncTail = `]}}`
)

// AppendServerSyncHead appends
// {"messageType":"data-sync","data":{"eventType":<eventType>,"featureFlags":[
func AppendServerSyncHead(b []byte, eventType string) []byte {
	b = append(b, `{"messageType":"data-sync","data":{"eventType":`...)
	b = AppendString(b, eventType)
	return append(b, `,"featureFlags":[`...)
}

// AppendPong appends the reply to a ping: {"messageType":"pong","data":{}}.
func AppendPong(b []byte) []byte {
	return append(b, Pong...)
}

// AppendEcho appends the reply to an echo message: the same data back,
// {"messageType":"echo","data":<data>}. data is raw JSON (Message.Data);
// empty data is sent as null.
func AppendEcho(b, data []byte) []byte {
	b = append(b, `{"messageType":"echo","data":`...)
	if len(data) == 0 {
		b = append(b, "null"...)
	} else {
		b = append(b, data...)
	}
	return append(b, '}')
}

// Pong is the reply to a ping message.
const Pong = `{"messageType":"pong","data":{}}`
