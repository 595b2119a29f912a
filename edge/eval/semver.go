package eval

import "strings"

// semver is a parsed semantic version 2.0.0. The parts are substrings of the
// parsed text (no allocation); numeric parts have no leading zeros, so they
// compare by length, then bytes, with no overflow for huge numbers.
type semver struct {
	major, minor, patch string
	pre                 string // dot-separated identifiers, "" when absent
}

// parseSemver parses MAJOR.MINOR.PATCH[-prerelease][+build] strictly (no
// "v" prefix, no white space, no leading zeros in numeric identifiers).
func parseSemver(s string) (semver, bool) {
	var v semver
	if i := strings.IndexByte(s, '+'); i >= 0 {
		if !validIdents(s[i+1:], false) {
			return v, false
		}
		s = s[:i]
	}
	if i := strings.IndexByte(s, '-'); i >= 0 {
		if !validIdents(s[i+1:], true) {
			return v, false
		}
		v.pre = s[i+1:]
		s = s[:i]
	}
	var ok bool
	if v.major, s, ok = cutNumber(s); !ok || s == "" || s[0] != '.' {
		return v, false
	}
	if v.minor, s, ok = cutNumber(s[1:]); !ok || s == "" || s[0] != '.' {
		return v, false
	}
	if v.patch, s, ok = cutNumber(s[1:]); !ok || s != "" {
		return v, false
	}
	return v, true
}

// cutNumber cuts a numeric identifier without leading zeros off s.
func cutNumber(s string) (num, rest string, ok bool) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i == 0 || (i > 1 && s[0] == '0') {
		return "", s, false
	}
	return s[:i], s[i:], true
}

// validIdents checks non-empty dot-separated identifiers of [0-9A-Za-z-];
// for pre-release identifiers a numeric identifier has no leading zero.
func validIdents(s string, pre bool) bool {
	for {
		id, rest, more := strings.Cut(s, ".")
		if id == "" {
			return false
		}
		numeric := true
		for i := 0; i < len(id); i++ {
			c := id[i]
			switch {
			case isDigit(c):
			case c == '-' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z'):
				numeric = false
			default:
				return false
			}
		}
		if pre && numeric && len(id) > 1 && id[0] == '0' {
			return false
		}
		if !more {
			return true
		}
		s = rest
	}
}

// compareSemver orders a and b by semver 2.0 precedence (build ignored).
func compareSemver(a, b semver) int {
	if c := compareNumeric(a.major, b.major); c != 0 {
		return c
	}
	if c := compareNumeric(a.minor, b.minor); c != 0 {
		return c
	}
	if c := compareNumeric(a.patch, b.patch); c != 0 {
		return c
	}
	switch {
	case a.pre == b.pre:
		return 0
	case a.pre == "": // a release ranks above its pre-releases
		return 1
	case b.pre == "":
		return -1
	}
	x, y := a.pre, b.pre
	for {
		var ix, iy string
		var mx, my bool
		ix, x, mx = strings.Cut(x, ".")
		iy, y, my = strings.Cut(y, ".")
		if c := compareIdent(ix, iy); c != 0 {
			return c
		}
		switch {
		case !mx && !my:
			return 0
		case !mx: // fewer identifiers rank lower
			return -1
		case !my:
			return 1
		}
	}
}

// compareIdent compares pre-release identifiers: numeric ones numerically,
// below alphanumeric ones, which compare in ASCII order.
func compareIdent(a, b string) int {
	na, nb := allDigits(a), allDigits(b)
	switch {
	case na && nb:
		return compareNumeric(a, b)
	case na:
		return -1
	case nb:
		return 1
	}
	return strings.Compare(a, b)
}

// compareNumeric compares decimal numbers without leading zeros.
func compareNumeric(a, b string) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}
