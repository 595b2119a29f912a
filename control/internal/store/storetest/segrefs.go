package storetest

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/store"
)

// countFinds is a Backend that counts Find calls per collection.
type countFinds struct {
	store.Backend
	mu    sync.Mutex
	finds map[string]int
}

func (c *countFinds) Find(ctx context.Context, coll string, q store.Query) ([]*store.Doc, int, error) {
	c.mu.Lock()
	c.finds[coll]++
	c.mu.Unlock()
	return c.Backend.Find(ctx, coll, q)
}

func (c *countFinds) flagFinds() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.finds[store.CollFlags]
}

func segFlag(env, id, key string, segs ...string) *codec.Flag {
	f := boolFlag(env, id, key)
	if len(segs) > 0 {
		v, _ := json.Marshal(segs)
		f.Rules = []codec.Rule{{ID: "r1", Conditions: []codec.Condition{{Property: store.PropInSegment, Value: string(v)}},
			Variations: []codec.RolloutVariation{{ID: "t", Rollout: [2]float64{0, 1}}}}}
	}
	return f
}

func keysOf(fs []*codec.Flag) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Key
	}
	return out
}

// testSegmentRefs: a segment's users are found from its list of flags,
// without reading the environment's flags (no Find on flags), through
// flag creates, updates that drop a reference and deletes; a segment
// change bumps exactly its flags; a segment from before the lists (no list,
// or a list a flag write started) is looked up in the environment's flags
// once, and from its list after.
func testSegmentRefs(t *testing.T, b store.Backend) {
	ctx := context.Background()
	cb := &countFinds{Backend: b, finds: map[string]int{}}
	s := store.New(cb)
	newEnv(t, s, "e1")
	for _, id := range []string{"s1", "s2"} {
		must(t, s.CreateSegment(ctx, &codec.Segment{ID: id, EnvID: "e1", Name: id}))
	}
	must(t, s.CreateFlag(ctx, segFlag("e1", "f1", "a", "s1")))
	must(t, s.CreateFlag(ctx, segFlag("e1", "f2", "b", "s1", "s2")))
	must(t, s.CreateFlag(ctx, segFlag("e1", "f3", "c")))
	n0 := cb.flagFinds()
	used := func(seg string) string {
		t.Helper()
		fs, err := s.SegmentUsedBy(ctx, "e1", seg)
		must(t, err)
		return strings.Join(keysOf(fs), ",")
	}
	if got := used("s1"); got != "a,b" {
		t.Fatalf("s1 used by %q", got)
	}
	if got := used("s2"); got != "b" {
		t.Fatalf("s2 used by %q", got)
	}
	f1, err := s.GetFlag(ctx, "e1", "f1")
	must(t, err)
	f1.Rules = nil
	must(t, s.UpdateFlag(ctx, f1, 1))
	if got := used("s1"); got != "b" {
		t.Fatalf("after f1 dropped it, s1 used by %q", got)
	}
	sg, err := s.GetSegment(ctx, "e1", "s1")
	must(t, err)
	sg.Included = []string{"u1"}
	must(t, s.UpdateSegment(ctx, sg, 1))
	for id, v := range map[string]int64{"f1": 2, "f2": 2, "f3": 1} {
		f, err := s.GetFlag(ctx, "e1", id)
		must(t, err)
		if f.Version != v {
			t.Fatalf("after the segment change %s is at v%d, want v%d", id, f.Version, v)
		}
	}
	if n := cb.flagFinds() - n0; n != 0 {
		t.Fatalf("finding a segment's flags read the environment's flags %d times", n)
	}
	f2, err := s.GetFlag(ctx, "e1", "f2")
	must(t, err)
	f2.IsArchived = true
	must(t, s.UpdateFlag(ctx, f2, 2))
	must(t, s.DeleteFlag(ctx, "e1", "f2", 3))
	if got := used("s1"); got != "" {
		t.Fatalf("after f2 was deleted, s1 used by %q", got)
	}
	must(t, s.DeleteSegment(ctx, "e1", "s1", 2))

	// a segment and a flag stored before the lists existed
	legacy := func(coll, id, key string, v any) {
		data, err := json.Marshal(v)
		must(t, err)
		must(t, b.Insert(ctx, coll, &store.Doc{ID: id, Version: 1, Fields: map[string]string{"envId": "e1", "key": key}, Data: data}))
	}
	legacy(store.CollSegments, "s3", "s3", &codec.Segment{ID: "s3", EnvID: "e1", Name: "s3", Version: 1})
	old := segFlag("e1", "f4", "d", "s3")
	old.Version = 1
	legacy(store.CollFlags, "f4", "d", old)
	must(t, s.CreateFlag(ctx, segFlag("e1", "f5", "e", "s3"))) // starts an incomplete list
	n0 = cb.flagFinds()
	if got := used("s3"); got != "d,e" {
		t.Fatalf("legacy s3 used by %q", got)
	}
	if n := cb.flagFinds() - n0; n != 1 {
		t.Fatalf("a segment without a complete list: %d reads of the environment's flags, want 1", n)
	}
	if got := used("s3"); got != "d,e" {
		t.Fatalf("legacy s3 used by %q the second time", got)
	}
	if n := cb.flagFinds() - n0; n != 1 {
		t.Fatalf("the list was not completed: %d reads of the environment's flags", n)
	}
}
