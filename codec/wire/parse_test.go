package wire

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/codec"
)

func parse(t *testing.T, m *Message, s string) error {
	t.Helper()
	return m.Parse([]byte(s))
}

func TestParsePings(t *testing.T) {
	var m Message
	for _, s := range []string{
		`{"messageType":"ping","data":null}`,
		`{"messageType":"ping","data":{}}`,
		`{"messageType":"ping","data":{"timestamp":0}}`,
		"{\n  \"messageType\": \"ping\",\n  \"data\": null\n}\n",
		`{"data":{"x":[1,2,{"y":"z"}]},"MessageType":"PING"}`,
		`{"messagetype":"Ping","data":"anything","extra":[true,false,null,-1.5e3]}`,
	} {
		if err := parse(t, &m, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if m.Type != Ping || !m.HasData {
			t.Fatalf("%s: type %v hasData %v", s, m.Type, m.HasData)
		}
	}
}

func TestParseTypes(t *testing.T) {
	var m Message
	cases := map[string]MsgType{
		`{"messageType":"echo","data":{"a":1}}`:                   Echo,
		`{"messageType":"DATA-SYNC","data":null}`:                 DataSync,
		`{"messageType":"rp-agent-status","data":{}}`:             Unknown,
		`{"messageType":"","data":{}}`:                            Unknown,
		`{"messageType":"p\u0069ng","data":{}}`:                   Ping,
		`{"messageType":"ping2","data":{}}`:                       Unknown,
		`{"\u006dessageType":"data-sync","data":{"timestamp":5}}`: DataSync,
	}
	for s, want := range cases {
		if err := parse(t, &m, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if m.Type != want {
			t.Errorf("%s: type %v, want %v", s, m.Type, want)
		}
	}
	if err := parse(t, &m, `{"messageType":"echo","data": {"a" : [1, 2]} }`); err != nil || string(m.Data) != `{"a" : [1, 2]}` {
		t.Fatalf("echo data = %q, %v", m.Data, err)
	}
}

func TestParseIgnored(t *testing.T) {
	var m Message
	for _, s := range []string{
		`{"messageType":"ping"}`,
		`{"data":{}}`,
		`{}`,
		`[]`,
		`"ping"`,
		`null`,
		`42`,
		`[{"messageType":"ping","data":null}]`,
	} {
		if err := parse(t, &m, s); !errors.Is(err, ErrIgnored) {
			t.Errorf("%s: err = %v, want ErrIgnored", s, err)
		}
	}
}

func TestParseMalformed(t *testing.T) {
	var m Message
	for _, s := range []string{
		``,
		` `,
		`{`,
		`{"messageType":"ping","data":null`,
		`{"messageType":"ping","data":null}}`,
		`{"messageType":"ping","data":null}{"messageType":"ping","data":null}`,
		`{"messageType":"ping","data":nul}`,
		`{"messageType":"ping","data":{},}`,
		`{"messageType":"ping",,"data":{}}`,
		`{"messageType":"ping" "data":{}}`,
		`{"messageType":"ping","data":[1,]}`,
		`{"messageType":"ping","data":[1 2]}`,
		`{"messageType":"ping","data":01}`,
		`{"messageType":"ping","data":1.}`,
		`{"messageType":"ping","data":-}`,
		`{"messageType":"ping","data":1e}`,
		`{"messageType":"ping","data":"\x"}`,
		`{"messageType":"ping","data":"\u12"}`,
		"{\"messageType\":\"ping\",\"data\":\"a\x01b\"}",
		"{\"messageType\":\"ping\",\"data\":\"\xff\"}",
		`{"messageType":1,"data":{}}`,
		`{messageType:"ping","data":{}}`,
		`{"messageType":"data-sync","data":{"timestamp":"1"}}`,
		`{"messageType":"data-sync","data":{"timestamp":1.5}}`,
		`{"messageType":"data-sync","data":{"timestamp":99999999999999999999}}`,
		`{"messageType":"data-sync","data":{"timestamp":true}}`,
		`{"messageType":"data-sync","data":{"user":"bob"}}`,
		`{"messageType":"data-sync","data":{"user":{"keyId":{"a":1}}}}`,
		`{"messageType":"data-sync","data":{"user":{"keyId":"u","customizedProperties":{}}}}`,
		`{"messageType":"data-sync","data":{"user":{"keyId":"u","customizedProperties":["x"]}}}`,
		`{"messageType":"data-sync","data":{"user":{"keyId":"u","customizedProperties":[{"name":"a","value":[1]}]}}}`,
		`{"messageType":"ping","data":` + strings.Repeat("[", MaxDepth+5) + strings.Repeat("]", MaxDepth+5) + `}`,
		strings.Repeat("[", 100000),
		strings.Repeat(`{"a":`, 100000),
	} {
		err := parse(t, &m, s)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%.80q: err = %v, want *SyntaxError", s, err)
			continue
		}
		if se.Offset < 0 || se.Offset > len(s) || !strings.HasPrefix(se.Error(), "wire: invalid JSON at offset ") {
			t.Errorf("%.80q: bad error %v", s, se)
		}
	}
}

func TestParseNestingLimit(t *testing.T) {
	var m Message
	ok := `{"messageType":"ping","data":` + strings.Repeat("[", MaxDepth-1) + strings.Repeat("]", MaxDepth-1) + `}`
	if err := parse(t, &m, ok); err != nil {
		t.Fatalf("depth %d rejected: %v", MaxDepth, err)
	}
	bad := `{"messageType":"ping","data":` + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth) + `}`
	if err := parse(t, &m, bad); err == nil || !strings.Contains(err.Error(), "nesting") {
		t.Fatalf("depth %d accepted: %v", MaxDepth+1, err)
	}
}

