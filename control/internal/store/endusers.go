package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/switchyard/switchyard/codec"
)

func endUserID(envID, keyID string) string { return envID + ":" + keyID }

func endUserFields(u *codec.EndUser) map[string]string {
	return map[string]string{"envId": u.EnvID, "keyId": u.KeyID, "name": strings.ToLower(u.Name),
		"keyLower": strings.ToLower(u.KeyID), "lastSeen": pad(u.LastSeen)}
}

// UpsertEndUsers inserts or merges end users of an environment: properties
// are merged by name (new values win), Name is replaced when non-empty,
// FirstSeen keeps the earliest and LastSeen the latest time. A user whose
// LastSeen is 0 is treated as seen now.
func (s *Store) UpsertEndUsers(ctx context.Context, envID string, users []codec.EndUser) error {
	now := s.Now()
	for i := range users {
		u := users[i]
		if u.KeyID == "" {
			continue
		}
		u.EnvID = envID
		if u.LastSeen == 0 {
			u.LastSeen = now
		}
		if u.FirstSeen == 0 || u.FirstSeen > u.LastSeen {
			u.FirstSeen = u.LastSeen
		}
		if err := s.upsertEndUser(ctx, &u); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) upsertEndUser(ctx context.Context, u *codec.EndUser) error {
	id := endUserID(u.EnvID, u.KeyID)
	for range 20 {
		old, ver, err := getDoc[codec.EndUser](ctx, s, CollEndUsers, id)
		if errors.Is(err, ErrNotFound) {
			err = insertDoc(ctx, s, CollEndUsers, id, 1, endUserFields(u), u)
			if errors.Is(err, ErrDuplicate) {
				continue
			}
			return err
		}
		if err != nil {
			return err
		}
		m := mergeEndUser(old, u)
		err = replaceDoc(ctx, s, CollEndUsers, id, ver+1, ver, endUserFields(m), m)
		if errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) {
			continue
		}
		return err
	}
	return fmt.Errorf("end user %q changed concurrently too often: %w", u.KeyID, ErrConflict)
}

func mergeEndUser(old, u *codec.EndUser) *codec.EndUser {
	m := *old
	if u.Name != "" {
		m.Name = u.Name
	}
	m.Props = append([]codec.UserProp(nil), old.Props...)
	for _, p := range u.Props {
		found := false
		for i := range m.Props {
			if m.Props[i].Name == p.Name {
				m.Props[i].Value, found = p.Value, true
				break
			}
		}
		if !found {
			m.Props = append(m.Props, p)
		}
	}
	if u.FirstSeen != 0 && (m.FirstSeen == 0 || u.FirstSeen < m.FirstSeen) {
		m.FirstSeen = u.FirstSeen
	}
	if u.LastSeen > m.LastSeen {
		m.LastSeen = u.LastSeen
	}
	return &m
}

// GetEndUser returns an end user of an environment by key id.
func (s *Store) GetEndUser(ctx context.Context, envID, keyID string) (*codec.EndUser, error) {
	u, _, err := getDoc[codec.EndUser](ctx, s, CollEndUsers, endUserID(envID, keyID))
	return u, err
}

// ListEndUsers returns a page of an environment's end users whose key id or
// name contains search (case-insensitive), most recently seen first, and
// the total number of matches.
func (s *Store) ListEndUsers(ctx context.Context, envID, search string, offset, limit int) ([]*codec.EndUser, int, error) {
	q := Query{Eq: envFields(envID), Sort: "lastSeen", Desc: true, Offset: offset, Limit: limit}
	if search != "" {
		q.Search, q.SearchFields = strings.ToLower(search), []string{"keyLower", "name"}
	}
	return findDocs[codec.EndUser](ctx, s, CollEndUsers, q)
}

// EndUserProps returns the property names seen on the most recently seen
// end users of an environment (up to 1000 users are sampled), with "keyId"
// and "name" first.
func (s *Store) EndUserProps(ctx context.Context, envID string) ([]string, error) {
	us, _, err := s.ListEndUsers(ctx, envID, "", 0, 1000)
	if err != nil {
		return nil, err
	}
	out := []string{"keyId", "name"}
	seen := map[string]bool{"keyId": true, "name": true}
	for _, u := range us {
		for _, p := range u.Props {
			if !seen[p.Name] {
				seen[p.Name] = true
				out = append(out, p.Name)
			}
		}
	}
	return out, nil
}
