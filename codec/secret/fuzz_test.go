package secret

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func FuzzDecodeToken(f *testing.F) {
	f.Add(exampleToken, int64(exampleTs), 23)
	f.Add(EncodeToken(clientSecret, 1764075600000, 2), int64(1764075600000), 44)
	f.Add(clientSecret, int64(1764075600000), 7)
	f.Add("QWSBH", int64(0), 0)
	f.Add("UUUUU"+clientSecret, int64(-1), -5)
	f.Fuzz(func(t *testing.T, tok string, now int64, pos int) {
		s, err := DecodeToken(tok, now, DefaultWindow)
		if err == nil {
			if len(s) != Length {
				t.Fatalf("decoded secret %q has length %d", s, len(s))
			}
			if !Valid(s) {
				t.Fatalf("decoded secret %q is not valid", s)
			}
		} else if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrExpired) {
			t.Fatalf("untyped error %v", err)
		}
		b, err2 := DecodeTokenBytes([]byte(tok), now, DefaultWindow, []byte("x"))
		if (err == nil) != (err2 == nil) || (err == nil && string(b[1:]) != s) {
			t.Fatalf("string and bytes decoders disagree: %q %v / %q %v", s, err, b, err2)
		}

		// round trip: any valid secret, any time, any position
		if len(tok) >= Length && Valid(tok[:Length]) {
			sec := tok[:Length]
			if now < 0 {
				now = -now
			}
			if now < 0 {
				now = 0
			}
			et := EncodeToken(sec, now, pos)
			got, err := DecodeToken(et, now, time.Millisecond)
			if err != nil || got != sec {
				t.Fatalf("round trip of %q at %d pos %d: token %q → %q, %v", sec, now, pos, et, got, err)
			}
		}
	})
}

func FuzzEnvID(f *testing.F) {
	f.Add(clientSecret)
	f.Add("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("gpnOV3wI3kKAO9q9viC0wQWdKZrVAf2U6gAnxl4lSH3")
	f.Fuzz(func(t *testing.T, s string) {
		env, err := EnvID(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		g, err := ParseGUID(env)
		if err != nil || g.IsZero() {
			t.Fatalf("EnvID returned %q (%v)", env, err)
		}
		// Re-encoding the env id reproduces the secret's second half up to
		// the 4 ignored low bits of the last character and the alphabet.
		enc := EncodeGUID(g)
		if enc[:21] != canon(s[22:43]) {
			t.Fatalf("re-encoded %q, secret half %q", enc, s[22:])
		}
		b, err := AppendEnvID(nil, []byte(s))
		if err != nil || !bytes.Equal(b, []byte(env)) {
			t.Fatalf("AppendEnvID = %q, %v", b, err)
		}
	})
}

func canon(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch c {
		case '+':
			b[i] = '-'
		case '/':
			b[i] = '_'
		}
	}
	return string(b)
}
