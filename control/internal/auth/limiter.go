package auth

import "time"

// Throttle is the login throttle's rule, per key (account + client IP for
// logins, the user for password changes): after Free failed attempts in a
// row, each further failure locks the key for Base·2^(n-Free), capped at Max;
// a success clears the key. The state lives in the store
// (store.ReserveLogin: every attempt is counted before its password is
// checked), so every control instance of one database counts the same
// failures and parallel guesses cannot overrun the limit.
type Throttle struct {
	Free int
	Base time.Duration
	Max  time.Duration
}

// DefaultThrottle: 4 free failures, then 1 s, 2 s, 4 s, … up to 15 min.
func DefaultThrottle() Throttle { return Throttle{Free: 5, Base: time.Second, Max: 15 * time.Minute} }

// Lockout is how long the key is locked after its failures-th failure in a
// row (0 while failures are free).
func (t Throttle) Lockout(failures int) time.Duration {
	if failures < t.Free {
		return 0
	}
	d := t.Base << min(failures-t.Free, 20)
	if d > t.Max || d <= 0 {
		d = t.Max
	}
	return d
}

// ThrottleKey is the stored id of a login throttle key: a hash, so the store
// keeps no e-mail address or IP in the clear.
func ThrottleKey(email, clientIP string) string { return Hash(email + "|" + clientIP) }

// PasswordKey is the stored id of the password-change throttle key of a
// user (PUT /auth/password checks the old password).
func PasswordKey(userID string) string { return Hash("password|" + userID) }
