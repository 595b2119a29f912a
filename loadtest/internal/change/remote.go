package change

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/rueidis"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/switchyard/switchyard/codec"
)

// ChangesTopic is the change topic's name after the prefix.
const ChangesTopic = codec.TopicChanges

// Remote writes snapshots to Redis and changes to Kafka, the way control's
// publisher does, so an edge running in production mode picks them up.
type Remote struct {
	rds   rueidis.Client
	kc    *kgo.Client
	topic string
}

// NewRemote connects to Redis at redisAddr and the Kafka brokers.
func NewRemote(redisAddr string, brokers []string, topicPrefix string) (*Remote, error) {
	rds, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{redisAddr}, DisableCache: true})
	if err != nil {
		return nil, fmt.Errorf("redis %s: %w", redisAddr, err)
	}
	kc, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(0), kgo.AllowAutoTopicCreation(),
		kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	if err != nil {
		rds.Close()
		return nil, fmt.Errorf("kafka %v: %w", brokers, err)
	}
	r := &Remote{rds: rds, kc: kc, topic: topicPrefix + ChangesTopic}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := r.ensureTopic(ctx); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// ensureTopic creates the change topic if it does not exist yet, so edges
// started next find it.
func (r *Remote) ensureTopic(ctx context.Context) error {
	adm := kadm.NewClient(r.kc)
	res, err := adm.CreateTopics(ctx, 3, 1, nil, r.topic)
	if err != nil {
		return fmt.Errorf("kafka: create topic %s: %w", r.topic, err)
	}
	for _, t := range res {
		if t.Err != nil && !errors.Is(t.Err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("kafka: create topic %s: %w", r.topic, t.Err)
		}
	}
	return nil
}

// WriteSnapshot stores s whole as control does: the hash sy:env:{envId}
// (codec.EnvKey; one field per item, see codec/envhash.go).
func (r *Remote) WriteSnapshot(ctx context.Context, s *codec.EnvSnapshot) error {
	kv, err := codec.AppendEnvFields(nil, s)
	if err != nil {
		return err
	}
	key := codec.EnvKey(s.EnvID)
	for _, res := range r.rds.DoMulti(ctx, r.rds.B().Del().Key(key).Build(),
		r.rds.B().Arbitrary("HSET").Keys(key).Args(kv...).Build()) {
		if err := res.Error(); err != nil {
			return fmt.Errorf("redis write %s: %w", key, err)
		}
	}
	return nil
}

// Produce sends ev to the change topic, keyed by env id.
func (r *Remote) Produce(ctx context.Context, ev *codec.ChangeEvent) error {
	b, err := ev.MarshalMsg(nil)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := r.kc.ProduceSync(ctx, &kgo.Record{Topic: r.topic, Key: []byte(ev.EnvID), Value: b}).FirstErr(); err != nil {
		return fmt.Errorf("kafka produce %s: %w", r.topic, err)
	}
	return nil
}

// Close closes both clients.
func (r *Remote) Close() {
	r.kc.Close()
	r.rds.Close()
}
