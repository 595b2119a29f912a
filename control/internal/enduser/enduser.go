// Package enduser ingests the end users the edges saw: it consumes
// codec.EndUserBatch records from "<prefix>sy.endusers" in the consumer group
// "sy-control-endusers" and upserts them into the store (properties merged,
// first/last seen kept). Offsets are committed only after the batch of
// records is stored, so a crash replays records (upserts are idempotent)
// rather than losing them. A record that does not decode is logged and
// skipped.
//
// Consumer.Run blocks until its context ends; Ingest is the same upsert for
// the embedded mode, where the edge hands batches over in process.
package enduser

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/store"
)

// Topic and Group names (the topic takes the deployment's prefix).
const (
	Topic = codec.TopicEndUsers
	Group = codec.GroupControlEndUsers
)

// Limits of an ingested batch: end users come from SDKs, so everything is
// bounded before it reaches the store. Longer strings are cut; users beyond
// MaxBatchUsers and properties beyond store.MaxEndUserProps are dropped.
const (
	MaxBatchUsers = 10_000
	MaxKeyBytes   = 512  // key id, name
	MaxPropName   = 128  // property name
	MaxPropValue  = 1024 // property value
)

// clip cuts s to at most n bytes on a UTF-8 boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// bound applies the limits to a batch in place.
func bound(b *codec.EndUserBatch) {
	if len(b.Users) > MaxBatchUsers {
		b.Users = b.Users[:MaxBatchUsers]
	}
	for i := range b.Users {
		u := &b.Users[i]
		u.KeyID, u.Name = clip(u.KeyID, MaxKeyBytes), clip(u.Name, MaxKeyBytes)
		if len(u.Props) > store.MaxEndUserProps {
			u.Props = u.Props[:store.MaxEndUserProps]
		}
		for j := range u.Props {
			u.Props[j].Name, u.Props[j].Value = clip(u.Props[j].Name, MaxPropName), clip(u.Props[j].Value, MaxPropValue)
		}
	}
}

// Ingest upserts one batch (bounded first, see MaxBatchUsers).
func Ingest(ctx context.Context, st *store.Store, b *codec.EndUserBatch) error {
	if b == nil || b.EnvID == "" {
		return store.Invalid("envId", "required")
	}
	bound(b)
	if err := st.UpsertEndUsers(ctx, b.EnvID, b.Users); err != nil {
		return fmt.Errorf("cannot upsert %d end users of %s: %w", len(b.Users), b.EnvID, err)
	}
	return nil
}

// Consumer reads the end-user topic.
type Consumer struct {
	cl  *kgo.Client
	st  *store.Store
	log *slog.Logger
}

// Options tune a Consumer (tests shorten the heartbeat).
type Options struct {
	Heartbeat time.Duration
}

// NewConsumer creates a group consumer of prefix+Topic.
func NewConsumer(brokers []string, prefix string, st *store.Store, log *slog.Logger, o Options) (*Consumer, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(brokers...), kgo.ConsumerGroup(Group), kgo.ConsumeTopics(prefix + Topic),
		kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.AllowAutoTopicCreation(),
		kgo.FetchMaxWait(500 * time.Millisecond)}
	if o.Heartbeat > 0 {
		opts = append(opts, kgo.HeartbeatInterval(o.Heartbeat))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("cannot create end-user consumer: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	return &Consumer{cl: cl, st: st, log: log}, nil
}

// Run consumes until ctx ends, then closes the client.
func (c *Consumer) Run(ctx context.Context) {
	defer c.cl.Close()
	for ctx.Err() == nil {
		fs := c.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				c.log.Warn("end-user fetch error", "topic", t, "partition", p, "err", err)
			}
		})
		var recs []*kgo.Record
		fs.EachRecord(func(r *kgo.Record) { recs = append(recs, r) })
		if len(recs) == 0 {
			continue
		}
		for _, r := range recs {
			var b codec.EndUserBatch
			if _, err := b.UnmarshalMsg(r.Value); err != nil {
				c.log.Warn("skipping undecodable end-user record", "partition", r.Partition, "offset", r.Offset, "err", err)
				continue
			}
			for ctx.Err() == nil {
				err := Ingest(ctx, c.st, &b)
				if err == nil || errors.Is(err, store.ErrInvalid) {
					break
				}
				c.log.Warn("cannot store end users; retrying", "err", err)
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
		}
		if ctx.Err() != nil {
			return
		}
		if err := c.cl.CommitRecords(ctx, recs...); err != nil && ctx.Err() == nil {
			c.log.Warn("cannot commit end-user offsets", "err", err)
		}
	}
}
