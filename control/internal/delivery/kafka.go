package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/switchyard/switchyard/codec"
)

// MaxRecord is the largest delivery report read; larger records are
// skipped (an edge's heartbeat is about 100 bytes per environment).
const MaxRecord = 4 << 20

// Consumer reads "<prefix>sy.delivery" into a Tracker. It starts at the
// end of the topic (the reports are about now; the next heartbeats rebuild
// the state) and uses no consumer group: every control instance reads every
// partition, so each can answer every receipt.
type Consumer struct {
	cl    *kgo.Client
	topic string
	t     *Tracker
	log   *slog.Logger
}

// NewConsumer connects to brokers and creates the topic if it is missing
// (one partition: records are small and keyed by edge).
func NewConsumer(ctx context.Context, brokers []string, prefix string, t *Tracker, log *slog.Logger) (*Consumer, error) {
	topic := prefix + codec.TopicDelivery
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()), kgo.FetchMaxBytes(16<<20), kgo.FetchMaxPartitionBytes(8<<20))
	if err != nil {
		return nil, fmt.Errorf("delivery: kafka: %w", err)
	}
	tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(cl).CreateTopic(tctx, 1, -1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		log.Warn("cannot ensure the delivery topic; relying on auto-creation", "topic", topic, "err", err)
	}
	return &Consumer{cl: cl, topic: topic, t: t, log: log}, nil
}

// Run consumes until ctx ends, then closes the client.
func (c *Consumer) Run(ctx context.Context) {
	defer c.cl.Close()
	for ctx.Err() == nil {
		fs := c.cl.PollFetches(ctx)
		fs.EachError(func(topic string, p int32, err error) {
			if ctx.Err() == nil {
				c.log.Warn("delivery reports: fetch error", "topic", topic, "partition", p, "err", err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			if len(r.Value) > MaxRecord {
				c.log.Warn("delivery reports: record too large, skipped", "bytes", len(r.Value))
				return
			}
			var rep codec.DeliveryReport
			if _, err := rep.UnmarshalMsg(r.Value); err != nil {
				c.log.Warn("delivery reports: record does not decode, skipped", "err", err)
				return
			}
			c.t.Observe(&rep)
		})
	}
}
