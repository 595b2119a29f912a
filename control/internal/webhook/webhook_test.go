package webhook

import (
	"strconv"
	"testing"
	"time"

	"github.com/switchyard/switchyard/control/internal/store"
)

func TestSignVerify(t *testing.T) {
	body := []byte(`{"kind":"flag.updated"}`)
	now := time.Unix(1_700_000_000, 0)
	ts := strconv.FormatInt(now.Unix(), 10)
	sig := Sign("s3cret-s3cret-s3cret", now.Unix(), body)
	if len(sig) != len("sha256=")+64 || sig[:7] != "sha256=" {
		t.Fatalf("signature %q", sig)
	}
	if err := Verify("s3cret-s3cret-s3cret", ts, sig, body, time.Minute, now); err != nil {
		t.Fatal(err)
	}
	for name, try := range map[string]func() error{
		"other secret": func() error { return Verify("other-secret-other", ts, sig, body, time.Minute, now) },
		"other body": func() error {
			return Verify("s3cret-s3cret-s3cret", ts, sig, append([]byte{' '}, body...), time.Minute, now)
		},
		"other time": func() error {
			return Verify("s3cret-s3cret-s3cret", strconv.FormatInt(now.Unix()+1, 10), sig, body, time.Minute, now)
		},
		"replayed": func() error {
			return Verify("s3cret-s3cret-s3cret", ts, sig, body, time.Minute, now.Add(2*time.Minute))
		},
		"bad time": func() error { return Verify("s3cret-s3cret-s3cret", "soon", sig, body, time.Minute, now) },
	} {
		if try() == nil {
			t.Errorf("%s: verified", name)
		}
	}
}

func TestMatches(t *testing.T) {
	w := &store.Webhook{Enabled: true, Events: []string{"flag.toggled"}, EnvIDs: []string{"e1"}}
	cases := []struct {
		kind, project, env string
		want               bool
	}{
		{"flag.toggled", "p", "e1", true},
		{"flag.updated", "p", "e1", false},
		{"flag.toggled", "p", "e2", false},
		{"webhook.test", "", "", false}, // filtered by environment
	}
	for _, c := range cases {
		if got := Matches(w, c.kind, c.project, c.env); got != c.want {
			t.Errorf("Matches(%s, %s, %s) = %v", c.kind, c.project, c.env, got)
		}
	}
	all := &store.Webhook{Enabled: true, Events: []string{"*"}, ProjectIDs: []string{"p"}}
	if !Matches(all, "segment.deleted", "p", "x") || Matches(all, "segment.deleted", "q", "x") {
		t.Error("wildcard or project filter")
	}
	all.Enabled = false
	if Matches(all, "segment.deleted", "p", "x") {
		t.Error("disabled webhook matched")
	}
}

func TestBackoffBounded(t *testing.T) {
	d := New(nil, nil)
	prev := time.Duration(0)
	for n := 1; n <= 40; n++ {
		b := d.Backoff(n)
		if b < prev || b > 5*time.Minute {
			t.Fatalf("backoff(%d) = %v after %v", n, b, prev)
		}
		prev = b
	}
	if d.Backoff(1) != time.Second || d.Backoff(3) != 4*time.Second {
		t.Fatalf("backoff 1, 3: %v %v", d.Backoff(1), d.Backoff(3))
	}
}
