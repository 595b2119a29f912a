package eval

import (
	"math"
	"strconv"
	"strings"
)

// parseNumber parses s the way the FeatBit server's double.TryParse does in
// practice: surrounding ASCII white space, an optional sign, digits with
// optional ',' thousands separators before the decimal point, an optional
// fraction and exponent, or "Infinity" (any case). Hexadecimal, underscores
// and Go-only spellings ("inf", "0x1p3") are rejected. NaN is rejected.
// Values beyond the float64 range become ±Inf, as in .NET.
func parseNumber(s string) (float64, bool) {
	s = trimASCIISpace(s)
	if s == "" {
		return 0, false
	}
	body := s
	if body[0] == '+' || body[0] == '-' {
		body = body[1:]
	}
	if strings.EqualFold(body, "infinity") {
		if s[0] == '-' {
			return math.Inf(-1), true
		}
		return math.Inf(1), true
	}
	commas, ok := numberSyntax(body)
	if !ok {
		return 0, false
	}
	if commas {
		var buf [64]byte
		b := buf[:0]
		for i := 0; i < len(s); i++ {
			if s[i] != ',' {
				b = append(b, s[i])
			}
		}
		s = string(b) // rare path: may allocate
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !math.IsInf(f, 0) {
		return 0, false
	}
	if math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// numberSyntax checks digits[,digits...][.digits][(e|E)[sign]digits] with at
// least one digit in the mantissa; commas are allowed only after the first
// integer digit and before the decimal point.
func numberSyntax(s string) (commas, ok bool) {
	i, digits := 0, 0
	for i < len(s) && (isDigit(s[i]) || (s[i] == ',' && digits > 0)) {
		if s[i] == ',' {
			commas = true
		} else {
			digits++
		}
		i++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && isDigit(s[i]) {
			digits++
			i++
		}
	}
	if digits == 0 {
		return false, false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		start := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == start {
			return false, false
		}
	}
	return commas, i == len(s)
}

// trimASCIISpace trims the white space .NET number parsing allows: U+0009
// to U+000D and U+0020.
func trimASCIISpace(s string) string {
	for s != "" && (s[0] == ' ' || ('\t' <= s[0] && s[0] <= '\r')) {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || ('\t' <= s[len(s)-1] && s[len(s)-1] <= '\r')) {
		s = s[:len(s)-1]
	}
	return s
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
