package secret

import (
	"strconv"
	"time"
)

// DefaultWindow is FeatBit's default token expiry (Streaming:TokenExpirySeconds).
const DefaultWindow = 30 * time.Second

// digitLetters maps a decimal digit to its token letter.
const digitLetters = "QBWSPHDXZU"

// letterDigit maps a token letter to its digit, 0xff for any other byte.
var letterDigit = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for d := 0; d < 10; d++ {
		t[digitLetters[d]] = byte(d)
	}
	return t
}()

var (
	errTokenShort     = malformed("token shorter than 5 characters")
	errTokenLetter    = malformed("token header or timestamp contains a character outside QBWSPHDXZU")
	errTokenByte      = malformed("token position or length exceeds 255")
	errTokenPayload   = malformed("token payload shorter than position + timestamp length")
	errTokenTimestamp = malformed("token timestamp is empty or overflows int64")
	errTokenSecret    = malformed("secret inside the token is not 44 characters")
	errTokenExpired   = &Error{Kind: ErrExpired, Msg: "token timestamp outside the allowed window"}
)

// EncodeToken builds the connection token an SDK would send for secret at
// time nowMs (Unix milliseconds), inserting the timestamp at index pos of
// the secret. SDKs pick pos = max(floor(random*len(secret)), 2); pos is
// clamped to [2, len(secret)] here (len(secret) if shorter than 2), and a
// negative nowMs is treated as 0. Trailing '=' of secret are dropped first,
// as the SDKs do.
func EncodeToken(secret string, nowMs int64, pos int) string {
	s := trimPad(secret)
	if pos < 2 {
		pos = 2
	}
	if pos > len(s) {
		pos = len(s)
	}
	if pos > 999 {
		pos = 999 // cannot happen for real secrets; keeps enc(pos,3) exact
	}
	if nowMs < 0 {
		nowMs = 0
	}
	var tsBuf [20]byte
	ts := strconv.AppendInt(tsBuf[:0], nowMs, 10)
	b := make([]byte, 0, 5+len(s)+len(ts))
	b = appendEnc(b, pos, 3)
	b = appendEnc(b, len(ts), 2)
	b = append(b, s[:pos]...)
	for _, c := range ts {
		b = append(b, digitLetters[c-'0'])
	}
	b = append(b, s[pos:]...)
	return string(b)
}

// appendEnc appends the rightmost w decimal digits of n (zero-padded) as
// token letters.
func appendEnc(b []byte, n, w int) []byte {
	var d [20]byte
	for i := w - 1; i >= 0; i-- {
		d[i] = digitLetters[n%10]
		n /= 10
	}
	return append(b, d[:w]...)
}

// decodeByte decodes token letters as a decimal number in [0,255], like
// .NET byte.Parse on the mapped digits.
func decodeByte[S string | []byte](s S) (int, error) {
	n := 0
	for i := 0; i < len(s); i++ {
		d := letterDigit[s[i]]
		if d == 0xff {
			return 0, errTokenLetter
		}
		n = n*10 + int(d)
		if n > 255 {
			// keep scanning so an invalid letter later still reports as such
			for i++; i < len(s); i++ {
				if letterDigit[s[i]] == 0xff {
					return 0, errTokenLetter
				}
			}
			return 0, errTokenByte
		}
	}
	return n, nil
}

// decodeInt64 decodes token letters as a non-negative decimal int64; an
// empty input or an overflow is an error (like .NET long.Parse).
func decodeInt64[S string | []byte](s S) (int64, error) {
	if len(s) == 0 {
		return 0, errTokenTimestamp
	}
	var n int64
	const max = 1<<63 - 1
	overflow := false
	for i := 0; i < len(s); i++ {
		d := letterDigit[s[i]]
		if d == 0xff {
			return 0, errTokenLetter
		}
		if n > (max-int64(d))/10 {
			overflow = true
			continue
		}
		n = n*10 + int64(d)
	}
	if overflow {
		return 0, errTokenTimestamp
	}
	return n, nil
}

// DecodeToken recovers the secret from a connection token and checks its
// timestamp: the token is expired when |nowMs − timestamp| > window.
// Besides the steps of FeatBit's Token class it also checks that the secret
// carries a valid non-zero env id (the server's Secret.TryParse).
func DecodeToken(token string, nowMs int64, window time.Duration) (string, error) {
	var buf [Length]byte
	b, err := decodeToken(token, nowMs, window, buf[:0])
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// DecodeTokenBytes is DecodeToken for a byte-slice token: it appends the
// secret (44 bytes) to dst and does not allocate when dst has room. On error
// dst is returned unchanged.
func DecodeTokenBytes(token []byte, nowMs int64, window time.Duration, dst []byte) ([]byte, error) {
	return decodeToken(token, nowMs, window, dst)
}

// ParseToken decodes a token without the expiry check and returns the secret
// (appended to dst) and the embedded timestamp (Unix ms).
func ParseToken[S string | []byte](token S, dst []byte) (secret []byte, timestampMs int64, err error) {
	if len(token) < 5 {
		return dst, 0, errTokenShort
	}
	pos, err := decodeByte(token[:3])
	if err != nil {
		return dst, 0, err
	}
	cl, err := decodeByte(token[3:5])
	if err != nil {
		return dst, 0, err
	}
	payload := token[5:]
	if len(payload) < pos+cl {
		return dst, 0, errTokenPayload
	}
	ts, err := decodeInt64(payload[pos : pos+cl])
	if err != nil {
		return dst, 0, err
	}
	n := len(payload) - cl
	pad := (4 - n%4) % 4
	if n+pad != Length {
		return dst, 0, errTokenSecret
	}
	start := len(dst)
	dst = append(dst, payload[:pos]...)
	dst = append(dst, payload[pos+cl:]...)
	for ; pad > 0; pad-- {
		dst = append(dst, '=')
	}
	if _, err := ParseEnvGUID(dst[start:]); err != nil {
		return dst[:start], 0, err
	}
	return dst, ts, nil
}

func decodeToken[S string | []byte](token S, nowMs int64, window time.Duration, dst []byte) ([]byte, error) {
	out, ts, err := ParseToken(token, dst)
	if err != nil {
		return dst, err
	}
	d := nowMs - ts
	if d < 0 {
		d = -d
	}
	if d < 0 || d > window.Milliseconds() { // d < 0: nowMs − ts overflowed
		return dst, errTokenExpired
	}
	return out, nil
}
