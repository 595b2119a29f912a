package envstate_test

import (
	"errors"
	"testing"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/codec/secret"
	"github.com/switchyard/switchyard/edge/edgetest"
	"github.com/switchyard/switchyard/edge/internal/envstate"
)

func flagEvent(env string, f *codec.Flag, op string) *codec.ChangeEvent {
	p, _ := f.MarshalMsg(nil)
	return &codec.ChangeEvent{EnvID: env, Kind: codec.KindFlag, Op: op, ID: f.ID, Version: f.Version, Payload: p}
}

func TestApplyVersionsDecide(t *testing.T) {
	snap := edgetest.DemoSnapshot(secret.NewGUID())
	st := envstate.Build(snap)
	full := st.Full(envstate.JSON)
	f := snap.Flags[0]

	// same version: stale
	if ns, d, err := st.Apply(flagEvent(snap.EnvID, &f, codec.OpUpsert)); err != nil || d != nil || ns != st {
		t.Fatalf("stale replay applied: %v %v", d, err)
	}
	f.Version++
	f.Name = "renamed"
	ns, d, err := st.Apply(flagEvent(snap.EnvID, &f, codec.OpUpsert))
	if err != nil || d == nil || len(d.Flags) != 1 || len(d.Reeval) != 1 || ns.FlagByKey(f.Key).Src.Name != "renamed" {
		t.Fatalf("newer version: %+v %v", d, err)
	}
	if st.FlagByKey(f.Key).Src.Name == "renamed" || st.Full(envstate.JSON) != full {
		t.Fatal("the old State changed")
	}
	if ns.FlagByKey(f.Key).Slot != st.FlagByKey(f.Key).Slot || ns.FlagByKey(f.Key).VarGen != st.FlagByKey(f.Key).VarGen {
		t.Fatal("slot or variation generation changed without a variation change")
	}
	// a variation value change bumps the generation
	f.Version++
	f.Variations = append([]codec.Variation(nil), f.Variations...)
	f.Variations[0].Value = "false"
	ns2, _, _ := ns.Apply(flagEvent(snap.EnvID, &f, codec.OpUpsert))
	if ns2.FlagByKey(f.Key).VarGen != ns.FlagByKey(f.Key).VarGen+1 {
		t.Fatal("variation generation not bumped")
	}
	// new flag gets a new slot
	nf := snap.Flags[1]
	nf.ID, nf.Key, nf.Version = secret.NewGUID(), "brand-new", 1
	ns3, d, _ := ns2.Apply(flagEvent(snap.EnvID, &nf, codec.OpUpsert))
	if d == nil || ns3.FlagByKey("brand-new").Slot != int32(len(snap.Flags)) || ns3.Slots() != len(snap.Flags)+1 {
		t.Fatalf("new flag slot %d", ns3.FlagByKey("brand-new").Slot)
	}
	// delete
	ns4, d, _ := ns3.Apply(flagEvent(snap.EnvID, &nf, codec.OpDelete))
	if d == nil || ns4.FlagByKey("brand-new") != nil || ns4.NumFlags() != len(snap.Flags) {
		t.Fatal("delete not applied")
	}
	// env delete
	if _, _, err := ns4.Apply(&codec.ChangeEvent{EnvID: snap.EnvID, Kind: codec.KindEnv, Op: codec.OpDelete}); !errors.Is(err, envstate.ErrDeleted) {
		t.Fatalf("env delete: %v", err)
	}
	// garbage payload
	if _, _, err := ns4.Apply(&codec.ChangeEvent{EnvID: snap.EnvID, Kind: codec.KindFlag, Op: codec.OpUpsert, ID: "x", Payload: []byte{0xc1}}); err == nil {
		t.Fatal("bad payload accepted")
	}
}

func TestSegmentChangeReevaluatesUsers(t *testing.T) {
	snap := edgetest.DemoSnapshot(secret.NewGUID())
	st := envstate.Build(snap)
	sg := snap.Segments[0]
	sg.Version++
	sg.Included = []string{"someone"}
	p, _ := sg.MarshalMsg(nil)
	_, d, err := st.Apply(&codec.ChangeEvent{EnvID: snap.EnvID, Kind: codec.KindSegment, Op: codec.OpUpsert, ID: sg.ID, Version: sg.Version, Payload: p, AffectedFlags: []string{snap.Flags[0].ID}})
	if err != nil || len(d.Segs) != 1 || len(d.Flags) != 0 {
		t.Fatalf("%+v %v", d, err)
	}
	keys := map[string]bool{}
	for _, f := range d.Reeval {
		keys[f.Src.Key] = true
	}
	if len(keys) != 2 || !keys[edgetest.FlagSegment] || !keys[snap.Flags[0].Key] {
		t.Fatalf("re-evaluated %v, want the segment's flag and the listed one", keys)
	}
}

func TestSecretsAndSnapshotEvents(t *testing.T) {
	snap := edgetest.DemoSnapshot(secret.NewGUID())
	snap.Version = 5
	st := envstate.Build(snap)
	newSecret, _ := secret.New(snap.EnvID)
	sp, _ := (&codec.EnvSnapshot{Secrets: []codec.EnvSecret{{EnvID: snap.EnvID, Type: codec.SecretServer, Value: newSecret}}}).MarshalMsg(nil)
	ns, d, err := st.Apply(&codec.ChangeEvent{EnvID: snap.EnvID, Kind: codec.KindSecrets, EnvVersion: 6, Payload: sp})
	if err != nil || !d.Secrets || ns.SecretType([]byte(newSecret)) != codec.SecretServer || ns.SecretType([]byte(snap.Secrets[0].Value)) != "" {
		t.Fatalf("secrets: %+v %v", d, err)
	}
	// an older secrets event is ignored
	if _, d, _ := ns.Apply(&codec.ChangeEvent{EnvID: snap.EnvID, Kind: codec.KindSecrets, EnvVersion: 4, Payload: sp}); d != nil {
		t.Fatal("old secrets event applied")
	}
	// whole snapshot: one flag newer, one removed
	s2 := edgetest.DemoSnapshot(snap.EnvID)
	s2.Flags = append([]codec.Flag(nil), snap.Flags[:4]...)
	s2.Flags[2].Version = 9
	s2.Segments = snap.Segments
	s2.Version = 7
	p, _ := s2.MarshalMsg(nil)
	ns2, d, err := ns.Apply(&codec.ChangeEvent{EnvID: snap.EnvID, Kind: codec.KindSnapshot, Payload: p})
	if err != nil || len(d.Flags) != 1 || d.Flags[0].Src.ID != snap.Flags[2].ID || ns2.NumFlags() != 4 || ns2.Version != 7 {
		t.Fatalf("snapshot merge: %+v %v", d, err)
	}
	if ns2.FlagByID(snap.Flags[2].ID).Slot != ns.FlagByID(snap.Flags[2].ID).Slot {
		t.Fatal("slot not carried over")
	}
}

func TestPatchFiltersByUpdatedAt(t *testing.T) {
	snap := edgetest.DemoSnapshot(secret.NewGUID())
	snap.Flags[3].UpdatedAt += 10
	st := envstate.Build(snap)
	var l envstate.Lists
	b := st.AppendServerPatch(nil, envstate.JSON, snap.Flags[0].UpdatedAt, &l)
	want := `{"messageType":"data-sync","data":{"eventType":"patch","featureFlags":[` + string(st.FlagByKey(snap.Flags[3].Key).JSON) + `],"segments":[]}}`
	if string(b) != want {
		t.Fatalf("patch\n%s\nwant\n%s", b, want)
	}
}
