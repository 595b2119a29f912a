// Package envstate holds one environment's flags and segments as an
// immutable, copy-on-write State: the compiled evaluator objects, each
// item's pre-encoded JSON (FeatBit wire form), and the encoded full
// server-SDK sync message, built lazily once per State.
//
// A State is never modified after Build or Apply returns it, so any number
// of goroutines may read it without locks; Apply returns a new State and a
// Delta describing what changed (the items to push). Versions decide: an
// item is replaced only by a strictly newer Version.
//
// Slots: every flag id gets a small integer (Flag.Slot) that stays the same
// across the States of one environment, so connections can keep their
// last-sent results in a compact slice indexed by slot.
package envstate

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/codec/wire"
	"github.com/switchyard/switchyard/edge/eval"
	"github.com/switchyard/switchyard/edge/internal/wsconn"
)

// Flag is one flag of a State.
type Flag struct {
	Src    *codec.Flag
	Eval   *eval.Flag
	JSON   []byte // wire.AppendFlag
	MP     []byte // msgp (codec.Flag.MarshalMsg)
	Slot   int32
	VarGen uint16 // incremented when the variations (ids or values) change
}

// Segment is one segment of a State.
type Segment struct {
	Src  *codec.Segment
	Eval *eval.Segment
	JSON []byte
	MP   []byte
}

// State is an immutable view of one environment.
type State struct {
	EnvID    string
	Version  int64
	Secrets  []codec.EnvSecret
	flags    flagList // FlagList, FlagAt, NumFlags
	Segs     []*Segment
	EvalSegs eval.Segments

	// The flag indexes (position in flags by id and by key) are persistent
	// (index.go): an update shares them, an added or removed flag copies
	// only its path. segByID is shared until a segment is added or
	// removed. Never modified once a State is returned.
	flagByID  index
	flagByKey index
	segByID   map[string]int
	nextSlot  int32

	// seq numbers the States of one environment in this process: Build
	// gives 0, every State returned by Apply or Merge is one more than the
	// State it was made from (see Seq).
	seq uint64

	// segRef: which flags use which segment (segrefs.go), built on first
	// use, carried over by changes that do not change it.
	segRef atomic.Pointer[segRefs]

	full     [2]atomic.Pointer[Encoded]
	fullBody [2]atomic.Pointer[[]byte]
}

// Encoded is an encoded message: Frame is the complete WebSocket frame and
// Body the message without the frame header (an HTTP response body). A
// full sync (State.Full) is in Parts instead: the frame header, then the
// message in pieces to write in order (Frame and Body nil; FullBody is the
// message in one piece).
type Encoded struct {
	Frame []byte
	Body  []byte
	Parts [][]byte
}

// Formats of encoded messages.
const (
	JSON    = 0
	MsgPack = 1
)

// ErrDeleted is returned by Apply for an environment delete event.
var ErrDeleted = errors.New("envstate: environment deleted")

