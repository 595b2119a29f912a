package wire

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/codec"
)

func TestParseEvaluate(t *testing.T) {
	for _, c := range []struct {
		body string
		want EvaluateRequest
		err  string // substring of the error; "user" for ErrInvalidUser
	}{
		{body: `{"user":{"keyId":"u1","name":"Bob","customizedProperties":[{"name":"age","value":18}]}}`,
			want: EvaluateRequest{User: codec.EndUser{KeyID: "u1", Name: "Bob", Props: []codec.UserProp{{Name: "age", Value: "18"}}}}},
		{body: `{"User":{"KeyId":"u1"},"Filter":{"Keys":["a","b\u00e9"],"Tags":["t"],"TagFilterMode":"OR","timestamp":5},"x":[1]}`,
			want: EvaluateRequest{User: codec.EndUser{KeyID: "u1"}, Keys: []string{"a", "bé"}, Tags: []string{"t"}, TagsAny: true}},
		{body: `{"user":{"keyId":"u1"},"filter":null}`, want: EvaluateRequest{User: codec.EndUser{KeyID: "u1"}}},
		{body: `{"user":{"keyId":"u1"},"filter":{"keys":null,"tagFilterMode":"and"}}`, want: EvaluateRequest{User: codec.EndUser{KeyID: "u1"}}},
		{body: `{}`, err: "user"},
		{body: `{"user":null}`, err: "user"},
		{body: `{"user":{"keyId":"  "}}`, err: "user"},
		{body: `[]`, err: "must be an object"},
		{body: `{"user":{"keyId":"u"},"filter":{"tagFilterMode":"xor"}}`, err: `"and" or "or"`},
		{body: `{"user":{"keyId":"u"},"filter":{"keys":[1]}}`, err: "filter.keys must be an array of strings"},
		{body: `{"user":{"keyId":"u"},"filter":{"tags":"t"}}`, err: "filter.tags must be an array of strings"},
		{body: `{"user":{"keyId":"u"},"filter":[]}`, err: "filter must be an object"},
		{body: `{"user":{"keyId":"a"},"USER":{"keyId":"b"}}`, err: `duplicate key "USER"`},
		{body: `{"user":{"keyId":"u"},"filter":{"keys":[],"Keys":[]}}`, err: "duplicate key"},
		{body: `{"user":{"keyId":"u"}} x`, err: "offset"},
		{body: `{"user":{"keyId":"u"},"filter":{"keys":["k"` + strings.Repeat(`,"k"`, MaxEvaluateFilter) + `]}}`, err: "more than 1000 entries"},
	} {
		var r EvaluateRequest
		err := ParseEvaluate([]byte(c.body), &r)
		switch {
		case c.err == "user":
			if !errors.Is(err, ErrInvalidUser) {
				t.Errorf("%s: %v, want ErrInvalidUser", c.body, err)
			}
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%.80s: %v, want an error naming %s", c.body, err, c.err)
			}
		case err != nil:
			t.Errorf("%s: %v", c.body, err)
		default:
			if len(r.Keys) == 0 {
				r.Keys = nil
			}
			if len(r.Tags) == 0 {
				r.Tags = nil
			}
			if !reflect.DeepEqual(r, c.want) {
				t.Errorf("%s:\n got %+v\nwant %+v", c.body, r, c.want)
			}
		}
	}
}

// FuzzParseEvaluate: any body parses or fails with ErrInvalidUser or a
// *SyntaxError, never panics; a parsed request has a user with a keyId,
// filter lists within the cap, and valid JSON input (encoding/json's
// verdict) for everything it accepts.
func FuzzParseEvaluate(f *testing.F) {
	for _, s := range []string{
		`{"user":{"keyId":"u1","name":"Bob","customizedProperties":[{"name":"age","value":18}]},"filter":{"keys":["a"],"tags":["t"],"tagFilterMode":"or"}}`,
		`{"user":{"keyId":"u1"},"filter":null}`,
		`{"user":null}`, `{}`, `[]`, `{"user":{"keyId":"a"},"user":{"keyId":"b"}}`, `{"filter":{"keys":[null]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var r EvaluateRequest
		err := ParseEvaluate(body, &r)
		if err != nil {
			var se *SyntaxError
			if !errors.Is(err, ErrInvalidUser) && !errors.As(err, &se) {
				t.Fatalf("%q: error of type %T: %v", body, err, err)
			}
			return
		}
		if r.User.KeyID == "" || len(r.Keys) > MaxEvaluateFilter || len(r.Tags) > MaxEvaluateFilter {
			t.Fatalf("%q parsed to %+v", body, r)
		}
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
	})
}
