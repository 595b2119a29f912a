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
	if Hash(a) == Hash(b) || len(Hash(a)) != 64 || Hash(a) != Hash(a) {
		t.Fatal("hash")
	}
	if Kind("bogus") != "" || Kind(NewToken(KindSession)) != KindSession {
		t.Fatal("kind")
	}
}

func TestLimiter(t *testing.T) {
	now := time.Unix(0, 0)
	l := NewLimiter()
	l.Now = func() time.Time { return now }
	for i := range 4 {
		if ok, _ := l.Allow("k"); !ok {
			t.Fatalf("attempt %d refused", i)
		}
		if d := l.Fail("k"); d != 0 {
			t.Fatalf("free failure %d locked for %v", i, d)
		}
	}
	if d := l.Fail("k"); d != time.Second {
		t.Fatalf("5th failure: %v", d)
	}
	if ok, wait := l.Allow("k"); ok || wait != time.Second {
		t.Fatalf("locked key allowed (%v)", wait)
	}
	if ok, _ := l.Allow("other"); !ok {
		t.Fatal("other key locked")
	}
	now = now.Add(time.Second)
	if d := l.Fail("k"); d != 2*time.Second {
		t.Fatalf("6th failure: %v", d)
	}
	for range 40 {
		l.Fail("k")
	}
	if _, wait := l.Allow("k"); wait != l.Max {
		t.Fatalf("cap: %v", wait)
	}
	l.Succeed("k")
	if ok, _ := l.Allow("k"); !ok {
		t.Fatal("success must clear")
	}
}