// Build returns the State of a snapshot.
func Build(s *codec.EnvSnapshot) *State {
	st := &State{EnvID: s.EnvID, Version: s.Version, Secrets: s.Secrets}
	byID := make(map[string]int, len(s.Flags))
	flags := make([]*Flag, 0, len(s.Flags))
	// the encodings the snapshot was decoded from, when it has them, are
	// kept rather than encoded again
	flagMP := func(i int) []byte {
		if len(s.FlagsMP) == len(s.Flags) {
			return s.FlagsMP[i]
		}
		return nil
	}
	segMP := func(i int) []byte {
		if len(s.SegmentsMP) == len(s.Segments) {
			return s.SegmentsMP[i]
		}
		return nil
	}
	// which item of the snapshot each flag is (a duplicate id: the newer),
	// then every flag compiled and encoded, in parallel for a large load
	src := make([]int, 0, len(s.Flags))
	for i := range s.Flags {
		f := &s.Flags[i]
		if j, ok := byID[f.ID]; ok {
			if f.Version > s.Flags[src[j]].Version {
				src[j] = i
			}
			continue
		}
		byID[f.ID] = len(src)
		src = append(src, i)
	}
	flags = flags[:len(src)]
	st.nextSlot = int32(len(src))
	parallel(len(src), func(lo, hi int) {
		for j := lo; j < hi; j++ {
			flags[j] = newFlag(&s.Flags[src[j]], flagMP(src[j]), int32(j), 0)
		}
	})
	st.flags = makeFlagList(flags)
	st.segByID = make(map[string]int, len(s.Segments))
	for i := range s.Segments {
		sg := &s.Segments[i]
		if j, ok := st.segByID[sg.ID]; ok {
			if sg.Version > st.Segs[j].Src.Version {
				st.Segs[j] = newSegment(sg, segMP(i))
			}
			continue
		}
		st.segByID[sg.ID] = len(st.Segs)
		st.Segs = append(st.Segs, newSegment(sg, segMP(i)))
	}
	st.finish()
	st.refs() // built with the State, so no segment change pays a pass over the flags
	return st
}

// parallel runs f over [0, n) in ranges, on GOMAXPROCS goroutines when n
// is large (a cold load of tens of thousands of flags), else in the
// caller.
func parallel(n int, f func(lo, hi int)) {
	const minPer = 1024
	parts := min(runtime.GOMAXPROCS(0), n/minPer)
	if parts <= 1 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	per := (n + parts - 1) / parts
	for lo := 0; lo < n; lo += per {
		hi := min(lo+per, n)
		wg.Go(func() { f(lo, hi) })
	}
	wg.Wait()
}

// newFlag compiles f; mp is its msgp encoding when the caller has it (the
// change event's payload, kept as is rather than encoded again), else nil.
func newFlag(f *codec.Flag, mp []byte, slot int32, gen uint16) *Flag {
	ef, _ := eval.CompileFlag(f)
	if mp == nil {
		mp, _ = f.MarshalMsg(nil)
	}
	return &Flag{Src: f, Eval: ef, JSON: wire.AppendFlag(nil, f), MP: mp, Slot: slot, VarGen: gen}
}

func newSegment(s *codec.Segment, mp []byte) *Segment {
	es, _ := eval.CompileSegment(s)
	if mp == nil {
		mp, _ = s.MarshalMsg(nil)
	}
	return &Segment{Src: s, Eval: es, JSON: wire.AppendSegment(nil, s), MP: mp}
}

// finish builds the derived indexes anew (a State built from a snapshot:
// O(items)).
func (st *State) finish() {
	st.flagByID, st.flagByKey = index{}, index{}
	for i, f := range st.FlagList() {
		st.flagByID.put(f.Src.ID, i)
		st.flagByKey.put(f.Src.Key, i)
		if f.Slot >= st.nextSlot {
			st.nextSlot = f.Slot + 1
		}
	}
	st.finishSegs()
}

// finishSegs rebuilds the segment indexes (O(segments)).
func (st *State) finishSegs() {
	st.segByID = make(map[string]int, len(st.Segs))
	st.EvalSegs = make(eval.Segments, len(st.Segs))
	for i, s := range st.Segs {
		st.segByID[s.Src.ID] = i
		st.EvalSegs[s.Src.ID] = s.Eval
	}
}

// FlagByKey returns the flag with key, or nil.
func (st *State) FlagByKey(key string) *Flag {
	if i, ok := st.flagByKey.get(key); ok {
		return st.flags.at(i)
	}
	return nil
}

// FlagByKeyBytes is FlagByKey for a key in a byte slice; it does not
// allocate (a conversion to string would for keys over 32 bytes).
func (st *State) FlagByKeyBytes(key []byte) *Flag {
	if i, ok := st.flagByKey.getBytes(key); ok {
		return st.flags.at(i)
	}
	return nil
}

