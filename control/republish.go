package control

import (
	"context"
	"errors"
	"fmt"

	"github.com/switchyard/switchyard/control/internal/store"
)

// RepublishAll writes every environment's snapshot again, with any pending
// change events. The all-in-one binary calls it after Start, because its
// edge keeps snapshots in memory only (in production Redis keeps them).
func (s *Server) RepublishAll(ctx context.Context) error {
	docs, _, err := s.st.Backend().Find(ctx, store.CollEnvs, store.Query{})
	if err != nil {
		return fmt.Errorf("cannot list environments: %w", err)
	}
	var errs []error
	for _, d := range docs {
		if err := s.pub.PublishEnv(ctx, d.ID); err != nil {
			errs = append(errs, fmt.Errorf("environment %s: %w", d.ID, err))
		}
	}
	return errors.Join(errs...)
}
