// Package featbit imports FeatBit's flags and segments into a Switchyard
// environment. Decode reads one environment's export in FeatBit's JSON form
// (the server SDK's data-sync payload that GET
// /api/public/sdk/server/latest-all returns, or the {featureFlags, segments}
// document FeatBit's "sync to remote" posts), bounded by Limits; Import plans
// and applies it through the API's domain operations (control/internal/api),
// matching flags by key and segments by name, so a second run of the same
// data writes nothing. The format is described in docs/compat.md, "Importing
// from FeatBit".
//
// Decode and Import keep no state; an Import must not run concurrently with
// another Import of the same environment (the store's version checks turn a
// race into an error, never a lost write).
package featbit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/control/internal/domain"
)

// Limits bound what Decode accepts.
type Limits struct {
	// MaxBytes is the largest file read (default 32 MiB). Decoding
	// allocates up to about 30 times the file size in the worst case (a
	// file of empty strings), so raise it only with the memory for it.
	MaxBytes int64
	// MaxFlags and MaxSegments cap the items of one export (default 10,000
	// each).
	MaxFlags, MaxSegments int
}

// DefaultLimits are the limits used for zero fields.
var DefaultLimits = Limits{MaxBytes: 32 << 20, MaxFlags: 10000, MaxSegments: 10000}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultLimits.MaxBytes
	}
	if l.MaxFlags <= 0 {
		l.MaxFlags = DefaultLimits.MaxFlags
	}
	if l.MaxSegments <= 0 {
		l.MaxSegments = DefaultLimits.MaxSegments
	}
	return l
}

// Formats Decode recognises.
const (
	// FormatServerSync is the server SDK's data-sync message
	// {"messageType":"data-sync","data":{"eventType":"full","featureFlags":[…],"segments":[…]}}:
	// FeatBit's GET /api/public/sdk/server/latest-all, and the bootstrap
	// file of its Node server SDK.
	FormatServerSync = "server-sdk data-sync"
	// FormatRemoteSync is {"featureFlags":[…],"segments":[…]}: FeatBit's
	// RemoteSyncPayload (PUT …/data-sync/to-remote posts it).
	FormatRemoteSync = "remote-sync payload"
)

// Export is one FeatBit environment's flags and segments.
type Export struct {
	Format   string    `json:"-"`
	Flags    []Flag    `json:"featureFlags"`
	Segments []Segment `json:"segments"`
}

// Variation is FeatBit's variation: the value is always a string.
type Variation struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Value string `json:"value"`
}

// TargetUser is FeatBit's individual targeting entry.
type TargetUser struct {
	KeyIDs      []string `json:"keyIds"`
	VariationID string   `json:"variationId"`
}

// Condition is FeatBit's rule condition; segment conditions have the
// property "User is in segment" / "User is not in segment" and a JSON array
// of segment ids as value.
type Condition struct {
	ID       string `json:"id,omitempty"`
	Property string `json:"property"`
	Op       string `json:"op"`
	Value    string `json:"value"`
}

// RolloutVariation serves a variation to the bucket range Rollout
// ([start, end], two numbers).
type RolloutVariation struct {
	ID          string    `json:"id"`
	Rollout     []float64 `json:"rollout"`
	ExptRollout float64   `json:"exptRollout"`
}

// Rule is FeatBit's TargetRule.
type Rule struct {
	ID             string             `json:"id"`
	Name           string             `json:"name"`
	DispatchKey    string             `json:"dispatchKey"`
	IncludedInExpt bool               `json:"includedInExpt"`
	Conditions     []Condition        `json:"conditions"`
	Variations     []RolloutVariation `json:"variations"`
}

// Fallthrough is FeatBit's default rule.
type Fallthrough struct {
	DispatchKey    string             `json:"dispatchKey"`
	IncludedInExpt bool               `json:"includedInExpt"`
	Variations     []RolloutVariation `json:"variations"`
}