// FlagByID returns the flag with id, or nil.
func (st *State) FlagByID(id string) *Flag {
	if i, ok := st.flagByID.get(id); ok {
		return st.flags.at(i)
	}
	return nil
}

// Seq is the State's number in its environment's sequence of States in
// this process: each State that Apply or Merge returns has the Seq of the
// State it was applied to plus one (Version, the control plane's counter,
// may stay the same across changes). A reply built from a State with Seq s
// includes every change whose State has Seq <= s.
func (st *State) Seq() uint64 { return st.seq }

// Slots is one more than the largest slot of any flag.
func (st *State) Slots() int { return int(st.nextSlot) }

// SecretType returns the type of secret if it is one of the environment's
// secrets (exact match), else "".
func (st *State) SecretType(secret []byte) string {
	t, _ := st.Secret(secret)
	return t
}

// Secret returns the type and the stored value (a string shared with the
// State, so keeping it costs nothing) of secret, or "" and "" (also for a
// rotated-out secret past its ExpiresAt).
func (st *State) Secret(secret []byte) (typ, value string) {
	return st.SecretAt(secret, time.Now().UnixMilli())
}

// SecretAt is Secret at time now (Unix ms).
func (st *State) SecretAt(secret []byte, now int64) (typ, value string) {
	for i := range st.Secrets {
		s := &st.Secrets[i]
		if s.Value == string(secret) {
			if s.ExpiresAt != 0 && now >= s.ExpiresAt {
				return "", ""
			}
			return s.Type, s.Value
		}
	}
	return "", ""
}

// NextExpiry returns the earliest ExpiresAt after now among the secrets
// (0: none), when sessions of a rotated-out secret must be closed.
func (st *State) NextExpiry(now int64) int64 {
	var next int64
	for i := range st.Secrets {
		if x := st.Secrets[i].ExpiresAt; x > now && (next == 0 || x < next) {
			next = x
		}
	}
	return next
}

func encode(b []byte, op ws.OpCode) *Encoded {
	return &Encoded{Frame: wsconn.Frame(b, op), Body: b[wsconn.FrameReserve:]}
}

// Lists is scratch for AppendServerPatch. Lifetime: the caller owns it;
// reuse it (it is reset on every use).
type Lists struct{ flags, segs [][]byte }

// AppendServerPatch appends the server-SDK patch for a client cursor ts
// (items with updatedAt > ts) in format to b. It does not allocate once sc
// and b have grown.
func (st *State) AppendServerPatch(b []byte, format int, ts int64, sc *Lists) []byte {
	sc.flags, sc.segs = sc.flags[:0], sc.segs[:0]
	for _, f := range st.FlagList() {
		if f.Src.UpdatedAt > ts {
			if format == MsgPack {
				sc.flags = append(sc.flags, f.MP)
			} else {
				sc.flags = append(sc.flags, f.JSON)
			}
		}
	}
	for _, s := range st.Segs {
		if s.Src.UpdatedAt > ts {
			if format == MsgPack {
				sc.segs = append(sc.segs, s.MP)
			} else {
				sc.segs = append(sc.segs, s.JSON)
			}
		}
	}
	if format == MsgPack {
		b = wire.AppendServerSyncMP(b, "patch", sc.flags, sc.segs)
	} else {
		b = wire.AppendServerSyncRaw(b, "patch", sc.flags, sc.segs)
	}
	for i := range sc.flags {
		sc.flags[i] = nil
	}
	for i := range sc.segs {
		sc.segs[i] = nil
	}
	return b
}

// Delta is what one Apply changed.
type Delta struct {
	Flags  []*Flag    // upserted flags, to push to server SDKs
	Segs   []*Segment // upserted segments, to push to server SDKs
	Reeval []*Flag    // flags to re-evaluate for client SDKs
	// Secrets is set when the secrets changed.
	Secrets bool
}

