package httpapi

import "testing"

func TestTagsMatch(t *testing.T) {
	f := func(have, want []string, anyTag, ok bool) {
		t.Helper()
		if got := tagsMatch(have, want, anyTag); got != ok {
			t.Errorf("tagsMatch(%q, %q, any=%v) = %v, want %v", have, want, anyTag, got, ok)
		}
	}
	f(nil, nil, false, true)
	f([]string{"a"}, nil, true, true)
	f(nil, []string{"a"}, false, false)
	f(nil, []string{"a"}, true, false)
	f([]string{"a", "b"}, []string{"a", "b"}, false, true)
	f([]string{"a"}, []string{"a", "b"}, false, false)
	f([]string{"a"}, []string{"a", "b"}, true, true)
	f([]string{"c"}, []string{"a", "b"}, true, false)
	f([]string{"A"}, []string{"a"}, true, false) // tags compare exactly
}
