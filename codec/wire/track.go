package wire

import (
	"errors"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/codec"
)

// ErrInvalidUser is returned by ParseUser for a user without a non-blank
// keyId (FeatBit answers 400 "invalid end user").
var ErrInvalidUser = errors.New("wire: invalid end user (keyId is missing or blank)")

// ParseTrack parses the body of POST /api/public/insight/track: a JSON array
// of insights {user, variations, metrics}. Valid events are appended to
// batch.Evals and batch.Metrics and their users to users.Users (one entry per
// keyId within this body; FirstSeen/LastSeen are the smallest and largest
// event timestamps of that user, 0 for a user without events). EnvID is set
// on every appended value, and on batch and users when theirs is empty.
//
// It is lenient like FeatBit: insights without a non-blank user.keyId are
// dropped, variation entries with a null (or absent) variation or an empty
// featureFlagKey are skipped, numbers and booleans are accepted where a
// string is expected (their literal text), null counts as absent, and
// unknown fields are ignored. It returns a *SyntaxError (the edge answers
// 400) when the body is not valid JSON, is not an array, or has an object or
// array where a scalar is expected (or the reverse); nothing is appended
// then.
func ParseTrack(body []byte, envID string, batch *codec.InsightBatch, users *codec.EndUserBatch) error {
	if batch.EnvID == "" {
		batch.EnvID = envID
	}
	if users.EnvID == "" {
		users.EnvID = envID
	}
	nEvals, nMetrics, nUsers := len(batch.Evals), len(batch.Metrics), len(users.Users)
	t := tracker{envID: envID, batch: batch, users: users, firstUser: nUsers}
	err := t.parse(body)
	if err != nil {
		batch.Evals, batch.Metrics, users.Users = batch.Evals[:nEvals], batch.Metrics[:nMetrics], users.Users[:nUsers]
	}
	return err
}

type tracker struct {
	envID     string
	batch     *codec.InsightBatch
	users     *codec.EndUserBatch
	firstUser int
	byKey     map[string]int // keyId → index in users.Users, once there are many users
	strs      map[string]string
	scratch   []byte
	props     []PropView
}

func (t *tracker) parse(body []byte) error {
	s := scanner{data: body}
	if s.peek() != '[' {
		if err := s.skipValue(1); err != nil {
			return err
		}
		if err := s.end(); err != nil {
			return err
		}
		s.pos = 0
		return s.fail("track body must be a JSON array")
	}
	s.pos++
	for first := true; ; first = false {
		ok, err := s.nextElem(first)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if err := t.insight(&s); err != nil {
			return err
		}
	}
	return s.end()
}

type span struct{ start, end int }

// insight parses one array element. The user may come after its events, so
// the first pass records where user, variations and metrics are, and the
// second parses them once the user is known.
func (t *tracker) insight(s *scanner) error {
	switch s.peek() {
	case '{':
	case 'n':
		lit, err := s.readLiteral()
		if err == nil && lit[0] != 'n' {
			err = s.fail("track items must be objects")
		}
		return err
	default:
		if err := s.skipValue(2); err != nil {
			return err
		}
		return s.fail("track items must be objects")
	}
	s.pos++
	var userAt, varsAt, metricsAt span
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
		s.peek()
		start := s.pos
		if err := s.skipValue(3); err != nil {
			return err
		}
		switch sp := (span{start, s.pos}); {
		case equalFold(key, "user"):
			userAt = sp
		case equalFold(key, "variations"):
			varsAt = sp
		case equalFold(key, "metrics"):
			metricsAt = sp
		}
	}
	if userAt.end == 0 {
		return nil
	}
	sub := scanner{data: s.data[:userAt.end], pos: userAt.start}
	if sub.peek() == 'n' {
		return nil // "user": null
	}
	t.scratch, t.props = t.scratch[:0], t.props[:0]
	var uv UserView
	if err := parseUser(&sub, 3, &uv, &t.scratch, &t.props); err != nil {
		return err
	}
	if !uv.Valid() {
		return nil
	}
	u := t.user(&uv)
	if varsAt.end > 0 {
		sub = scanner{data: s.data[:varsAt.end], pos: varsAt.start}
		if err := t.list(&sub, listVariations, u); err != nil {
			return err
		}
	}
	if metricsAt.end > 0 {
		sub = scanner{data: s.data[:metricsAt.end], pos: metricsAt.start}
		if err := t.list(&sub, listMetrics, u); err != nil {
			return err
		}
	}
	return nil
}

const (
	listVariations = iota
	listMetrics
)