// Flag is FeatBit's FeatureFlag as its JSON carries it. Fields Switchyard
// does not keep (revision, creatorId, createdAt, updatedAt, …) are ignored.
type Flag struct {
	ID                    string       `json:"id"`
	EnvID                 string       `json:"envId"`
	Name                  string       `json:"name"`
	Description           string       `json:"description"`
	Key                   string       `json:"key"`
	VariationType         string       `json:"variationType"`
	Variations            []Variation  `json:"variations"`
	TargetUsers           []TargetUser `json:"targetUsers"`
	Rules                 []Rule       `json:"rules"`
	IsEnabled             bool         `json:"isEnabled"`
	DisabledVariationID   string       `json:"disabledVariationId"`
	Fallthrough           Fallthrough  `json:"fallthrough"`
	ExptIncludeAllTargets bool         `json:"exptIncludeAllTargets"`
	Tags                  []string     `json:"tags"`
	IsArchived            bool         `json:"isArchived"`
	UpdatedAt             string       `json:"updatedAt,omitempty"`
}

// SegmentRule is FeatBit's MatchRule.
type SegmentRule struct {
	ID         string      `json:"id"`
	Name       string      `json:"name"`
	Conditions []Condition `json:"conditions"`
}

// Segment is FeatBit's Segment as its JSON carries it.
type Segment struct {
	ID          string        `json:"id"`
	EnvID       string        `json:"envId"`
	Name        string        `json:"name"`
	Key         string        `json:"key,omitempty"`
	Description string        `json:"description"`
	Included    []string      `json:"included"`
	Excluded    []string      `json:"excluded"`
	Rules       []SegmentRule `json:"rules"`
	Tags        []string      `json:"tags"`
	IsArchived  bool          `json:"isArchived"`
	UpdatedAt   string        `json:"updatedAt,omitempty"`
}

type syncBlock struct {
	EventType    string    `json:"eventType"`
	FeatureFlags []Flag    `json:"featureFlags"`
	Segments     []Segment `json:"segments"`
}

type envelope struct {
	MessageType  *string    `json:"messageType"`
	Data         *syncBlock `json:"data"`
	FeatureFlags []Flag     `json:"featureFlags"`
	Segments     []Segment  `json:"segments"`
}

// ServerSync returns e in FormatServerSync, the document FeatBit's
// latest-all returns (what the Node server SDK's bootstrap reads).
func (e *Export) ServerSync() ([]byte, error) {
	return json.Marshal(map[string]any{"messageType": "data-sync",
		"data": syncBlock{EventType: "full", FeatureFlags: e.Flags, Segments: e.Segments}})
}

// ErrFormat marks an input that is not a FeatBit export Decode accepts.
var ErrFormat = errors.New("not a FeatBit export")

// Decode reads one environment's export (FormatServerSync or
// FormatRemoteSync) from r, reading at most l.MaxBytes+1 bytes. Errors name
// the offending field (featureFlags[3].key) and wrap ErrFormat.
func Decode(r io.Reader, l Limits) (*Export, error) {
	l = l.withDefaults()
	b, err := io.ReadAll(io.LimitReader(r, l.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read the export: %w", err)
	}
	if int64(len(b)) > l.MaxBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes (raise -max-bytes)", ErrFormat, l.MaxBytes)
	}
	return DecodeBytes(b, l)
}

// DecodeBytes is Decode of a document already in memory (its size is
// checked against l.MaxBytes too).
func DecodeBytes(b []byte, l Limits) (*Export, error) {
	l = l.withDefaults()
	if int64(len(b)) > l.MaxBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrFormat, l.MaxBytes)
	}
	b = bytes.TrimSpace(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))) // a UTF-8 byte order mark, as some editors save
	if len(b) == 0 || b[0] != '{' {
		return nil, fmt.Errorf("%w: the document must be a JSON object", ErrFormat)
	}
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrFormat, jsonErr(err))
	}
	ex := &Export{}
	switch {
	case env.Data != nil && (env.FeatureFlags != nil || env.Segments != nil):
		return nil, fmt.Errorf("%w: both data and top-level featureFlags/segments: which one is the export?", ErrFormat)
	case env.Data != nil:
		if env.MessageType != nil && *env.MessageType != "data-sync" {
			return nil, fmt.Errorf("%w: messageType: %q, want \"data-sync\"", ErrFormat, *env.MessageType)
		}
		ex.Format, ex.Flags, ex.Segments = FormatServerSync, env.Data.FeatureFlags, env.Data.Segments
	case env.FeatureFlags != nil || env.Segments != nil:
		ex.Format, ex.Flags, ex.Segments = FormatRemoteSync, env.FeatureFlags, env.Segments
	default:
		return nil, fmt.Errorf("%w: neither data.featureFlags (server SDK data-sync) nor featureFlags (remote sync payload) is present", ErrFormat)
	}
	if len(ex.Flags) > l.MaxFlags {
		return nil, fmt.Errorf("%w: featureFlags: %d flags, at most %d (raise -max-flags)", ErrFormat, len(ex.Flags), l.MaxFlags)
	}
	if len(ex.Segments) > l.MaxSegments {
		return nil, fmt.Errorf("%w: segments: %d segments, at most %d (raise -max-segments)", ErrFormat, len(ex.Segments), l.MaxSegments)
	}
	if err := ex.check(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	return ex, nil
}

