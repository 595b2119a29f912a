package publish

import (
	"context"
	"fmt"

	"github.com/redis/rueidis"

	"github.com/switchyard/switchyard/codec"
)

// SnapshotKey returns the Redis key of an environment's snapshot.
func SnapshotKey(envID string) string { return "sy:snap:" + envID }

// Redis is the production SnapshotWriter: SET sy:snap:{envId} <msgp>.
type Redis struct {
	c rueidis.Client
}

// NewRedis connects to a Redis server. It does not fail when the server is
// down at start: writes fail (and are retried by the Publisher) until it is
// up.
func NewRedis(addr string) (*Redis, error) {
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true,
		ForceSingleClient: true})
	if err != nil {
		return nil, fmt.Errorf("cannot create Redis client for %s: %w", addr, err)
	}
	return &Redis{c: c}, nil
}

// WriteSnapshot implements SnapshotWriter.
func (r *Redis) WriteSnapshot(ctx context.Context, s *codec.EnvSnapshot) error {
	b, err := s.MarshalMsg(nil)
	if err != nil {
		return fmt.Errorf("BUG: cannot encode snapshot: %w", err)
	}
	cmd := r.c.B().Set().Key(SnapshotKey(s.EnvID)).Value(rueidis.BinaryString(b)).Build()
	if err := r.c.Do(ctx, cmd).Error(); err != nil {
		return fmt.Errorf("redis SET %s: %w", SnapshotKey(s.EnvID), err)
	}
	return nil
}

// Close closes the client.
func (r *Redis) Close() { r.c.Close() }
