//go:build integration

package analytics

import (
	"time"

	"github.com/switchyard/switchyard/analytics/internal/store"
)

// rangeFor is the last hour (and the next) of one flag.
func rangeFor(env, flag string) store.Range {
	now := time.Now()
	return store.Range{EnvID: env, FlagKey: flag, From: now.Add(-time.Hour), To: now.Add(time.Hour)}
}
