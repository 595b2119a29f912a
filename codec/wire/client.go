package wire

import "github.com/switchyard/switchyard/codec"

// ClientFlag is one flag evaluated for a client SDK's user (FeatBit's
// client-SDK flag). Key is the flag key (sent as "id"). ValueNull makes
// variation and variationId null (archived flags). Options are the flag's
// variations (only ID and Value are sent); OptionsJSON, when not nil,
// replaces them with a pre-encoded array (see AppendVariationOptions), so an
// edge can encode it once per flag instead of once per user. Timestamp is
// the flag's updatedAt in Unix ms.
type ClientFlag struct {
	Key              string
	Value            string
	ValueNull        bool
	VariationType    string
	VariationID      string
	MatchReason      string
	Options          []codec.Variation
	OptionsJSON      []byte
	SendToExperiment bool
	Timestamp        int64
}

// AppendVariationOptions appends the variationOptions array of a client
// flag: [{"id":…,"value":…},…].
func AppendVariationOptions(b []byte, vs []codec.Variation) []byte {
	b = append(b, '[')
	for i := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		o := &vs[i]
		b = append(b, `{"id":`...)
		b = AppendString(b, o.ID)
		b = append(b, `,"value":`...)
		b = AppendString(b, o.Value)
		b = append(b, '}')
	}
	return append(b, ']')
}

// AppendClientFlag appends f with the fields in the order of FeatBit's
// server: id, variation, variationType, variationId, matchReason,
// variationOptions, sendToExperiment, timestamp. An empty VariationType is
// sent as "string".
func AppendClientFlag(b []byte, f *ClientFlag) []byte {
	b = append(b, `{"id":`...)
	b = AppendString(b, f.Key)
	b = append(b, `,"variation":`...)
	if f.ValueNull {
		b = append(b, "null"...)
	} else {
		b = AppendString(b, f.Value)
	}
	b = append(b, `,"variationType":`...)
	if f.VariationType == "" {
		b = append(b, `"string"`...)
	} else {
		b = AppendString(b, f.VariationType)
	}
	b = append(b, `,"variationId":`...)
	if f.ValueNull {
		b = append(b, "null"...)
	} else {
		b = AppendString(b, f.VariationID)
	}
	b = append(b, `,"matchReason":`...)
	b = AppendString(b, f.MatchReason)
	b = append(b, `,"variationOptions":`...)
	if f.OptionsJSON != nil {
		b = append(b, f.OptionsJSON...)
	} else {
		b = AppendVariationOptions(b, f.Options)
	}
	b = append(b, `,"sendToExperiment":`...)
	b = AppendBool(b, f.SendToExperiment)
	b = append(b, `,"timestamp":`...)
	b = appendInt(b, f.Timestamp)
	return append(b, '}')
}

// AppendClientSync appends a client-SDK data-sync message:
//
//	{"messageType":"data-sync","data":{"eventType":…,"userKeyId":…,"featureFlags":[…]}}
func AppendClientSync(b []byte, eventType, userKeyID string, flags []ClientFlag) []byte {
	b = AppendClientSyncHead(b, eventType, userKeyID)
	for i := range flags {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendClientFlag(b, &flags[i])
	}
	return append(b, ClientSyncTail...)
}

// AppendClientSyncHead appends the start of a client-SDK data-sync message,
// up to and including the '[' of featureFlags. Follow it with items
// (AppendClientFlag) separated by ',' and then ClientSyncTail.
func AppendClientSyncHead(b []byte, eventType, userKeyID string) []byte {
	b = append(b, `{"messageType":"data-sync","data":{"eventType":`...)
	b = AppendString(b, eventType)
	b = append(b, `,"userKeyId":`...)
	b = AppendString(b, userKeyID)
	return append(b, `,"featureFlags":[`...)
}

// ClientSyncTail ends a client-SDK data-sync message.
const ClientSyncTail = `]}}`