// list walks an array (or null) of variation or metric objects.
func (t *tracker) list(s *scanner, kind int, u int) error {
	switch s.peek() {
	case 'n':
		return nil // validated by the first pass: it is null
	case '[':
	default:
		if kind == listVariations {
			return s.fail("variations must be an array")
		}
		return s.fail("metrics must be an array")
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
		switch s.peek() {
		case 'n':
			if _, err := s.readLiteral(); err != nil {
				return err
			}
			continue
		case '{':
			s.pos++
		default:
			return s.fail("variations and metrics items must be objects")
		}
		if kind == listVariations {
			err = t.variation(s, u)
		} else {
			err = t.metric(s, u)
		}
		if err != nil {
			return err
		}
	}
}

// variation parses {featureFlagKey, variation:{id,value}, timestamp,
// sendToExperiment} (after its '{').
func (t *tracker) variation(s *scanner, u int) error {
	var flagKey, id, value []byte
	var ts int64
	var expt, hasVar bool
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
		case equalFold(key, "featureFlagKey"):
			flagKey, _, err = s.readScalar("featureFlagKey must be a string, number or boolean", &t.scratch)
		case equalFold(key, "variation"):
			hasVar = false
			switch s.peek() {
			case 'n':
				lit, err := s.readLiteral()
				if err != nil {
					return err
				}
				if lit[0] != 'n' {
					return s.fail("variation must be an object")
				}
				continue
			case '{':
			default:
				return s.fail("variation must be an object")
			}
			hasVar = true
			s.pos++
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
				case equalFold(key, "id"):
					id, _, err = s.readScalar("variation.id must be a string, number or boolean", &t.scratch)
				case equalFold(key, "value"):
					value, _, err = s.readScalar("variation.value must be a string, number or boolean", &t.scratch)
				default:
					err = s.skipValue(6)
				}
				if err != nil {
					return err
				}
			}
		case equalFold(key, "timestamp"):
			ts, err = s.readLenientInt("timestamp must be an integer", &t.scratch)
		case equalFold(key, "sendToExperiment"):
			expt, err = s.readBool("sendToExperiment must be a boolean", &t.scratch)
		default:
			err = s.skipValue(5)
		}
		if err != nil {
			return err
		}
	}
	if !hasVar || len(flagKey) == 0 {
		return nil
	}
	usr := &t.users.Users[u]
	t.batch.Evals = append(t.batch.Evals, codec.FlagEval{
		EnvID:            t.envID,
		FlagKey:          t.str(flagKey),
		VariationID:      t.str(id),
		Value:            t.str(value),
		UserKey:          usr.KeyID,
		UserName:         usr.Name,
		SendToExperiment: expt,
		Timestamp:        ts,
	})
	seen(usr, ts)
	return nil
}

// metric parses {route, type, eventName, numericValue, appType, timestamp}
// (after its '{').
func (t *tracker) metric(s *scanner, u int) error {
	var m codec.MetricEvent
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
		var v []byte
		switch {
		case equalFold(key, "route"):
			v, _, err = s.readScalar("route must be a string, number or boolean", &t.scratch)
			m.Route = t.str(v)
		case equalFold(key, "type"):
			v, _, err = s.readScalar("type must be a string, number or boolean", &t.scratch)
			m.Type = t.str(v)
		case equalFold(key, "eventName"):
			v, _, err = s.readScalar("eventName must be a string, number or boolean", &t.scratch)
			m.EventName = t.str(v)
		case equalFold(key, "appType"):
			v, _, err = s.readScalar("appType must be a string, number or boolean", &t.scratch)
			m.AppType = t.str(v)
		case equalFold(key, "numericValue"):
			m.NumericValue, err = s.readFloat("numericValue must be a number", &t.scratch)
		case equalFold(key, "timestamp"):
			m.Timestamp, err = s.readLenientInt("timestamp must be an integer", &t.scratch)
		default:
			err = s.skipValue(5)
		}
		if err != nil {
			return err
		}
	}
	usr := &t.users.Users[u]
	m.EnvID = t.envID
	m.UserKey = usr.KeyID
	t.batch.Metrics = append(t.batch.Metrics, m)
	seen(usr, m.Timestamp)
	return nil
}

func seen(u *codec.EndUser, ts int64) {
	if ts <= 0 {
		return
	}
	if u.FirstSeen == 0 || ts < u.FirstSeen {
		u.FirstSeen = ts
	}
	if ts > u.LastSeen {
		u.LastSeen = ts
	}
}

