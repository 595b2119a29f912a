package eval

import (
	"crypto/md5"
	"errors"
	"testing"

	"github.com/switchyard/switchyard/codec"
)

// refBucket computes FeatBit's bucket independently of dispatch.go: a
// streaming MD5, the int32 assembled by hand from little-endian bytes, and a
// branch instead of math.Abs.
func refBucket(key string) float64 {
	h := md5.New()
	h.Write([]byte(key))
	d := h.Sum(nil)
	n := int32(uint32(d[0]) | uint32(d[1])<<8 | uint32(d[2])<<16 | uint32(d[3])<<24)
	b := float64(n) / -2147483648.0
	if b < 0 {
		b = -b
	}
	return b
}

const (
	vTrue  = "6a1c7f0e-1b2d-4c1a-9a51-0d2c3b4a5e01"
	vFalse = "6a1c7f0e-1b2d-4c1a-9a51-0d2c3b4a5e02"
	vThird = "6a1c7f0e-1b2d-4c1a-9a51-0d2c3b4a5e03"
)

// newFlag returns an enabled flag with three variations whose fallthrough
// serves vFalse to everybody.
func newFlag(key string) *codec.Flag {
	return &codec.Flag{
		ID:            "0f8e2a4c-5d6b-4e7f-8a9b-0c1d2e3f4a5b",
		Key:           key,
		Name:          key,
		VariationType: "string",
		Variations: []codec.Variation{
			{ID: vTrue, Name: "True", Value: "true"},
			{ID: vFalse, Name: "False", Value: "false"},
			{ID: vThird, Name: "Third", Value: "third"},
		},
		IsEnabled:           true,
		DisabledVariationID: vFalse,
		Fallthrough: codec.Fallthrough{
			Variations: []codec.RolloutVariation{{ID: vFalse, Rollout: [2]float64{0, 1}, ExptRollout: 1}},
		},
	}
}

// serve is a rollout giving everybody v.
func serve(v string) []codec.RolloutVariation {
	return []codec.RolloutVariation{{ID: v, Rollout: [2]float64{0, 1}, ExptRollout: 1}}
}

func cond(prop, op, value string) codec.Condition {
	return codec.Condition{Property: prop, Op: op, Value: value}
}

func mustCompile(t testing.TB, f *codec.Flag) *Flag {
	t.Helper()
	cf, errs := CompileFlag(f)
	if len(errs) != 0 {
		t.Fatalf("CompileFlag(%q): %v", f.Key, errs)
	}
	return cf
}

func mustSegments(t testing.TB, segs ...*codec.Segment) Segments {
	t.Helper()
	out := Segments{}
	for _, s := range segs {
		cs, errs := CompileSegment(s)
		if len(errs) != 0 {
			t.Fatalf("CompileSegment(%q): %v", s.ID, errs)
		}
		out[s.ID] = cs
	}
	return out
}

func user(key string, props ...string) *User {
	u := &User{KeyID: key, Name: "name of " + key}
	for i := 0; i+1 < len(props); i += 2 {
		u.Props = append(u.Props, codec.UserProp{Name: props[i], Value: props[i+1]})
	}
	return u
}

func variationID(r Result) string {
	if r.Variation == nil {
		return "<nil>"
	}
	return r.Variation.ID
}

func hasErr(errs []error, target error) bool {
	for _, e := range errs {
		if errors.Is(e, target) {
			return true
		}
	}
	return false
}
