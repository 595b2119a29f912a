package eval

import (
	"math"
	"strings"
	"testing"
)

func TestBucketVectors(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want float64
	}{
		{"test-value", 0.14653629204258323},
		{"qKPKh1S3FolC", 0.9105919692665339},
		{"3eacb184-2d79-49df-9ea7-edd4f10e4c6f", 0.08994403155520558},
	} {
		if got := Bucket(tc.key); got != tc.want {
			t.Errorf("Bucket(%q) = %v, want %v", tc.key, got, tc.want)
		}
		if got := refBucket(tc.key); got != tc.want {
			t.Errorf("refBucket(%q) = %v, want %v (reference implementation broken)", tc.key, got, tc.want)
		}
	}
}

func TestBucketMatchesReference(t *testing.T) {
	keys := []string{"", "a", "日本語-ключ-🙂", strings.Repeat("x", 255), strings.Repeat("y", 256),
		strings.Repeat("z", 257), strings.Repeat("long-key-", 1000)}
	for i := 0; i < 200; i++ {
		keys = append(keys, "flag-key-"+strings.Repeat("k", i%40)+string(rune('a'+i%26)))
	}
	for _, k := range keys {
		got, want := Bucket(k), refBucket(k)
		if got != want {
			t.Errorf("Bucket(%.40q) = %v, want %v", k, got, want)
		}
		if got < 0 || got > 1 {
			t.Errorf("Bucket(%.40q) = %v outside [0,1]", k, got)
		}
	}
	// bucket3 concatenates without a separator, across the stack/pool limit.
	for _, n := range []int{0, 100, 200, 256, 300} {
		a, b := strings.Repeat("a", n), "-user-0001"
		if got, want := bucket3("expt", a, b), refBucket("expt"+a+b); got != want {
			t.Errorf("bucket3 len %d = %v, want %v", n, got, want)
		}
	}
}

func TestInRange(t *testing.T) {
	for _, tc := range []struct {
		lo, hi, b float64
		want      bool
	}{
		{0, 1, 1, true},
		{0, 1, 0, true},
		{0, 0.999995, 0.9999999, true}, // 1-max < 1e-5: everybody
		{0, 0.99998, 0.99999, false},   // 1-max >= 1e-5: a normal range
		{0, 0, 0, false},               // [0,0] nobody, even bucket 0
		{0, 0.5, 0, true},
		{0, 0.5, 0.5, true}, // inclusive upper end
		{0.5, 1, 0.5, true}, // inclusive lower end
		{0.5, 0.5, 0.5, true},
		{0.5, 0.7, 0.4999999, false},
		{0.5, 0.7, 0.7000001, false},
		{0.3, 0.2, 0.25, false}, // inverted range
		{0, math.NaN(), 0.1, false},
	} {
		if got := inRange(tc.lo, tc.hi, tc.b); got != tc.want {
			t.Errorf("inRange(%v, %v, %v) = %v, want %v", tc.lo, tc.hi, tc.b, got, tc.want)
		}
		if !needsBucket(tc.lo, tc.hi) && inRange(tc.lo, tc.hi, 0) != inRange(tc.lo, tc.hi, 0.77) {
			t.Errorf("needsBucket(%v, %v) = false but the result depends on the bucket", tc.lo, tc.hi)
		}
	}
}
