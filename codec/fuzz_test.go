package codec

import (
	"bytes"
	"errors"
	"testing"

	"github.com/tinylib/msgp/msgp"
)

// Fuzz targets for the msgp decoders of values read from Kafka and Redis:
// random bytes never panic, and a value that decodes re-encodes to bytes
// that decode to the same value (compared by re-encoding, which treats nil
// and empty slices alike and NaN as equal to itself).
//
// Found by FuzzUnmarshalInsightBatch: without limits, the generated
// UnmarshalMsg trusted array headers, so the 10 bytes
// "\x83\xa5evals\xdd0\xa700" made it call make([]FlagEval, 816_001_072)
// and the process died out of memory. model.go now carries msgp's
// `//msgp:limit` directive; TestHugeArrayHeaderIsRefused pins it.

func sampleFlag() Flag {
	return Flag{
		ID: "5a0e4c1d-2b3f-4e6a-9c8d-7f1e2d3c4b5a", EnvID: "0d9c8b7a-6f5e-4d3c-2b1a-0f9e8d7c6b5a",
		Name: "New checkout", Key: "new-checkout", VariationType: "boolean",
		Variations:  []Variation{{ID: "v-on", Name: "On", Value: "true"}, {ID: "v-off", Name: "Off", Value: "false"}},
		TargetUsers: []TargetUser{{KeyIDs: []string{"alice", "bob"}, VariationID: "v-on"}},
		Rules: []Rule{{ID: "r1", Name: "Adults", DispatchKey: "keyId", IncludedInExpt: true,
			Conditions: []Condition{{ID: "c1", Property: "age", Op: "BiggerThan", Value: "22"},
				{Property: "User is in segment", Value: `["seg-1"]`}},
			Variations: []RolloutVariation{{ID: "v-on", Rollout: [2]float64{0, 0.1}, ExptRollout: 1},
				{ID: "v-off", Rollout: [2]float64{0.1, 1}, ExptRollout: 0.5}}}},
		IsEnabled: true, DisabledVariationID: "v-off",
		Fallthrough: Fallthrough{IncludedInExpt: true, Variations: []RolloutVariation{{ID: "v-on", Rollout: [2]float64{0, 1}, ExptRollout: 1}}},
		Tags:        []string{"web"}, CreatedAt: 1674885000000, UpdatedAt: 1674885575885, Version: 3,
	}
}

func sampleSegment() Segment {
	return Segment{ID: "seg-1", EnvID: "0d9c8b7a-6f5e-4d3c-2b1a-0f9e8d7c6b5a", Name: "Beta",
		Included: []string{"alice"}, Excluded: []string{"mallory"},
		Rules:     []SegmentRule{{ID: "sr1", Name: "Rule 1", Conditions: []Condition{{Property: "country", Op: "IsOneOf", Value: `["fr"]`}}}},
		UpdatedAt: 1674885575000, Version: 2}
}

