package ofrep

import (
	"bytes"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/edge/eval"
)

// Context is an OFREP evaluation context read as a FeatBit user. Its
// strings are views of the parsed body (or of esc, for strings with
// escapes) and are valid only until the body is released or Parse is
// called again.
type Context struct {
	User  eval.User
	props []codec.UserProp
	esc   []byte
	// keys is a stack of the keys of the objects being read (each object's
	// above the length it found), for the duplicate check
	keys  [][]byte
	found bool
}

func (c *Context) reset() {
	if cap(c.esc) > maxKeptEsc {
		c.esc = nil // a large body's scratch is not kept in the pool
	}
	clear(c.props)
	c.props = c.props[:0]
	clear(c.keys)
	c.keys = c.keys[:0]
	c.User = eval.User{}
	c.found = false
}

// OFREP error codes returned by Parse.
const (
	ErrParse     = "PARSE_ERROR"
	ErrNoKey     = "TARGETING_KEY_MISSING"
	ErrBadContex = "INVALID_CONTEXT"
)

type parser struct {
	b   []byte
	i   int
	c   *Context
	err string
}

const maxDepth = 64

// maxKeptEsc is the largest escape scratch a pooled Context keeps.
const maxKeptEsc = 128 << 10 // room for a body at the default 64 KiB cap

// Parse reads {"context":{…}} (other members are ignored). It returns an
// empty code on success, else an OFREP error code and a message.
func (c *Context) Parse(body []byte) (code, msg string) {
	c.reset()
	if cap(c.esc) < len(body) {
		c.esc = make([]byte, 0, len(body)+64)
	}
	c.esc = c.esc[:0]
	p := parser{b: body, c: c}
	p.ws()
	if p.i == len(p.b) {
		return ErrNoKey, "targetingKey is required"
	}
	if !p.object(0, inRoot) {
		return ErrParse, p.msg()
	}
	p.ws()
	if p.i != len(p.b) {
		return ErrParse, "trailing data after the JSON body"
	}
	if !c.found && p.err == "" {
		return ErrNoKey, "targetingKey is required"
	}
	if p.err != "" {
		return ErrBadContex, p.err
	}
	if c.User.KeyID == "" {
		return ErrNoKey, "targetingKey is required"
	}
	c.User.Props = c.props
	return "", ""
}

func (p *parser) msg() string {
	if p.err != "" {
		return p.err
	}
	return "malformed JSON at offset " + strconv.Itoa(p.i)
}

func (p *parser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// object parses an object, handing each member to p.member with the
// parser positioned at the value (which it must consume).
// Member handlers of object.
const (
	inRoot = iota
	inContext
	inSkip
)

func (p *parser) member(mode int, key []byte, depth int) bool {
	switch mode {
	case inRoot:
		return p.root(key, depth)
	case inContext:
		return p.field(key, depth)
	}
	return p.skip(depth)
}

// MaxMembers is the most members an object of the body may have (it bounds
// the duplicate-key check).
const MaxMembers = 128

// object parses an object. A key that repeats an earlier key of the same
// object or contains a NUL character ends the parse with an error naming it
// (parsers that keep the first or the last of duplicates would disagree
// about the context).
func (p *parser) object(depth int, mode int) bool {
	base := len(p.c.keys)
	ok := p.members(depth, mode, base)
	clear(p.c.keys[base:])
	p.c.keys = p.c.keys[:base]
	return ok
}

// key checks a member's key against the object's earlier keys (from base).
func (p *parser) key(k []byte, base int) bool {
	if bytes.IndexByte(k, 0) >= 0 {
		p.err = "NUL character in object key " + quoteKey(k)
		return false
	}
	seen := p.c.keys[base:]
	if len(seen) >= MaxMembers {
		p.err = "object has more than " + strconv.Itoa(MaxMembers) + " members"
		return false
	}
	for _, o := range seen {
		if bytes.Equal(o, k) {
			p.err = "duplicate key " + quoteKey(k)
			return false
		}
	}
	p.c.keys = append(p.c.keys, k)
	return true
}

func quoteKey(k []byte) string {
	if len(k) > 64 {
		k = k[:64]
	}
	return strconv.Quote(string(k))
}

func (p *parser) members(depth int, mode int, base int) bool {
	if depth > maxDepth || p.i >= len(p.b) || p.b[p.i] != '{' {
		return false
	}
	p.i++
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return true
	}
	for {
		p.ws()
		k, ok := p.str()
		if !ok || !p.key(k, base) {
			return false
		}
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return false
		}
		p.i++
		p.ws()
		if !p.member(mode, k, depth+1) {
			return false
		}
		p.ws()
		if p.i >= len(p.b) {
			return false
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return true
		default:
			return false
		}
	}
}

func (p *parser) root(key []byte, depth int) bool {
	if string(key) != "context" {
		return p.skip(depth)
	}
	if p.i < len(p.b) && p.b[p.i] == 'n' {
		return p.lit("null")
	}
	if p.i >= len(p.b) || p.b[p.i] != '{' {
		if !p.skip(depth) {
			return false
		}
		p.err = "context must be an object"
		return true
	}
	return p.object(depth, inContext)
}

