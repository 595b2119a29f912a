package audit

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
)

// Redaction. Audit entries, their diffs, webhook payloads and delivery logs
// are built from the resources a write returned, and some of those carry
// secrets (a created webhook's signing secret, a trigger's token and URL, an
// access token, an environment's SDK secrets). Redact is the one function
// every such value goes through: it turns the value into its JSON shape and
// removes every object member whose key is in SecretKeys, at any depth, and
// masks anything that looks like one of Switchyard's tokens in the strings
// left (Scrub). A new secret field is caught by name
// (TestSecurityEverySecretFieldIsRedacted fails on a field whose name looks
// like a secret unless its JSON key is in SecretKeys or it never encodes).

// SecretKeys are the JSON keys (compared case-insensitively) whose values
// never leave control in an audit entry, a webhook payload or a delivery.
var SecretKeys = []string{
	"secret", "secrets", "serverSecret", "clientSecret", // webhook signing secret, environment SDK secrets
	"token", "accessToken", "sessionToken", "inviteToken", "invitationToken", // bearer tokens
	"password", "oldPassword", "newPassword", "passwordHash", "hash", // credentials and their hashes
	"verifier", "nonce", "state", // an SSO sign-in's PKCE verifier, nonce and state
	"url", // a trigger's run URL embeds its token; webhook URLs may embed a receiver's credentials
}

// tokenShape matches Switchyard's own secret formats: session ("sys_"),
// access ("syt_") and trigger ("syr_") tokens, webhook secrets ("whsec_").
var tokenShape = regexp.MustCompile(`(sy[str]_|whsec_)[A-Za-z0-9_\-]{16,}`)

// Scrub masks every substring of s shaped like a Switchyard token or
// secret, keeping its prefix ("syr_…").
func Scrub(s string) string {
	if !strings.Contains(s, "sy") && !strings.Contains(s, "whsec_") {
		return s
	}
	return tokenShape.ReplaceAllStringFunc(s, func(m string) string {
		i := strings.IndexByte(m, '_')
		return m[:i+1] + "…"
	})
}

// isSecretKey reports whether an object key names a secret.
func isSecretKey(k string) bool {
	for _, s := range SecretKeys {
		if strings.EqualFold(k, s) {
			return true
		}
	}
	return false
}

// Redact returns v's JSON shape (maps, slices, strings, json.Number, bools,
// nil) without secrets: members under SecretKeys removed, token-shaped
// substrings masked. nil stays nil; a value that cannot be encoded becomes
// nil.
func Redact(v any) any {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil || bytes.Equal(b, []byte("null")) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var g any
	if dec.Decode(&g) != nil {
		return nil
	}
	return redactValue(g)
}

func redactValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if isSecretKey(k) {
				delete(x, k)
				continue
			}
			x[k] = redactValue(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = redactValue(e)
		}
		return x
	case string:
		return Scrub(x)
	}
	return v
}
