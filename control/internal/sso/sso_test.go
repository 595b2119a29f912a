package sso

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

func claims(t *testing.T, js, groupClaim string) *Claims {
	t.Helper()
	var all map[string]any
	if err := json.Unmarshal([]byte(js), &all); err != nil {
		t.Fatal(err)
	}
	return ClaimsOf("sub-1", all, groupClaim)
}

func TestClaimsOf(t *testing.T) {
	f := func(js, groupClaim string, want Claims) {
		t.Helper()
		want.Subject = "sub-1"
		if got := claims(t, js, groupClaim); !reflect.DeepEqual(*got, want) {
			t.Fatalf("ClaimsOf(%s) = %+v, want %+v", js, *got, want)
		}
	}
	f(`{"email":" Ann@Example.COM ","email_verified":true,"name":"Ann"}`, "", Claims{Email: "ann@example.com", EmailVerified: true, Name: "Ann"})
	f(`{"email":"a@x","email_verified":"true"}`, "", Claims{Email: "a@x", EmailVerified: true})
	f(`{"email":"a@x","email_verified":1}`, "", Claims{Email: "a@x"})     // not a boolean
	f(`{"email":"a@x","email_verified":"yes"}`, "", Claims{Email: "a@x"}) // only "true"
	f(`{"email":42,"groups":["eng",3,"ops"]}`, "groups", Claims{Groups: []string{"eng", "ops"}})
	f(`{"groups":"eng"}`, "groups", Claims{Groups: []string{"eng"}})
	f(`{"groups":["eng"]}`, "", Claims{})            // no claim configured
	f(`{"groups":{"eng":true}}`, "groups", Claims{}) // not a string or list
	many := `{"groups":[` + strings.Repeat(`"g",`, 1000) + `"g"]}`
	if got := claims(t, many, "groups"); len(got.Groups) != maxClaim {
		t.Fatalf("kept %d group values, want %d", len(got.Groups), maxClaim)
	}
}

func TestMapGroups(t *testing.T) {
	m := map[string]string{"eng": "g1", "ops": "g2", "engineering": "g1"}
	got := MapGroups([]string{"ops", "eng", "sales", "engineering"}, m)
	if !reflect.DeepEqual(got, []string{"g2", "g1"}) {
		t.Fatalf("MapGroups = %v", got)
	}
	if got := MapGroups(nil, m); got != nil {
		t.Fatalf("MapGroups(nil) = %v", got)
	}
}

func TestTrustedEmail(t *testing.T) {
	if e := TrustedEmail(&Claims{Email: "a@x"}, false); e != "" {
		t.Fatalf("an unverified email was trusted: %q", e)
	}
	if e := TrustedEmail(&Claims{Email: "a@x"}, true); e != "a@x" {
		t.Fatalf("a trusted issuer's email: %q", e)
	}
	if e := TrustedEmail(&Claims{Email: "a@x", EmailVerified: true}, false); e != "a@x" {
		t.Fatalf("a verified email: %q", e)
	}
	if e := TrustedEmail(&Claims{EmailVerified: true}, true); e != "" {
		t.Fatalf("no email: %q", e)
	}
}

// TestSecurityIssuerAnswerIsBounded: a discovery document larger than
// MaxResponse fails instead of being read whole.
func TestSecurityIssuerAnswerIsBounded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"issuer":"`+strings.Repeat("a", MaxResponse+10)+`"}`)
	}))
	defer srv.Close()
	c := New(srv.Client())
	_, err := c.Begin(t.Context(), &Issuer{ID: "i", URL: srv.URL, ClientID: "c"}, "http://cb")
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("err = %v, want the size limit", err)
	}
}

func FuzzClaimsOf(f *testing.F) {
	f.Add([]byte(`{"email":"a@x","email_verified":true,"groups":["eng"]}`))
	f.Add([]byte(`{"groups":"eng","name":"n"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var all map[string]any
		if json.Unmarshal(b, &all) != nil {
			return
		}
		c := ClaimsOf("s", all, "groups")
		if len(c.Groups) > maxClaim {
			t.Fatalf("%d groups", len(c.Groups))
		}
		if c.EmailVerified && all["email_verified"] != true && all["email_verified"] != "true" {
			t.Fatalf("email_verified %v read as true", all["email_verified"])
		}
	})
}
