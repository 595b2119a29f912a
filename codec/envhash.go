package codec

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The Redis layout of a published environment (docs/wire.md), shared by
// control (writer) and the edge (reader):
//
//	sy:env:{envId}   hash: "_v" the environment version (decimal),
//	                 "_secrets" an EnvSnapshot with only EnvID, Version and
//	                 Secrets (msgp), "f:{flagId}" a Flag (msgp),
//	                 "s:{segmentId}" a Segment (msgp)
//	sy:gone:{envId}  set when the environment was deleted
//
// One change rewrites only the fields of the items it touches (and "_v"),
// atomically; the edge assembles the EnvSnapshot from the hash when it loads
// the environment. A hash that exists is always complete: it is created
// whole, and changes are applied only to an existing hash.

// Field names of the environment hash.
const (
	FieldVersion = "_v"
	FieldSecrets = "_secrets"
	flagPrefix   = "f:"
	segPrefix    = "s:"
)

// EnvKey is the Redis key of an environment's hash.
func EnvKey(envID string) string { return "sy:env:" + envID }

// TombstoneKey is the Redis key marking a deleted environment.
func TombstoneKey(envID string) string { return "sy:gone:" + envID }

// FlagField is the hash field of a flag.
func FlagField(id string) string { return flagPrefix + id }

// SegmentField is the hash field of a segment.
func SegmentField(id string) string { return segPrefix + id }

// SecretsValue encodes the "_secrets" field of s.
func SecretsValue(s *EnvSnapshot) ([]byte, error) {
	return (&EnvSnapshot{EnvID: s.EnvID, Version: s.Version, Secrets: s.Secrets}).MarshalMsg(nil)
}

// AppendEnvFields appends the field/value pairs of the whole hash of s
// (version, secrets, every flag and segment) to kv.
func AppendEnvFields(kv []string, s *EnvSnapshot) ([]string, error) {
	sec, err := SecretsValue(s)
	if err != nil {
		return kv, err
	}
	kv = append(kv, FieldVersion, strconv.FormatInt(s.Version, 10), FieldSecrets, string(sec))
	for i := range s.Flags {
		b, err := s.Flags[i].MarshalMsg(nil)
		if err != nil {
			return kv, err
		}
		kv = append(kv, FlagField(s.Flags[i].ID), string(b))
	}
	for i := range s.Segments {
		b, err := s.Segments[i].MarshalMsg(nil)
		if err != nil {
			return kv, err
		}
		kv = append(kv, SegmentField(s.Segments[i].ID), string(b))
	}
	return kv, nil
}

// ErrEnvHash reports a hash that does not make a valid environment.
var ErrEnvHash = errors.New("codec: bad environment hash")

// EnvFromFields assembles the EnvSnapshot of environment envID from its
// hash fields (HGETALL). Unknown fields are ignored; a field that does not
// decode, or a hash without "_v", is an error wrapping ErrEnvHash. Flags are
// sorted by key, segments by id.
func EnvFromFields(envID string, fields map[string]string) (*EnvSnapshot, error) {
	v, ok := fields[FieldVersion]
	if !ok {
		return nil, fmt.Errorf("%w: %s has no %s", ErrEnvHash, EnvKey(envID), FieldVersion)
	}
	s := &EnvSnapshot{EnvID: envID}
	var err error
	if s.Version, err = strconv.ParseInt(v, 10, 64); err != nil {
		return nil, fmt.Errorf("%w: %s %s %q", ErrEnvHash, EnvKey(envID), FieldVersion, v)
	}
	nf := 0
	for k := range fields {
		if strings.HasPrefix(k, flagPrefix) {
			nf++
		}
	}
	s.Flags = make([]Flag, 0, nf)
	s.Segments = make([]Segment, 0, len(fields)-nf)
	for k, val := range fields {
		switch {
		case k == FieldSecrets:
			var sec EnvSnapshot
			if _, err := sec.UnmarshalMsg([]byte(val)); err != nil {
				return nil, fmt.Errorf("%w: %s %s: %v", ErrEnvHash, EnvKey(envID), k, err)
			}
			s.Secrets = sec.Secrets
		case strings.HasPrefix(k, flagPrefix):
			var f Flag
			if _, err := f.UnmarshalMsg([]byte(val)); err != nil {
				return nil, fmt.Errorf("%w: %s %s: %v", ErrEnvHash, EnvKey(envID), k, err)
			}
			if f.ID == "" {
				f.ID = k[len(flagPrefix):]
			}
			s.Flags = append(s.Flags, f)
		case strings.HasPrefix(k, segPrefix):
			var sg Segment
			if _, err := sg.UnmarshalMsg([]byte(val)); err != nil {
				return nil, fmt.Errorf("%w: %s %s: %v", ErrEnvHash, EnvKey(envID), k, err)
			}
			if sg.ID == "" {
				sg.ID = k[len(segPrefix):]
			}
			s.Segments = append(s.Segments, sg)
		}
	}
	slices.SortFunc(s.Flags, func(a, b Flag) int { return strings.Compare(a.Key, b.Key) })
	slices.SortFunc(s.Segments, func(a, b Segment) int { return strings.Compare(a.ID, b.ID) })
	return s, nil
}

// ErrEnvMissing is returned by a snapshot store asked to apply changes to
// an environment it does not hold (lost, or never written whole): the
// writer must write the environment whole instead.
var ErrEnvMissing = errors.New("codec: environment not stored")
