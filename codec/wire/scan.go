package wire

import (
	"bytes"
	"strconv"
	"unicode/utf8"
)

// MaxDepth is the deepest nesting of arrays and objects the parsers accept.
const MaxDepth = 64

// SyntaxError reports malformed JSON or a value of the wrong type. Offset is
// the byte offset in the input where the problem was found.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return "wire: invalid JSON at offset " + strconv.Itoa(e.Offset) + ": " + e.Msg
}

// scanner is a strict, non-allocating JSON reader over one input.
type scanner struct {
	data []byte
	pos  int
	// errBuf, when set, is filled and returned instead of allocating a new
	// error (Message keeps one per message).
	errBuf *SyntaxError
}

func (s *scanner) fail(msg string) error {
	if s.errBuf != nil {
		*s.errBuf = SyntaxError{Offset: s.pos, Msg: msg}
		return s.errBuf
	}
	return &SyntaxError{Offset: s.pos, Msg: msg}
}

// failAt reports msg at offset pos (the start of the offending value).
func (s *scanner) failAt(pos int, msg string) error {
	s.pos = pos
	return s.fail(msg)
}

func (s *scanner) ws() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// peek skips whitespace and returns the next byte, 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

// peekPos skips whitespace and returns the position of the next value.
func (s *scanner) peekPos() int {
	s.ws()
	return s.pos
}

// end checks that only whitespace is left.
func (s *scanner) end() error {
	s.ws()
	if s.pos != len(s.data) {
		return s.fail("unexpected data after the top-level value")
	}
	return nil
}

// readString reads a string at s.pos (which must be '"') and returns its raw
// content (between the quotes) and whether it contains escapes. It validates
// escapes, control characters and UTF-8.
func (s *scanner) readString() (raw []byte, esc bool, err error) {
	if s.pos >= len(s.data) || s.data[s.pos] != '"' {
		return nil, false, s.fail("expected a string")
	}
	s.pos++
	start := s.pos
	d := s.data
	for s.pos < len(d) {
		// fast path: printable ASCII other than '"' and '\\'
		for s.pos < len(d) && safe[d[s.pos]&0x7f] && d[s.pos] < utf8.RuneSelf {
			s.pos++
		}
		if s.pos >= len(d) {
			break
		}
		c := d[s.pos]
		switch {
		case c == '"':
			raw = d[start:s.pos]
			s.pos++
			return raw, esc, nil
		case c == '\\':
			esc = true
			if s.pos+1 >= len(d) {
				return nil, false, s.fail("unterminated string")
			}
			switch d[s.pos+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.pos += 2
			case 'u':
				if s.pos+6 > len(d) {
					return nil, false, s.fail("unterminated string")
				}
				for k := 2; k < 6; k++ {
					if _, ok := unhex(d[s.pos+k]); !ok {
						return nil, false, s.fail(`invalid \u escape`)
					}
				}
				s.pos += 6
			default:
				return nil, false, s.fail("invalid escape in string")
			}
		case c < 0x20:
			return nil, false, s.fail("control character in string")
		case c < utf8.RuneSelf:
			s.pos++
		default:
			r, size := utf8.DecodeRune(d[s.pos:])
			if r == utf8.RuneError && size == 1 {
				return nil, false, s.fail("invalid UTF-8 in string")
			}
			s.pos += size
		}
	}
	return nil, false, s.fail("unterminated string")
}

func unhex(c byte) (rune, bool) {
	switch {
	case '0' <= c && c <= '9':
		return rune(c - '0'), true
	case 'a' <= c && c <= 'f':
		return rune(c - 'a' + 10), true
	case 'A' <= c && c <= 'F':
		return rune(c - 'A' + 10), true
	}
	return 0, false
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		v, _ := unhex(c)
		r = r<<4 | v
	}
	return r
}

