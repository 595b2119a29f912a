package source

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/rueidis"
	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/edge/internal/ready"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// RemoteConfig configures the production source.
type RemoteConfig struct {
	RedisAddr string
	// RedisSentinelMaster, when set, makes RedisAddr a comma-separated list
	// of Sentinel addresses and Redis the primary of this master set.
	RedisSentinelMaster string
	Brokers             []string
	Topic               string // the change topic, e.g. "sy.changes" with its prefix
	// PartitionCheck is how often the topic's partition list is read again:
	// partitions added after Start are consumed from their first record
	// (every record in them is newer than any snapshot; versions decide)
	// [30s].
	PartitionCheck time.Duration
	// OnError is told about undecodable records and fetch errors.
	OnError func(error)
	// Dial, when set, opens the Kafka connections (tests route them
	// through a proxy they can cut).
	Dial func(ctx context.Context, network, host string) (net.Conn, error)
}

// Remote is the production source: snapshots from Redis key
// "sy:snap:{envId}" (msgp codec.EnvSnapshot) and changes from the Kafka
// change topic, every partition, without a consumer group. Start reads the
// end offsets first and consumes from there, so every snapshot loaded after
// Start returns is at least as new as the stream position. Partitions added
// to the topic later are found every PartitionCheck and read from their
// start.
type Remote struct {
	cfg   RemoteConfig
	redis rueidis.Client
	kafka *kgo.Client

	mu      sync.Mutex
	cancel  context.CancelFunc
	done    chan struct{}
	watched chan struct{} // closed when watchPartitions ended (nil: not running)
}

// NewRemote connects to Redis (lazily usable: a Redis outage only fails
// Snapshot) and prepares the Kafka client.
func NewRemote(cfg RemoteConfig) (*Remote, error) {
	if cfg.Topic == "" {
		cfg.Topic = codec.TopicChanges
	}
	if cfg.PartitionCheck <= 0 {
		cfg.PartitionCheck = 30 * time.Second
	}
	if _, err := RedisOption(cfg.RedisAddr, cfg.RedisSentinelMaster); err != nil {
		return nil, err
	}
	rc, err := newRedis(cfg)
	if err != nil {
		// Redis down at start: keep going, snapshots fail until it is back.
		rc = nil
	}
	return &Remote{cfg: cfg, redis: rc}, nil
}

// SnapshotKey is the Redis key of an environment's hash (codec.EnvKey).
func SnapshotKey(envID string) string { return codec.EnvKey(envID) }

// TombstoneKey is the Redis key control sets when it deletes an
// environment: without a hash, only a tombstone makes the environment
// unknown (ErrNotFound); otherwise the snapshot is missing (ErrNoSnapshot).
func TombstoneKey(envID string) string { return codec.TombstoneKey(envID) }

func (r *Remote) client() (rueidis.Client, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.redis == nil {
		rc, err := newRedis(r.cfg)
		if err != nil {
			return nil, fmt.Errorf("source: redis %s: %w", r.cfg.RedisAddr, err)
		}
		r.redis = rc
	}
	return r.redis, nil
}

// Snapshot reads the hash sy:env:{envId} (codec/envhash.go) and, in the
// same round trip, whether sy:gone:{envId} exists, and assembles the
// snapshot. No hash is ErrNotFound with the tombstone, ErrNoSnapshot without
// (Redis lost its data, or control has not published the environment yet).
func (r *Remote) Snapshot(ctx context.Context, envID string) (*codec.EnvSnapshot, error) {
	rc, err := r.client()
	if err != nil {
		return nil, err
	}
	res := rc.DoMulti(ctx, rc.B().Hgetall().Key(SnapshotKey(envID)).Build(),
		rc.B().Exists().Key(TombstoneKey(envID)).Build())
	fields, err := res[0].AsStrMap()
	if err != nil {
		return nil, fmt.Errorf("source: redis hgetall %s: %w", SnapshotKey(envID), err)
	}
	if len(fields) == 0 {
		gone, err := res[1].AsInt64()
		if err != nil {
			return nil, fmt.Errorf("source: redis exists %s: %w", TombstoneKey(envID), err)
		}
		if gone == 1 {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("%w: %s", ErrNoSnapshot, SnapshotKey(envID))
	}
	s, err := codec.EnvFromFields(envID, fields)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	return s, nil
}

// Start reads the change topic's end offsets, then consumes every
// partition from there in the background. If the topic does not exist yet
// it is consumed from the start once it appears.
func (r *Remote) Start(ctx context.Context, apply func(*codec.ChangeEvent)) error {
	opts := []kgo.Opt{kgo.SeedBrokers(r.cfg.Brokers...)}
	if r.cfg.Dial != nil {
		opts = append(opts, kgo.Dialer(r.cfg.Dial))
	}
	admin, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("source: kafka: %w", err)
	}
	adm := kadm.NewClient(admin)
	ends, err := adm.ListEndOffsets(ctx, r.cfg.Topic)
	admin.Close()
	var consume kgo.Opt
	var known map[int32]bool // direct partitions: watched for additions
	if err == nil && ends.Error() == nil && len(ends[r.cfg.Topic]) > 0 {
		parts := map[int32]kgo.Offset{}
		known = map[int32]bool{}
		for p, o := range ends[r.cfg.Topic] {
			parts[p] = kgo.NewOffset().At(o.Offset)
			known[p] = true
		}
		consume = kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{r.cfg.Topic: parts})
	} else {
		if err != nil && !errors.Is(err, context.Canceled) {
			if r.cfg.OnError != nil {
				r.cfg.OnError(fmt.Errorf("source: end offsets of %s: %w (consuming from the start)", r.cfg.Topic, err))
			}
		}
		consume = kgo.ConsumeTopics(r.cfg.Topic)
		opts = append(opts, kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	}
	// a partition added to the topic is learnt at the next metadata refresh
	// (let one be forced every second rather than every 5 s) and joins the
	// next fetch (an idle fetch waits 1 s instead of 5 s; data still returns
	// at once)
	opts = append(opts, consume, kgo.AllowAutoTopicCreation(), kgo.MetadataMinAge(time.Second), kgo.FetchMaxWait(time.Second))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("source: kafka consumer: %w", err)
	}
	r.mu.Lock()
	r.kafka = cl
	r.mu.Unlock()
	cctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.done = make(chan struct{})
	go r.run(cctx, apply)
	if known != nil {
		// ConsumeTopics (topic absent at Start) finds new partitions itself
		r.watched = make(chan struct{})
		go r.watchPartitions(cctx, known)
	}
	return nil
}

