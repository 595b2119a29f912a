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

// Redis is the production SnapshotWriter: SET sy:snap:{envId} <msgp>,
// guarded so that an older snapshot never replaces a newer one (two control
// replicas, or a slow attempt that finishes after a newer one): a Lua script
// reads the stored snapshot's version from its first bytes (the msgp
// encoding of codec.EnvSnapshot starts with envId, then version) and writes
// only if the new version is not older. A stored value it cannot parse is
// overwritten.
type Redis struct {
	c rueidis.Client
}

// setIfNotOlder: KEYS[1] key, ARGV[1] value, ARGV[2] its version. Returns 1
// when written, 0 when the stored snapshot is newer.
var setIfNotOlder = rueidis.NewLuaScript(`
local function str(s, p)
  local b = s:byte(p)
  if not b then return nil end
  if b >= 0xa0 and b <= 0xbf then return p + 1, b - 0xa0 end
  if b == 0xd9 then local l = s:byte(p + 1); if not l then return nil end; return p + 2, l end
  if b == 0xda then local h, l = s:byte(p + 1, p + 2); if not l then return nil end; return p + 3, h * 256 + l end
  return nil
end
local function int(s, p)
  local b = s:byte(p)
  if not b then return nil end
  if b < 0x80 then return b end
  local n = ({[0xcc]=1,[0xcd]=2,[0xce]=4,[0xcf]=8,[0xd0]=1,[0xd1]=2,[0xd2]=4,[0xd3]=8})[b]
  if not n then return nil end
  local v = 0
  for i = 1, n do
    local c = s:byte(p + i)
    if not c then return nil end
    if i == 1 and b >= 0xd0 and c >= 0x80 then return nil end
    v = v * 256 + c
  end
  return v
end
local function version(s)
  local b = s:byte(1)
  if not b or b < 0x80 or b > 0x8f then return nil end
  local p = 2
  for _ = 1, 2 do
    local q, l = str(s, p)
    if not q then return nil end
    local key = s:sub(q, q + l - 1)
    p = q + l
    if key == 'version' then return int(s, p) end
    local r, m = str(s, p)
    if not r then return nil end
    p = r + m
  end
  return nil
end
local cur = version(redis.call('GETRANGE', KEYS[1], 0, 127))
if cur and cur > tonumber(ARGV[2]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
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
	res := setIfNotOlder.Exec(ctx, r.c, []string{SnapshotKey(s.EnvID)},
		[]string{rueidis.BinaryString(b), strconv.FormatInt(s.Version, 10)})
	if err := res.Error(); err != nil {
		return fmt.Errorf("redis SET %s: %w", SnapshotKey(s.EnvID), err)
	}
	return nil
}

// Close closes the client.
func (r *Redis) Close() { r.c.Close() }
