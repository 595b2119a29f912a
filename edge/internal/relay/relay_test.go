package relay

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/codec/secret"
	"github.com/switchyard/switchyard/codec/wire"
)

func insightRecord(t testing.TB, env string, n int) []byte {
	t.Helper()
	b := codec.InsightBatch{EnvID: env}
	for i := range n {
		b.Evals = append(b.Evals, codec.FlagEval{EnvID: env, FlagKey: "f", VariationID: "v", Value: "true", UserKey: fmt.Sprintf("u%d", i), Timestamp: 1})
	}
	return fmt.Appendf(nil, "%s%s %d\n%s", recordMagic, env, n, appendInsightEntries(nil, &b))
}

// TestSpoolCapDropsOldestAndSurvivesReopen: below the cap nothing is lost;
// a record that does not fit deletes the oldest ones, whose events are
// counted; a record larger than the cap is dropped at once; reopening the
// directory finds the records in order and continues the sequence.
func TestSpoolCapDropsOldestAndSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	rec := insightRecord(t, "e", 10)
	dropped := 0
	onDrop := func(b []byte) { dropped += countEvents(b) }
	s, err := OpenSpool(dir, int64(3*len(rec)), onDrop)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := s.Append(rec); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := s.Stats(); n != 3 || dropped != 0 {
		t.Fatalf("below the cap: %d records, %d events dropped", n, dropped)
	}
	if err := s.Append(rec); err != nil {
		t.Fatal(err)
	}
	if n, size := s.Stats(); n != 3 || size != int64(3*len(rec)) || dropped != 10 {
		t.Fatalf("over the cap: %d records %d bytes, %d events dropped; want 3, %d, 10", n, size, dropped, 3*len(rec))
	}
	if first := s.peek(1)[0].seq; first != 2 {
		t.Fatalf("oldest kept is %d, want 2 (1 dropped)", first)
	}
	if err := s.Append(insightRecord(t, "e", 1000)); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Stats(); n != 3 || dropped != 1010 {
		t.Fatalf("a record over the cap: %d records, %d dropped", n, dropped)
	}
	// a half-written record of a crash is ignored and removed
	if err := os.WriteFile(filepath.Join(dir, "00000000000000000099.rec.tmp"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	s2, err := OpenSpool(dir, int64(3*len(rec)), onDrop)
	if err != nil {
		t.Fatal(err)
	}
	got := s2.peek(10)
	if len(got) != 3 || got[0].seq != 2 || got[2].seq != 4 {
		t.Fatalf("reopened: %+v", got)
	}
	if err := s2.Append(rec); err != nil {
		t.Fatal(err)
	}
	if last := s2.peek(10); last[len(last)-1].seq != 5 {
		t.Fatalf("sequence not continued: %+v", last)
	}
	if _, err := os.Stat(filepath.Join(dir, "00000000000000000099.rec.tmp")); err == nil {
		t.Error("temporary file left behind")
	}
	s2.remove(got)
	if n, size := s2.Stats(); n != 1 || size != int64(len(rec)) {
		t.Fatalf("after remove: %d records %d bytes", n, size)
	}
}

// TestTrackEntriesParseUpstream: what the forwarder sends is a track body
// the upstream's own parser takes, with every event and user.
func TestTrackEntriesParseUpstream(t *testing.T) {
	ib := codec.InsightBatch{EnvID: "e", Evals: []codec.FlagEval{
		{FlagKey: "a", VariationID: "v1", Value: `{"x":"\u00e9"}`, UserKey: "u1", UserName: "U \"1\"", SendToExperiment: true, Timestamp: 5},
		{FlagKey: "b", VariationID: "v2", Value: "2", UserKey: "u1", UserName: "U \"1\"", Timestamp: 6},
		{FlagKey: "a", VariationID: "v1", Value: "x", UserKey: "u2", Timestamp: 7},
	}, Metrics: []codec.MetricEvent{{EventName: "buy", Route: "/r", Type: "CustomEvent", AppType: "nodejs", UserKey: "u3", NumericValue: 1.5, Timestamp: 8}}}
	ub := codec.EndUserBatch{EnvID: "e", Users: []codec.EndUser{{KeyID: "u4", Name: "four", Props: []codec.UserProp{{Name: "country", Value: "FR"}}}}}
	body := appendInsightEntries(nil, &ib)
	body = appendUserEntries(body, &ub) // continues the list
	// and through a spool record
	env, entries, n, err := parseRecord(fmt.Appendf(nil, "%se 6\n%s", recordMagic, body))
	if err != nil || env != "e" || n != 6 || !bytes.Equal(entries, body) {
		t.Fatalf("record: %q %d %v", env, n, err)
	}
	body = append(append([]byte{'['}, body...), ']')
	var got codec.InsightBatch
	var users codec.EndUserBatch
	if err := wire.ParseTrack(body, "e", &got, &users); err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	if len(got.Evals) != 3 || len(got.Metrics) != 1 {
		t.Fatalf("parsed %d evals %d metrics: %s", len(got.Evals), len(got.Metrics), body)
	}
	for i, e := range got.Evals {
		w := ib.Evals[i]
		if e.FlagKey != w.FlagKey || e.Value != w.Value || e.UserKey != w.UserKey || e.UserName != w.UserName || e.SendToExperiment != w.SendToExperiment || e.Timestamp != w.Timestamp || e.VariationID != w.VariationID {
			t.Errorf("eval %d: %+v, want %+v", i, e, w)
		}
	}
	m := got.Metrics[0]
	if m.EventName != "buy" || m.NumericValue != 1.5 || m.UserKey != "u3" || m.Route != "/r" || m.AppType != "nodejs" || m.Timestamp != 8 {
		t.Errorf("metric %+v", m)
	}
	var u4 *codec.EndUser
	for i := range users.Users {
		if users.Users[i].KeyID == "u4" {
			u4 = &users.Users[i]
		}
	}
	if u4 == nil || u4.Name != "four" || len(u4.Props) != 1 || u4.Props[0] != (codec.UserProp{Name: "country", Value: "FR"}) {
		t.Errorf("end user u4: %+v", u4)
	}
}

func testSource(t testing.TB) (*Source, string) {
	env := secret.NewGUID()
	sec, _ := secret.New(env)
	s, err := NewSource(Config{Upstream: "http://127.0.0.1:1", ServerSecrets: []string{sec}})
	if err != nil {
		t.Fatal(err)
	}
	s.ctx = context.Background()
	return s, env
}

// TestHandleKeepsVersionsOfUnchangedItems: a full sync after a reconnect
// with the same items keeps their versions (nothing is pushed again); a
// changed item gets a higher version even with the same updatedAt.
func TestHandleKeepsVersionsOfUnchangedItems(t *testing.T) {
	s, env := testSource(t)
	l := s.links[env]
	flag := `{"id":"f1","key":"k","variationType":"boolean","variations":[],"isEnabled":true,"updatedAt":"2026-01-02T03:04:05.678Z"}`
	msg := func(kind, f string) []byte {
		return []byte(`{"messageType":"data-sync","data":{"eventType":"` + kind + `","featureFlags":[` + f + `],"segments":[]}}`)
	}
	if err := s.handle(l, msg("full", flag)); err != nil {
		t.Fatal(err)
	}
	v1 := l.flags["f1"].version
	if err := s.handle(l, msg("full", flag)); err != nil {
		t.Fatal(err)
	}
	if l.flags["f1"].version != v1 {
		t.Fatalf("unchanged item re-versioned: %d → %d", v1, l.flags["f1"].version)
	}
	if err := s.handle(l, msg("patch", strings.Replace(flag, `"isEnabled":true`, `"isEnabled":false`, 1))); err != nil {
		t.Fatal(err)
	}
	if v := l.flags["f1"].version; v <= v1 {
		t.Fatalf("changed item with the same updatedAt kept version %d (was %d)", v, v1)
	}
	snap, err := s.Snapshot(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Flags) != 1 || snap.Flags[0].IsEnabled || snap.Flags[0].UpdatedAt != 1767323045678 || len(snap.Secrets) != 1 {
		t.Fatalf("snapshot %+v", snap)
	}
}

// FuzzUpstreamMessage: any bytes from the upstream are applied or refused
// with an error, never a panic.
func FuzzUpstreamMessage(f *testing.F) {
	f.Add([]byte(`{"messageType":"data-sync","data":{"eventType":"full","featureFlags":[{"id":"a","updatedAt":"2026-01-02T03:04:05Z","rules":[{"dispatchKey":null,"conditions":[{"op":null}]}]}],"segments":[{"id":"s","updatedAt":null}]}}`))
	f.Add([]byte(`{"messageType":"data-sync","data":{"eventType":"patch","featureFlags":[{"id":""}],"segments":[]}}`))
	f.Add([]byte(`{"messageType":"pong","data":{}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, env := testSource(t)
		_ = s.handle(s.links[env], b)
	})
}

// FuzzSpoolRecord: a damaged spool record is refused, never a panic.
func FuzzSpoolRecord(f *testing.F) {
	f.Add(insightRecord(f, "e", 2))
	f.Add([]byte("sy1 e -1\n"))
	f.Add([]byte("sy1 \n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		env, entries, n, err := parseRecord(b)
		if err == nil && (env == "" || n < 0 || len(entries) > len(b)) {
			t.Fatalf("accepted %q: %q %d", b, env, n)
		}
	})
}
