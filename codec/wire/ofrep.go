package wire

import (
	"bytes"
	"strconv"
	"unsafe"

	"github.com/switchyard/switchyard/codec"
)

// OFREP error codes returned by OFREPContext.Parse.
const (
	OFREPParseError     = "PARSE_ERROR"
	OFREPNoTargetingKey = "TARGETING_KEY_MISSING"
	OFREPInvalidContext = "INVALID_CONTEXT"
)

// OFREPMaxMembers is the most members an object of an OFREP body may have
// (it bounds the duplicate-key check). OFREP context attributes are
// arbitrary, so the cap is higher than MaxMembers of the SDK messages.
const OFREPMaxMembers = 128

// maxKeptEsc is the largest escape scratch an OFREPContext keeps between
// parses.
const maxKeptEsc = 128 << 10 // room for a body at the edge's default 64 KiB cap

// OFREPContext is an OFREP evaluation request's context ({"context":{…}})
// read as a FeatBit user: targetingKey is the key, every other string,
// number or boolean attribute a custom property ("name" also the name);
// null, objects and arrays are skipped.
//
// It is read with the scanner of the SDK parsers (strict JSON, UTF-8
// validated, MaxDepth), with OFREP's key rules: keys are compared exactly
// (attribute names are case-sensitive), a duplicate key, a NUL in a key or
// an object of more than OFREPMaxMembers members is a PARSE_ERROR naming
// it.
//
// Lifetime rule: KeyID, Name and Props are views of the parsed body or of
// the context's scratch, valid until the next Parse or until the body is
// reused. An OFREPContext is used by one goroutine at a time; after its
// scratch has grown to the bodies seen, Parse does not allocate.
type OFREPContext struct {
	KeyID, Name string
	Props       []codec.UserProp

	esc []byte
	// keys is a stack of the keys of the objects being read (each object's
	// above the length it found), for the duplicate check
	keys  [][]byte
	found bool
	serr  SyntaxError
}

// Reset drops the views of the last body (so a pooled context holds no
// request's data) and a large scratch.
func (c *OFREPContext) Reset() { c.reset(0) }

func (c *OFREPContext) reset(n int) {
	if cap(c.esc) > maxKeptEsc {
		c.esc = nil // a large body's scratch is not kept
	}
	if cap(c.esc) < n {
		c.esc = make([]byte, 0, n+64)
	}
	c.esc = c.esc[:0]
	clear(c.Props)
	c.Props = c.Props[:0]
	clear(c.keys)
	c.keys = c.keys[:0]
	c.KeyID, c.Name, c.found = "", "", false
}

// Parse reads body ({"context":{…}}; other members are ignored). It returns
// an empty code on success, else an OFREP error code (OFREPParseError,
// OFREPNoTargetingKey, OFREPInvalidContext) and a message.
func (c *OFREPContext) Parse(body []byte) (code, msg string) {
	// Unescaped strings are never longer than their JSON form, so esc with
	// room for the whole body never reallocates and its views stay valid.
	c.reset(len(body))
	p := ofrepParser{s: scanner{data: body, errBuf: &c.serr}, c: c}
	if p.s.peek() == 0 && p.s.pos == len(body) {
		return OFREPNoTargetingKey, "targetingKey is required"
	}
	if !p.object(1, ofrepRoot) {
		return OFREPParseError, p.msg()
	}
	if p.s.end() != nil {
		return OFREPParseError, "trailing data after the JSON body"
	}
	switch {
	case p.bad != "":
		return OFREPInvalidContext, p.bad
	case !c.found || c.KeyID == "":
		return OFREPNoTargetingKey, "targetingKey is required"
	}
	return "", ""
}

// member modes of ofrepParser.object
const (
	ofrepRoot = iota
	ofrepContext
	ofrepSkip
)

type ofrepParser struct {
	s scanner
	c *OFREPContext
	// keyErr is a refused key (ends the parse: PARSE_ERROR); bad a context
	// that is JSON but not a valid context (INVALID_CONTEXT)
	keyErr, bad string
	synErr      error
}

func (p *ofrepParser) msg() string {
	switch {
	case p.keyErr != "":
		return p.keyErr
	case p.synErr != nil:
		return "malformed JSON at offset " + strconv.Itoa(p.c.serr.Offset) + ": " + p.c.serr.Msg
	}
	return "malformed JSON at offset " + strconv.Itoa(p.s.pos)
}

// fail records a scanner error; it returns false.
func (p *ofrepParser) fail(err error) bool {
	if p.synErr == nil {
		p.synErr = err
	}
	return false
}