// Empty reports whether nothing needs pushing.
func (d *Delta) Empty() bool { return len(d.Flags) == 0 && len(d.Segs) == 0 && len(d.Reeval) == 0 }

// Apply applies one change event and returns the new State and what
// changed; it returns st itself and a nil Delta when the event is stale
// (not newer than what st holds). ErrDeleted reports an environment delete.
func (st *State) Apply(ev *codec.ChangeEvent) (*State, *Delta, error) {
	switch ev.Kind {
	case codec.KindFlag:
		return st.applyFlag(ev)
	case codec.KindSegment:
		return st.applySegment(ev)
	case codec.KindSecrets:
		var s codec.EnvSnapshot
		if _, err := s.UnmarshalMsg(ev.Payload); err != nil {
			return st, nil, fmt.Errorf("envstate: secrets payload of env %s: %w", ev.EnvID, err)
		}
		if ev.EnvVersion != 0 && ev.EnvVersion < st.Version {
			return st, nil, nil
		}
		ns := st.clone()
		ns.Secrets = s.Secrets
		ns.bump(ev.EnvVersion)
		return ns, &Delta{Secrets: true}, nil
	case codec.KindBatch:
		return st.applyBatch(ev)
	case codec.KindSnapshot:
		var s codec.EnvSnapshot
		if _, err := s.UnmarshalMsg(ev.Payload); err != nil {
			return st, nil, fmt.Errorf("envstate: snapshot payload of env %s: %w", ev.EnvID, err)
		}
		return st.Merge(&s)
	case codec.KindEnv:
		if ev.Op == codec.OpDelete {
			return st, nil, ErrDeleted
		}
	}
	return st, nil, nil
}

// clone returns a copy of st sharing its items and indexes: the flag list
// is shared (it is copy-on-write: set and push copy one chunk), the segment
// slice is copied (pointers only); a caller that adds or removes an item
// rebuilds the indexes (finish), one that replaces an item in place keeps
// them.
func (st *State) clone() *State {
	ns := &State{EnvID: st.EnvID, Version: st.Version, Secrets: st.Secrets, EvalSegs: st.EvalSegs,
		flagByID: st.flagByID, flagByKey: st.flagByKey, segByID: st.segByID, nextSlot: st.nextSlot, flags: st.flags,
		seq: st.seq + 1}
	ns.Segs = append(make([]*Segment, 0, len(st.Segs)+1), st.Segs...)
	ns.segRef.Store(st.segRef.Load()) // a segment or secrets change: the flags' references stay
	return ns
}

// cloneFlags is clone for a change of flags only: the segment slice is
// shared too.
func (st *State) cloneFlags() *State {
	return &State{EnvID: st.EnvID, Version: st.Version, Secrets: st.Secrets, EvalSegs: st.EvalSegs,
		flagByID: st.flagByID, flagByKey: st.flagByKey, segByID: st.segByID, nextSlot: st.nextSlot, flags: st.flags,
		Segs: st.Segs, seq: st.seq + 1}
}

// addFlag appends f to a State being made (its list and indexes are its
// own copies after this: the previous State's are not modified).
func (st *State) addFlag(f *Flag) {
	i := st.flags.n
	st.flags = st.flags.push(f)
	st.flagByID = st.flagByID.with(f.Src.ID, i)
	st.flagByKey = st.flagByKey.with(f.Src.Key, i)
}

// removeFlag removes flag i from a State being made; the last flag moves
// to position i (flagList.remove).
func (st *State) removeFlag(i int) {
	f := st.flags.at(i)
	var moved *Flag
	st.flags, moved = st.flags.remove(i)
	st.flagByID = st.flagByID.without(f.Src.ID)
	st.unkey(f.Src.Key, i)
	if moved != nil {
		st.flagByID = st.flagByID.with(moved.Src.ID, i)
		if j, ok := st.flagByKey.get(moved.Src.Key); ok && j == st.flags.n {
			st.flagByKey = st.flagByKey.with(moved.Src.Key, i)
		}
	}
}

