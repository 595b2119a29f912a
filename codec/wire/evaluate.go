package wire

import (
	"strconv"

	"github.com/switchyard/switchyard/codec"
)

// EvaluateRequest is the body of FeatBit's POST
// /api/public/featureflag/evaluate: the user to evaluate for and an
// optional filter of the flags (by key and by tag).
type EvaluateRequest struct {
	User codec.EndUser
	// Keys and Tags filter the flags; empty: no filter on that field.
	Keys, Tags []string
	// TagsAny is tagFilterMode "or" (a flag with any of Tags); the default,
	// "and", needs every tag.
	TagsAny bool
}

// MaxEvaluateFilter caps the keys and the tags of one evaluate request
// (each list).
const MaxEvaluateFilter = 1000

// ParseEvaluate parses an evaluate request body
// ({"user":{…},"filter":{"keys":[…],"tags":[…],"tagFilterMode":"and"|"or"}},
// field names matched ignoring ASCII case as ASP.NET does; other members
// are ignored). It returns ErrInvalidUser when the user is missing or has no
// keyId, and a *SyntaxError naming the problem for malformed JSON, a filter
// list longer than MaxEvaluateFilter or an unknown tagFilterMode. r is
// overwritten; its strings are copies.
func ParseEvaluate(body []byte, r *EvaluateRequest) error {
	*r = EvaluateRequest{Keys: r.Keys[:0], Tags: r.Tags[:0]}
	s := scanner{data: body}
	if s.peek() != '{' {
		if err := s.skipValue(1); err != nil {
			return err
		}
		return s.failAt(0, "the body must be an object")
	}
	s.pos++
	var scratch []byte
	var props []PropView
	var uv UserView
	hasUser := false
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
		case equalFold(key, "user"):
			if s.peek() == 'n' {
				_, err = s.readLiteral()
				break
			}
			hasUser = true
			err = parseUser(&s, 2, &uv, &scratch, &props)
		case equalFold(key, "filter"):
			err = parseFilter(&s, r, &scratch)
		default:
			err = s.skipValue(2)
		}
		if err != nil {
			return err
		}
	}
	if err := s.end(); err != nil {
		return err
	}
	if !hasUser || !uv.Valid() {
		return ErrInvalidUser
	}
	uv.ToEndUser(&r.User)
	return nil
}

func parseFilter(s *scanner, r *EvaluateRequest, scratch *[]byte) error {
	switch s.peek() {
	case 'n':
		lit, err := s.readLiteral()
		if err == nil && lit[0] != 'n' {
			err = s.fail("filter must be an object")
		}
		return err
	case '{':
	default:
		start := s.pos
		if err := s.skipValue(2); err != nil {
			return err
		}
		return s.failAt(start, "filter must be an object")
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
		case equalFold(key, "keys"):
			r.Keys, err = readStrings(s, r.Keys, "filter.keys", scratch)
		case equalFold(key, "tags"):
			r.Tags, err = readStrings(s, r.Tags, "filter.tags", scratch)
		case equalFold(key, "tagFilterMode"):
			start := s.peekPos()
			var v []byte
			var null bool
			v, null, err = s.readScalar("filter.tagFilterMode must be a string", scratch)
			switch {
			case err != nil, null, len(v) == 0, equalFold(v, "and"):
			case equalFold(v, "or"):
				r.TagsAny = true
			default:
				err = s.failAt(start, `filter.tagFilterMode must be "and" or "or"`)
			}
		default:
			err = s.skipValue(3)
		}
		if err != nil {
			return err
		}
	}
}

// readStrings appends the strings of an array (or nothing for null).
func readStrings(s *scanner, dst []string, name string, scratch *[]byte) ([]string, error) {
	switch s.peek() {
	case 'n':
		lit, err := s.readLiteral()
		if err == nil && lit[0] != 'n' {
			err = s.fail(name + " must be an array of strings")
		}
		return dst, err
	case '[':
	default:
		start := s.pos
		if err := s.skipValue(3); err != nil {
			return dst, err
		}
		return dst, s.failAt(start, name+" must be an array of strings")
	}
	s.pos++
	n := 0
	for first := true; ; first = false {
		ok, err := s.nextElem(first)
		if err != nil || !ok {
			return dst, err
		}
		if n == MaxEvaluateFilter {
			return dst, s.fail(name + " has more than " + strconv.Itoa(MaxEvaluateFilter) + " entries")
		}
		if s.peek() != '"' {
			start := s.pos
			if err := s.skipValue(4); err != nil {
				return dst, err
			}
			return dst, s.failAt(start, name+" must be an array of strings")
		}
		raw, esc, err := s.readString()
		if err != nil {
			return dst, err
		}
		if esc {
			m := len(*scratch)
			*scratch = unescape(*scratch, raw)
			raw = (*scratch)[m:]
		}
		dst = append(dst, string(raw))
		n++
	}
}
