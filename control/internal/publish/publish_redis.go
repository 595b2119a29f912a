package publish

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/switchyard/switchyard/codec"
)

// SnapshotKey returns the Redis key of an environment's hash
// (codec.EnvKey: one field per item, see codec/envhash.go).
func SnapshotKey(envID string) string { return codec.EnvKey(envID) }

// TombstoneKey returns the Redis key that marks a deleted environment: an
// edge that finds no hash refuses SDKs (4003/401) only when it exists, and
// answers "unavailable" (1011/503, SDKs retry) otherwise.
func TombstoneKey(envID string) string { return codec.TombstoneKey(envID) }

// Redis is the production SnapshotWriter. Each environment is one hash
// sy:env:{envId} (codec/envhash.go): a change rewrites only the fields of the
// items it touches and the version field "_v", in one Lua script (atomic);
// a whole write replaces the hash. Both scripts compare decimal versions
// (never parse msgp): an older write never replaces a newer one (two
// control replicas, or a slow attempt finishing after a newer one), a change
// is applied only to an existing hash (so a hash that exists is always
// complete; a missing one makes the publisher write it whole), and nothing
// is written for a deleted environment (sy:gone:{envId}).
type Redis struct {
	c rueidis.Client
}

// writeEnv: KEYS[1] hash, KEYS[2] tombstone; ARGV[1] version, then
// field/value pairs (including "_v"). 1 written, 0 skipped. A key of
// another type (not written by us) is replaced.
var writeEnv = rueidis.NewLuaScript(`
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if redis.call('TYPE', KEYS[1]).ok ~= 'hash' then redis.call('DEL', KEYS[1]) end
local cur = tonumber(redis.call('HGET', KEYS[1], '_v'))
if cur and cur > tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
`)

// applyChanges: KEYS[1] hash, KEYS[2] tombstone; ARGV[1] version, then
// triples op ("u" set, "d" delete), field, value. 1 applied, 0 skipped
// (older, or deleted), -1 no hash (write it whole).
var applyChanges = rueidis.NewLuaScript(`
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if redis.call('TYPE', KEYS[1]).ok ~= 'hash' then return -1 end
local cur = tonumber(redis.call('HGET', KEYS[1], '_v'))
if not cur then return -1 end
if cur >= tonumber(ARGV[1]) then return 0 end
for i = 2, #ARGV, 3 do
  if ARGV[i] == 'd' then redis.call('HDEL', KEYS[1], ARGV[i + 1])
  else redis.call('HSET', KEYS[1], ARGV[i + 1], ARGV[i + 2]) end
end
redis.call('HSET', KEYS[1], '_v', ARGV[1])
return 1
`)

// deleteEnv: KEYS[1] hash, KEYS[2] tombstone.
var deleteEnv = rueidis.NewLuaScript(`
redis.call('SET', KEYS[2], '1')
redis.call('DEL', KEYS[1])
return 1
`)

// NewRedis connects to a Redis server. It fails when the server does not
// answer at start (control then exits and is restarted by its supervisor);
// a later outage only fails writes, which the Publisher retries.
func NewRedis(addr string) (*Redis, error) { return NewRedisSentinel(addr, "") }

// NewRedisSentinel is NewRedis, or with sentinelMaster set, connects to the
// primary of that Sentinel master set; addr is then the comma-separated
// sentinel addresses (RedisOption). It fails when no sentinel answers or
// none knows the master set.
func NewRedisSentinel(addr, sentinelMaster string) (*Redis, error) {
	opt, err := RedisOption(addr, sentinelMaster)
	if err != nil {
		return nil, err
	}
	opt.DisableCache, opt.ForceSingleClient = true, true
	c, err := rueidis.NewClient(opt)
	if err != nil {
		return nil, fmt.Errorf("cannot create Redis client for %s: %w", addr, err)
	}
	return &Redis{c: c}, nil
}

