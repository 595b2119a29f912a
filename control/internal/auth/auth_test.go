package auth

import (
	"strings"
	"testing"
	"time"
)

func TestPassword(t *testing.T) {
	BcryptCost = 4
	h, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !CheckPassword(h, "correct horse") || CheckPassword(h, "wrong horse") {
		t.Fatal("password check")
	}
}

func TestTokens(t *testing.T) {
	a, b := NewToken(KindAccess), NewToken(KindAccess)
	if a == b || !strings.HasPrefix(a, "syt_") || len(a) != 4+43 || Kind(a) != KindAccess {
		t.Fatalf("tokens %q %q", a, b)
	}
	if Hash(a) == Hash(b) || len(Hash(a)) != 64 || Hash(a) != Hash(strings.Clone(a)) {
		t.Fatal("hash")
	}
	if Kind("bogus") != "" || Kind(NewToken(KindSession)) != KindSession {
		t.Fatal("kind")
	}
}

func TestThrottle(t *testing.T) {
	th := DefaultThrottle()
	for n := range 5 {
		if d := th.Lockout(n); d != 0 {
			t.Fatalf("failure %d locks for %v; the first 4 are free", n, d)
		}
	}
	for n, want := range map[int]time.Duration{5: time.Second, 6: 2 * time.Second, 7: 4 * time.Second, 14: 512 * time.Second, 15: th.Max, 60: th.Max, 1 << 30: th.Max} {
		if d := th.Lockout(n); d != want {
			t.Errorf("failure %d locks for %v, want %v", n, d, want)
		}
	}
	if ThrottleKey("a@x", "1.2.3.4") == ThrottleKey("a@x", "1.2.3.5") || len(ThrottleKey("a@x", "ip")) < 32 {
		t.Fatal("throttle keys must differ per IP and be hashes")
	}
}
