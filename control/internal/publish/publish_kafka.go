package publish

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/switchyard/switchyard/codec"
)

// ChangesTopic is the change topic's name without prefix.
const ChangesTopic = codec.TopicChanges

// Kafka is the production ChangeProducer: one record per event on
// "<prefix>sy.changes", keyed by env id (so an environment's events stay in
// one partition, in order), value the msgp ChangeEvent.
type Kafka struct {
	cl    *kgo.Client
	topic string
}

// KafkaOptions bound how long a produce waits on a failing cluster.
type KafkaOptions struct {
	// RequestTimeout is how long a broker may wait for the in-sync replicas
	// to acknowledge a produce request before it answers with a timeout and
	// the record is retried (default 5 s; franz-go's own default is 10 s).
	RequestTimeout time.Duration
	// RetryBackoff is the longest pause between retries of a record
	// (default 250 ms; retries start at a tenth of it, doubling).
	RetryBackoff time.Duration
	// DeliveryTimeout is how long a record is retried before Produce fails
	// and the publisher backs off (default Attempt).
	DeliveryTimeout time.Duration
	// Dial, when set, opens every connection to a broker (default: a plain
	// TCP dial); tests route brokers through proxies they can cut.
	Dial func(ctx context.Context, network, host string) (net.Conn, error)
}

// Default bounds of KafkaOptions.
const (
	DefaultKafkaRequestTimeout = 5 * time.Second
	DefaultKafkaRetryBackoff   = 250 * time.Millisecond
)

// NewKafka creates a producer with the default KafkaOptions. Like NewRedis
// it does not need the brokers to be up: Produce fails (and the Publisher
// retries) until they are.
func NewKafka(brokers []string, prefix string) (*Kafka, error) {
	return NewKafkaWith(brokers, prefix, KafkaOptions{})
}

// NewKafkaWith is NewKafka with explicit options (zero fields: defaults).
func NewKafkaWith(brokers []string, prefix string, o KafkaOptions) (*Kafka, error) {
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultKafkaRequestTimeout
	}
	if o.RetryBackoff <= 0 {
		o.RetryBackoff = DefaultKafkaRetryBackoff
	}
	if o.DeliveryTimeout <= 0 {
		o.DeliveryTimeout = Attempt
	}
	topic := prefix + ChangesTopic
	// Idempotent writes are off on purpose: with them, franz-go must keep
	// retrying a record that was already sent (to keep sequence numbers
	// valid) and ignores the delivery timeout, so a produce during a broker
	// outage could block the publisher indefinitely. Duplicates are harmless
	// (edges apply an event only if its version is newer); order within an
	// environment is kept by one request in flight per broker.
	opts := []kgo.Opt{kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic),
		kgo.AllowAutoTopicCreation(), kgo.ProducerLinger(0), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.DisableIdempotentWrite(), kgo.MaxProduceRequestsInflightPerBroker(1),
		kgo.RecordDeliveryTimeout(o.DeliveryTimeout), kgo.ProduceRequestTimeout(o.RequestTimeout),
		kgo.RetryBackoffFn(retryBackoff(o.RetryBackoff))}
	if o.Dial != nil {
		opts = append(opts, kgo.Dialer(o.Dial))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("cannot create Kafka client: %w", err)
	}
	return &Kafka{cl: cl, topic: topic}, nil
}

// retryBackoff returns franz-go's backoff function: a tenth of max on the
// first retry, doubling up to max.
func retryBackoff(max time.Duration) func(int) time.Duration {
	return func(tries int) time.Duration {
		d := max / 10
		for i := 1; i < tries && d < max; i++ {
			d *= 2
		}
		return min(d, max)
	}
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

// MaxBatchRecord bounds the payload of one batch record on Kafka
// (codec.MaxBatchRecord).
const MaxBatchRecord = codec.MaxBatchRecord

// SplitBatch splits a KindBatch event whose payload is larger than max into
// KindBatch events of consecutive flags, each payload at most max (a single
// larger flag goes alone), in order, sharing the event's EnvVersion. Any
// other event is returned as is.
func SplitBatch(ev *codec.ChangeEvent, max int) ([]*codec.ChangeEvent, error) {
	if ev.Kind != codec.KindBatch || len(ev.Payload) <= max {
		return []*codec.ChangeEvent{ev}, nil
	}
	var b codec.EnvSnapshot
	if _, err := b.UnmarshalMsg(ev.Payload); err != nil {
		return nil, fmt.Errorf("BUG: batch payload of env %s: %w", ev.EnvID, err)
	}
	ps, err := codec.BatchPayloads(b.EnvID, b.Version, b.Flags, max)
	if err != nil {
		return nil, fmt.Errorf("BUG: %w", err)
	}
	out := make([]*codec.ChangeEvent, len(ps))
	for i, p := range ps {
		c := *ev
		c.Payload = p
		out[i] = &c
	}
	return out, nil
}

// Produce implements ChangeProducer: it returns when the broker acknowledged
// the record or ctx ended. A batch event larger than MaxBatchRecord goes as
// several batch records (SplitBatch), in order.
func (k *Kafka) Produce(ctx context.Context, ev *codec.ChangeEvent) error {
	if ev.Kind == codec.KindBatch && len(ev.Payload) > MaxBatchRecord {
		parts, err := SplitBatch(ev, MaxBatchRecord)
		if err != nil {
			return err
		}
		for _, p := range parts {
			if err := k.produce(ctx, p); err != nil {
				return err
			}
		}
		return nil
	}
	return k.produce(ctx, ev)
}

func (k *Kafka) produce(ctx context.Context, ev *codec.ChangeEvent) error {
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