// unkey removes key from the key index if it names position i (two flags
// with one key: the index names one of them).
func (st *State) unkey(key string, i int) {
	if j, ok := st.flagByKey.get(key); ok && j == i {
		st.flagByKey = st.flagByKey.without(key)
	}
}

// rekey moves position i from key old to key new in the key index.
func (st *State) rekey(old, new string, i int) {
	st.unkey(old, i)
	st.flagByKey = st.flagByKey.with(new, i)
}

func (st *State) bump(v int64) {
	if v > st.Version {
		st.Version = v
	}
}

func sameVariations(a, b *codec.Flag) bool {
	if len(a.Variations) != len(b.Variations) {
		return false
	}
	for i := range a.Variations {
		if a.Variations[i] != b.Variations[i] {
			return false
		}
	}
	return true
}

func (st *State) applyFlag(ev *codec.ChangeEvent) (*State, *Delta, error) {
	i, exists := st.flagByID.get(ev.ID)
	if ev.Op == codec.OpDelete {
		if !exists || st.flags.at(i).Src.Version > ev.Version {
			return st, nil, nil
		}
		ns := st.cloneFlags()
		ns.updateRefs(st, st.flags.at(i), nil)
		ns.removeFlag(i)
		ns.bump(ev.EnvVersion)
		return ns, &Delta{}, nil
	}
	f := new(codec.Flag)
	rest, err := f.UnmarshalMsg(ev.Payload)
	if err != nil {
		return st, nil, fmt.Errorf("envstate: flag payload %s of env %s: %w", ev.ID, ev.EnvID, err)
	}
	mp := ev.Payload[:len(ev.Payload)-len(rest)]
	if f.ID == "" {
		f.ID, mp = ev.ID, nil // encode it with its id
	}
	if exists && st.flags.at(i).Src.Version >= f.Version {
		return st, nil, nil
	}
	ns := st.cloneFlags()
	var nf, old *Flag
	if exists {
		old = st.flags.at(i)
	}
	if exists && old.Src.ID == f.ID && old.Src.Key == f.Key {
		gen := old.VarGen
		if !sameVariations(old.Src, f) {
			gen++
		}
		nf = newFlag(f, mp, old.Slot, gen)
		ns.flags = st.flags.set(i, nf) // same id and key: the indexes stay valid
	} else if exists { // a new key
		nf = newFlag(f, mp, old.Slot, old.VarGen+1)
		ns.flags = st.flags.set(i, nf)
		ns.rekey(old.Src.Key, f.Key, i)
	} else {
		nf = newFlag(f, mp, ns.nextSlot, 0)
		ns.nextSlot++
		ns.addFlag(nf)
	}
	ns.updateRefs(st, old, nf)
	ns.bump(ev.EnvVersion)
	return ns, &Delta{Flags: []*Flag{nf}, Reeval: []*Flag{nf}}, nil
}

