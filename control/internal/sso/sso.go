// Package sso signs users in with OpenID Connect providers: the
// authorization code flow with PKCE (S256), a state and a nonce, discovery
// and ID-token verification by github.com/coreos/go-oidc, and the pure rules
// that turn verified claims into an e-mail address and groups
// (docs/access.md, "Single sign-on").
//
// Every call to an issuer goes through the client given to New, which
// connects only to the addresses the egress policy allows, follows no
// redirects and reads at most MaxResponse bytes of any answer. A Client is
// safe for concurrent use; it caches each issuer's discovery document and
// keys for CacheTTL.
package sso

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Limits.
const (
	MaxResponse = 1 << 20          // bytes read of any answer of an issuer
	CacheTTL    = 10 * time.Minute // how long discovery is reused
	maxCached   = 1000             // issuers cached at once
	maxClaim    = 256              // values of the group claim looked at
)

// Issuer is what the flow needs of one configured issuer.
type Issuer struct {
	ID, URL, ClientID, ClientSecret string
	Version                         int64
	Scopes                          []string // besides "openid"
	GroupClaim                      string
}

// Claims are the verified facts of one sign-in.
type Claims struct {
	Subject       string
	Email         string
	EmailVerified bool
	Name          string
	Groups        []string // values of the issuer's group claim
}

// Start is the state of one sign-in the caller keeps until the callback.
type Start struct {
	URL, State, Nonce, Verifier string
}

// Client runs flows against issuers.
type Client struct {
	http *http.Client

	mu    sync.Mutex
	cache map[string]*cached // by issuer ID
}

type cached struct {
	ver      int64
	url      string
	at       time.Time
	provider *oidc.Provider
}

// New returns a Client whose calls to issuers go through hc (nil: an
// http.Client with a 10 s timeout, for tests only).
func New(hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	c := *hc
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c.Transport = limitBody{base}
	return &Client{http: &c, cache: map[string]*cached{}}
}

// limitBody fails reads past MaxResponse bytes of any response.
type limitBody struct{ rt http.RoundTripper }

func (l limitBody) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := l.rt.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{rc: resp.Body, left: MaxResponse}
	return resp, nil
}

type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

var errTooLarge = fmt.Errorf("the issuer's answer is larger than %d bytes", MaxResponse)

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		var one [1]byte
		if n, _ := b.rc.Read(one[:]); n > 0 {
			return 0, errTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

func (c *Client) ctx(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, c.http)
}

// provider returns the issuer's discovered provider, fetching it when it is
// not cached, stale, or the issuer's configuration changed.
func (c *Client) provider(ctx context.Context, is *Issuer) (*oidc.Provider, error) {
	c.mu.Lock()
	e := c.cache[is.ID]
	c.mu.Unlock()
	if e != nil && e.ver == is.Version && e.url == is.URL && time.Since(e.at) < CacheTTL {
		return e.provider, nil
	}
	p, err := oidc.NewProvider(c.ctx(ctx), is.URL)
	if err != nil {
		return nil, fmt.Errorf("cannot discover issuer %s: %w", is.URL, err)
	}
	c.mu.Lock()
	if len(c.cache) >= maxCached {
		clear(c.cache)
	}
	c.cache[is.ID] = &cached{ver: is.Version, url: is.URL, at: time.Now(), provider: p}
	c.mu.Unlock()
	return p, nil
}

func (c *Client) config(p *oidc.Provider, is *Issuer, redirect string) *oauth2.Config {
	scopes := []string{oidc.ScopeOpenID}
	if len(is.Scopes) == 0 {
		scopes = append(scopes, "email", "profile")
	}
	scopes = append(scopes, is.Scopes...)
	return &oauth2.Config{ClientID: is.ClientID, ClientSecret: is.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: redirect, Scopes: scopes}
}

// Begin starts a sign-in: it discovers the issuer and returns the URL to send
// the browser to, with a fresh state, nonce and PKCE verifier.
func (c *Client) Begin(ctx context.Context, is *Issuer, redirect string) (*Start, error) {
	p, err := c.provider(ctx, is)
	if err != nil {
		return nil, err
	}
	st := &Start{State: oauth2.GenerateVerifier(), Nonce: oauth2.GenerateVerifier(), Verifier: oauth2.GenerateVerifier()}
	st.URL = c.config(p, is, redirect).AuthCodeURL(st.State, oidc.Nonce(st.Nonce), oauth2.S256ChallengeOption(st.Verifier))
	return st, nil
}

// ErrVerify is a sign-in whose answer from the issuer did not check out.
var ErrVerify = errors.New("the sign-in could not be verified")

// Finish redeems the code with the PKCE verifier and verifies the ID token:
// signature by the issuer's keys, issuer, audience (the client id), expiry
// and nonce.
func (c *Client) Finish(ctx context.Context, is *Issuer, redirect, code, verifier, nonce string) (*Claims, error) {
	p, err := c.provider(ctx, is)
	if err != nil {
		return nil, err
	}
	tok, err := c.config(p, is, redirect).Exchange(c.ctx(ctx), code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, fmt.Errorf("%w: cannot redeem the code: %v", ErrVerify, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, fmt.Errorf("%w: the issuer returned no ID token", ErrVerify)
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: is.ClientID}).Verify(c.ctx(ctx), raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrVerify, err)
	}
	if idt.Nonce != nonce {
		return nil, fmt.Errorf("%w: the ID token's nonce does not match", ErrVerify)
	}
	var all map[string]any
	if err := idt.Claims(&all); err != nil {
		return nil, fmt.Errorf("%w: cannot read the claims: %v", ErrVerify, err)
	}
	return ClaimsOf(idt.Subject, all, is.GroupClaim), nil
}

// ClaimsOf picks the facts Switchyard uses out of an ID token's claims.
// email_verified counts only as the JSON boolean true (or the string "true",
// which some issuers send); the group claim may be a string or a list of
// strings, of which the first maxClaim are kept.
func ClaimsOf(sub string, all map[string]any, groupClaim string) *Claims {
	c := &Claims{Subject: sub}
	c.Email, _ = all["email"].(string)
	c.Email = strings.ToLower(strings.TrimSpace(c.Email))
	switch v := all["email_verified"].(type) {
	case bool:
		c.EmailVerified = v
	case string:
		c.EmailVerified = v == "true"
	}
	c.Name, _ = all["name"].(string)
	if groupClaim == "" {
		return c
	}
	switch v := all[groupClaim].(type) {
	case string:
		c.Groups = []string{v}
	case []any:
		for _, x := range v {
			if s, ok := x.(string); ok && len(c.Groups) < maxClaim {
				c.Groups = append(c.Groups, s)
			}
		}
	}
	return c
}

// MapGroups returns the group ids the claim values map to, each once, in
// the order of the values.
func MapGroups(values []string, m map[string]string) []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range values {
		if g, ok := m[v]; ok && !seen[g] {
			seen[g] = true
			out = append(out, g)
		}
	}
	return out
}

// TrustedEmail returns the e-mail the claims vouch for: the email claim when
// email_verified is true, or when the issuer is trusted for it; "" otherwise.
func TrustedEmail(c *Claims, trustIssuer bool) string {
	if c.Email == "" || !(c.EmailVerified || trustIssuer) {
		return ""
	}
	return c.Email
}
