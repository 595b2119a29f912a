package eval

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/codec"
)

// Operator names, exact and case-sensitive. The first sixteen are FeatBit's;
// the SemVer* and date operators are Switchyard's (old SDKs never see them:
// an SDK treats an unknown operator as "no match").
const (
	OpLessThan        = "LessThan"
	OpLessEqualThan   = "LessEqualThan"
	OpBiggerThan      = "BiggerThan"
	OpBiggerEqualThan = "BiggerEqualThan"
	OpEqual           = "Equal"
	OpNotEqual        = "NotEqual"
	OpContains        = "Contains"
	OpNotContain      = "NotContain"
	OpStartsWith      = "StartsWith"
	OpEndsWith        = "EndsWith"
	OpMatchRegex      = "MatchRegex"
	OpNotMatchRegex   = "NotMatchRegex"
	OpIsOneOf         = "IsOneOf"
	OpNotOneOf        = "NotOneOf"
	OpIsTrue          = "IsTrue"
	OpIsFalse         = "IsFalse"

	OpSemVerEqual            = "SemVerEqual"
	OpSemVerNotEqual         = "SemVerNotEqual"
	OpSemVerLessThan         = "SemVerLessThan"
	OpSemVerLessEqualThan    = "SemVerLessEqualThan"
	OpSemVerGreaterThan      = "SemVerGreaterThan"
	OpSemVerGreaterEqualThan = "SemVerGreaterEqualThan"
	OpBefore                 = "Before"
	OpAfter                  = "After"
)

// Segment condition properties. A condition with one of these properties
// ignores Op; its Value is a JSON array of segment ids.
const (
	PropInSegment    = "User is in segment"
	PropNotInSegment = "User is not in segment"
)

type op uint8

const (
	opUnknown op = iota
	opLessThan
	opLessEqualThan
	opBiggerThan
	opBiggerEqualThan
	opEqual
	opNotEqual
	opContains
	opNotContain
	opStartsWith
	opEndsWith
	opMatchRegex
	opNotMatchRegex
	opIsOneOf
	opNotOneOf
	opIsTrue
	opIsFalse
	opSemVerEqual
	opSemVerNotEqual
	opSemVerLessThan
	opSemVerLessEqualThan
	opSemVerGreaterThan
	opSemVerGreaterEqualThan
	opBefore
	opAfter
	opInSegment    // property PropInSegment
	opNotInSegment // property PropNotInSegment
)

// opNames is indexed by op.
var opNames = [...]string{
	opLessThan: OpLessThan, opLessEqualThan: OpLessEqualThan, opBiggerThan: OpBiggerThan,
	opBiggerEqualThan: OpBiggerEqualThan, opEqual: OpEqual, opNotEqual: OpNotEqual,
	opContains: OpContains, opNotContain: OpNotContain, opStartsWith: OpStartsWith,
	opEndsWith: OpEndsWith, opMatchRegex: OpMatchRegex, opNotMatchRegex: OpNotMatchRegex,
	opIsOneOf: OpIsOneOf, opNotOneOf: OpNotOneOf, opIsTrue: OpIsTrue, opIsFalse: OpIsFalse,
	opSemVerEqual: OpSemVerEqual, opSemVerNotEqual: OpSemVerNotEqual,
	opSemVerLessThan: OpSemVerLessThan, opSemVerLessEqualThan: OpSemVerLessEqualThan,
	opSemVerGreaterThan: OpSemVerGreaterThan, opSemVerGreaterEqualThan: OpSemVerGreaterEqualThan,
	opBefore: OpBefore, opAfter: OpAfter,
}

// Operators lists every operator name Evaluate knows, FeatBit's sixteen
// first. Do not modify it.
var Operators = func() []string {
	names := make([]string, 0, opAfter)
	for o := opLessThan; o <= opAfter; o++ {
		names = append(names, opNames[o])
	}
	return names
}()

var opByName = func() map[string]op {
	m := make(map[string]op, len(Operators))
	for o := opLessThan; o <= opAfter; o++ {
		m[opNames[o]] = o
	}
	return m
}()

// IsKnownOperator reports whether op is one of Operators.
func IsKnownOperator(op string) bool {
	_, ok := opByName[op]
	return ok
}

// IsFeatBitOperator reports whether op is one of FeatBit's own sixteen
// operators, which every FeatBit SDK understands.
func IsFeatBitOperator(op string) bool {
	o, ok := opByName[op]
	return ok && o <= opIsFalse
}

// condition is a compiled codec.Condition.
type condition struct {
	src   *codec.Condition
	op    op
	prop  prop
	num   float64        // numeric operators
	re    *regexp.Regexp // regex operators
	set   strSet         // IsOneOf, NotOneOf
	segs  []string       // segment conditions
	sv    semver         // SemVer operators
	at    instant        // Before, After
	never bool           // could not be compiled: never matches
	err   error          // why never is set
}

