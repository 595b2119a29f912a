package publish

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/rueidis"

	"github.com/switchyard/switchyard/codec"
)

// SnapshotKey returns the Redis key of an environment's snapshot.
func SnapshotKey(envID string) string { return "sy:snap:" + envID }

// VersionKey returns the Redis key holding the version (decimal) of the
// snapshot stored under SnapshotKey.
func VersionKey(envID string) string { return "sy:snapv:" + envID }

// TombstoneKey returns the Redis key that marks a deleted environment: an
// edge that finds no snapshot refuses SDKs (4003/401) only when it exists,
// and answers "unavailable" (1011/503, SDKs retry) otherwise.
func TombstoneKey(envID string) string { return "sy:gone:" + envID }

// Redis is the production SnapshotWriter: SET sy:snap:{envId} <msgp> with
// its version in sy:snapv:{envId}, guarded (one Lua script, atomic) so that
// an older snapshot never replaces a newer one (two control replicas, or a
// slow attempt that finishes after a newer one), and never recreates the
// snapshot of a deleted environment (sy:gone:{envId}). The script compares
// decimal versions and never parses the snapshot.
type Redis struct {
	c rueidis.Client
}

// setIfNotOlder: KEYS[1] snapshot, KEYS[2] its version, KEYS[3] tombstone;
// ARGV[1] value, ARGV[2] its version. Returns 1 when written, 0 when the
// stored snapshot is newer or the environment is deleted.
var setIfNotOlder = rueidis.NewLuaScript(`
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
local cur = tonumber(redis.call('GET', KEYS[2]))
if cur and cur > tonumber(ARGV[2]) and redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
return 1
`)

// deleteEnv: KEYS[1] snapshot, KEYS[2] version, KEYS[3] tombstone.
var deleteEnv = rueidis.NewLuaScript(`
redis.call('SET', KEYS[3], '1')
redis.call('DEL', KEYS[1], KEYS[2])
return 1
`)

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
	res := setIfNotOlder.Exec(ctx, r.c, []string{SnapshotKey(s.EnvID), VersionKey(s.EnvID), TombstoneKey(s.EnvID)},
		[]string{rueidis.BinaryString(b), strconv.FormatInt(s.Version, 10)})
	if err := res.Error(); err != nil {
		return fmt.Errorf("redis SET %s: %w", SnapshotKey(s.EnvID), err)
	}
	return nil
}

// DeleteSnapshot implements SnapshotWriter: tombstone, then no snapshot.
func (r *Redis) DeleteSnapshot(ctx context.Context, envID string) error {
	res := deleteEnv.Exec(ctx, r.c, []string{SnapshotKey(envID), VersionKey(envID), TombstoneKey(envID)}, nil)
	if err := res.Error(); err != nil {
		return fmt.Errorf("redis delete %s: %w", SnapshotKey(envID), err)
	}
	return nil
}

// missingBatch bounds the EXISTS commands of one pipelined round trip.
const missingBatch = 512

// Missing implements SnapshotWriter with pipelined EXISTS commands.
func (r *Redis) Missing(ctx context.Context, envIDs []string) ([]string, error) {
	var out []string
	cmds := make(rueidis.Commands, 0, min(len(envIDs), missingBatch))
	for lo := 0; lo < len(envIDs); lo += missingBatch {
		part := envIDs[lo:min(lo+missingBatch, len(envIDs))]
		cmds = cmds[:0]
		for _, id := range part {
			cmds = append(cmds, r.c.B().Exists().Key(SnapshotKey(id)).Build())
		}
		for i, res := range r.c.DoMulti(ctx, cmds...) {
			n, err := res.AsInt64()
			if err != nil {
				return nil, fmt.Errorf("redis EXISTS %s: %w", SnapshotKey(part[i]), err)
			}
			if n == 0 {
				out = append(out, part[i])
			}
		}
	}
	return out, nil
}

// Close closes the client.
func (r *Redis) Close() { r.c.Close() }
