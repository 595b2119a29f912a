package codec

import (
	"errors"
	"testing"
)

func envFields(t testing.TB, s *EnvSnapshot) map[string]string {
	kv, err := AppendEnvFields(nil, s)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func TestEnvFieldsRoundTrip(t *testing.T) {
	f, sg := sampleFlag(), sampleSegment()
	g := f
	g.ID, g.Key = "other", "a-first"
	s := &EnvSnapshot{EnvID: f.EnvID, Version: 42, Secrets: []EnvSecret{{EnvID: f.EnvID, Type: SecretServer, Value: "x"}},
		Flags: []Flag{f, g}, Segments: []Segment{sg}}
	got, err := EnvFromFields(s.EnvID, envFields(t, s))
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 42 || len(got.Secrets) != 1 || len(got.Flags) != 2 || got.Flags[0].Key != "a-first" ||
		got.Flags[1].UpdatedAt != f.UpdatedAt || len(got.Segments) != 1 || got.Segments[0].ID != sg.ID {
		t.Fatalf("round trip: %+v", got)
	}
	for name, m := range map[string]map[string]string{
		"no version":  {FlagField("a"): ""},
		"bad version": {FieldVersion: "x"},
		"bad flag":    {FieldVersion: "1", FlagField("a"): "\xc1"},
		"bad secrets": {FieldVersion: "1", FieldSecrets: "\x93"},
	} {
		if _, err := EnvFromFields("e", m); !errors.Is(err, ErrEnvHash) {
			t.Errorf("%s: %v, want ErrEnvHash", name, err)
		}
	}
}

// FuzzEnvFromFields: the hash read from Redis is untrusted bytes; any
// field values never panic, and what decodes re-encodes to a hash that
// decodes to the same environment.
func FuzzEnvFromFields(f *testing.F) {
	fl, sg := sampleFlag(), sampleSegment()
	m := envFields(f, &EnvSnapshot{EnvID: fl.EnvID, Version: 3, Flags: []Flag{fl}, Segments: []Segment{sg}})
	f.Add("3", m[FieldSecrets], m[FlagField(fl.ID)], m[SegmentField(sg.ID)])
	f.Add("-1", "", "\x80", "\xde\xff\xff")
	f.Fuzz(func(t *testing.T, v, sec, flag, seg string) {
		s, err := EnvFromFields("e", map[string]string{FieldVersion: v, FieldSecrets: sec, FlagField("f"): flag, SegmentField("s"): seg})
		if err != nil {
			if !errors.Is(err, ErrEnvHash) {
				t.Fatalf("error %v does not wrap ErrEnvHash", err)
			}
			return
		}
		again, err := EnvFromFields("e", envFields(t, s))
		if err != nil || again.Version != s.Version || len(again.Flags) != len(s.Flags) || len(again.Segments) != len(s.Segments) {
			t.Fatalf("re-encoded hash: %+v %v", again, err)
		}
	})
}

// TestSecurityHostileEnvHashRefused: whoever can write to Redis plants an
// environment hash whose item claims a 4-billion-element array, or is cut
// short; the edge's decoder refuses it with an error (the environment is
// then unavailable) instead of allocating or panicking.
func TestSecurityHostileEnvHashRefused(t *testing.T) {
	fl := sampleFlag()
	b, err := fl.MarshalMsg(nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, val := range map[string]string{
		"huge array header": "\x81\xaavariations\xdd\xff\xff\xff\xff",
		"huge map header":   "\xdf\xff\xff\xff\xff",
		"truncated item":    string(b[:len(b)/2]),
	} {
		_, err := EnvFromFields("e", map[string]string{FieldVersion: "1", FlagField("f"): val})
		if !errors.Is(err, ErrEnvHash) {
			t.Errorf("%s: %v, want ErrEnvHash", name, err)
		}
	}
}