// watchPartitions adds partitions that appear in the change topic after
// Start, from their first record.
func (r *Remote) watchPartitions(ctx context.Context, known map[int32]bool) {
	defer close(r.watched)
	adm := kadm.NewClient(r.kafka)
	t := time.NewTicker(r.cfg.PartitionCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		starts, err := adm.ListStartOffsets(ctx, r.cfg.Topic)
		if err == nil {
			err = starts.Error()
		}
		if err != nil {
			if ctx.Err() == nil && r.cfg.OnError != nil {
				r.cfg.OnError(fmt.Errorf("source: partitions of %s: %w", r.cfg.Topic, err))
			}
			continue
		}
		add := map[int32]kgo.Offset{}
		starts.Each(func(o kadm.ListedOffset) {
			if o.Topic == r.cfg.Topic && o.Err == nil && !known[o.Partition] {
				add[o.Partition] = kgo.NewOffset().AtStart()
				known[o.Partition] = true
			}
		})
		if len(add) > 0 {
			r.kafka.AddConsumePartitions(map[string]map[int32]kgo.Offset{r.cfg.Topic: add})
			r.kafka.ForceMetadataRefresh() // learn the new partitions' leaders now
		}
	}
}

func (r *Remote) run(ctx context.Context, apply func(*codec.ChangeEvent)) {
	defer close(r.done)
	for {
		fs := r.kafka.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		fs.EachError(func(t string, p int32, err error) {
			if r.cfg.OnError != nil {
				r.cfg.OnError(fmt.Errorf("source: fetch %s/%d: %w", t, p, err))
			}
		})
		fs.EachRecord(func(rec *kgo.Record) {
			ev := new(codec.ChangeEvent)
			if _, err := ev.UnmarshalMsg(rec.Value); err != nil {
				if r.cfg.OnError != nil {
					r.cfg.OnError(fmt.Errorf("source: decode change at %s/%d@%d: %w", rec.Topic, rec.Partition, rec.Offset, err))
				}
				return
			}
			if ev.EnvID == "" {
				ev.EnvID = string(rec.Key)
			}
			apply(ev)
		})
	}
}

// Checks are the readiness probes: Redis answers a read of the kind a
// snapshot load makes (EXISTS of a tombstone key: unlike PING it fails
// while Redis is still loading its data set, when no environment could be
// loaded) and a Kafka broker of the change topic answers (changes arrive).
// Before Start the Kafka probe fails.
func (r *Remote) Checks() []ready.Check {
	return []ready.Check{{Name: "redis", Probe: func(ctx context.Context) error {
		rc, err := r.client()
		if err != nil {
			return err
		}
		if err := rc.Do(ctx, rc.B().Exists().Key(TombstoneKey("readyz-probe")).Build()).Error(); err != nil {
			return fmt.Errorf("redis %s: %w", r.cfg.RedisAddr, err)
		}
		return nil
	}}, {Name: "kafka", Probe: func(ctx context.Context) error {
		r.mu.Lock()
		cl := r.kafka
		r.mu.Unlock()
		if cl == nil {
			return errors.New("change stream not started")
		}
		if err := cl.Ping(ctx); err != nil {
			return fmt.Errorf("kafka: %w", err)
		}
		return nil
	}}}
}

// Close stops consuming and closes the clients.
func (r *Remote) Close() error {
	if r.cancel != nil {
		r.cancel()
		if r.watched != nil {
			<-r.watched
		}
		r.kafka.Close()
		<-r.done
	}
	r.mu.Lock()
	if r.redis != nil {
		r.redis.Close()
	}
	r.mu.Unlock()
	return nil
}

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

func newRedis(cfg RemoteConfig) (rueidis.Client, error) {
	opt, err := RedisOption(cfg.RedisAddr, cfg.RedisSentinelMaster)
	if err != nil {
		return nil, err
	}
	opt.DisableCache = true
	return rueidis.NewClient(opt)
}