// WriteSnapshot implements SnapshotWriter: the whole hash at once.
func (r *Redis) WriteSnapshot(ctx context.Context, s *codec.EnvSnapshot) error {
	kv, err := codec.AppendEnvFields(make([]string, 0, 1+2*(2+len(s.Flags)+len(s.Segments))), s)
	if err != nil {
		return fmt.Errorf("BUG: cannot encode snapshot: %w", err)
	}
	args := append([]string{strconv.FormatInt(s.Version, 10)}, kv...)
	if err := writeEnv.Exec(ctx, r.c, []string{SnapshotKey(s.EnvID), TombstoneKey(s.EnvID)}, args).Error(); err != nil {
		return fmt.Errorf("redis write %s: %w", SnapshotKey(s.EnvID), err)
	}
	return nil
}

// WriteChanges implements SnapshotWriter: only the fields of the changed
// items, and the version. codec.ErrEnvMissing when the hash is missing.
func (r *Redis) WriteChanges(ctx context.Context, envID string, version int64, evs []*codec.ChangeEvent) error {
	evs, err := codec.Flatten(evs)
	if err != nil {
		return err
	}
	args := make([]string, 1, 1+3*len(evs))
	args[0] = strconv.FormatInt(version, 10)
	for _, ev := range evs {
		op, field, val := changeField(ev)
		if field != "" {
			args = append(args, op, field, rueidis.BinaryString(val))
		}
	}
	n, err := applyChanges.Exec(ctx, r.c, []string{SnapshotKey(envID), TombstoneKey(envID)}, args).AsInt64()
	if err != nil {
		return fmt.Errorf("redis apply to %s: %w", SnapshotKey(envID), err)
	}
	if n < 0 {
		return fmt.Errorf("%s: %w", SnapshotKey(envID), codec.ErrEnvMissing)
	}
	return nil
}

// changeField maps a change event to a hash operation: "u" (set) or "d"
// (delete), the field, the value; field "" for events that change no item.
func changeField(ev *codec.ChangeEvent) (op, field string, val []byte) {
	switch ev.Kind {
	case codec.KindFlag:
		field = codec.FlagField(ev.ID)
	case codec.KindSegment:
		field = codec.SegmentField(ev.ID)
	case codec.KindSecrets:
		return "u", codec.FieldSecrets, ev.Payload
	default:
		return "", "", nil
	}
	if ev.Op == codec.OpDelete {
		return "d", field, nil
	}
	return "u", field, ev.Payload
}

// DeleteSnapshot implements SnapshotWriter: tombstone, then no snapshot.
func (r *Redis) DeleteSnapshot(ctx context.Context, envID string) error {
	res := deleteEnv.Exec(ctx, r.c, []string{SnapshotKey(envID), TombstoneKey(envID)}, nil)
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

// maxSentinels bounds the sentinel list of -redis-sentinel-master.
const maxSentinels = 16

// RedisOption builds the rueidis options of addr: one Redis address, or,
// when sentinelMaster is set, a comma-separated list of Sentinel addresses
// (host:port each, at most 16) that name the primary of the master set
// sentinelMaster (the client follows a failover: +switch-master events,
// and a reconciliation with the sentinels every 5 s). The error names the
// setting at fault.
func RedisOption(addr, sentinelMaster string) (rueidis.ClientOption, error) {
	if sentinelMaster == "" {
		return rueidis.ClientOption{InitAddress: []string{addr}}, nil
	}
	if len(sentinelMaster) > 128 || strings.IndexFunc(sentinelMaster, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return rueidis.ClientOption{}, fmt.Errorf("redis-sentinel-master: want a master set name of at most 128 characters without spaces or control characters, got %q", sentinelMaster)
	}
	var sentinels []string
	for _, a := range strings.Split(addr, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		host, port, err := net.SplitHostPort(a)
		if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			return rueidis.ClientOption{}, fmt.Errorf("redis address: with redis-sentinel-master it is a comma-separated list of sentinel host:port addresses; %q is not one", a)
		}
		sentinels = append(sentinels, a)
	}
	if len(sentinels) == 0 || len(sentinels) > maxSentinels {
		return rueidis.ClientOption{}, fmt.Errorf("redis address: with redis-sentinel-master it is a comma-separated list of 1 to %d sentinel host:port addresses, got %q", maxSentinels, addr)
	}
	return rueidis.ClientOption{InitAddress: sentinels, Sentinel: rueidis.SentinelOption{MasterSet: sentinelMaster,
		// a missed +switch-master event would otherwise bind the client to
		// the old primary until a restart
		TopologyRefreshInterval: 5 * time.Second}}, nil
}
