package control

import (
	"context"
	"io"

	"github.com/switchyard/switchyard/control/internal/featbit"
)

// ImportFeatBit imports one FeatBit environment's export (read from r,
// bounded by lim; formats in docs/compat.md) into environment envID through
// the API's domain operations; see featbit.Import. With dryRun it only
// reports. Written changes are published by the running control plane's
// publisher, or by PublishPending: the mains call it when they have Redis
// and Kafka, and an embedded instance publishes them at its next start.
func (s *Server) ImportFeatBit(ctx context.Context, envID string, r io.Reader, lim featbit.Limits, dryRun bool) (*featbit.Report, error) {
	ex, err := featbit.Decode(r, lim)
	if err != nil {
		return nil, err
	}
	rep, wrote, err := featbit.Import(ctx, s.st, envID, ex, dryRun)
	if wrote {
		s.pub.Notify(envID)
	}
	return rep, err
}