// unescape appends the decoded content of a raw string validated by
// readString. A lone surrogate becomes U+FFFD.
func unescape(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			j := i + 1
			for j < len(raw) && raw[j] != '\\' {
				j++
			}
			dst = append(dst, raw[i:j]...)
			i = j
			continue
		}
		switch raw[i+1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hex4(raw[i+2:])
			i += 6
			if 0xd800 <= r && r < 0xdc00 && i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
				if r2 := hex4(raw[i+2:]); 0xdc00 <= r2 && r2 < 0xe000 {
					r = (r-0xd800)<<10 | (r2 - 0xdc00) + 0x10000
					i += 6
				}
			}
			if 0xd800 <= r && r < 0xe000 {
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default: // '"', '\\', '/'
			dst = append(dst, raw[i+1])
		}
		i += 2
	}
	return dst
}

// readNumber reads a JSON number and returns its literal text.
func (s *scanner) readNumber() ([]byte, error) {
	d := s.data
	start := s.pos
	i := s.pos
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && '1' <= d[i] && d[i] <= '9':
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
	default:
		s.pos = i
		return nil, s.fail("invalid number")
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			s.pos = i
			return nil, s.fail("invalid number")
		}
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			s.pos = i
			return nil, s.fail("invalid number")
		}
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
	}
	s.pos = i
	return d[start:i], nil
}

// readLiteral reads true, false or null (s.pos at its first letter).
func (s *scanner) readLiteral() ([]byte, error) {
	d := s.data[s.pos:]
	for _, lit := range [...]string{"true", "false", "null"} {
		if len(d) >= len(lit) && string(d[:len(lit)]) == lit {
			s.pos += len(lit)
			return d[:len(lit)], nil
		}
	}
	return nil, s.fail("invalid literal")
}

// skipValue skips one value of any type; depth is the nesting depth of the
// value (the top-level value has depth 1).
func (s *scanner) skipValue(depth int) error {
	switch s.peek() {
	case '{':
		if depth > MaxDepth {
			return s.fail("nesting too deep")
		}
		s.pos++
		var ks keySet
		for first := true; ; first = false {
			_, _, ok, err := s.nextKey(first, &ks)
			if err != nil {
				return err
			}
			if !ok {
				return nil
			}
			if err := s.skipValue(depth + 1); err != nil {
				return err
			}
		}
	case '[':
		if depth > MaxDepth {
			return s.fail("nesting too deep")
		}
		s.pos++
		for first := true; ; first = false {
			ok, err := s.nextElem(first)
			if err != nil {
				return err
			}
			if !ok {
				return nil
			}
			if err := s.skipValue(depth + 1); err != nil {
				return err
			}
		}
	case '"':
		_, _, err := s.readString()
		return err
	case 't', 'f', 'n':
		_, err := s.readLiteral()
		return err
	case 0:
		return s.fail("unexpected end of input")
	default:
		_, err := s.readNumber()
		return err
	}
}

// nextKey advances to the next member of an object whose '{' has been
// consumed: it returns ok=false after consuming the closing '}', otherwise
// the raw key (positioned after the ':').
//
// ks holds the keys of the object read so far: a key equal to an earlier one
// (after unescaping, ignoring ASCII case, as the field matching does) or
// containing a NUL character is an error naming it, as is an object of more
// than MaxMembers members (which bounds the comparisons). Declare one
// keySet per object.
func (s *scanner) nextKey(first bool, ks *keySet) (key []byte, esc, ok bool, err error) {
	at, key, esc, ok, err := s.nextKeyRaw(first)
	if !ok || err != nil {
		return nil, false, ok, err
	}
	if err := ks.add(s, at, key, esc); err != nil {
		return nil, false, false, err
	}
	if s.peek() != ':' {
		return nil, false, false, s.fail("expected ':' after object key")
	}
	s.pos++
	return key, esc, true, nil
}

