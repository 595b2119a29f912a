package store

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/codec"
)

func sampleEnv() *Env {
	return &Env{ID: "e1", OrgID: "o1", ProjectID: "p1", Name: "Production", Key: "prod", Description: "the live one",
		Secrets: []codec.EnvSecret{{EnvID: "e1", Type: "server", Value: "s-1"}, {EnvID: "e1", Type: "client", Value: "c-1", ExpiresAt: 9}},
		Version: 42, PublishedVersion: 40, Stamp: 1700000000042, CreatedAt: 1, UpdatedAt: 2, Rev: 77,
		Outbox: []OutboxEntry{
			{EnvVersion: 41, ItemVersion: 3, Stamp: 1700000000041, Kind: codec.KindFlag, Op: codec.OpUpsert, ID: "f1", At: 5, RequestID: "r1"},
			{EnvVersion: 42, ItemVersion: 2, Stamp: 1700000000042, Kind: codec.KindSegment, Op: codec.OpDelete, ID: "s1", At: 6,
				Payload: []byte{0x81, 0xa1, 'x', 0x01}, AffectedFlags: []string{"f1", "f2"}},
			{EnvVersion: 43, Kind: codec.KindBatch, Op: codec.OpUpsert, ID: "b1", At: 7, Items: []BatchRef{{ID: "f3", ItemVersion: 1}, {ID: "f4", ItemVersion: 9}}},
		}}
}

// TestEnvDocumentEncoding: an environment is stored as MessagePack and read
// back whole; one stored as JSON (before the change of format) reads the
// same; other types stay JSON; a MessagePack document is never read as a
// type without msgp methods, nor with bytes after it.
func TestEnvDocumentEncoding(t *testing.T) {
	e := sampleEnv()
	b := encode(e)
	if b[0] != docMsgp {
		t.Fatalf("environment stored as %q…, want MessagePack", b[:min(len(b), 8)])
	}
	got := new(Env)
	if err := decode(b, got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, e) {
		t.Fatalf("read back\n%+v\nwant\n%+v", got, e)
	}

	legacy, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	fromJSON := new(Env)
	if err := decode(legacy, fromJSON); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromJSON, e) {
		t.Fatalf("JSON document read as\n%+v\nwant\n%+v", fromJSON, e)
	}

	if u := encode(&User{ID: "u1", Email: "a@b.c"}); u[0] != '{' {
		t.Fatalf("a user stored as %q, want JSON", u)
	}
	if err := decode(b, new(User)); err == nil || !strings.Contains(err.Error(), "MessagePack") {
		t.Fatalf("MessagePack read as a user: %v", err)
	}
	if err := decode(append(b, 0x01), new(Env)); err == nil {
		t.Fatal("trailing byte accepted")
	}
	if err := decode(b[:len(b)-3], new(Env)); err == nil {
		t.Fatal("truncated document accepted")
	}
}

// BenchmarkEnvBump is the environment document's share of a write: read
// the stored document, append one outbox entry, encode it again, with n
// entries pending, stored as MessagePack (now) and as JSON (before).
func BenchmarkEnvBump(b *testing.B) {
	for _, n := range []int{0, 30, 300, 1000} {
		e := sampleEnv()
		e.Outbox = e.Outbox[:0]
		for i := range n {
			e.Outbox = append(e.Outbox, OutboxEntry{EnvVersion: int64(100 + i), ItemVersion: int64(i), Stamp: 1700000000000 + int64(i),
				Kind: codec.KindFlag, Op: codec.OpUpsert, ID: "0192f3c4-5b6a-7c8d-9e0f-1a2b3c4d5e6f", At: 1700000000000, RequestID: "01JD5Q2ZV6N3Q2ZV6N3Q2ZV6N3"})
		}
		js, err := json.Marshal(e)
		if err != nil {
			b.Fatal(err)
		}
		for _, f := range []struct {
			name string
			doc  []byte
			enc  func(*Env) []byte
		}{{"msgp", encode(e), func(e *Env) []byte { return encode(e) }}, {"json", js, func(e *Env) []byte { b, _ := json.Marshal(e); return b }}} {
			b.Run(fmt.Sprintf("%s/pending=%d", f.name, n), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(f.doc)))
				for b.Loop() {
					e := new(Env)
					if err := decode(f.doc, e); err != nil {
						b.Fatal(err)
					}
					bump(e, 1700000001000, OutboxEntry{Kind: codec.KindFlag, Op: codec.OpUpsert, ID: "f", ItemVersion: 2})
					_ = f.enc(e)
				}
			})
		}
	}
}

// FuzzDecodeEnv feeds arbitrary bytes to the environment document's
// decoder: never a panic, and what it accepts encodes and reads back the
// same.
func FuzzDecodeEnv(f *testing.F) {
	f.Add(encode(sampleEnv()))
	js, _ := json.Marshal(sampleEnv())
	f.Add(js)
	f.Add([]byte{docMsgp})
	f.Add([]byte{docMsgp, 0xdf, 0xff, 0xff, 0xff, 0xff}) // a map header of 4 billion entries
	f.Fuzz(func(t *testing.T, b []byte) {
		e := new(Env)
		if decode(b, e) != nil {
			return
		}
		again := new(Env)
		if err := decode(encode(e), again); err != nil {
			t.Fatalf("re-encoded document refused: %v", err)
		}
		if !reflect.DeepEqual(normalized(again), normalized(e)) {
			t.Fatalf("read back\n%+v\nwant\n%+v", again, e)
		}
	})
}

// normalized is e with empty slices nil (the encodings do not tell them
// apart).
func normalized(e *Env) *Env {
	c := *e
	if len(c.Secrets) == 0 {
		c.Secrets = nil
	}
	if len(c.Outbox) == 0 {
		c.Outbox = nil
	}
	c.Outbox = append([]OutboxEntry(nil), c.Outbox...)
	for i := range c.Outbox {
		en := &c.Outbox[i]
		if len(en.Payload) == 0 {
			en.Payload = nil
		}
		if len(en.AffectedFlags) == 0 {
			en.AffectedFlags = nil
		}
		if len(en.Items) == 0 {
			en.Items = nil
		}
	}
	return &c
}