// compileCondition compiles c; in a segment (inSegment) the segment
// properties are ordinary attribute names, as on the FeatBit server.
func compileCondition(c *codec.Condition, inSegment bool, path string) condition {
	cc := condition{src: c, prop: compileProp(c.Property)}
	fail := func(err error, detail string) condition {
		cc.never = true
		cc.err = &CompileError{Path: path, Err: err, Detail: detail}
		return cc
	}
	if !inSegment && (c.Property == PropInSegment || c.Property == PropNotInSegment) {
		cc.op = opInSegment
		if c.Property == PropNotInSegment {
			cc.op = opNotInSegment
		}
		ids, ok := parseList(c.Value)
		if !ok {
			return fail(ErrBadList, strconv.Quote(c.Value))
		}
		cc.segs = ids
		return cc
	}
	o, ok := opByName[c.Op]
	if !ok {
		return fail(ErrUnknownOperator, strconv.Quote(c.Op))
	}
	cc.op = o
	switch o {
	case opLessThan, opLessEqualThan, opBiggerThan, opBiggerEqualThan:
		if cc.num, ok = parseNumber(c.Value); !ok {
			return fail(ErrBadNumber, strconv.Quote(c.Value))
		}
	case opMatchRegex, opNotMatchRegex:
		re, err := regexp.Compile(c.Value)
		if err != nil {
			return fail(ErrBadRegex, err.Error())
		}
		cc.re = re
	case opIsOneOf, opNotOneOf:
		// JSON null is an empty list here, as on the server: IsOneOf is
		// false and NotOneOf true.
		var items []string
		if strings.TrimSpace(c.Value) != "null" {
			if items, ok = parseList(c.Value); !ok {
				return fail(ErrBadList, strconv.Quote(c.Value))
			}
		}
		cc.set = newStrSet(items)
	case opSemVerEqual, opSemVerNotEqual, opSemVerLessThan, opSemVerLessEqualThan,
		opSemVerGreaterThan, opSemVerGreaterEqualThan:
		if cc.sv, ok = parseSemver(c.Value); !ok {
			return fail(ErrBadSemVer, strconv.Quote(c.Value))
		}
	case opBefore, opAfter:
		if cc.at, ok = parseInstant(c.Value); !ok {
			return fail(ErrBadDate, strconv.Quote(c.Value))
		}
	}
	return cc
}

// parseList decodes a JSON array of strings. Anything else, including a
// bare "null", is rejected (the FeatBit server throws on non-string
// elements and on a null segment list); null elements are dropped, since no
// attribute value equals null.
func parseList(s string) ([]string, bool) {
	if !strings.HasPrefix(strings.TrimLeft(s, " \t\r\n"), "[") {
		return nil, false
	}
	var items []*string
	if err := json.Unmarshal([]byte(s), &items); err != nil {
		return nil, false
	}
	out := make([]string, 0, len(items))
	for _, p := range items {
		if p != nil {
			out = append(out, *p)
		}
	}
	return out, true
}

// match reports whether the condition holds for u. It does not allocate.
func (c *condition) match(segs Segments, u *User) bool {
	if c.never {
		return false
	}
	switch c.op {
	case opInSegment:
		for _, id := range c.segs {
			if segs.contains(id, u) {
				return true
			}
		}
		return false
	case opNotInSegment:
		for _, id := range c.segs {
			if segs.contains(id, u) {
				return false
			}
		}
		return true
	}
	return c.matchValue(c.prop.get(u))
}

// matchValue applies an attribute operator to the user's value v.
func (c *condition) matchValue(v string) bool {
	switch c.op {
	case opLessThan, opLessEqualThan, opBiggerThan, opBiggerEqualThan:
		n, ok := parseNumber(v)
		if !ok {
			return false
		}
		switch c.op {
		case opLessThan:
			return n < c.num
		case opLessEqualThan:
			return n <= c.num
		case opBiggerThan:
			return n > c.num
		}
		return n >= c.num
	case opEqual:
		return v == c.src.Value
	case opNotEqual:
		return v != c.src.Value
	case opContains:
		return strings.Contains(v, c.src.Value)
	case opNotContain:
		return !strings.Contains(v, c.src.Value)
	case opStartsWith:
		return strings.HasPrefix(v, c.src.Value)
	case opEndsWith:
		return strings.HasSuffix(v, c.src.Value)
	case opMatchRegex:
		return c.re.MatchString(v)
	case opNotMatchRegex:
		return !c.re.MatchString(v)
	case opIsOneOf:
		return c.set.has(v)
	case opNotOneOf:
		return !c.set.has(v)
	case opIsTrue:
		return strings.EqualFold(v, "TRUE")
	case opIsFalse:
		return strings.EqualFold(v, "FALSE")
	case opSemVerEqual, opSemVerNotEqual, opSemVerLessThan, opSemVerLessEqualThan,
		opSemVerGreaterThan, opSemVerGreaterEqualThan:
		sv, ok := parseSemver(v)
		if !ok {
			return false
		}
		cmp := compareSemver(sv, c.sv)
		switch c.op {
		case opSemVerEqual:
			return cmp == 0
		case opSemVerNotEqual:
			return cmp != 0
		case opSemVerLessThan:
			return cmp < 0
		case opSemVerLessEqualThan:
			return cmp <= 0
		case opSemVerGreaterThan:
			return cmp > 0
		}
		return cmp >= 0
	case opBefore, opAfter:
		t, ok := parseInstant(v)
		if !ok {
			return false
		}
		if c.op == opBefore {
			return t.compare(c.at) < 0
		}
		return t.compare(c.at) > 0
	}
	return false
}
