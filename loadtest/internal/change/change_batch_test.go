package change

import (
	"testing"
	"time"

	"github.com/switchyard/switchyard/codec"
)

func TestGrowBatchesSplitsBelowARecord(t *testing.T) {
	e, err := NewEnv(3)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := e.GrowBatches(3000)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) < 2 {
		t.Fatalf("%d events for 3000 flags: not split", len(evs))
	}
	n := 0
	for _, ev := range evs {
		if ev.Kind != codec.KindBatch || len(ev.Payload) > MaxBatchPayload || ev.EnvVersion != e.Snapshot.Version {
			t.Fatalf("event %s %d bytes version %d", ev.Kind, len(ev.Payload), ev.EnvVersion)
		}
		var s codec.EnvSnapshot
		if _, err := s.UnmarshalMsg(ev.Payload); err != nil {
			t.Fatal(err)
		}
		n += len(s.Flags)
	}
	if n != 3000 || len(e.Snapshot.Flags) != 3004 {
		t.Fatalf("%d flags in the batches, %d in the snapshot", n, len(e.Snapshot.Flags))
	}
}

func TestMembersSegment(t *testing.T) {
	e, err := NewEnv(1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.MemberEvent(1, timeNow()); err == nil {
		t.Fatal("a member change before SetMembers must fail (and not touch the other segment)")
	}
	if _, err := e.SetMembers(MaxMembers + 1); err == nil {
		t.Fatal("more than 100000 members accepted")
	}
	if _, err := e.SetMembers(1000); err != nil {
		t.Fatal(err)
	}
	ev, err := e.MemberEvent(7, timeNow())
	if err != nil || ev.Kind != codec.KindSegment {
		t.Fatalf("%v %v", ev, err)
	}
	var sg codec.Segment
	if _, err := sg.UnmarshalMsg(ev.Payload); err != nil {
		t.Fatal(err)
	}
	if len(sg.Included) != 1000 || sg.Included[0] != "lt-member-0" || sg.Included[999][:5] != "lt~7~" {
		t.Fatalf("included %d: %q … %q", len(sg.Included), sg.Included[0], sg.Included[len(sg.Included)-1])
	}
}

func timeNow() time.Time { return time.Now() }