// user returns the index in users.Users of the user with uv's keyId,
// appending it when this body has not had it yet.
func (t *tracker) user(uv *UserView) int {
	users := t.users.Users
	if t.byKey != nil {
		if i, ok := t.byKey[string(uv.KeyID)]; ok {
			return i
		}
	} else {
		for i := t.firstUser; i < len(users); i++ {
			if users[i].KeyID == string(uv.KeyID) {
				return i
			}
		}
	}
	u := codec.EndUser{EnvID: t.envID, KeyID: string(uv.KeyID), Name: string(uv.Name)}
	if len(uv.Props) > 0 {
		u.Props = make([]codec.UserProp, len(uv.Props))
		for i, p := range uv.Props {
			u.Props[i] = codec.UserProp{Name: t.str(p.Name), Value: string(p.Value)}
		}
	}
	t.users.Users = append(users, u)
	i := len(t.users.Users) - 1
	if t.byKey == nil && i-t.firstUser >= 16 {
		t.byKey = make(map[string]int, 64)
		for j := t.firstUser; j <= i; j++ {
			t.byKey[t.users.Users[j].KeyID] = j
		}
	} else if t.byKey != nil {
		t.byKey[u.KeyID] = i
	}
	return i
}

// str converts b to a string, sharing repeated values (flag keys, variation
// ids, property names) within one body.
func (t *tracker) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if s, ok := t.strs[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(s) <= 128 && len(t.strs) < 4096 {
		if t.strs == nil {
			t.strs = make(map[string]string, 16)
		}
		t.strs[s] = s
	}
	return s
}

// readLenientInt reads an integer from a number (a fraction is truncated), a
// numeric string, or null (0). Out-of-range values are an error.
func (s *scanner) readLenientInt(msg string, scratch *[]byte) (int64, error) {
	start := s.peekPos()
	v, isNull, err := s.readScalar(msg, scratch)
	if err != nil || isNull || len(v) == 0 {
		return 0, err
	}
	if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
		return n, nil
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil || f != f || f >= 1<<63 || f < -(1<<63) {
		return 0, s.failAt(start, msg)
	}
	return int64(f), nil
}

// readFloat reads a number, a numeric string, or null (0).
func (s *scanner) readFloat(msg string, scratch *[]byte) (float64, error) {
	start := s.peekPos()
	v, isNull, err := s.readScalar(msg, scratch)
	if err != nil || isNull || len(v) == 0 {
		return 0, err
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(string(v)), 64)
	if err != nil || f != f || f > 1.7976931348623157e308 || f < -1.7976931348623157e308 {
		return 0, s.failAt(start, msg)
	}
	return f, nil
}

// readBool reads true/false, "true"/"false" (any case), or null (false).
func (s *scanner) readBool(msg string, scratch *[]byte) (bool, error) {
	start := s.peekPos()
	v, isNull, err := s.readScalar(msg, scratch)
	if err != nil || isNull {
		return false, err
	}
	switch {
	case equalFold(v, "true"):
		return true, nil
	case equalFold(v, "false"), len(v) == 0:
		return false, nil
	}
	return false, s.failAt(start, msg)
}

// ParseUser parses a user object ({"keyId","name","customizedProperties"}),
// the body of the client polling endpoint, into u (its fields are replaced;
// EnvID, FirstSeen and LastSeen are left as they are). It returns
// ErrInvalidUser when keyId is missing or blank and a *SyntaxError for
// malformed JSON.
func ParseUser(body []byte, u *codec.EndUser) error {
	s := scanner{data: body}
	var scratch []byte
	var props []PropView
	var uv UserView
	if s.peek() == 'n' {
		if _, err := s.readLiteral(); err != nil {
			return err
		}
		if err := s.end(); err != nil {
			return err
		}
		return ErrInvalidUser
	}
	if err := parseUser(&s, 1, &uv, &scratch, &props); err != nil {
		return err
	}
	if err := s.end(); err != nil {
		return err
	}
	if !uv.Valid() {
		return ErrInvalidUser
	}
	uv.ToEndUser(u)
	return nil
}

// ToEndUser copies the view into u (allocating its strings); EnvID,
// FirstSeen and LastSeen are left as they are.
func (v *UserView) ToEndUser(u *codec.EndUser) {
	u.KeyID, u.Name, u.Props = string(v.KeyID), string(v.Name), nil
	if len(v.Props) > 0 {
		u.Props = make([]codec.UserProp, len(v.Props))
		for i, p := range v.Props {
			u.Props[i] = codec.UserProp{Name: string(p.Name), Value: string(p.Value)}
		}
	}
}