func view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func (p *parser) field(key []byte, depth int) bool {
	if p.i >= len(p.b) {
		return false
	}
	var v []byte
	switch c := p.b[p.i]; {
	case c == '"':
		s, ok := p.str()
		if !ok {
			return false
		}
		v = s
	case c == 't':
		if !p.lit("true") {
			return false
		}
		v = p.b[p.i-4 : p.i]
	case c == 'f':
		if !p.lit("false") {
			return false
		}
		v = p.b[p.i-5 : p.i]
	case c == '-' || '0' <= c && c <= '9':
		start := p.i
		if !p.num() {
			return false
		}
		v = p.b[start:p.i]
	default: // null, objects and arrays are not user attributes
		return p.skip(depth)
	}
	switch string(key) {
	case "targetingKey":
		if p.b[p.i-1] != '"' {
			p.err = "targetingKey must be a string"
			return true
		}
		p.c.User.KeyID = view(v)
		p.c.found = true
		return true
	case "name":
		p.c.User.Name = view(v)
	}
	p.c.props = append(p.c.props, codec.UserProp{Name: view(key), Value: view(v)})
	return true
}

func (p *parser) lit(s string) bool {
	if len(p.b)-p.i < len(s) || string(p.b[p.i:p.i+len(s)]) != s {
		return false
	}
	p.i += len(s)
	return true
}

func (p *parser) num() bool {
	start := p.i
	if p.i < len(p.b) && p.b[p.i] == '-' {
		p.i++
	}
	digits := func() int {
		n := 0
		for p.i < len(p.b) && '0' <= p.b[p.i] && p.b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.i < len(p.b) && p.b[p.i] == '0' {
		p.i++
	} else if digits() == 0 {
		return false
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return false
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return false
		}
	}
	return p.i > start
}

// str reads a string and returns its content: a view of the input, or of
// c.esc when it had escapes (esc never reallocates: it has room for the
// whole body).
func (p *parser) str() ([]byte, bool) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return nil, false
	}
	p.i++
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			return s, true
		case c == '\\':
			return p.escaped(start)
		case c < 0x20:
			return nil, false
		}
		p.i++
	}
	return nil, false
}

func (p *parser) escaped(start int) ([]byte, bool) {
	c := p.c
	from := len(c.esc)
	c.esc = append(c.esc, p.b[start:p.i]...)
	for p.i < len(p.b) {
		ch := p.b[p.i]
		switch {
		case ch == '"':
			p.i++
			return c.esc[from:len(c.esc):len(c.esc)], true
		case ch < 0x20:
			return nil, false
		case ch != '\\':
			c.esc = append(c.esc, ch)
			p.i++
			continue
		}
		if p.i+1 >= len(p.b) {
			return nil, false
		}
		e := p.b[p.i+1]
		p.i += 2
		switch e {
		case '"', '\\', '/':
			c.esc = append(c.esc, e)
		case 'b':
			c.esc = append(c.esc, '\b')
		case 'f':
			c.esc = append(c.esc, '\f')
		case 'n':
			c.esc = append(c.esc, '\n')
		case 'r':
			c.esc = append(c.esc, '\r')
		case 't':
			c.esc = append(c.esc, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return nil, false
			}
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if p.i+1 < len(p.b) && p.b[p.i] == '\\' && p.b[p.i+1] == 'u' {
					p.i += 2
					r2, ok = p.hex4()
					if !ok {
						return nil, false
					}
				}
				r = utf16.DecodeRune(r, r2)
			}
			c.esc = utf8.AppendRune(c.esc, r)
		default:
			return nil, false
		}
	}
	return nil, false
}

func (p *parser) hex4() (rune, bool) {
	if len(p.b)-p.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range p.b[p.i : p.i+4] {
		r <<= 4
		switch {
		case '0' <= c && c <= '9':
			r |= rune(c - '0')
		case 'a' <= c && c <= 'f':
			r |= rune(c - 'a' + 10)
		case 'A' <= c && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	p.i += 4
	return r, true
}

// skip consumes any JSON value.
func (p *parser) skip(depth int) bool {
	if depth > maxDepth || p.i >= len(p.b) {
		return false
	}
	switch c := p.b[p.i]; {
	case c == '"':
		// escaped strings would grow esc; skip them without decoding
		p.i++
		for p.i < len(p.b) {
			switch p.b[p.i] {
			case '"':
				p.i++
				return true
			case '\\':
				p.i += 2
				continue
			}
			if p.b[p.i] < 0x20 {
				return false
			}
			p.i++
		}
		return false
	case c == '{':
		return p.object(depth, inSkip)
	case c == '[':
		p.i++
		p.ws()
		if p.i < len(p.b) && p.b[p.i] == ']' {
			p.i++
			return true
		}
		for {
			p.ws()
			if !p.skip(depth + 1) {
				return false
			}
			p.ws()
			if p.i >= len(p.b) {
				return false
			}
			if p.b[p.i] == ']' {
				p.i++
				return true
			}
			if p.b[p.i] != ',' {
				return false
			}
			p.i++
		}
	case c == 't':
		return p.lit("true")
	case c == 'f':
		return p.lit("false")
	case c == 'n':
		return p.lit("null")
	case c == '-' || '0' <= c && c <= '9':
		return p.num()
	}
	return false
}
