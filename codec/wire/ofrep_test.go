package wire

import (
	"strconv"
	"strings"
	"testing"
)

// TestOFREPContext: the context read as a user, OFREP's error codes, and
// its key rules (exact comparison, OFREPMaxMembers).
func TestOFREPContext(t *testing.T) {
	var c OFREPContext
	body := `{"flags":[1,{"x":null}], "context" : {"targetingKey":"u\u00e91","name":"A\"B","age":-1.5e3,"vip":true,"gone":null,"o":{"a":[1]},"Name":"x"}}`
	if code, msg := c.Parse([]byte(body)); code != "" {
		t.Fatal(code, msg)
	}
	var props []string
	for _, p := range c.Props {
		props = append(props, p.Name+"="+p.Value)
	}
	if c.KeyID != "ué1" || c.Name != `A"B` || strings.Join(props, ",") != `name=A"B,age=-1.5e3,vip=true,Name=x` {
		t.Fatalf("key %q name %q props %q", c.KeyID, c.Name, props)
	}
	many := func(n int) string {
		var b strings.Builder
		b.WriteString(`{"context":{"targetingKey":"u"`)
		for i := 1; i < n; i++ {
			b.WriteString(`,"k` + strconv.Itoa(i) + `":1`)
		}
		return b.String() + "}}"
	}
	for _, tc := range []struct{ body, code, msg string }{
		{"", OFREPNoTargetingKey, "targetingKey is required"},
		{" \n", OFREPNoTargetingKey, "targetingKey is required"},
		{`{}`, OFREPNoTargetingKey, "targetingKey is required"},
		{`{"context":null}`, OFREPNoTargetingKey, "targetingKey is required"},
		{`{"context":{"targetingKey":""}}`, OFREPNoTargetingKey, "targetingKey is required"},
		{`{"context":{"country":"FR"}}`, OFREPNoTargetingKey, "targetingKey is required"},
		{`{"context":[]}`, OFREPInvalidContext, "context must be an object"},
		{`{"context":{"targetingKey":7}}`, OFREPInvalidContext, "targetingKey must be a string"},
		{`{"context":`, OFREPParseError, "malformed JSON at offset 11"},
		{`[]`, OFREPParseError, "malformed JSON at offset 0: expected an object"},
		{`{"context":{"targetingKey":"u"}} x`, OFREPParseError, "trailing data after the JSON body"},
		{`{"context":{"targetingKey":"u","a":"` + "\xff" + `"}}`, OFREPParseError, "invalid UTF-8"},
		{`{"context":{"targetingKey":"victim","targetingKey":"me"}}`, OFREPParseError, `duplicate key "targetingKey"`},
		{`{"context":{"targetingKey":"u","c":1,"\u0063":2}}`, OFREPParseError, `duplicate key "c"`},
		{`{"context":{"targetingKey":"u"},"context":{"targetingKey":"v"}}`, OFREPParseError, `duplicate key "context"`},
		{`{"context":{"targetingKey":"u","x":{"y":1,"y":2}}}`, OFREPParseError, `duplicate key "y"`},
		{`{"context":{"targetingKey":"u","k\u0000":1}}`, OFREPParseError, "NUL character in object key"},
		{many(OFREPMaxMembers + 1), OFREPParseError, "more than 128 members"},
		{`{"context":{"targetingKey":"u","x":` + strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1) + `}}`, OFREPParseError, "nesting too deep"},
	} {
		code, msg := c.Parse([]byte(tc.body))
		if code != tc.code || !strings.Contains(msg, tc.msg) {
			t.Errorf("%.60q: %s %q, want %s %q", tc.body, code, msg, tc.code, tc.msg)
		}
	}
	// attribute names are case-sensitive: not duplicates; 128 members fit
	if code, msg := c.Parse([]byte(`{"context":{"targetingKey":"u","country":"FR","Country":"US"}}`)); code != "" || len(c.Props) != 2 {
		t.Errorf("case-distinct attributes: %s %s %v", code, msg, c.Props)
	}
	if code, msg := c.Parse([]byte(many(OFREPMaxMembers))); code != "" || len(c.Props) != OFREPMaxMembers-1 {
		t.Errorf("%d members: %s %s", OFREPMaxMembers, code, msg)
	}
	c.Reset()
	if c.KeyID != "" || len(c.Props) != 0 {
		t.Errorf("Reset kept %+v", c)
	}
}

// FuzzOFREPContext: the parser never panics; a parsed context has a
// targeting key; the error codes are OFREP's; cut bodies are never accepted
// with more properties than the whole one.
func FuzzOFREPContext(f *testing.F) {
	f.Add([]byte(`{"context":{"targetingKey":"u1","a":"b\n","n":-1.5e3}}`))
	f.Add([]byte(`{"context":{"targetingKey":"x\"y"},"other":[{},[],"s",1,true,null]}`))
	f.Add([]byte(`{"context":{"targetingKey":"a","targetingKey":"b","k\u0000":1}}`))
	f.Add([]byte(`{"context":{"targetingKey":"\ud83d\ude00","\u00e9":"\ud800"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var c OFREPContext
		code, msg := c.Parse(body)
		switch code {
		case "":
			if c.KeyID == "" {
				t.Fatalf("parsed %q without a targeting key", body)
			}
		case OFREPParseError, OFREPNoTargetingKey, OFREPInvalidContext:
			if msg == "" {
				t.Fatalf("%s without a message for %q", code, body)
			}
		default:
			t.Fatalf("code %q for %q", code, body)
		}
	})
}
