package eval

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/codec"
)

// opCase: the user's attribute "p" holds user (or is missing when
// missing is set); the condition is (p, op, value).
type opCase struct {
	op, value, user string
	missing         bool
	want            bool
	err             error // expected compile error
}

func runOpCases(t *testing.T, cases []opCase) {
	t.Helper()
	for _, tc := range cases {
		name := fmt.Sprintf("%s/%q/%q", tc.op, tc.value, tc.user)
		if tc.missing {
			name = fmt.Sprintf("%s/%q/missing", tc.op, tc.value)
		}
		t.Run(name, func(t *testing.T) {
			c := codec.Condition{Property: "p", Op: tc.op, Value: tc.value}
			cc := compileCondition(&c, false, "rules[0].conditions[0]")
			if tc.err == nil && cc.err != nil {
				t.Fatalf("unexpected compile error: %v", cc.err)
			}
			if tc.err != nil && !errors.Is(cc.err, tc.err) {
				t.Fatalf("compile error = %v, want %v", cc.err, tc.err)
			}
			u := user("3f0c2a8e-4b1d-4e6f-9a7c-1d2e3f4a5b6c", "other", "x")
			if !tc.missing {
				u.Props = append(u.Props, codec.UserProp{Name: "p", Value: tc.user})
			}
			if got := cc.match(nil, u); got != tc.want {
				t.Errorf("match = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNumericOperators(t *testing.T) {
	runOpCases(t, []opCase{
		{op: OpBiggerEqualThan, value: "10", user: "10", want: true},
		{op: OpBiggerThan, value: "10", user: "10", want: false},
		{op: OpBiggerThan, value: "10", user: "10.0001", want: true},
		{op: OpLessThan, value: "10", user: "9", want: true},
		{op: OpLessThan, value: "10", user: "10", want: false},
		{op: OpLessEqualThan, value: "10", user: "10", want: true},
		{op: OpLessEqualThan, value: "-1.5", user: "-2", want: true},
		{op: OpLessThan, value: "1e3", user: "999.9", want: true},
		{op: OpBiggerThan, value: "4", user: "5.", want: true},
		{op: OpLessThan, value: "1", user: ".5", want: true},
		{op: OpEqual, value: "10", user: "10.0", want: false}, // Equal is a string test
		{op: OpBiggerEqualThan, value: "10", user: "10.0", want: true},
		// white space around numbers is accepted, as by double.TryParse
		{op: OpBiggerThan, value: " 5 ", user: "\t6\n", want: true},
		// thousands separators before the decimal point
		{op: OpBiggerThan, value: "999", user: "1,000", want: true},
		{op: OpLessThan, value: "1,000.5", user: "1000.25", want: true},
		// type mismatches and malformed numbers never match
		{op: OpBiggerThan, value: "1", user: "abc", want: false},
		{op: OpLessThan, value: "1", user: "abc", want: false},
		{op: OpBiggerThan, value: "1", user: "12abc", want: false},
		{op: OpBiggerThan, value: "1", user: "0x10", want: false},
		{op: OpBiggerThan, value: "1", user: "1_000", want: false},
		{op: OpBiggerThan, value: "1", user: "inf", want: false},
		{op: OpBiggerThan, value: "-1", user: "NaN", want: false},
		{op: OpLessThan, value: "1", user: "NaN", want: false},
		{op: OpBiggerThan, value: "1", user: "٣", want: false}, // Arabic-Indic digit
		{op: OpBiggerThan, value: "1", user: ",5", want: false},
		{op: OpBiggerThan, value: "1", user: "1e", want: false},
		{op: OpBiggerThan, value: "0", user: "", want: false},
		{op: OpLessThan, value: "1", missing: true, want: false},
		{op: OpBiggerThan, value: "1", user: "true", want: false},
		// huge numbers
		{op: OpBiggerThan, value: "1e308", user: "1e400", want: true}, // +Inf
		{op: OpLessThan, value: "-1e308", user: "-1e400", want: true},
		{op: OpBiggerThan, value: "1e308", user: "Infinity", want: true},
		{op: OpBiggerThan, value: "18446744073709551615", user: "18446744073709551617", want: false}, // equal as float64
		{op: OpBiggerEqualThan, value: "9007199254740993", user: "9007199254740992", want: true},
		// a constant that is not a number: compile error, never matches
		{op: OpBiggerThan, value: "ten", user: "11", want: false, err: ErrBadNumber},
		{op: OpLessThan, value: "", user: "-1", want: false, err: ErrBadNumber},
	})
}

func TestStringOperators(t *testing.T) {
	runOpCases(t, []opCase{
		{op: OpEqual, value: "gold", user: "gold", want: true},
		{op: OpEqual, value: "gold", user: "Gold", want: false},
		{op: OpEqual, value: "gold", user: "gold ", want: false},
		{op: OpEqual, value: "straße", user: "straße", want: true},
		{op: OpEqual, value: "e\u0301", user: "é", want: false}, // ordinal, no normalization
		{op: OpEqual, value: "", missing: true, want: true},     // missing reads as ""
		{op: OpEqual, value: "x", missing: true, want: false},
		{op: OpNotEqual, value: "gold", user: "silver", want: true},
		{op: OpNotEqual, value: "gold", user: "gold", want: false},
		{op: OpNotEqual, value: "x", missing: true, want: true},
		{op: OpContains, value: "lo wo", user: "hello world", want: true},
		{op: OpContains, value: "LO", user: "hello", want: false},
		{op: OpContains, value: "", user: "anything", want: true},
		{op: OpContains, value: "界", user: "世界", want: true},
		{op: OpContains, value: "x", missing: true, want: false},
		{op: OpNotContain, value: "lo", user: "hello", want: false},
		{op: OpNotContain, value: "zz", user: "hello", want: true},
		{op: OpNotContain, value: "x", missing: true, want: true},
		{op: OpStartsWith, value: "+86", user: "+8613800000000", want: true},
		{op: OpStartsWith, value: "日本", user: "日本語", want: true},
		{op: OpStartsWith, value: " a", user: "a", want: false},
		{op: OpStartsWith, value: "a", missing: true, want: false},
		{op: OpEndsWith, value: "@example.com", user: "ann@example.com", want: true},
		{op: OpEndsWith, value: "@example.com", user: "ann@example.com.evil", want: false},
		{op: OpEndsWith, value: "語", user: "日本語", want: true},
	})
}

func TestRegexOperators(t *testing.T) {
	runOpCases(t, []opCase{
		{op: OpMatchRegex, value: "colou?r", user: "color", want: true},
		{op: OpMatchRegex, value: "colou?r", user: "my colour!", want: true}, // a search, not anchored
		{op: OpMatchRegex, value: "^a$", user: "ab", want: false},
		{op: OpMatchRegex, value: `^(\+?0?86\-?)?1[345789]\d{9}$`, user: "18555358000", want: true},
		{op: OpMatchRegex, value: `\p{Han}+`, user: "漢字", want: true},
		{op: OpMatchRegex, value: "", user: "anything", want: true},
		{op: OpMatchRegex, value: "x", missing: true, want: false},
		{op: OpNotMatchRegex, value: "^a", user: "ba", want: true},
		{op: OpNotMatchRegex, value: "^a", user: "ab", want: false},
		{op: OpNotMatchRegex, value: "x", missing: true, want: true},
		// invalid patterns (and .NET-only syntax) never match, in both forms
		{op: OpMatchRegex, value: "(", user: "(", want: false, err: ErrBadRegex},
		{op: OpNotMatchRegex, value: "(", user: "x", want: false, err: ErrBadRegex},
		{op: OpMatchRegex, value: "a(?=b)", user: "ab", want: false, err: ErrBadRegex},
		{op: OpNotMatchRegex, value: `(a)\1`, user: "x", want: false, err: ErrBadRegex},
	})
}

func TestListOperators(t *testing.T) {
	long := make([]string, 40)
	for i := range long {
		long[i] = fmt.Sprintf("%q", fmt.Sprintf("country-%02d", i))
	}
	longList := "[" + strings.Join(long, ",") + "]"
	runOpCases(t, []opCase{
		{op: OpIsOneOf, value: `["cn","us","es"]`, user: "us", want: true},
		{op: OpIsOneOf, value: `["cn","us","es"]`, user: "US", want: false},
		{op: OpIsOneOf, value: `["cn","us","es"]`, user: " us", want: false},
		{op: OpIsOneOf, value: `["東京","Zürich"]`, user: "Zürich", want: true},
		{op: OpIsOneOf, value: `[]`, user: "", want: false},
		{op: OpIsOneOf, value: `[""]`, missing: true, want: true},
		{op: OpIsOneOf, value: longList, user: "country-39", want: true},
		{op: OpIsOneOf, value: longList, user: "country-40", want: false},
		{op: OpIsOneOf, value: ` [ "a" ] `, user: "a", want: true},
		{op: OpIsOneOf, value: `["a",null]`, missing: true, want: false}, // null is not ""
		{op: OpNotOneOf, value: `[null]`, user: "", want: true},
		{op: OpNotOneOf, value: `["cn","us"]`, user: "fr", want: true},
		{op: OpNotOneOf, value: `["cn","us"]`, user: "cn", want: false},
		{op: OpNotOneOf, value: `[]`, user: "cn", want: true},
		{op: OpNotOneOf, value: longList, user: "country-07", want: false},
		{op: OpNotOneOf, value: `["a"]`, missing: true, want: true},
		// not a JSON array of strings: compile error, never matches
		{op: OpIsOneOf, value: `cn,us`, user: "cn", want: false, err: ErrBadList},
		{op: OpIsOneOf, value: `[1,2]`, user: "1", want: false, err: ErrBadList},
		{op: OpIsOneOf, value: `null`, user: "", want: false}, // the server reads null as "no list"
		{op: OpNotOneOf, value: ` null`, user: "x", want: true},
		{op: OpNotOneOf, value: `nul`, user: "x", want: false, err: ErrBadList},
		{op: OpNotOneOf, value: ``, user: "x", want: false, err: ErrBadList},
		{op: OpIsOneOf, value: `"cn"`, user: "cn", want: false, err: ErrBadList},
	})
}

func TestBooleanOperators(t *testing.T) {
	runOpCases(t, []opCase{
		{op: OpIsTrue, value: "IsTrue", user: "true", want: true},
		{op: OpIsTrue, value: "IsTrue", user: "TRue", want: true},
		{op: OpIsTrue, value: "anything", user: "TRUE", want: true}, // value ignored
		{op: OpIsTrue, value: "IsTrue", user: "true ", want: false},
		{op: OpIsTrue, value: "IsTrue", user: "1", want: false},
		{op: OpIsTrue, value: "IsTrue", user: "yes", want: false},
		{op: OpIsTrue, value: "IsTrue", missing: true, want: false},
		{op: OpIsTrue, value: "IsTrue", user: "false", want: false},
		{op: OpIsFalse, value: "IsFalse", user: "False", want: true},
		{op: OpIsFalse, value: "IsFalse", user: "true", want: false},
		{op: OpIsFalse, value: "IsFalse", user: "", want: false},
		{op: OpIsFalse, value: "IsFalse", user: "0", want: false},
	})
}

func TestSemVerOperators(t *testing.T) {
	cases := []opCase{
		{op: OpSemVerEqual, value: "1.2.3", user: "1.2.3", want: true},
		{op: OpSemVerEqual, value: "1.2.3", user: "1.2.3+build.7", want: true}, // build ignored
		{op: OpSemVerEqual, value: "1.2.3", user: "1.2.4", want: false},
		{op: OpSemVerNotEqual, value: "1.2.3", user: "1.2.4", want: true},
		{op: OpSemVerNotEqual, value: "1.2.3", user: "1.2.3", want: false},
		{op: OpSemVerLessThan, value: "1.10.0", user: "1.9.0", want: true}, // numeric, not lexical
		{op: OpSemVerGreaterThan, value: "1.9.0", user: "1.10.0", want: true},
		{op: OpSemVerLessThan, value: "1.0.0", user: "1.0.0-rc.1", want: true},
		{op: OpSemVerLessEqualThan, value: "2.0.0", user: "2.0.0", want: true},
		{op: OpSemVerGreaterEqualThan, value: "2.0.0", user: "2.0.0", want: true},
		{op: OpSemVerGreaterEqualThan, value: "2.0.0", user: "1.99.99", want: false},
		{op: OpSemVerGreaterThan, value: "1.2.9", user: "1.2.99999999999999999999999", want: true},
		// parse failures never match, even for NotEqual
		{op: OpSemVerEqual, value: "1.2.3", user: "v1.2.3", want: false},
		{op: OpSemVerNotEqual, value: "1.2.3", user: "1.2", want: false},
		{op: OpSemVerLessThan, value: "9.9.9", user: "01.2.3", want: false},
		{op: OpSemVerLessThan, value: "9.9.9", user: "1.2.3-01", want: false},
		{op: OpSemVerLessThan, value: "9.9.9", user: "1.2.3-", want: false},
		{op: OpSemVerLessThan, value: "9.9.9", user: "1.2.3-a..b", want: false},
		{op: OpSemVerLessThan, value: "9.9.9", user: "1.2.3+", want: false},
		{op: OpSemVerLessThan, value: "9.9.9", user: " 1.2.3", want: false},
		{op: OpSemVerLessThan, value: "9.9.9", user: "1.2.3-é", want: false},
		{op: OpSemVerLessThan, value: "9.9.9", missing: true, want: false},
		{op: OpSemVerEqual, value: "1.2", user: "1.2.0", want: false, err: ErrBadSemVer},
		{op: OpSemVerNotEqual, value: "latest", user: "1.2.0", want: false, err: ErrBadSemVer},
	}
	// semver.org's precedence example, each strictly below the next.
	chain := []string{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
		"1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1-0", "1.0.1", "2.0.0"}
	for i := range chain {
		for j := range chain {
			cases = append(cases,
				opCase{op: OpSemVerLessThan, value: chain[j], user: chain[i], want: i < j},
				opCase{op: OpSemVerGreaterThan, value: chain[j], user: chain[i], want: i > j},
				opCase{op: OpSemVerEqual, value: chain[j], user: chain[i] + "+b.001", want: i == j})
		}
	}
	runOpCases(t, cases)
}

func TestDateOperators(t *testing.T) {
	const newYear = "2026-01-01T00:00:00Z" // 1767225600000 ms
	runOpCases(t, []opCase{
		{op: OpBefore, value: newYear, user: "2025-12-31T23:59:59.999Z", want: true},
		{op: OpBefore, value: newYear, user: newYear, want: false},
		{op: OpAfter, value: newYear, user: newYear, want: false},
		{op: OpAfter, value: newYear, user: "2026-01-01T00:00:00.000000001Z", want: true},
		{op: OpBefore, value: newYear, user: "1767225599999", want: true},
		{op: OpBefore, value: newYear, user: "1767225600000", want: false},
		{op: OpAfter, value: "1767225600000", user: "2026-01-01T00:00:00.001Z", want: true},
		{op: OpAfter, value: newYear, user: "2026-01-01T00:30:00+01:00", want: false}, // 23:30Z
		{op: OpBefore, value: newYear, user: "2026-01-01T00:30:00+01:00", want: true},
		{op: OpAfter, value: newYear, user: "2025-12-31T23:30:00-01:00", want: true}, // 00:30Z
		{op: OpBefore, value: "0", user: "-1", want: true},                           // before the epoch
		{op: OpAfter, value: "-1", user: "1969-12-31T23:59:59.9995Z", want: true},
		{op: OpBefore, value: newYear, user: "2024-02-29t12:00:00z", want: true}, // leap day, lower case
		// parse failures never match
		{op: OpBefore, value: newYear, user: "2025-02-29T12:00:00Z", want: false},
		{op: OpBefore, value: newYear, user: "2025-12-31", want: false},
		{op: OpBefore, value: newYear, user: "2025-12-31 10:00:00Z", want: false},
		{op: OpBefore, value: newYear, user: "2025-12-31T10:00:00", want: false},
		{op: OpBefore, value: newYear, user: "2025-12-31T24:00:00Z", want: false},
		{op: OpBefore, value: newYear, user: "1.5", want: false},
		{op: OpBefore, value: newYear, user: "99999999999999999999", want: false},
		{op: OpAfter, value: "0", user: "yesterday", want: false},
		{op: OpBefore, value: newYear, missing: true, want: false},
		{op: OpBefore, value: "next week", user: "0", want: false, err: ErrBadDate},
		{op: OpAfter, value: "", user: "0", want: false, err: ErrBadDate},
	})
}

func TestUnknownOperators(t *testing.T) {
	runOpCases(t, []opCase{
		{op: "Foo", value: "x", user: "x", want: false, err: ErrUnknownOperator},
		{op: "equal", value: "x", user: "x", want: false, err: ErrUnknownOperator},
		{op: "", value: "x", user: "x", want: false, err: ErrUnknownOperator},
		{op: "NotContains", value: "zz", user: "x", want: false, err: ErrUnknownOperator},
	})
}

func TestOperatorList(t *testing.T) {
	featbit := []string{"LessThan", "LessEqualThan", "BiggerThan", "BiggerEqualThan", "Equal", "NotEqual",
		"Contains", "NotContain", "StartsWith", "EndsWith", "MatchRegex", "NotMatchRegex",
		"IsOneOf", "NotOneOf", "IsTrue", "IsFalse"}
	for i, name := range featbit {
		if Operators[i] != name || !IsKnownOperator(name) || !IsFeatBitOperator(name) {
			t.Errorf("FeatBit operator %q: Operators[%d]=%q known=%v featbit=%v",
				name, i, Operators[i], IsKnownOperator(name), IsFeatBitOperator(name))
		}
	}
	for _, name := range Operators[len(featbit):] {
		if !IsKnownOperator(name) || IsFeatBitOperator(name) {
			t.Errorf("own operator %q: known=%v featbit=%v", name, IsKnownOperator(name), IsFeatBitOperator(name))
		}
	}
	for _, name := range []string{"", "isTrue", PropInSegment, "Contains "} {
		if IsKnownOperator(name) {
			t.Errorf("IsKnownOperator(%q) = true", name)
		}
	}
	if len(Operators) != 24 {
		t.Errorf("len(Operators) = %d, want 24", len(Operators))
	}
}

func TestValueOf(t *testing.T) {
	u := user("key-1", "country", "fr", "country", "de", "KeyId", "custom", "", "empty-name", "name", "shadow")
	u.Name = "Ann"
	for _, tc := range []struct{ prop, want string }{
		{"keyId", "key-1"},
		{"name", "Ann"}, // the built-in wins over a custom "name"
		{"country", "fr"},
		{"KeyId", "custom"}, // case-sensitive: not the built-in
		{"missing", ""},
		{"", ""},
		{"  \t", ""},
		{"\u00a0", ""},
	} {
		if got := u.ValueOf(tc.prop); got != tc.want {
			t.Errorf("ValueOf(%q) = %q, want %q", tc.prop, got, tc.want)
		}
	}
	eu := &codec.EndUser{KeyID: "k", Name: "n", Props: []codec.UserProp{{Name: "a", Value: "b"}}}
	uu := UserFrom(eu)
	if uu.KeyID != "k" || uu.Name != "n" || uu.ValueOf("a") != "b" {
		t.Errorf("UserFrom = %+v", uu)
	}
}