// nextKeyRaw is nextKey without the key checks and the ':': it returns the
// offset of the key's opening quote and the raw key, positioned after it.
func (s *scanner) nextKeyRaw(first bool) (at int, key []byte, esc, ok bool, err error) {
	c := s.peek()
	if c == '}' && first {
		s.pos++
		return 0, nil, false, false, nil
	}
	if !first {
		switch c {
		case '}':
			s.pos++
			return 0, nil, false, false, nil
		case ',':
			s.pos++
			c = s.peek()
		default:
			return 0, nil, false, false, s.fail("expected ',' or '}' in object")
		}
	}
	if c != '"' {
		return 0, nil, false, false, s.fail("expected a string key in object")
	}
	at = s.pos
	key, esc, err = s.readString()
	if err != nil {
		return 0, nil, false, false, err
	}
	return at, key, esc, true, nil
}

// MaxMembers is the most members an object may have.
const MaxMembers = 64

// keySet is the keys of one object so far, as spans of the input (end < 0:
// the key has escapes, its end is -end). It lives on the stack of the loop
// that reads the object.
type keySet struct {
	n    int
	keys [MaxMembers]struct{ start, end int32 }
}

// add checks key (raw, read at offset at, whose opening quote is at at) and
// records it.
func (ks *keySet) add(s *scanner, at int, raw []byte, esc bool) error {
	var b1, b2 [64]byte
	k := keyText(raw, esc, &b1)
	if esc && k == nil {
		k = raw // too long to be one of ours: compared as written
	}
	if bytes.IndexByte(k, 0) >= 0 || esc && bytes.Contains(raw, []byte(`\u0000`)) {
		return s.failAt(at, "NUL character in object key "+quoteKey(k))
	}
	for i := 0; i < ks.n; i++ {
		e := ks.keys[i]
		oesc := e.end < 0
		if oesc {
			e.end = -e.end
		}
		if !oesc && !esc && len(raw) != int(e.end-e.start) {
			continue // the common case: different lengths, no escapes
		}
		oraw := s.data[e.start:e.end]
		o := keyText(oraw, oesc, &b2)
		if oesc && o == nil {
			o = oraw
		}
		if equalFoldBytes(k, o) {
			return s.failAt(at, "duplicate key "+quoteKey(k))
		}
	}
	if ks.n == MaxMembers {
		return s.failAt(at, "object has more than "+strconv.Itoa(MaxMembers)+" members")
	}
	end := int32(at + 1 + len(raw))
	if esc {
		end = -end
	}
	ks.keys[ks.n] = struct{ start, end int32 }{int32(at + 1), end}
	ks.n++
	return nil
}

// quoteKey quotes a key for an error message (at most 64 bytes of it).
func quoteKey(k []byte) string {
	if len(k) > 64 {
		k = k[:64]
	}
	return strconv.Quote(string(k))
}

// equalFoldBytes is equalFold for two byte slices.
func equalFoldBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// nextElem advances to the next element of an array whose '[' has been
// consumed; it returns false after consuming the closing ']'.
func (s *scanner) nextElem(first bool) (bool, error) {
	c := s.peek()
	if c == ']' {
		if first {
			s.pos++
			return false, nil
		}
		s.pos++
		return false, nil
	}
	if !first {
		if c != ',' {
			return false, s.fail("expected ',' or ']' in array")
		}
		s.pos++
		if s.peek() == ']' {
			return false, s.fail("trailing comma in array")
		}
	}
	if s.pos >= len(s.data) {
		return false, s.fail("unexpected end of input")
	}
	return true, nil
}

// keyBuf decodes a key with escapes into buf; keys longer than buf cannot be
// one of ours and come back empty.
func keyText(raw []byte, esc bool, buf *[64]byte) []byte {
	if !esc {
		return raw
	}
	if len(raw) > len(buf) {
		return nil
	}
	return unescape(buf[:0], raw)
}

// equalFold reports whether key equals name ignoring ASCII case (name is
// ASCII).
func equalFold(key []byte, name string) bool {
	if len(key) != len(name) {
		return false
	}
	for i := 0; i < len(key); i++ {
		a, b := key[i], name[i]
		if a == b {
			continue
		}
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}
