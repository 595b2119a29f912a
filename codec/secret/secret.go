package secret

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
)

// Length is the length of a FeatBit secret; each half is 22 characters.
const Length = 44

// ErrMalformed is matched (errors.Is) by every error about a secret or token
// that is not well formed. ErrExpired is matched by a well-formed token whose
// timestamp lies outside the allowed window.
var (
	ErrMalformed = errors.New("malformed")
	ErrExpired   = errors.New("expired")
)

// Error is the type of all errors returned by this package. Kind is
// ErrMalformed or ErrExpired.
type Error struct {
	Kind error
	Msg  string
}

func (e *Error) Error() string { return "secret: " + e.Msg }

// Unwrap returns e.Kind, so errors.Is(err, ErrMalformed) works.
func (e *Error) Unwrap() error { return e.Kind }

func malformed(msg string) *Error { return &Error{Kind: ErrMalformed, Msg: msg} }

var (
	errSecretLength = malformed("secret must be 44 characters")
	errSecretBase64 = malformed("env id part of the secret is not valid base64")
	errZeroGUID     = malformed("env id part of the secret is the all-zero GUID")
	errGUIDSyntax   = malformed("not a GUID (want xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)")
)

// GUID holds a GUID in canonical (RFC 4122, big-endian) byte order: the byte
// order of its hex string.
type GUID [16]byte

// String returns the lower-case canonical form
// "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx".
func (g GUID) String() string {
	var buf [36]byte
	return string(g.Append(buf[:0]))
}

// Append appends the lower-case canonical form of g to b.
func (g GUID) Append(b []byte) []byte {
	const hex = "0123456789abcdef"
	for i, c := range g {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hex[c>>4], hex[c&0xf])
	}
	return b
}

// IsZero reports whether g is the all-zero GUID.
func (g GUID) IsZero() bool { return g == GUID{} }

// ParseGUID parses a canonical GUID string (hex digits in either case, with
// dashes at positions 8, 13, 18 and 23).
func ParseGUID(s string) (GUID, error) {
	var g GUID
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return g, errGUIDSyntax
	}
	j := 0
	for i := 0; i < 36; {
		if s[i] == '-' {
			i++
			continue
		}
		hi, ok1 := unhex(s[i])
		lo, ok2 := unhex(s[i+1])
		if !ok1 || !ok2 {
			return GUID{}, errGUIDSyntax
		}
		g[j] = hi<<4 | lo
		j++
		i += 2
	}
	return g, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// NewGUID returns a random (version 4) GUID string from crypto/rand.
func NewGUID() string { return newGUID().String() }

func newGUID() GUID {
	var g GUID
	_, _ = rand.Read(g[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	g[6] = g[6]&0x0f | 0x40
	g[8] = g[8]&0x3f | 0x80
	return g
}

// dotnet converts between canonical and .NET Guid.ToByteArray order (the
// conversion is its own inverse).
func dotnet(g GUID) [16]byte {
	return [16]byte{g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6],
		g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]}
}

// EncodeGUID returns FeatBit's 22-character encoding of g.
func EncodeGUID(g GUID) string {
	var buf [24]byte
	return string(appendGUID(buf[:0], g))
}

func appendGUID(b []byte, g GUID) []byte {
	raw := dotnet(g)
	var enc [24]byte
	base64.StdEncoding.Encode(enc[:], raw[:])
	for _, c := range enc[:22] {
		switch c {
		case '/':
			c = '_'
		case '+':
			c = '-'
		}
		b = append(b, c)
	}
	return b
}

// New returns a fresh secret for the environment envID (a GUID string): a
// random GUID's encoding followed by the env id's.
func New(envID string) (string, error) {
	env, err := ParseGUID(envID)
	if err != nil {
		return "", err
	}
	if env.IsZero() {
		return "", errZeroGUID
	}
	b := make([]byte, 0, Length)
	b = appendGUID(b, newGUID())
	b = appendGUID(b, env)
	return string(b), nil
}

// EnvID returns the env id (lower-case canonical GUID) encoded in
// characters 22..44 of secret. The first 22 characters are not checked: the
// secret is compared with the stored secrets anyway.
func EnvID(secret string) (string, error) {
	g, err := ParseEnvGUID(secret)
	if err != nil {
		return "", err
	}
	return g.String(), nil
}

// AppendEnvID appends the env id of secret (36 characters) to dst without
// allocating.
func AppendEnvID(dst []byte, secret []byte) ([]byte, error) {
	g, err := ParseEnvGUID(secret)
	if err != nil {
		return dst, err
	}
	return g.Append(dst), nil
}

// ParseEnvGUID decodes the env id of secret (a string or a byte slice). It
// accepts both the URL-safe ('-', '_') and the standard ('+', '/')
// base64 alphabet, like FeatBit's server, which maps one onto the other.
func ParseEnvGUID[S string | []byte](secret S) (GUID, error) {
	if len(secret) != Length {
		return GUID{}, errSecretLength
	}
	// 22 characters = 132 bits; the first 128 are the 16 bytes. The last
	// character's low 4 bits are ignored, as .NET's Convert.FromBase64String
	// does.
	var raw [16]byte
	var acc uint32
	var nbits uint
	j := 0
	for i := 22; i < Length; i++ {
		v := b64[secret[i]]
		if v == 0xff {
			return GUID{}, errSecretBase64
		}
		acc = acc<<6 | uint32(v)
		nbits += 6
		if nbits >= 8 && j < 16 {
			nbits -= 8
			raw[j] = byte(acc >> nbits)
			j++
		}
	}
	g := GUID(dotnet(GUID(raw)))
	if g.IsZero() {
		return GUID{}, errZeroGUID
	}
	return g, nil
}

// b64 maps a base64 character (both alphabets) to its value, 0xff if invalid.
var b64 = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	const std = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(std); i++ {
		t[std[i]] = byte(i)
	}
	t['-'] = 62
	t['_'] = 63
	return t
}()

// Valid reports whether s has the shape of a secret (44 characters, a
// non-zero env id).
func Valid(s string) bool {
	_, err := ParseEnvGUID(s)
	return err == nil
}

// trimPad removes trailing '=' like the SDKs do before building a token.
func trimPad(s string) string { return strings.TrimRight(s, "=") }
