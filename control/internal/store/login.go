package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// CollLoginAttempts holds the login throttle's state, so every control
// instance of one database sees the same failures (docs/control.md).
const CollLoginAttempts = "login_attempts"

func init() {
	Schema = append(Schema, Collection{Name: CollLoginAttempts, Indexes: []Index{
		{Name: "last", Fields: []string{"last"}}, // pruning: least recently failed first
	}})
}

// LoginAttempts is the failure record of one throttle key (its id is a hash
// of the key: no e-mail address or IP is stored). Until and Last are Unix ms.
type LoginAttempts struct {
	ID       string `json:"id"`
	Failures int    `json:"failures"`
	Until    int64  `json:"until"` // locked until then
	Last     int64  `json:"last"`  // the latest failure
}

// GetLoginAttempts returns a key's record, nil when it has none.
func (s *Store) GetLoginAttempts(ctx context.Context, id string) (*LoginAttempts, error) {
	a, _, err := getDoc[LoginAttempts](ctx, s, CollLoginAttempts, id)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return a, err
}

// FailLogin records a failed attempt of key id at now, atomically with
// concurrent ones of any instance, and locks the key for lockout(failures)
// from now (0: not locked). It returns the updated record.
func (s *Store) FailLogin(ctx context.Context, id string, now time.Time, lockout func(failures int) time.Duration) (*LoginAttempts, error) {
	var out *LoginAttempts
	err := s.b.Modify(ctx, CollLoginAttempts, []string{id}, func(_ string, old *Doc) (*Doc, error) {
		a := &LoginAttempts{ID: id}
		ver := int64(1)
		if old != nil {
			if err := decode(old.Data, a); err != nil {
				return nil, fmt.Errorf("cannot decode login attempts %s: %w", id, err)
			}
			ver = old.Version + 1
		}
		a.Failures++
		a.Last = now.UnixMilli()
		if d := lockout(a.Failures); d > 0 {
			a.Until = now.Add(d).UnixMilli()
		}
		out = a
		return &Doc{ID: id, Version: ver, Fields: map[string]string{"last": pad(a.Last)}, Data: encode(a)}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot record a failed login: %w", err)
	}
	return out, nil
}

// ClearLogin forgets a key's failures (a successful login).
func (s *Store) ClearLogin(ctx context.Context, id string) error {
	if err := s.b.Delete(ctx, CollLoginAttempts, id, -1); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("cannot clear login attempts: %w", err)
	}
	return nil
}

// PruneLoginAttempts deletes the records whose latest failure is before
// before (Unix ms) and whose lock ended before then too, least recent first,
// and returns how many it deleted.
func (s *Store) PruneLoginAttempts(ctx context.Context, before int64) (int, error) {
	return pruneOldest(ctx, s, CollLoginAttempts, "last", func(a *LoginAttempts) (string, pruneVerdict) {
		switch {
		case a.Last >= before:
			return a.ID, pruneStop
		case a.Until >= before:
			return a.ID, pruneKeep // still locked then: kept until its lock has ended
		}
		return a.ID, pruneDelete
	})
}

// ReserveLogin reserves one attempt of key id at now before the password is
// checked, atomically with concurrent reservations of any instance: a locked
// key (Until after now) gets no reservation and ok false, with the record
// as it is; otherwise the attempt is counted as a failure in advance
// (Failures+1, locked for lockout(Failures) from now) and ok is true. The
// caller checks the password only when ok, and clears the key (ClearLogin)
// when it was right. So N parallel guesses check at most as many passwords
// as the rule lets through, however they interleave.
func (s *Store) ReserveLogin(ctx context.Context, id string, now time.Time, lockout func(failures int) time.Duration) (a *LoginAttempts, ok bool, err error) {
	err = s.b.Modify(ctx, CollLoginAttempts, []string{id}, func(_ string, old *Doc) (*Doc, error) {
		cur := &LoginAttempts{ID: id}
		ver := int64(1)
		if old != nil {
			if err := decode(old.Data, cur); err != nil {
				return nil, fmt.Errorf("cannot decode login attempts %s: %w", id, err)
			}
			ver = old.Version + 1
		}
		if cur.Until > now.UnixMilli() {
			a, ok = cur, false
			return nil, nil
		}
		cur.Failures++
		cur.Last = now.UnixMilli()
		if d := lockout(cur.Failures); d > 0 {
			cur.Until = now.Add(d).UnixMilli()
		}
		a, ok = cur, true
		return &Doc{ID: id, Version: ver, Fields: map[string]string{"last": pad(cur.Last)}, Data: encode(cur)}, nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("cannot reserve a login attempt: %w", err)
	}
	return a, ok, nil
}
