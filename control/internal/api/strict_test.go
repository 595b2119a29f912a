package api

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/control/internal/store"
)

func TestStrictJSON(t *testing.T) {
	deep := strings.Repeat(`{"a":`, maxJSONDepth+1) + "1" + strings.Repeat("}", maxJSONDepth+1)
	ok := strings.Repeat(`[`, maxJSONDepth) + strings.Repeat("]", maxJSONDepth)
	for _, tc := range []struct{ in, field string }{
		{`{"a":1,"b":2}`, ""},
		{`{"a":{"b":1},"c":{"b":2}}`, ""},
		{`[{"a":1},{"a":1}]`, ""},
		{ok, ""},
		{`{"a":1,"a":2}`, "a"},
		{`{"rules":[{"name":"x"},{"name":"y","name":"z"}]}`, "rules[1].name"},
		{`{"x":{"y":[1,{"k":1,"k":1}]}}`, "x.y[1].k"},
		{`{"na\u0000me":1}`, `na\u0000me`},
		{`{"a":{"\u0000":1}}`, `a.\u0000`},
		{deep, strings.TrimSuffix(strings.Repeat("a.", maxJSONDepth), ".")},
		{`{"a":1,`, ""}, // syntax errors are the decoder's
	} {
		err := strictJSON([]byte(tc.in))
		if tc.field == "" {
			if err != nil {
				t.Errorf("%.60s: %v", tc.in, err)
			}
			continue
		}
		var fe *store.FieldError
		if !errors.As(err, &fe) || !errors.Is(err, store.ErrInvalid) || fe.Field != tc.field {
			t.Errorf("%.60s: %v, want field %q", tc.in, err, tc.field)
		}
	}
}

// FuzzStrictJSON: never panics; whatever encoding/json can re-encode from
// an accepted or refused input (unique keys by construction) is accepted,
// unless it nests too deep or has a NUL in a name.
func FuzzStrictJSON(f *testing.F) {
	for _, s := range []string{`{"a":1,"a":2}`, `{"a":[{"b":null,"c":"\u0000"}]}`, `[[[]]]`, `{"k\u0000":1}`, `{`, `]`, `"x"`,
		`{"key":"f","variations":[{"id":"v1","value":"true"}],"rules":[{"conditions":[{"property":"country","op":"IsOneOf","value":"[\"FR\"]"}]}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = strictJSON(b)
		var v any
		if json.Unmarshal(b, &v) != nil {
			return
		}
		re, err := json.Marshal(v)
		if err != nil {
			return
		}
		if err := strictJSON(re); err != nil && !strings.Contains(err.Error(), "NUL") && !strings.Contains(err.Error(), "nested deeper") {
			t.Fatalf("re-encoded %s refused: %v", re, err)
		}
	})
}
