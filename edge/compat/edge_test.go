//go:build integration

package compat

import (
	"context"

	"github.com/switchyard/switchyard/codec"
)

// testEdge is an in-process edge fed by a LocalSource, producing its events
// to Kafka under a random topic prefix.
type testEdge struct {
	Addr   string
	Source interface {
		Produce(ctx context.Context, ev *codec.ChangeEvent) error
	}
	Insights *insightWatch
}