func mustMarshal(f *testing.F, v interface{ MarshalMsg([]byte) ([]byte, error) }) []byte {
	b, err := v.MarshalMsg(nil)
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// roundTrip checks that encoding v and decoding it into fresh gives a value
// that encodes to the same bytes.
func roundTrip[T any, P interface {
	*T
	MarshalMsg([]byte) ([]byte, error)
	UnmarshalMsg([]byte) ([]byte, error)
}](t *testing.T, v P) {
	t.Helper()
	enc1, err := v.MarshalMsg(nil)
	if err != nil {
		t.Fatalf("re-encoding a decoded value failed: %v", err)
	}
	var w T
	rest, err := P(&w).UnmarshalMsg(enc1)
	if err != nil || len(rest) != 0 {
		t.Fatalf("decoding our own encoding failed: %v (%d bytes left)", err, len(rest))
	}
	enc2, err := P(&w).MarshalMsg(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(enc1, enc2) {
		t.Fatalf("value changed in a round trip:\n%x\n%x", enc1, enc2)
	}
}

func FuzzUnmarshalChangeEvent(f *testing.F) {
	fl, seg := sampleFlag(), sampleSegment()
	f.Add(mustMarshal(f, &ChangeEvent{EnvID: fl.EnvID, Kind: KindFlag, Op: OpUpsert, ID: fl.ID, Version: 3, EnvVersion: 17,
		At: 1674885575885, Payload: mustMarshal(f, &fl)}))
	f.Add(mustMarshal(f, &ChangeEvent{EnvID: seg.EnvID, Kind: KindSegment, Op: OpUpsert, ID: seg.ID, Version: 2, EnvVersion: 18,
		Payload: mustMarshal(f, &seg), AffectedFlags: []string{fl.ID}}))
	f.Add(mustMarshal(f, &ChangeEvent{EnvID: seg.EnvID, Kind: KindEnv, Op: OpDelete}))
	f.Add([]byte{})
	f.Add([]byte{0x80})
	f.Add([]byte("\x83\xa5evals\xdd0\xa700")) // huge array header (refused by the limits)
	f.Fuzz(func(t *testing.T, data []byte) {
		var ev ChangeEvent
		if _, err := ev.UnmarshalMsg(data); err != nil {
			return
		}
		roundTrip(t, &ev)
		switch ev.Kind {
		case KindFlag:
			var x Flag
			if _, err := x.UnmarshalMsg(ev.Payload); err == nil {
				roundTrip(t, &x)
			}
		case KindSegment:
			var x Segment
			if _, err := x.UnmarshalMsg(ev.Payload); err == nil {
				roundTrip(t, &x)
			}
		}
	})
}

func FuzzUnmarshalInsightBatch(f *testing.F) {
	f.Add(mustMarshal(f, &InsightBatch{EnvID: "env",
		Evals: []FlagEval{{EnvID: "env", FlagKey: "checkout", VariationID: "v-on", Value: "true", UserKey: "u1",
			UserName: "Ann", SendToExperiment: true, Timestamp: 1700000000000}},
		Metrics: []MetricEvent{{EnvID: "env", EventName: "paid", Route: "index/metric", Type: "CustomEvent",
			AppType: "NodeJS-Server-SDK", UserKey: "u1", NumericValue: 9.5, Timestamp: 1700000000001}}}))
	f.Add(mustMarshal(f, &InsightBatch{}))
	f.Add([]byte("\x83\xa5evals\xdd0\xa700")) // huge array header (refused by the limits)
	f.Add(mustMarshal(f, &EndUserBatch{EnvID: "env", Users: []EndUser{{KeyID: "u1", Props: []UserProp{{Name: "a", Value: "b"}}}}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		var b InsightBatch
		if _, err := b.UnmarshalMsg(data); err == nil {
			roundTrip(t, &b)
		}
		var u EndUserBatch
		if _, err := u.UnmarshalMsg(data); err == nil {
			roundTrip(t, &u)
		}
	})
}

func FuzzUnmarshalEnvSnapshot(f *testing.F) {
	fl, seg := sampleFlag(), sampleSegment()
	archived := sampleFlag()
	archived.ID, archived.Key, archived.IsArchived = "6b1f5d2e-3c4a-4f7b-8d9e-0a1b2c3d4e5f", "old", true
	f.Add(mustMarshal(f, &EnvSnapshot{EnvID: fl.EnvID, Version: 18,
		Secrets:  []EnvSecret{{EnvID: fl.EnvID, Type: SecretServer, Value: "gpnOV3wI3kKAO9q9viC0wQWdKZrVAf2U6gAnxl4lSH3w"}},
		Flags:    []Flag{fl, archived},
		Segments: []Segment{seg}}))
	f.Add(mustMarshal(f, &EnvSnapshot{}))
	f.Fuzz(func(t *testing.T, data []byte) {
		var s EnvSnapshot
		if _, err := s.UnmarshalMsg(data); err != nil {
			return
		}
		roundTrip(t, &s)
	})
}

func TestHugeArrayHeaderIsRefused(t *testing.T) {
	var b InsightBatch
	if _, err := b.UnmarshalMsg([]byte("\x83\xa5evals\xdd0\xa700")); !errors.Is(err, msgp.ErrLimitExceeded) {
		t.Fatalf("err = %v, want msgp.ErrLimitExceeded", err)
	}
}

// FuzzUnmarshalDeliveryReport: the records control reads from the delivery
// topic (any process that can produce to Kafka can write one).
func FuzzUnmarshalDeliveryReport(f *testing.F) {
	f.Add(mustMarshal(f, &DeliveryReport{Edge: "edge-1:4242:1700000000000", At: 1700000000123, Interval: 5000,
		Envs: []EnvDelivery{{EnvID: "env-1", EnvVersion: 42, RequestID: "req-1", ChangeAt: 1700000000100, Server: 3, Client: 9,
			SDKs: []SDKCount{{Type: SecretServer, SDK: "NodeJS-Server-SDK/1.2.3", Count: 3}, {Type: SecretClient, SDK: "browser", Expires: 1700086400000, Count: 9}}}}}))
	f.Add([]byte{})
	f.Add([]byte{0x84})
	f.Add([]byte("\x84\xa4envs\xdd\x7f\xff\xff\xff")) // huge array header (refused by the limits)
	f.Fuzz(func(t *testing.T, data []byte) {
		var r DeliveryReport
		if _, err := r.UnmarshalMsg(data); err != nil {
			return
		}
		roundTrip(t, &r)
	})
}
