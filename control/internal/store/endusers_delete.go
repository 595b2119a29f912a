package store

import (
	"context"
	"fmt"
)

// DeleteEndUser removes an end user of an environment (GDPR erasure of the
// control plane's copy; analytics erases the events).
func (s *Store) DeleteEndUser(ctx context.Context, envID, keyID string) error {
	if err := s.b.Delete(ctx, CollEndUsers, endUserID(envID, keyID), -1); err != nil {
		return fmt.Errorf("cannot delete end user %s: %w", keyID, err)
	}
	return nil
}
