package store

import (
	"context"
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
// LastSeen is 0 is treated as seen now. Users repeated in the batch are
// merged in order. The embedded store writes the batch in one transaction.
func (s *Store) UpsertEndUsers(ctx context.Context, envID string, users []codec.EndUser) error {
	now := s.Now()
	batch := make(map[string]*codec.EndUser, len(users))
	var ids []string
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
		id := endUserID(envID, u.KeyID)
		if prev, ok := batch[id]; ok {
			batch[id] = mergeEndUser(prev, &u)
			continue
		}
		batch[id] = &u
		ids = append(ids, id)
	}
	err := s.b.Modify(ctx, CollEndUsers, ids, func(id string, old *Doc) (*Doc, error) {
		u := batch[id]
		ver := int64(1)
		if old != nil {
			var cur codec.EndUser
			if err := decode(old.Data, &cur); err != nil {
				return nil, fmt.Errorf("cannot decode end user %s: %w", id, err)
			}
			u = mergeEndUser(&cur, u)
			ver = old.Version + 1
		}
		return &Doc{ID: id, Version: ver, Fields: endUserFields(u), Data: encode(u)}, nil
	})
	if err != nil {
		return fmt.Errorf("cannot upsert end users: %w", err)
	}
	return nil
}

// MaxEndUserProps caps the properties kept per end user: SDKs (client-side
// ones hold a public secret) choose the names, and merging keeps every new
// one, so without a cap one end user could grow without bound. Beyond it new
// names are dropped; known ones still get new values.
const MaxEndUserProps = 100

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
		if !found && len(m.Props) < MaxEndUserProps {
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

// ScanEndUsers calls fn for every end user of an environment last seen at
// or after seenSince (Unix ms; 0: all), reading them in batches (never the
// whole collection at once). fn's error stops the scan.
func (s *Store) ScanEndUsers(ctx context.Context, envID string, seenSince int64, fn func(*codec.EndUser) error) error {
	q := Query{Eq: envFields(envID), IDPrefix: endUserID(envID, "")}
	return s.b.Scan(ctx, CollEndUsers, q, func(d *Doc) error {
		var u codec.EndUser
		if err := decode(d.Data, &u); err != nil {
			return fmt.Errorf("cannot decode %s %s: %w", CollEndUsers, d.ID, err)
		}
		if u.LastSeen < seenSince {
			return nil
		}
		return fn(&u)
	})
}
