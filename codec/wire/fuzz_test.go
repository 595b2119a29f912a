package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/switchyard/switchyard/codec"
)

func FuzzParseMessage(f *testing.F) {
	for _, s := range []string{
		dataSyncWithUser,
		`{"messageType":"ping","data":null}`,
		`{"messageType":"ping","data":{"timestamp":0}}`,
		`{"messageType":"data-sync","data":{"timestamp":1674885300000}}`,
		`{"messageType":"data-sync","data":{"user":{"keyId":"u","name":null,"customizedProperties":[{"name":"a","value":1},null]}}}`,
		`{"messageType":"echo","data":[1,"\u00e9",{"a":true}]}`,
		`{"data":{},"messageType":"DaTa-SyNc"}`,
		`[]`, `{`, `"\ud800"`,
	} {
		f.Add([]byte(s))
	}
	var m Message
	f.Fuzz(func(t *testing.T, data []byte) {
		orig := bytes.Clone(data)
		err := m.Parse(data)
		if !bytes.Equal(orig, data) {
			t.Fatal("Parse modified its input")
		}
		var se *SyntaxError
		switch {
		case err == nil, errors.Is(err, ErrIgnored):
			if !json.Valid(data) {
				t.Fatalf("accepted invalid JSON %q", data)
			}
		case errors.As(err, &se):
			if se.Offset < 0 || se.Offset > len(data) {
				t.Fatalf("offset %d out of range", se.Offset)
			}
			checkNotFalseReject(t, data, se)
		default:
			t.Fatalf("unexpected error type %T %v", err, err)
		}
		if err != nil {
			return
		}
		if !m.HasData || m.Type > Echo {
			t.Fatalf("bad message %+v", m)
		}
		if m.Type != DataSync && (m.HasUser || m.Timestamp != 0) {
			t.Fatalf("non-data-sync carries data-sync fields")
		}
		if !json.Valid(m.Data) {
			t.Fatalf("Data %q is not a JSON value", m.Data)
		}
		// Parsing a copy gives the same views.
		var m2 Message
		if err := m2.Parse(bytes.Clone(data)); err != nil || m2.Type != m.Type || m2.Timestamp != m.Timestamp ||
			m2.HasUser != m.HasUser || !bytes.Equal(m2.User.KeyID, m.User.KeyID) || len(m2.User.Props) != len(m.User.Props) {
			t.Fatalf("second parse differs: %v", err)
		}
	})
}

func FuzzParseTrack(f *testing.F) {
	for _, s := range []string{
		`[{"user":{"keyId":"u1","name":"Bob","customizedProperties":[{"name":"country","value":"us"}]},"variations":[{"featureFlagKey":"k","variation":{"id":"v","value":"true"},"timestamp":1700000000000,"sendToExperiment":true}]}]`,
		`[{"user":{"keyId":"u1"},"metrics":[{"route":"r","type":"CustomEvent","eventName":"e","numericValue":1.0,"appType":"x","timestamp":1}]}]`,
		`[{"variations":[{"featureFlagKey":"k","variation":null}],"user":{"keyId":"u2","customizedProperties":[{"name":"n","value":5}]}},null]`,
		`[]`, `{}`, `[1]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var batch codec.InsightBatch
		var users codec.EndUserBatch
		err := ParseTrack(body, env, &batch, &users)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("unexpected error type %T", err)
			}
			checkNotFalseReject(t, body, se)
			if len(batch.Evals)+len(batch.Metrics)+len(users.Users) != 0 {
				t.Fatal("failed parse appended data")
			}
			return
		}
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		keys := map[string]bool{}
		for _, u := range users.Users {
			if strings.TrimSpace(u.KeyID) == "" || keys[u.KeyID] || u.EnvID != env {
				t.Fatalf("bad or duplicate user %+v", u)
			}
			keys[u.KeyID] = true
		}
		for _, e := range batch.Evals {
			if e.FlagKey == "" || !keys[e.UserKey] || e.EnvID != env {
				t.Fatalf("bad eval %+v", e)
			}
		}
		for _, m := range batch.Metrics {
			if !keys[m.UserKey] || m.EnvID != env {
				t.Fatalf("bad metric %+v", m)
			}
		}
	})
}

func FuzzParseUser(f *testing.F) {
	for _, s := range []string{
		`{"keyId":"u1","name":"Ann","customizedProperties":[{"name":"age","value":30},{"key":"k","value":"v"}]}`,
		`{"keyId":" "}`, `null`, `{"KEYID":"x","customizedProperties":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var u codec.EndUser
		err := ParseUser(body, &u)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) && !errors.Is(err, ErrInvalidUser) {
				t.Fatalf("unexpected error %v", err)
			}
			if se != nil {
				checkNotFalseReject(t, body, se)
			}
			return
		}
		if !json.Valid(body) || strings.TrimSpace(u.KeyID) == "" {
			t.Fatalf("accepted %q as %+v", body, u)
		}
	})
}

// FuzzAppendString checks the string encoder against encoding/json.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a\"b\\c\n", "\xff\xfe", "\u2028<>&", "é𝄞\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := string(AppendString(nil, s))
		if want := stdString(s); got != want {
			t.Fatalf("AppendString(%q) = %s, encoding/json %s", s, got, want)
		}
		// and the parser decodes it back (invalid UTF-8 bytes become U+FFFD each)
		var m Message
		in := []byte(`{"messageType":` + got + `,"data":null}`)
		if err := m.Parse(in); err != nil {
			t.Fatalf("parse %s: %v", in, err)
		}
		if want := string([]rune(s)); string(m.TypeName) != want {
			t.Fatalf("round trip %q → %q", s, m.TypeName)
		}
	})
}

// checkNotFalseReject fails when valid JSON was rejected for a reason other
// than a value of the wrong type, or nesting beyond MaxDepth. (encoding/json
// accepts invalid UTF-8 inside strings; the parsers reject it on purpose.)
func checkNotFalseReject(t *testing.T, data []byte, se *SyntaxError) {
	t.Helper()
	if !json.Valid(data) || !utf8.Valid(data) {
		return
	}
	for _, ok := range []string{" must be ", "nesting too deep", " out of range", "duplicate key ", "NUL character in object key", " members"} {
		if strings.Contains(se.Msg, ok) {
			return
		}
	}
	t.Fatalf("valid JSON %q rejected: %v", data, se)
}
