package sink

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/edge/internal/ready"
	"github.com/twmb/franz-go/pkg/kgo"
)

// KafkaConfig configures the production sink.
type KafkaConfig struct {
	Brokers     []string
	TopicPrefix string
	// OnError is told about records that could not be produced.
	OnError func(error)
	// Dial, when set, opens the broker connections (tests route them
	// through a proxy they can cut).
	Dial func(ctx context.Context, network, host string) (net.Conn, error)
}

// Kafka produces insight batches to "<prefix>sy.insights" and end-user
// batches to "<prefix>sy.endusers" (msgp, keyed by env id). Produce is
// asynchronous: franz-go batches records (linger 5 ms); Close flushes.
type Kafka struct {
	cl       *kgo.Client
	insights string
	users    string
	deliv    string
	onErr    func(error)
}

// NewKafka returns a producer.
func NewKafka(cfg KafkaConfig) (*Kafka, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ProducerLinger(5 * time.Millisecond),
		kgo.AllowAutoTopicCreation(),
		kgo.RecordRetries(20),
	}
	if cfg.Dial != nil {
		opts = append(opts, kgo.Dialer(cfg.Dial))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("sink: kafka: %w", err)
	}
	return &Kafka{cl: cl, insights: cfg.TopicPrefix + codec.TopicInsights, users: cfg.TopicPrefix + codec.TopicEndUsers,
		deliv: cfg.TopicPrefix + codec.TopicDelivery, onErr: cfg.OnError}, nil
}

func (k *Kafka) produce(topic, key string, value []byte) {
	k.cl.Produce(context.Background(), &kgo.Record{Topic: topic, Key: []byte(key), Value: value}, func(r *kgo.Record, err error) {
		if err != nil && k.onErr != nil {
			k.onErr(fmt.Errorf("sink: produce to %s: %w", r.Topic, err))
		}
	})
}

// Insights produces one record.
func (k *Kafka) Insights(_ context.Context, b *codec.InsightBatch) error {
	v, err := b.MarshalMsg(nil)
	if err != nil {
		return err
	}
	k.produce(k.insights, b.EnvID, v)
	return nil
}

// EndUsers produces one record.
func (k *Kafka) EndUsers(_ context.Context, b *codec.EndUserBatch) error {
	v, err := b.MarshalMsg(nil)
	if err != nil {
		return err
	}
	k.produce(k.users, b.EnvID, v)
	return nil
}

// Checks is the readiness probe of the event output: a broker answers.
func (k *Kafka) Checks() []ready.Check {
	return []ready.Check{{Name: "kafka_events", Probe: func(ctx context.Context) error {
		if err := k.cl.Ping(ctx); err != nil {
			return fmt.Errorf("kafka: %w", err)
		}
		return nil
	}}}
}

// Deliveries produces one delivery report (keyed by edge id).
func (k *Kafka) Deliveries(_ context.Context, r *codec.DeliveryReport) error {
	v, err := r.MarshalMsg(nil)
	if err != nil {
		return err
	}
	k.produce(k.deliv, r.Edge, v)
	return nil
}

// Flush waits until every produced record is acknowledged.
func (k *Kafka) Flush(ctx context.Context) error { return k.cl.Flush(ctx) }

// Close flushes (up to 10 s) and closes the client.
func (k *Kafka) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	_ = k.cl.Flush(ctx)
	cancel()
	k.cl.Close()
}