// jsonErr names the field of a JSON type error.
func jsonErr(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("%s: a JSON %s where %s is expected (offset %d)", te.Field, te.Value, te.Type, te.Offset)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("malformed JSON at offset %d: %v", se.Offset, se)
	}
	return err.Error()
}

func at(p string, i int) string { return p + "[" + strconv.Itoa(i) + "]" }

// check does the structural checks that make the conversion well defined:
// unique flag keys and segment ids and names, variation ids present, two
// numbers per rollout, segment references resolvable. Everything else is
// the API's validation, applied by Import.
func (e *Export) check() error {
	keys := map[string]int{}
	segIDs := map[string]bool{}
	names := map[string]int{}
	for i, s := range e.Segments {
		p := at("segments", i)
		if s.ID == "" {
			return fmt.Errorf("%s.id: missing", p)
		}
		if segIDs[s.ID] {
			return fmt.Errorf("%s.id: duplicate segment id %q", p, s.ID)
		}
		segIDs[s.ID] = true
		n := segName(&s)
		if n == "" {
			return fmt.Errorf("%s.name: missing", p)
		}
		if j, ok := names[n]; ok {
			return fmt.Errorf("%s.name: %q is also the name of segments[%d] (Switchyard's segment names are unique, ignoring case)", p, s.Name, j)
		}
		names[n] = i
		for j, r := range s.Rules {
			if err := checkConds(at(p+".rules", j), r.Conditions, nil); err != nil {
				return err
			}
		}
	}
	for i := range e.Flags {
		f := &e.Flags[i]
		p := at("featureFlags", i)
		if f.Key == "" {
			return fmt.Errorf("%s.key: missing", p)
		}
		if j, ok := keys[f.Key]; ok {
			return fmt.Errorf("%s.key: %q is also the key of featureFlags[%d]", p, f.Key, j)
		}
		keys[f.Key] = i
		for j, v := range f.Variations {
			if v.ID == "" {
				return fmt.Errorf("%s.id: missing", at(p+".variations", j))
			}
		}
		for j, r := range f.Rules {
			rp := at(p+".rules", j)
			if err := checkConds(rp, r.Conditions, segIDs); err != nil {
				return err
			}
			if err := checkRollout(rp+".variations", r.Variations); err != nil {
				return err
			}
		}
		if err := checkRollout(p+".fallthrough.variations", f.Fallthrough.Variations); err != nil {
			return err
		}
	}
	return nil
}

func checkRollout(p string, vs []RolloutVariation) error {
	for k, v := range vs {
		if len(v.Rollout) != 2 {
			return fmt.Errorf("%s.rollout: must be [start, end], got %d numbers", at(p, k), len(v.Rollout))
		}
	}
	return nil
}

// checkConds checks segment conditions: with segIDs (flag rules) every id
// must be a segment of the export; without (segment rules) they are plain
// conditions, as FeatBit reads them.
func checkConds(p string, cs []Condition, segIDs map[string]bool) error {
	for k, c := range cs {
		if segIDs == nil || !domain.IsSegmentProp(c.Property) {
			continue
		}
		var ids []string
		if err := json.Unmarshal([]byte(c.Value), &ids); err != nil {
			return fmt.Errorf("%s.value: must be a JSON array of segment ids", at(p+".conditions", k))
		}
		for _, id := range ids {
			if !segIDs[id] {
				return fmt.Errorf("%s.value: segment %q is not in the export", at(p+".conditions", k), id)
			}
		}
	}
	return nil
}

func segName(s *Segment) string { return strings.ToLower(strings.TrimSpace(s.Name)) }
