package eval

import (
	"strconv"

	"github.com/switchyard/switchyard/codec"
)

// Segment is a compiled segment. It is immutable after CompileSegment.
type Segment struct {
	Src *codec.Segment

	included, excluded strSet
	rules              [][]condition
}

// Segments holds the compiled segments of an environment by segment id.
// Evaluate only reads it.
type Segments map[string]*Segment

// CompileSegment compiles s. The errors locate conditions that will never
// match (bad regex, list, number, unknown operator...); the segment is usable
// anyway. Segment conditions ("User is in segment") are not allowed inside a
// segment: as on the FeatBit server they are read as plain attribute
// conditions, which normally have no operator and so never match.
func CompileSegment(s *codec.Segment) (*Segment, []error) {
	cs := &Segment{
		Src:      s,
		included: newStrSet(s.Included),
		excluded: newStrSet(s.Excluded),
		rules:    make([][]condition, len(s.Rules)),
	}
	var errs []error
	for i := range s.Rules {
		conds := s.Rules[i].Conditions
		cs.rules[i] = make([]condition, len(conds))
		for j := range conds {
			c := compileCondition(&conds[j], true, "rules["+strconv.Itoa(i)+"].conditions["+strconv.Itoa(j)+"]")
			if c.err != nil {
				errs = append(errs, c.err)
			}
			cs.rules[i][j] = c
		}
	}
	return cs, errs
}

// Match reports whether u is in the segment: excluded keys never are,
// included keys always are, otherwise u is in when all conditions of any
// rule match. The segment's IsArchived is ignored, as on the FeatBit server.
func (s *Segment) Match(u *User) bool {
	if s.excluded.has(u.KeyID) {
		return false
	}
	if s.included.has(u.KeyID) {
		return true
	}
	for i := range s.rules {
		if allMatch(s.rules[i], nil, u) {
			return true
		}
	}
	return false
}

// contains reports whether the segment id exists and u is in it. A missing
// segment contains nobody.
func (segs Segments) contains(id string, u *User) bool {
	s := segs[id]
	return s != nil && s.Match(u)
}

// allMatch reports whether every condition matches (short-circuit); an empty
// list matches.
func allMatch(conds []condition, segs Segments, u *User) bool {
	for i := range conds {
		if !conds[i].match(segs, u) {
			return false
		}
	}
	return true
}
