package codec

import (
	"errors"
	"fmt"
	"sort"
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
// sorted by key, segments by id; FlagsMP and SegmentsMP hold the fields'
// bytes.
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
	type raw struct {
		key string
		b   []byte
	}
	flags, segs := make([]raw, 0, nf), make([]raw, 0, len(fields)-nf)
	for k, val := range fields {
		switch {
		case k == FieldSecrets:
			var sec EnvSnapshot
			if _, err := sec.UnmarshalMsg([]byte(val)); err != nil {
				return nil, fmt.Errorf("%w: %s %s: %v", ErrEnvHash, EnvKey(envID), k, err)
			}
			s.Secrets = sec.Secrets
		case strings.HasPrefix(k, flagPrefix):
			flags = append(flags, raw{k, []byte(val)})
		case strings.HasPrefix(k, segPrefix):
			segs = append(segs, raw{k, []byte(val)})
		}
	}
	s.Flags, s.FlagsMP = make([]Flag, len(flags)), make([][]byte, len(flags))
	for i, r := range flags {
		f := &s.Flags[i]
		rest, err := f.UnmarshalMsg(r.b)
		if err != nil {
			return nil, fmt.Errorf("%w: %s %s: %v", ErrEnvHash, EnvKey(envID), r.key, err)
		}
		s.FlagsMP[i] = r.b[:len(r.b)-len(rest)]
		if f.ID == "" {
			f.ID, s.FlagsMP[i] = r.key[len(flagPrefix):], nil
		}
	}
	s.Segments, s.SegmentsMP = make([]Segment, len(segs)), make([][]byte, len(segs))
	for i, r := range segs {
		sg := &s.Segments[i]
		rest, err := sg.UnmarshalMsg(r.b)
		if err != nil {
			return nil, fmt.Errorf("%w: %s %s: %v", ErrEnvHash, EnvKey(envID), r.key, err)
		}
		s.SegmentsMP[i] = r.b[:len(r.b)-len(rest)]
		if sg.ID == "" {
			sg.ID, s.SegmentsMP[i] = r.key[len(segPrefix):], nil
		}
	}
	sort.Sort(byKey{s})
	sort.Sort(bySegID{s})
	return s, nil
}

// byKey sorts a snapshot's flags by key, keeping FlagsMP aligned.
type byKey struct{ s *EnvSnapshot }

func (x byKey) Len() int           { return len(x.s.Flags) }
func (x byKey) Less(i, j int) bool { return x.s.Flags[i].Key < x.s.Flags[j].Key }
func (x byKey) Swap(i, j int) {
	x.s.Flags[i], x.s.Flags[j] = x.s.Flags[j], x.s.Flags[i]
	x.s.FlagsMP[i], x.s.FlagsMP[j] = x.s.FlagsMP[j], x.s.FlagsMP[i]
}

// bySegID sorts a snapshot's segments by id, keeping SegmentsMP aligned.
type bySegID struct{ s *EnvSnapshot }

func (x bySegID) Len() int           { return len(x.s.Segments) }
func (x bySegID) Less(i, j int) bool { return x.s.Segments[i].ID < x.s.Segments[j].ID }
func (x bySegID) Swap(i, j int) {
	x.s.Segments[i], x.s.Segments[j] = x.s.Segments[j], x.s.Segments[i]
	x.s.SegmentsMP[i], x.s.SegmentsMP[j] = x.s.SegmentsMP[j], x.s.SegmentsMP[i]
}

// ErrEnvMissing is returned by a snapshot store asked to apply changes to
// an environment it does not hold (lost, or never written whole): the
// writer must write the environment whole instead.
var ErrEnvMissing = errors.New("codec: environment not stored")

// ExpandBatch returns the KindFlag upsert events a KindBatch event carries
// (each Payload the flag's own msgp), in order.
func ExpandBatch(ev *ChangeEvent) ([]*ChangeEvent, error) {
	var s EnvSnapshot
	if _, err := s.UnmarshalMsg(ev.Payload); err != nil {
		return nil, fmt.Errorf("batch payload of env %s: %w", ev.EnvID, err)
	}
	out := make([]*ChangeEvent, 0, len(s.Flags))
	for i := range s.Flags {
		f := &s.Flags[i]
		b, err := f.MarshalMsg(nil)
		if err != nil {
			return nil, fmt.Errorf("batch flag %s of env %s: %w", f.ID, ev.EnvID, err)
		}
		out = append(out, &ChangeEvent{EnvID: ev.EnvID, Kind: KindFlag, Op: OpUpsert, ID: f.ID, Version: f.Version,
			EnvVersion: ev.EnvVersion, At: ev.At, Payload: b, RequestID: ev.RequestID})
	}
	return out, nil
}

// MaxBatchRecord bounds the payload of one KindBatch record on Kafka: below
// the broker's default message.max.bytes (1 MiB) and franz-go's default
// producer batch (about 1 MB), so a batch is delivered on any topic.
const MaxBatchRecord = 900 << 10

// BatchPayloads encodes flags as KindBatch payloads (EnvSnapshot msgp of
// envID at version) of consecutive flags, each at most max bytes (a single
// larger flag goes alone), in order; none for no flags.
func BatchPayloads(envID string, version int64, flags []Flag, max int) ([][]byte, error) {
	var out [][]byte
	part := EnvSnapshot{EnvID: envID, Version: version}
	empty := part.Msgsize()
	size := empty
	flush := func() error {
		if len(part.Flags) == 0 {
			return nil
		}
		p, err := part.MarshalMsg(nil)
		if err != nil {
			return fmt.Errorf("batch part of env %s: %w", envID, err)
		}
		out = append(out, p)
		part.Flags, size = part.Flags[:0], empty
		return nil
	}
	for i := range flags {
		fs := flags[i].Msgsize()
		if size+fs > max {
			if err := flush(); err != nil {
				return nil, err
			}
		}
		part.Flags = append(part.Flags, flags[i])
		size += fs
	}
	return out, flush()
}

// Flatten returns evs with every KindBatch event replaced by the KindFlag
// events it carries (ExpandBatch), for writers of item fields; evs itself
// when it holds no batch.
func Flatten(evs []*ChangeEvent) ([]*ChangeEvent, error) {
	n := -1
	for i, ev := range evs {
		if ev.Kind == KindBatch {
			n = i
			break
		}
	}
	if n < 0 {
		return evs, nil
	}
	out := append(make([]*ChangeEvent, 0, len(evs)), evs[:n]...)
	for _, ev := range evs[n:] {
		if ev.Kind != KindBatch {
			out = append(out, ev)
			continue
		}
		items, err := ExpandBatch(ev)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
	}
	return out, nil
}
