package eval

import "errors"

// Compile problems. CompileFlag and CompileSegment return them wrapped in a
// *CompileError; test with errors.Is. The flag or segment stays usable: the
// broken part never matches (or serves no variation).
var (
	ErrUnknownOperator  = errors.New("unknown operator")
	ErrBadRegex         = errors.New("invalid regular expression (RE2 syntax)")
	ErrBadList          = errors.New("value is not a JSON array of strings")
	ErrBadNumber        = errors.New("value is not a number")
	ErrBadSemVer        = errors.New("value is not a semantic version MAJOR.MINOR.PATCH[-prerelease][+build]")
	ErrBadDate          = errors.New("value is not an RFC 3339 date-time or Unix milliseconds")
	ErrUnknownVariation = errors.New("unknown variation id")
)

// CompileError locates a compile problem. Path names the field, e.g.
// "rules[1].conditions[0]", "fallthrough.variations[2].id" or, for a segment,
// "rules[0].conditions[3]". Detail is extra text (the regexp parser's
// message, the offending value), safe to show to the flag's author.
type CompileError struct {
	Path   string
	Err    error
	Detail string
}

func (e *CompileError) Error() string {
	s := e.Path + ": " + e.Err.Error()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (e *CompileError) Unwrap() error { return e.Err }
