package store

import (
	"fmt"
	"regexp"
	"strings"
)

// Limits of a MetricQuery.
const (
	MaxURLs      = 20  // URL matches per metric
	MaxURLLen    = 512 // bytes of one URL or pattern
	MaxEventName = 200 // bytes of an event name
	maxEventType = 32
	MaxWinsorize = 0.9999
	MinWinsorize = 0.5
)

// Validate reports ErrInvalid (with the reason) for a query a backend must
// not run: no event name, too many or too long URL matches, an unknown match
// type, a pattern that is not RE2, or a winsorization level outside
// [MinWinsorize, MaxWinsorize] (0 means none).
func (q MetricQuery) Validate() error {
	if q.EventName == "" || len(q.EventName) > MaxEventName {
		return fmt.Errorf("%w: metric eventName must be 1 to %d bytes", ErrInvalid, MaxEventName)
	}
	if len(q.EventType) > maxEventType {
		return fmt.Errorf("%w: metric eventType too long", ErrInvalid)
	}
	if len(q.URLs) > MaxURLs {
		return fmt.Errorf("%w: at most %d URL matches per metric", ErrInvalid, MaxURLs)
	}
	for i, u := range q.URLs {
		if u.URL == "" || len(u.URL) > MaxURLLen {
			return fmt.Errorf("%w: urls[%d]: url must be 1 to %d bytes", ErrInvalid, i, MaxURLLen)
		}
		switch u.MatchType {
		case URLExact, URLContains:
		case URLRegex:
			if _, err := regexp.Compile(u.URL); err != nil {
				return fmt.Errorf("%w: urls[%d]: not an RE2 regular expression: %v", ErrInvalid, i, err)
			}
		default:
			return fmt.Errorf("%w: urls[%d]: matchType must be exact, contains or regex", ErrInvalid, i)
		}
	}
	if q.Winsorize != 0 && !(q.Winsorize >= MinWinsorize && q.Winsorize <= MaxWinsorize) {
		return fmt.Errorf("%w: winsorize must be 0 (off) or a quantile in [%g, %g]", ErrInvalid, MinWinsorize, MaxWinsorize)
	}
	return nil
}

// RouteMatcher returns the predicate of q's URL matches (nil: every route
// matches). q must be valid.
func (q MetricQuery) RouteMatcher() func(route string) bool {
	if len(q.URLs) == 0 {
		return nil
	}
	type m struct {
		typ, url string
		re       *regexp.Regexp
	}
	ms := make([]m, len(q.URLs))
	for i, u := range q.URLs {
		ms[i] = m{typ: u.MatchType, url: u.URL}
		if u.MatchType == URLRegex {
			ms[i].re = regexp.MustCompile(u.URL)
		}
	}
	return func(route string) bool {
		for _, x := range ms {
			switch {
			case x.typ == URLExact && route == x.url,
				x.typ == URLContains && strings.Contains(route, x.url),
				x.re != nil && x.re.MatchString(route):
				return true
			}
		}
		return false
	}
}
