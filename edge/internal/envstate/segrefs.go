package envstate

import "slices"

// segRefs maps a segment id to the ids of the flags whose rules use it, so
// a segment change finds the flags to re-evaluate without a pass over every
// flag. It may still name a deleted flag (callers look ids up and skip
// those). Never modified once a State holds it.
type segRefs map[string][]string

// refs returns st's segment references, building them on first use (one
// pass over the flags, once per chain of States that did not change which
// flags use which segments).
func (st *State) refs() segRefs {
	if p := st.segRef.Load(); p != nil {
		return *p
	}
	r := segRefs{}
	for _, f := range st.FlagList() {
		if f.Eval == nil {
			continue
		}
		for _, sid := range f.Eval.SegmentIDs() {
			r[sid] = append(r[sid], f.Src.ID)
		}
	}
	st.segRef.Store(&r)
	return r
}

func segIDs(f *Flag) []string {
	if f == nil || f.Eval == nil {
		return nil
	}
	return f.Eval.SegmentIDs()
}

// updateRefs carries st's (the previous State's) segment references over
// to ns after flag old (nil: none) was replaced by nf (nil: deleted): shared
// as they are when the flag's segments did not change (almost every
// change), else copied with the flag's entries moved (O(segments)); left to
// be built on first use when st had not built them.
func (ns *State) updateRefs(st *State, old, nf *Flag) {
	p := st.segRef.Load()
	if p == nil {
		return
	}
	before, after := segIDs(old), segIDs(nf)
	if nf == nil || slices.Equal(before, after) { // a deleted flag may stay named
		ns.segRef.Store(p)
		return
	}
	r := make(segRefs, len(*p)+len(after))
	for k, v := range *p {
		r[k] = v
	}
	id := nf.Src.ID
	for _, sid := range before {
		r[sid] = slices.DeleteFunc(slices.Clone(r[sid]), func(x string) bool { return x == id })
	}
	for _, sid := range after {
		if !slices.Contains(r[sid], id) {
			r[sid] = append(slices.Clone(r[sid]), id)
		}
	}
	ns.segRef.Store(&r)
}

// usesSegment reports whether f's rules use segment id.
func usesSegment(f *Flag, id string) bool {
	return slices.Contains(segIDs(f), id)
}
