package wire

import (
	"errors"
	"unicode"
	"unicode/utf8"
)

// MsgType is the type of an incoming SDK message.
type MsgType uint8

// Message types a server handles; everything else is Unknown.
const (
	Unknown MsgType = iota
	Ping
	DataSync
	Echo
)

func (t MsgType) String() string {
	switch t {
	case Ping:
		return "ping"
	case DataSync:
		return "data-sync"
	case Echo:
		return "echo"
	}
	return "unknown"
}

// ErrIgnored is returned for well-formed JSON that is not a message FeatBit
// handles: the root is not an object, or it lacks messageType or data.
// FeatBit's server drops such messages silently.
var ErrIgnored = errors.New("wire: not a message (root must be an object with messageType and data)")

// PropView is one custom property of a UserView. Value holds the string, or
// the literal text of a number or boolean (null gives an empty Value).
type PropView struct {
	Name, Value []byte
}

// UserView is an end user as sent by a client SDK ({"keyId","name",
// "customizedProperties":[{"name","value"}]}). Its slices alias the input or
// the scratch of the Message (or parser) that produced it; see the package
// doc for their lifetime. KeyIDNull/NameNull report a JSON null (or an absent
// field).
type UserView struct {
	KeyID, Name []byte
	KeyIDNull   bool
	NameNull    bool
	Props       []PropView
}

