// Package auth holds control's credential primitives: bcrypt password
// hashing, random bearer tokens stored only as SHA-256 hashes (login sessions
// and organization-scoped API access tokens), and the login throttle.
//
// Tokens are "sy" + kind letter + "_" + 43 base64url characters (256 random
// bits): "sys_…" for sessions, "syt_…" for access tokens, "syi_…" for
// invitations to an organization. Only Hash(token) is stored; a token is
// shown once, when it is created.
//
// The login throttle's rule is Throttle; its state is in the store.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/bcrypt"
)

// Token kinds.
const (
	KindSession = "sys_"
	KindAccess  = "syt_"
	KindInvite  = "syi_"
)

// BcryptCost is the bcrypt cost of stored passwords.
var BcryptCost = bcrypt.DefaultCost

// MinPasswordLen is the shortest accepted password.
const MinPasswordLen = 8

// HashPassword returns the bcrypt hash of a password.
func HashPassword(pw string) (string, error) {
	if len(pw) > 72 {
		return "", errors.New("password longer than 72 bytes")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), BcryptCost)
	return string(h), err
}

// passwordChecks counts bcrypt comparisons (CheckPassword and
// BurnPasswordCheck).
var passwordChecks atomic.Int64

// PasswordChecks returns how many passwords this process has compared with
// a bcrypt hash: what a guessing attack costs, and what the login throttle
// bounds.
func PasswordChecks() int64 { return passwordChecks.Load() }

// CheckPassword reports whether pw matches the bcrypt hash.
func CheckPassword(hash, pw string) bool {
	passwordChecks.Add(1)
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil
}

// dummyHash makes a login for an unknown account cost as much as a wrong
// password, so timing does not reveal which emails exist.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("not-a-real-password"), bcrypt.DefaultCost)

// BurnPasswordCheck spends the time of one password check.
func BurnPasswordCheck(pw string) {
	passwordChecks.Add(1)
	_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(pw))
}

// NewToken returns a fresh random token of a kind (KindSession, KindAccess,
// KindInvite).
func NewToken(kind string) string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return kind + base64.RawURLEncoding.EncodeToString(b[:])
}

// NewPassword returns a random password for the initial admin.
func NewPassword() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Hash returns the hex SHA-256 of a token: the only form that is stored.
func Hash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// Kind returns the kind prefix of a token, or "" if it has none.
func Kind(token string) string {
	switch {
	case strings.HasPrefix(token, KindSession):
		return KindSession
	case strings.HasPrefix(token, KindAccess):
		return KindAccess
	case strings.HasPrefix(token, KindInvite):
		return KindInvite
	}
	return ""
}
