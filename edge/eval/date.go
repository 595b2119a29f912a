package eval

import "time"

// instant is a point in time as Unix seconds plus nanoseconds, so that both
// millisecond integers and RFC 3339 values with nanoseconds compare exactly.
type instant struct {
	sec  int64
	nsec int64
}

func (a instant) compare(b instant) int {
	switch {
	case a.sec < b.sec:
		return -1
	case a.sec > b.sec:
		return 1
	case a.nsec < b.nsec:
		return -1
	case a.nsec > b.nsec:
		return 1
	}
	return 0
}

// parseInstant parses Unix milliseconds (an optionally negative decimal
// integer) or an RFC 3339 date-time such as 2026-11-25T13:15:00Z or
// 2026-11-25T14:15:00.5+01:00. It does not allocate.
func parseInstant(s string) (instant, bool) {
	if ms, ok := parseMillis(s); ok {
		sec, rem := ms/1000, ms%1000
		if rem < 0 {
			sec, rem = sec-1, rem+1000
		}
		return instant{sec: sec, nsec: rem * 1e6}, true
	}
	return parseRFC3339(s)
}

func parseMillis(s string) (int64, bool) {
	neg := false
	if s != "" && s[0] == '-' {
		neg, s = true, s[1:]
	}
	if s == "" || len(s) > 19 {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		n = n*10 + uint64(s[i]-'0')
	}
	if n > 1<<63-1 {
		return 0, false
	}
	if neg {
		return -int64(n), true
	}
	return int64(n), true
}

// parseRFC3339 parses YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM); 'T' and 'Z'
// may be lower case. Seconds range 0..59 (no leap seconds).
func parseRFC3339(s string) (instant, bool) {
	if len(s) < len("2006-01-02T15:04:05Z") || s[4] != '-' || s[7] != '-' ||
		(s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':' {
		return instant{}, false
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	hour, ok4 := digits(s[11:13])
	minute, ok5 := digits(s[14:16])
	second, ok6 := digits(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 ||
		day > daysIn(year, month) || hour > 23 || minute > 59 || second > 59 {
		return instant{}, false
	}
	rest := s[19:]
	var nsec int64
	if rest != "" && rest[0] == '.' {
		i := 1
		scale := int64(1e8)
		for i < len(rest) && isDigit(rest[i]) {
			nsec += int64(rest[i]-'0') * scale
			scale /= 10
			i++
		}
		if i == 1 {
			return instant{}, false
		}
		rest = rest[i:]
	}
	var offset int64
	switch {
	case rest == "Z" || rest == "z":
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, ok1 := digits(rest[1:3])
		om, ok2 := digits(rest[4:6])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return instant{}, false
		}
		offset = int64(oh*3600 + om*60)
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return instant{}, false
	}
	sec := time.Date(year, time.Month(month), day, hour, minute, second, 0, time.UTC).Unix()
	return instant{sec: sec - offset, nsec: nsec}, true
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
