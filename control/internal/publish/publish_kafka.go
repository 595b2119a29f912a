package publish

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/switchyard/switchyard/codec"
)

// ChangesTopic is the change topic's name without prefix.
const ChangesTopic = "sy.changes"

// Kafka is the production ChangeProducer: one record per event on
// "<prefix>sy.changes", keyed by env id (so an environment's events stay in
// one partition, in order), value the msgp ChangeEvent.
type Kafka struct {
	cl    *kgo.Client
	topic string
}

// NewKafka creates a producer. Like NewRedis it does not need the brokers to
// be up: Produce fails (and the Publisher retries) until they are.
func NewKafka(brokers []string, prefix string) (*Kafka, error) {
	topic := prefix + ChangesTopic
	// Idempotent writes are off on purpose: with them, franz-go must keep
	// retrying a record that was already sent (to keep sequence numbers
	// valid) and ignores the delivery timeout, so a produce during a broker
	// outage could block the publisher indefinitely. Duplicates are harmless
	// (edges apply an event only if its version is newer); order within an
	// environment is kept by one request in flight per broker.
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic),
		kgo.AllowAutoTopicCreation(), kgo.ProducerLinger(0), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.DisableIdempotentWrite(), kgo.MaxProduceRequestsInflightPerBroker(1),
		kgo.RecordDeliveryTimeout(Attempt))
	if err != nil {
		return nil, fmt.Errorf("cannot create Kafka client: %w", err)
	}
	return &Kafka{cl: cl, topic: topic}, nil
}

// Topic returns the full topic name.
func (k *Kafka) Topic() string { return k.topic }

// EnsureTopic creates the topic (partitions, broker-default replication) if
// it does not exist.
func (k *Kafka) EnsureTopic(ctx context.Context, partitions int32) error {
	_, err := kadm.NewClient(k.cl).CreateTopic(ctx, partitions, -1, nil, k.topic)
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("cannot create topic %s: %w", k.topic, err)
	}
	return nil
}

// Produce implements ChangeProducer: it returns when the broker acknowledged
// the record or ctx ended.
func (k *Kafka) Produce(ctx context.Context, ev *codec.ChangeEvent) error {
	b, err := ev.MarshalMsg(nil)
	if err != nil {
		return fmt.Errorf("BUG: cannot encode change event: %w", err)
	}
	done := make(chan error, 1)
	k.cl.Produce(ctx, &kgo.Record{Key: []byte(ev.EnvID), Value: b}, func(_ *kgo.Record, err error) { done <- err })
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("kafka produce to %s: %w", k.topic, err)
		}
		return nil
	case <-ctx.Done():
		// The record may still be delivered later: a duplicate at worst.
		return fmt.Errorf("kafka produce to %s: %w", k.topic, ctx.Err())
	}
}

// Ping reports whether a broker answers (readiness probes).
func (k *Kafka) Ping(ctx context.Context) error { return k.cl.Ping(ctx) }

// Close flushes nothing (Produce is synchronous) and closes the client.
func (k *Kafka) Close() { k.cl.Close() }
