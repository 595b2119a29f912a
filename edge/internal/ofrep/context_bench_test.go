package ofrep

import "testing"

// ofrepBody is a production-sized OFREP request body.
var ofrepBody = []byte(`{"context":{"targetingKey":"3f2b8c1e-9a4d-4e6f-b2a1-7c5d9e0f1a2b","name":"Ada \"L\" Lovelace","country":"FR","plan":"pro","age":42,"beta":true,"tags":["a","b"]}}`)

func BenchmarkContextParse(b *testing.B) {
	var c Context
	b.ReportAllocs()
	b.SetBytes(int64(len(ofrepBody)))
	for i := 0; i < b.N; i++ {
		if code, msg := c.Parse(ofrepBody); code != "" {
			b.Fatal(code, msg)
		}
	}
}

func TestContextParseIsAllocationFree(t *testing.T) {
	var c Context
	c.Parse(ofrepBody) // warm up the scratch
	if n := testing.AllocsPerRun(1000, func() { c.Parse(ofrepBody) }); n != 0 {
		t.Fatalf("%v allocations per parse", n)
	}
	if c.User.KeyID != "3f2b8c1e-9a4d-4e6f-b2a1-7c5d9e0f1a2b" || c.User.Name != `Ada "L" Lovelace` || len(c.User.Props) != 5 {
		t.Fatalf("%+v", c.User)
	}
}