// applyBatch applies the flags of a KindBatch event as one change: one new
// State holding all of them (each only if newer than what st holds) and one
// Delta, so every SDK gets one update with every item. Cost: O(items of
// the batch); the indexes are updated per added or re-keyed flag, or built
// anew once when a batch adds more than batchRebuild flags (cheaper than
// that many path copies).
func (st *State) applyBatch(ev *codec.ChangeEvent) (*State, *Delta, error) {
	var b codec.EnvSnapshot
	if _, err := b.UnmarshalMsg(ev.Payload); err != nil {
		return st, nil, fmt.Errorf("envstate: batch payload of env %s: %w", ev.EnvID, err)
	}
	ns := st.cloneFlags()
	d := &Delta{}
	added := map[string]int{} // flags added by this batch, by id
	type rekeyed struct {
		old string
		pos int
	}
	var rekeys []rekeyed
	sameRefs := true // no flag of the batch changed which segments it uses
	find := func(id string) (int, bool) {
		if j, ok := added[id]; ok {
			return j, true
		}
		return st.flagByID.get(id)
	}
	for k := range b.Flags {
		f := &b.Flags[k]
		if f.ID == "" {
			continue
		}
		i, exists := find(f.ID)
		if exists && ns.flags.at(i).Src.Version >= f.Version {
			continue
		}
		var nf *Flag
		if exists {
			old := ns.flags.at(i)
			gen := old.VarGen
			if !sameVariations(old.Src, f) || old.Src.Key != f.Key {
				gen++
			}
			nf = newFlag(f, nil, old.Slot, gen)
			ns.flags = ns.flags.set(i, nf)
			if old.Src.Key != f.Key {
				rekeys = append(rekeys, rekeyed{old.Src.Key, i})
			}
			sameRefs = sameRefs && slices.Equal(segIDs(old), segIDs(nf))
		} else {
			nf = newFlag(f, nil, ns.nextSlot, 0)
			ns.nextSlot++
			added[f.ID] = ns.flags.n
			ns.flags = ns.flags.push(nf)
			sameRefs = sameRefs && len(segIDs(nf)) == 0
		}
		d.Flags = append(d.Flags, nf)
	}
	if len(d.Flags) == 0 {
		return st, nil, nil
	}
	switch {
	case len(added)+len(rekeys) > batchRebuild:
		ns.finish()
	default:
		for _, r := range rekeys {
			ns.rekey(r.old, ns.flags.at(r.pos).Src.Key, r.pos)
		}
		for id, pos := range added {
			ns.flagByID = ns.flagByID.with(id, pos)
			ns.flagByKey = ns.flagByKey.with(ns.flags.at(pos).Src.Key, pos)
		}
	}
	if sameRefs {
		ns.segRef.Store(st.segRef.Load())
	}
	d.Reeval = d.Flags
	ns.bump(ev.EnvVersion)
	return ns, d, nil
}

// batchRebuild is the number of added or re-keyed flags above which a batch
// builds the indexes anew rather than updating them per flag.
const batchRebuild = 256

func (st *State) applySegment(ev *codec.ChangeEvent) (*State, *Delta, error) {
	i, exists := st.segByID[ev.ID]
	if ev.Op == codec.OpDelete {
		if !exists || st.Segs[i].Src.Version > ev.Version {
			return st, nil, nil
		}
		ns := st.clone()
		ns.Segs = append(ns.Segs[:i], ns.Segs[i+1:]...)
		ns.bump(ev.EnvVersion)
		ns.finish()
		return ns, &Delta{Reeval: ns.flagsUsing(ev.ID, ev.AffectedFlags)}, nil
	}
	s := new(codec.Segment)
	rest, err := s.UnmarshalMsg(ev.Payload)
	if err != nil {
		return st, nil, fmt.Errorf("envstate: segment payload %s of env %s: %w", ev.ID, ev.EnvID, err)
	}
	mp := ev.Payload[:len(ev.Payload)-len(rest)]
	if s.ID == "" {
		s.ID, mp = ev.ID, nil
	}
	if exists && st.Segs[i].Src.Version >= s.Version {
		return st, nil, nil
	}
	ns := st.clone()
	seg := newSegment(s, mp)
	if exists {
		ns.Segs[i] = seg
	} else {
		ns.Segs = append(ns.Segs, seg)
	}
	ns.bump(ev.EnvVersion)
	ns.finishSegs()
	return ns, &Delta{Segs: []*Segment{seg}, Reeval: ns.flagsUsing(s.ID, ev.AffectedFlags)}, nil
}

