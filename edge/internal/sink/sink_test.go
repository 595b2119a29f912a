package sink_test

import (
	"testing"
	"time"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/edge/edgetest"
	"github.com/switchyard/switchyard/edge/internal/sink"
)

func TestUsersBatchesAndDeduplicates(t *testing.T) {
	rec := &edgetest.Sink{}
	sent := 0
	u := sink.NewUsers(rec, time.Hour, 1000, nil, func(n int) { sent += n })
	u.AddUser("e1", &codec.EndUser{EnvID: "e1", KeyID: "a", Name: "old", FirstSeen: 5, LastSeen: 5})
	u.AddUser("e1", &codec.EndUser{EnvID: "e1", KeyID: "a", Name: "new", FirstSeen: 7, LastSeen: 9})
	u.AddUser("e1", &codec.EndUser{EnvID: "e1", KeyID: "b"})
	u.AddUser("e2", &codec.EndUser{EnvID: "e2", KeyID: "a"})
	u.Close() // flushes
	got := map[string][]codec.EndUser{}
	for _, b := range rec.EndUserBatches() {
		got[b.EnvID] = append(got[b.EnvID], b.Users...)
	}
	if len(got["e1"]) != 2 || len(got["e2"]) != 1 || sent != 3 {
		t.Fatalf("batches %+v, sent %d", got, sent)
	}
	a := got["e1"][0]
	if a.Name != "new" || a.FirstSeen != 5 || a.LastSeen != 9 {
		t.Fatalf("merged user %+v", a)
	}
}