func TestParseDataSyncServer(t *testing.T) {
	var m Message
	cases := map[string]int64{
		`{"messageType":"data-sync","data":{"timestamp":1674885300000}}`:       1674885300000,
		`{"messageType":"data-sync","data":{"timestamp":0}}`:                   0,
		`{"messageType":"data-sync","data":{}}`:                                0,
		`{"messageType":"data-sync","data":{"timestamp":null}}`:                0,
		`{"messageType":"data-sync","data":null}`:                              0,
		`{"messageType":"data-sync","data":{"TimeStamp":-5,"other":{}}}`:       -5,
		`{"data":{"timestamp":9223372036854775807},"messageType":"data-sync"}`: 9223372036854775807,
	}
	for s, want := range cases {
		if err := parse(t, &m, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if m.Type != DataSync || m.Timestamp != want || m.HasUser {
			t.Errorf("%s: type %v ts %d hasUser %v", s, m.Type, m.Timestamp, m.HasUser)
		}
	}
}

func userOf(m *Message) map[string]string {
	out := map[string]string{"keyId": string(m.User.KeyID), "name": string(m.User.Name)}
	for _, p := range m.User.Props {
		out["p:"+string(p.Name)] = string(p.Value)
	}
	return out
}

func TestParseDataSyncClientUser(t *testing.T) {
	var m Message
	if err := m.Parse([]byte(dataSyncWithUser)); err != nil {
		t.Fatal(err)
	}
	if m.Type != DataSync || m.Timestamp != 1764075600123 || !m.HasUser || !m.User.Valid() {
		t.Fatalf("type %v ts %d hasUser %v", m.Type, m.Timestamp, m.HasUser)
	}
	want := map[string]string{
		"keyId": "3f1c2a7e-9b0d-4c55-8e2f-6a7b8c9d0e1f", "name": "José García",
		"p:country": "FR", "p:email": "jose.garcia@example.com", "p:plan": "enterprise-annual",
		"p:age": "42", "p:isMember": "true", "p:signupDate": "2025-03-14T09:26:53Z",
		"p:device": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15",
		"p:tenant": "a2b9c3d4-e5f6-4789-a0b1-c2d3e4f5a6b7", "p:locale": "fr-FR", "p:quote": "say \"hi\"\n",
	}
	if got := userOf(&m); !reflect.DeepEqual(got, want) {
		t.Fatalf("user = %v\nwant %v", got, want)
	}
	if len(m.User.Props) != 10 || string(m.User.Props[3].Name) != "age" {
		t.Fatalf("props order: %q", m.User.Props)
	}
	var u codec.EndUser
	m.User.ToEndUser(&u)
	if u.KeyID != want["keyId"] || u.Name != want["name"] || len(u.Props) != 10 || u.Props[9].Value != "say \"hi\"\n" {
		t.Fatalf("ToEndUser: %+v", u)
	}

	// Views alias the input where no escape was decoded.
	in := []byte(dataSyncWithUser)
	_ = m.Parse(in)
	copy(in[strings.Index(dataSyncWithUser, "3f1c"):], "XXXX")
	if string(m.User.KeyID[:4]) != "XXXX" {
		t.Fatalf("keyId does not alias the input: %s", m.User.KeyID)
	}
}

func TestParseUserVariants(t *testing.T) {
	var m Message
	cases := []struct {
		in    string
		valid bool
		want  map[string]string
	}{
		{`{"messageType":"data-sync","data":{"user":{"KEYID":"u1","Name":null,"customizedProperties":null}}}`,
			true, map[string]string{"keyId": "u1", "name": ""}},
		{`{"messageType":"data-sync","data":{"user":{"keyId":"   ","customizedProperties":[]}}}`,
			false, map[string]string{"keyId": "   ", "name": ""}},
		{`{"messageType":"data-sync","data":{"user":{"name":"n"}}}`,
			false, map[string]string{"keyId": "", "name": "n"}},
		{`{"messageType":"data-sync","data":{"user":{"keyId":123,"customizedProperties":[null,{"key":"k","value":null},{"name":"f","value":-1.25e2,"x":{"deep":[{}]}}]}}}`,
			true, map[string]string{"keyId": "123", "name": "", "p:k": "", "p:f": "-1.25e2"}},
		{`{"messageType":"data-sync","data":{"user":{"keyId":"a\tb","customizedProperties":[{"value":false,"name":"\ud83d\ude00"}]}}}`,
			true, map[string]string{"keyId": "a\tb", "name": "", "p:😀": "false"}},
		{`{"messageType":"data-sync","data":{"user":{"keyId":"\ud800x"}}}`,
			true, map[string]string{"keyId": "\uFFFDx", "name": ""}},
	}
	for _, c := range cases {
		if err := parse(t, &m, c.in); err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		if !m.HasUser || m.User.Valid() != c.valid {
			t.Errorf("%s: hasUser %v valid %v", c.in, m.HasUser, m.User.Valid())
		}
		if got := userOf(&m); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: user %v, want %v", c.in, got, c.want)
		}
	}
	if err := parse(t, &m, `{"messageType":"data-sync","data":{"user":null}}`); err != nil || m.HasUser {
		t.Fatalf("null user: %v %v", err, m.HasUser)
	}
	// A later Parse resets the previous user.
	if err := parse(t, &m, `{"messageType":"data-sync","data":{}}`); err != nil || m.HasUser || m.User.KeyID != nil || len(m.User.Props) != 0 {
		t.Fatalf("reset: %v %+v", err, m.User)
	}
}

