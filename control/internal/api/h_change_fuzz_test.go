package api

import (
	"errors"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/store"
)

// FuzzDecodeProposed: the proposed item of a change request is untrusted
// JSON; decoding never panics and every refusal is a 400 naming a field
// under "proposed".
func FuzzDecodeProposed(f *testing.F) {
	for _, s := range []string{`{"key":"a","variationType":"boolean"}`, `null`, ``, `{"key":1}`, `{"nope":true}`,
		`{"key":"a","key":"b"}`, `{"rules":[{"conditions":[{"op":"x"}]}]}`, `[`, `{"name":"seg","included":["u1"]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, v := range []any{&codec.Flag{}, &codec.Segment{}} {
			err := decodeProposed(b, v)
			if err == nil {
				continue
			}
			var fe *store.FieldError
			if !errors.As(err, &fe) || !errors.Is(err, store.ErrInvalid) || !strings.HasPrefix(fe.Field, "proposed") {
				t.Fatalf("%q: %v (%T)", b, err, err)
			}
		}
	})
}