// flagsUsing returns the flags listed in affected plus those whose rules
// reference segment id (from the segment references: no pass over the
// flags once they are built).
func (st *State) flagsUsing(id string, affected []string) []*Flag {
	var out []*Flag
	seen := map[int32]bool{}
	for _, fid := range affected {
		if f := st.FlagByID(fid); f != nil && !seen[f.Slot] {
			seen[f.Slot] = true
			out = append(out, f)
		}
	}
	for _, fid := range st.refs()[id] {
		if f := st.FlagByID(fid); f != nil && !seen[f.Slot] && usesSegment(f, id) {
			seen[f.Slot] = true
			out = append(out, f)
		}
	}
	return out
}

// Merge applies a whole snapshot: items newer than what st holds replace
// it, items missing from the snapshot are dropped (a hard delete shows up
// only in a full sync, as in FeatBit). A snapshot older than st is ignored.
func (st *State) Merge(s *codec.EnvSnapshot) (*State, *Delta, error) {
	if s.Version != 0 && s.Version < st.Version {
		return st, nil, nil
	}
	nb := Build(s)
	nb.seq = st.seq + 1
	d := &Delta{Secrets: true}
	// carry slots and variation generations forward, collect the changes
	nfs := nb.flags.slice()
	for i, f := range nfs {
		old := st.FlagByID(f.Src.ID)
		if old == nil {
			f.Slot = -1
			continue
		}
		f.Slot, f.VarGen = old.Slot, old.VarGen
		if f.Src.Version <= old.Src.Version {
			nfs[i] = old
			continue
		}
		if !sameVariations(old.Src, f.Src) {
			f.VarGen++
		}
		d.Flags = append(d.Flags, f)
	}
	next := st.nextSlot
	for _, f := range nfs {
		if f.Slot == -1 {
			f.Slot = next
			next++
			d.Flags = append(d.Flags, f)
		}
	}
	nb.nextSlot = next
	nb.flags = makeFlagList(nfs)
	for i, sg := range nb.Segs {
		if j, ok := st.segByID[sg.Src.ID]; ok && sg.Src.Version <= st.Segs[j].Src.Version {
			nb.Segs[i] = st.Segs[j]
			continue
		}
		d.Segs = append(d.Segs, sg)
	}
	nb.bump(st.Version)
	nb.finish()
	d.Reeval = append(d.Reeval, d.Flags...)
	for _, sg := range d.Segs {
		for _, f := range nb.flagsUsing(sg.Src.ID, nil) {
			d.Reeval = appendUnique(d.Reeval, f)
		}
	}
	return nb, d, nil
}

func appendUnique(fs []*Flag, f *Flag) []*Flag {
	for _, x := range fs {
		if x == f {
			return fs
		}
	}
	return append(fs, f)
}

// AppendServerDelta appends the server-SDK patch message for d in format.
func AppendServerDelta(b []byte, format int, d *Delta) []byte {
	fl := make([][]byte, 0, len(d.Flags))
	sl := make([][]byte, 0, len(d.Segs))
	for _, f := range d.Flags {
		if format == MsgPack {
			fl = append(fl, f.MP)
		} else {
			fl = append(fl, f.JSON)
		}
	}
	for _, s := range d.Segs {
		if format == MsgPack {
			sl = append(sl, s.MP)
		} else {
			sl = append(sl, s.JSON)
		}
	}
	if format == MsgPack {
		return wire.AppendServerSyncMP(b, "patch", fl, sl)
	}
	return wire.AppendServerSyncRaw(b, "patch", fl, sl)
}

// EncodeServerDelta returns the frames of the server-SDK patch for d in
// both formats (encoded once, written to every server connection).
func EncodeServerDelta(d *Delta) [2]*Encoded {
	return [2]*Encoded{
		JSON:    encode(AppendServerDelta(make([]byte, wsconn.FrameReserve, 512), JSON, d), ws.OpText),
		MsgPack: encode(AppendServerDelta(make([]byte, wsconn.FrameReserve, 512), MsgPack, d), ws.OpBinary),
	}
}