// Valid reports whether the user has a non-blank keyId (not empty and not
// only Unicode white space), FeatBit's condition for accepting a user.
func (v *UserView) Valid() bool {
	for i := 0; i < len(v.KeyID); {
		c := v.KeyID[i]
		if c < utf8.RuneSelf {
			if c != ' ' && (c < '\t' || c > '\r') {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(v.KeyID[i:])
		if !unicode.IsSpace(r) {
			return true
		}
		i += size
	}
	return false
}

// Message is one parsed SDK message. Reuse it: Parse resets every field and
// keeps the scratch space, so steady-state parsing does not allocate.
type Message struct {
	Type MsgType
	// TypeName is the messageType as sent (useful to log Unknown types).
	TypeName []byte
	// HasData is set when the root has a "data" member (it may be null).
	HasData bool
	// Data is the raw JSON of the data member (for echo).
	Data []byte
	// Timestamp is data.timestamp of a data-sync message; 0 when absent or
	// null.
	Timestamp int64
	// HasUser is set when a data-sync message carries a non-null data.user
	// object; User is then filled (check User.Valid()).
	HasUser bool
	User    UserView

	scratch []byte
	props   []PropView
	err     SyntaxError
}

// Parse parses data into m. It returns ErrIgnored for a valid JSON value that
// is not a message, and a *SyntaxError (owned by m, valid until the next
// Parse) for malformed JSON or a data-sync field of the wrong type. Only
// data-sync messages have their data interpreted; the data of other types is
// only checked to be valid JSON.
func (m *Message) Parse(data []byte) error {
	scratch, props := m.scratch[:0], m.props[:0]
	*m = Message{scratch: scratch, props: props}
	s := scanner{data: data, errBuf: &m.err}
	if s.peek() != '{' {
		if err := s.skipValue(1); err != nil {
			return err
		}
		if err := s.end(); err != nil {
			return err
		}
		return ErrIgnored
	}
	s.pos++
	hasType, dataParsed, dataOff := false, false, 0
	var kb [64]byte
	var ks keySet
	for first := true; ; first = false {
		raw, esc, ok, err := s.nextKey(first, &ks)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		key := keyText(raw, esc, &kb)
		switch {
		case equalFold(key, "messageType"):
			if s.peek() != '"' {
				start := s.pos
				if err := s.skipValue(2); err != nil {
					return err
				}
				return s.failAt(start, "messageType must be a string")
			}
			raw, esc, err := s.readString()
			if err != nil {
				return err
			}
			if esc {
				n := len(m.scratch)
				m.scratch = unescape(m.scratch, raw)
				raw = m.scratch[n:]
			}
			hasType = true
			m.TypeName = raw
		case equalFold(key, "data"):
			m.HasData = true
			s.peek()
			dataOff = s.pos
			// messageType usually comes first: read a data-sync's data in
			// the same pass; otherwise validate it now and read it below.
			dataParsed = hasType && equalFold(m.TypeName, "data-sync")
			if dataParsed {
				if err := m.parseSyncData(&s); err != nil {
					return err
				}
			} else if err := s.skipValue(2); err != nil {
				return err
			}
			m.Data = data[dataOff:s.pos]
		default:
			if err := s.skipValue(2); err != nil {
				return err
			}
		}
	}
	if err := s.end(); err != nil {
		return err
	}
	if !hasType || !m.HasData {
		return ErrIgnored
	}
	if !equalFold(m.TypeName, "data-sync") {
		// a data-sync's data read before a later duplicate messageType
		m.Timestamp, m.HasUser, m.User = 0, false, UserView{}
	}
	switch {
	case equalFold(m.TypeName, "ping"):
		m.Type = Ping
	case equalFold(m.TypeName, "data-sync"):
		m.Type = DataSync
		if !dataParsed {
			// the data came before messageType: read it now (errors keep
			// their absolute offsets)
			s := scanner{data: data[:dataOff+len(m.Data)], pos: dataOff, errBuf: &m.err}
			return m.parseSyncData(&s)
		}
	case equalFold(m.TypeName, "echo"):
		m.Type = Echo
	}
	return nil
}

// parseSyncData reads the data value of a data-sync message at s.pos: its
// timestamp and user. Data that is not an object gives timestamp 0 and no
// user.
func (m *Message) parseSyncData(s *scanner) error {
	m.Timestamp, m.HasUser, m.User = 0, false, UserView{}
	if s.peek() != '{' {
		return s.skipValue(2)
	}
	s.pos++
	var kb [64]byte
	var ks keySet
	for first := true; ; first = false {
		raw, esc, ok, err := s.nextKey(first, &ks)
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		key := keyText(raw, esc, &kb)
		switch {
		case equalFold(key, "timestamp"):
			ts, err := s.readInt("data.timestamp must be an integer", "data.timestamp is out of range")
			if err != nil {
				return err
			}
			m.Timestamp = ts
		case equalFold(key, "user"):
			if s.peek() == 'n' {
				lit, err := s.readLiteral()
				if err != nil {
					return err
				}
				if lit[0] != 'n' {
					return s.fail("user must be an object")
				}
				m.HasUser, m.User = false, UserView{}
				continue
			}
			m.User = UserView{}
			if err := parseUser(s, 3, &m.User, &m.scratch, &m.props); err != nil {
				return err
			}
			m.HasUser = true
		default:
			if err := s.skipValue(3); err != nil {
				return err
			}
		}
	}
}

// readInt reads an integer number or null (0).
func (s *scanner) readInt(notInt, outOfRange string) (int64, error) {
	switch c := s.peek(); {
	case c == 't' || c == 'f' || c == 'n':
		start := s.pos
		lit, err := s.readLiteral()
		if err != nil {
			return 0, err
		}
		if lit[0] != 'n' {
			return 0, s.failAt(start, notInt)
		}
		return 0, nil
	case c == '-' || ('0' <= c && c <= '9'):
		start := s.pos
		num, err := s.readNumber()
		if err != nil {
			return 0, err
		}
		neg := num[0] == '-'
		if neg {
			num = num[1:]
		}
		var n int64
		for _, d := range num {
			if d < '0' || d > '9' {
				return 0, s.failAt(start, notInt)
			}
			if n > (1<<63-1-int64(d-'0'))/10 {
				return 0, s.failAt(start, outOfRange)
			}
			n = n*10 + int64(d-'0')
		}
		if neg {
			n = -n
		}
		return n, nil
	default:
		start := s.pos
		if err := s.skipValue(MaxDepth); err != nil {
			return 0, err
		}
		return 0, s.failAt(start, notInt)
	}
}

// readScalar reads a string, number or boolean and returns its text (strings
// decoded, into *scratch when escaped); null gives isNull. A value of another
// type fails with the message notScalar.
func (s *scanner) readScalar(notScalar string, scratch *[]byte) (v []byte, isNull bool, err error) {
	switch c := s.peek(); {
	case c == '"':
		raw, esc, err := s.readString()
		if err != nil {
			return nil, false, err
		}
		if esc {
			n := len(*scratch)
			*scratch = unescape(*scratch, raw)
			raw = (*scratch)[n:]
		}
		return raw, false, nil
	case c == 't' || c == 'f' || c == 'n':
		lit, err := s.readLiteral()
		if err != nil {
			return nil, false, err
		}
		if lit[0] == 'n' {
			return nil, true, nil
		}
		return lit, false, nil
	case c == '-' || ('0' <= c && c <= '9'):
		num, err := s.readNumber()
		return num, false, err
	default:
		if c == 0 {
			return nil, false, s.fail("unexpected end of input")
		}
		start := s.pos
		if err := s.skipValue(MaxDepth); err != nil {
			return nil, false, err
		}
		return nil, false, s.failAt(start, notScalar)
	}
}

// parseUser reads a user object at s.pos (depth is its nesting depth).
// Props are appended to *props (reset to its start first) and u.Props
// aliases it.
func parseUser(s *scanner, depth int, u *UserView, scratch *[]byte, props *[]PropView) error {
	if s.peek() != '{' {
		if err := s.skipValue(depth); err != nil {
			return err
		}
		return s.fail("user must be an object")
	}
	s.pos++
	u.KeyIDNull, u.NameNull = true, true
	var kb [64]byte
	var ks keySet
	for first := true; ; first = false {
		raw, esc, ok, err := s.nextKey(first, &ks)
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		key := keyText(raw, esc, &kb)
		switch {
		case equalFold(key, "keyId"):
			u.KeyID, u.KeyIDNull, err = s.readScalar("user.keyId must be a string, number or boolean", scratch)
		case equalFold(key, "name"):
			u.Name, u.NameNull, err = s.readScalar("user.name must be a string, number or boolean", scratch)
		case equalFold(key, "customizedProperties"):
			err = parseProps(s, depth+1, u, scratch, props)
		default:
			err = s.skipValue(depth + 1)
		}
		if err != nil {
			return err
		}
	}
}

func parseProps(s *scanner, depth int, u *UserView, scratch *[]byte, props *[]PropView) error {
	switch s.peek() {
	case 'n':
		lit, err := s.readLiteral()
		if err == nil && lit[0] != 'n' {
			err = s.fail("customizedProperties must be an array")
		}
		u.Props = nil
		return err
	case '[':
	default:
		if err := s.skipValue(depth); err != nil {
			return err
		}
		return s.fail("customizedProperties must be an array")
	}
	if depth+1 > MaxDepth {
		return s.fail("nesting too deep")
	}
	s.pos++
	start := len(*props)
	var kb [64]byte
	for first := true; ; first = false {
		ok, err := s.nextElem(first)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		switch s.peek() {
		case 'n':
			lit, err := s.readLiteral()
			if err != nil {
				return err
			}
			if lit[0] != 'n' {
				return s.fail("customizedProperties items must be objects")
			}
			continue
		case '{':
		default:
			if err := s.skipValue(depth + 1); err != nil {
				return err
			}
			return s.fail("customizedProperties items must be objects")
		}
		s.pos++
		var p PropView
		var ks keySet
		for first := true; ; first = false {
			raw, esc, ok, err := s.nextKey(first, &ks)
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			key := keyText(raw, esc, &kb)
			switch {
			case equalFold(key, "name"), equalFold(key, "key"):
				p.Name, _, err = s.readScalar("customizedProperties[].name must be a string, number or boolean", scratch)
			case equalFold(key, "value"):
				p.Value, _, err = s.readScalar("customizedProperties[].value must be a string, number or boolean", scratch)
			default:
				err = s.skipValue(depth + 2)
			}
			if err != nil {
				return err
			}
		}
		*props = append(*props, p)
	}
	u.Props = (*props)[start:len(*props):len(*props)]
	return nil
}