func TestParseDataSyncIsAllocationFree(t *testing.T) {
	var m Message
	in := []byte(dataSyncWithUser)
	if err := m.Parse(in); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(200, func() {
		if err := m.Parse(in); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Parse of a data-sync with 10 user properties: %v allocs, want 0", allocs)
	}
	if len(m.User.Props) != 10 {
		t.Fatal("props lost")
	}
	// Errors are owned by the Message, so the error path is free too.
	bad := []byte(`{"messageType":"data-sync","data":{"timestamp":"x"}}`)
	ping := []byte(`{"messageType":"ping","data":null}`)
	allocs = testing.AllocsPerRun(200, func() {
		_ = m.Parse(bad)
		_ = m.Parse(ping)
	})
	if allocs != 0 {
		t.Fatalf("error path: %v allocs, want 0", allocs)
	}
}

func TestParseDataBeforeType(t *testing.T) {
	var m Message
	in := `{"data":{"user":{"keyId":"u","customizedProperties":[{"name":"a\u0062","value":"c"}]},"timestamp":7},"messageType":"data-sync"}`
	if err := parse(t, &m, in); err != nil {
		t.Fatal(err)
	}
	if m.Type != DataSync || m.Timestamp != 7 || !m.HasUser || string(m.User.Props[0].Name) != "ab" {
		t.Fatalf("%+v", m)
	}
	bad := `{"data":{"timestamp":"7"},"messageType":"data-sync"}`
	err := parse(t, &m, bad)
	var se *SyntaxError
	if !errors.As(err, &se) || se.Offset != strings.Index(bad, `"7"`) {
		t.Fatalf("err = %v, want a SyntaxError at the timestamp", err)
	}
	// duplicate messageType: refused, naming the key (parsers that let the
	// first or the last one win would disagree about the message)
	dup := `{"messageType":"data-sync","data":{"timestamp":7,"user":{"keyId":"u"}},"messageType":"ping"}`
	if err := parse(t, &m, dup); !errors.As(err, &se) || !strings.Contains(se.Msg, `duplicate key "messageType"`) || se.Offset != strings.LastIndex(dup, `"messageType"`) {
		t.Fatalf("duplicate messageType: %v", err)
	}
}

// TestSecurityJSONKeyConfusion: keys that different JSON parsers read
// differently — a duplicate (also spelled with an escape or another case,
// both of which the field matching folds), a NUL inside a key — are refused
// with an error naming the key, at every depth; so is an object with more
// members than MaxMembers (which bounds the duplicate check).
func TestSecurityJSONKeyConfusion(t *testing.T) {
	var m Message
	var se *SyntaxError
	for _, c := range []struct{ in, want string }{
		{`{"messageType":"ping","messageType":"data-sync"}`, `duplicate key "messageType"`},
		{`{"messageType":"ping","messageTyp\u0065":"data-sync"}`, `duplicate key "messageType"`},
		{`{"messageType":"ping","MESSAGETYPE":"data-sync"}`, `duplicate key "MESSAGETYPE"`},
		{`{"messageType":"data-sync","data":{"user":{"keyId":"a","keyId":"b"}}}`, `duplicate key "keyId"`},
		{`{"messageType":"data-sync","data":{"user":{"keyId":"a","customizedProperties":[{"name":"x","name":"y"}]}}}`, `duplicate key "name"`},
		{`{"messageType":"ping","data":{"x":{"y":1,"y":2}}}`, `duplicate key "y"`},
		{`{"messageType":"ping","key\u0000":1}`, `NUL character in object key "key\x00"`},
		{`{"messageType":"ping","data":{"a` + strings.Repeat("b", 100) + `\u0000":1}}`, `NUL character in object key`},
	} {
		if err := parse(t, &m, c.in); !errors.As(err, &se) || !strings.Contains(se.Msg, c.want) {
			t.Errorf("%s: %v, want %q", c.in, err, c.want)
		}
	}
	var b strings.Builder
	b.WriteString(`{"messageType":"ping"`)
	for i := 0; i < MaxMembers; i++ {
		fmt.Fprintf(&b, `,"k%d":1`, i)
	}
	b.WriteString("}")
	if err := parse(t, &m, b.String()); !errors.As(err, &se) || !strings.Contains(se.Msg, "more than 64 members") {
		t.Errorf("object of %d members: %v", MaxMembers+1, err)
	}
	var users codec.EndUserBatch
	var batch codec.InsightBatch
	err := ParseTrack([]byte(`[{"user":{"keyId":"a","keyId":"b"}}]`), "env", &batch, &users)
	if !errors.As(err, &se) || !strings.Contains(se.Msg, `duplicate key "keyId"`) {
		t.Errorf("track: %v", err)
	}
	var u codec.EndUser
	if err := ParseUser([]byte(`{"keyId":"a","name":"n","name":"m"}`), &u); !errors.As(err, &se) || !strings.Contains(se.Msg, `duplicate key "name"`) {
		t.Errorf("user: %v", err)
	}
}
