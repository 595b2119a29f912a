package store

import (
	"errors"
	"fmt"
)

// Domain errors. Every error control returns to an API caller matches one of
// them with errors.Is; control/internal/api maps them to HTTP status codes in
// one place.
var (
	ErrNotFound     = errors.New("not found")
	ErrInvalid      = errors.New("invalid")
	ErrConflict     = errors.New("conflict")  // stale version or state that forbids the operation
	ErrDuplicate    = errors.New("duplicate") // a unique index would be violated
	ErrForbidden    = errors.New("forbidden")
	ErrUnauthorized = errors.New("unauthorized")
	ErrTooMany      = errors.New("too many requests")
	ErrUnavailable  = errors.New("store unavailable") // the database cannot be reached
	// ErrChangeRequest: the environment is protected; flags and segments
	// change there only through an approved change request.
	ErrChangeRequest = errors.New("change request required")
)

// FieldError is an error about one field of a request: Kind is one of the
// domain errors above (usually ErrInvalid), Field the JSON path of the field
// ("rules[0].variations"), Msg a message safe to show to the user.
type FieldError struct {
	Kind  error
	Field string
	Msg   string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

// Unwrap returns e.Kind.
func (e *FieldError) Unwrap() error { return e.Kind }

// Invalid returns an ErrInvalid FieldError.
func Invalid(field, format string, args ...any) error {
	return &FieldError{Kind: ErrInvalid, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Errorf returns an error of the given kind with a user-safe message.
func Errorf(kind error, format string, args ...any) error {
	return &FieldError{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}
