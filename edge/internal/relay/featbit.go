package relay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/switchyard/switchyard/codec"
)

// serverMessage is a message of FeatBit's server streaming protocol as the
// upstream sends it: data-sync (full or patch) or pong.
type serverMessage struct {
	MessageType string `json:"messageType"`
	Data        struct {
		EventType    string            `json:"eventType"`
		FeatureFlags []json.RawMessage `json:"featureFlags"`
		Segments     []json.RawMessage `json:"segments"`
	} `json:"data"`
}

// fbFlag is a flag in FeatBit's server JSON: codec.Flag's fields, with the
// timestamps as RFC 3339 text (the embedded fields of the same JSON name are
// shadowed).
type fbFlag struct {
	codec.Flag
	UpdatedAt string `json:"updatedAt"`
	CreatedAt string `json:"createdAt"`
}

type fbSegment struct {
	codec.Segment
	UpdatedAt string `json:"updatedAt"`
	CreatedAt string `json:"createdAt"`
}

// parseTime reads FeatBit's RFC 3339 timestamps as Unix milliseconds ("" or
// null: 0).
func parseTime(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, err
	}
	return t.UnixMilli(), nil
}

var errNoID = errors.New("item without an id")

// decodeFlag decodes one flag of a data-sync message.
func decodeFlag(raw []byte) (*codec.Flag, error) {
	var f fbFlag
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, err
	}
	if f.ID == "" {
		return nil, errNoID
	}
	var err error
	if f.Flag.UpdatedAt, err = parseTime(f.UpdatedAt); err != nil {
		return nil, fmt.Errorf("flag %s updatedAt: %w", f.ID, err)
	}
	if f.Flag.CreatedAt, err = parseTime(f.CreatedAt); err != nil {
		return nil, fmt.Errorf("flag %s createdAt: %w", f.ID, err)
	}
	return &f.Flag, nil
}

func decodeSegment(raw []byte) (*codec.Segment, error) {
	var s fbSegment
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	if s.ID == "" {
		return nil, errNoID
	}
	var err error
	if s.Segment.UpdatedAt, err = parseTime(s.UpdatedAt); err != nil {
		return nil, fmt.Errorf("segment %s updatedAt: %w", s.ID, err)
	}
	if s.Segment.CreatedAt, err = parseTime(s.CreatedAt); err != nil {
		return nil, fmt.Errorf("segment %s createdAt: %w", s.ID, err)
	}
	return &s.Segment, nil
}

func hashOf(raw []byte) uint64 {
	h := fnv.New64a()
	h.Write(bytes.TrimSpace(raw))
	return h.Sum64()
}

// held is what the relay last applied of one item: the version it gave it
// and a hash of the upstream's JSON.
type held struct {
	version int64
	hash    uint64
}

// versionFor gives an item its version: the upstream's JSON carries none,
// so an unchanged item keeps the one it had, a changed or new one gets its
// updatedAt (milliseconds), raised above what it had so that the edge's
// "newer wins" never drops a change the upstream sent.
func versionFor(m map[string]held, id string, raw []byte, updatedAt int64) int64 {
	h := hashOf(raw)
	old, ok := m[id]
	if ok && old.hash == h {
		return old.version
	}
	v := max(updatedAt, 1)
	if ok && v <= old.version {
		v = old.version + 1
	}
	m[id] = held{version: v, hash: h}
	return v
}