// object reads an object (depth is its nesting depth, 1 at the top) and
// hands each member's value to the mode's handler.
func (p *ofrepParser) object(depth, mode int) bool {
	s := &p.s
	if depth > MaxDepth {
		return p.fail(s.fail("nesting too deep"))
	}
	if s.peek() != '{' {
		return p.fail(s.fail("expected an object"))
	}
	s.pos++
	base := len(p.c.keys)
	defer func() {
		clear(p.c.keys[base:])
		p.c.keys = p.c.keys[:base]
	}()
	for first := true; ; first = false {
		_, raw, esc, ok, err := s.nextKeyRaw(first)
		if err != nil {
			return p.fail(err)
		}
		if !ok {
			return true
		}
		k := raw
		if esc {
			from := len(p.c.esc)
			p.c.esc = unescape(p.c.esc, raw)
			k = p.c.esc[from:len(p.c.esc):len(p.c.esc)]
		}
		if !p.key(k, base) {
			return false
		}
		if s.peek() != ':' {
			return p.fail(s.fail("expected ':' after object key"))
		}
		s.pos++
		var vok bool
		switch mode {
		case ofrepRoot:
			vok = p.root(k, depth)
		case ofrepContext:
			vok = p.field(k, depth)
		default:
			vok = p.skip(depth + 1)
		}
		if !vok {
			return false
		}
	}
}

// key checks a member's key against the object's earlier keys (from base).
func (p *ofrepParser) key(k []byte, base int) bool {
	if bytes.IndexByte(k, 0) >= 0 {
		p.keyErr = "NUL character in object key " + quoteKey(k)
		return false
	}
	seen := p.c.keys[base:]
	if len(seen) >= OFREPMaxMembers {
		p.keyErr = "object has more than " + strconv.Itoa(OFREPMaxMembers) + " members"
		return false
	}
	for _, o := range seen {
		if bytes.Equal(o, k) {
			p.keyErr = "duplicate key " + quoteKey(k)
			return false
		}
	}
	p.c.keys = append(p.c.keys, k)
	return true
}

func (p *ofrepParser) root(key []byte, depth int) bool {
	s := &p.s
	if string(key) != "context" {
		return p.skip(depth + 1)
	}
	switch s.peek() {
	case '{':
		return p.object(depth+1, ofrepContext)
	case 'n':
		if _, err := s.readLiteral(); err != nil {
			return p.fail(err)
		}
		return true // no context: no targeting key
	}
	if !p.skip(depth + 1) {
		return false
	}
	p.bad = "context must be an object"
	return true
}

func (p *ofrepParser) field(key []byte, depth int) bool {
	s := &p.s
	var v []byte
	isString := false
	switch c := s.peek(); {
	case c == '"':
		raw, esc, err := s.readString()
		if err != nil {
			return p.fail(err)
		}
		v, isString = raw, true
		if esc {
			from := len(p.c.esc)
			p.c.esc = unescape(p.c.esc, raw)
			v = p.c.esc[from:len(p.c.esc):len(p.c.esc)]
		}
	case c == 't' || c == 'f':
		lit, err := s.readLiteral()
		if err != nil {
			return p.fail(err)
		}
		v = lit
	case c == '-' || '0' <= c && c <= '9':
		num, err := s.readNumber()
		if err != nil {
			return p.fail(err)
		}
		v = num
	default: // null, objects and arrays are not user attributes
		return p.skip(depth + 1)
	}
	switch string(key) {
	case "targetingKey":
		if !isString {
			p.bad = "targetingKey must be a string"
			return true
		}
		p.c.KeyID = view(v)
		p.c.found = true
		return true
	case "name":
		p.c.Name = view(v)
	}
	p.c.Props = append(p.c.Props, codec.UserProp{Name: view(key), Value: view(v)})
	return true
}

// skip consumes any value (depth: its nesting depth), checking the keys of
// the objects in it like those of the context.
func (p *ofrepParser) skip(depth int) bool {
	s := &p.s
	switch s.peek() {
	case '{':
		return p.object(depth, ofrepSkip)
	case '[':
		if depth > MaxDepth {
			return p.fail(s.fail("nesting too deep"))
		}
		s.pos++
		for first := true; ; first = false {
			ok, err := s.nextElem(first)
			if err != nil {
				return p.fail(err)
			}
			if !ok {
				return true
			}
			if !p.skip(depth + 1) {
				return false
			}
		}
	}
	if err := s.skipValue(depth); err != nil {
		return p.fail(err)
	}
	return true
}

// view is b as a string without copying (b must not change while the
// string is used: see the lifetime rule).
func view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
