//go:build integration

package compat

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/switchyard/switchyard/codec"
)

// kafkaBrokers returns SY_TEST_KAFKA_BROKERS, failing (never skipping) when
// it is missing: this is an integration test on the real services.
func kafkaBrokers(t *testing.T) []string {
	t.Helper()
	v := os.Getenv("SY_TEST_KAFKA_BROKERS")
	if v == "" {
		t.Fatal("SY_TEST_KAFKA_BROKERS is not set: start the services (make services-up) and `source ops/services/env.sh`")
	}
	return strings.Split(v, ",")
}

// topicPrefix returns a random prefix so concurrent runs sharing one broker
// never see each other's records.
func topicPrefix() string {
	var b [6]byte
	rand.Read(b[:])
	return "compat-" + hex.EncodeToString(b[:]) + "-"
}

// insightWatch collects every codec.InsightBatch produced to one topic.
type insightWatch struct {
	t     *testing.T
	topic string
	mu    sync.Mutex
	evals []codec.FlagEval
	mets  []codec.MetricEvent
	envs  map[string]int // batches per env id
	bad   int            // records that did not decode
	recs  int
}

// createTopics creates the edge's event topics for prefix (so the consumer
// can start before the first record) and deletes them at cleanup.
func createTopics(t *testing.T, brokers []string, prefix string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	topics := []string{prefix + "sy.insights", prefix + "sy.endusers", prefix + "sy.changes"}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := adm.CreateTopics(ctx, 1, 1, nil, topics...)
	if err != nil {
		cl.Close()
		t.Fatalf("create topics %v on %v: %v", topics, brokers, err)
	}
	for _, r := range res.Sorted() {
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			cl.Close()
			t.Fatalf("create topic %s: %v", r.Topic, r.Err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		adm.DeleteTopics(ctx, topics...)
		cl.Close()
	})
}

// watchInsights consumes topic from its start until the test ends.
func watchInsights(t *testing.T, brokers []string, topic string) *insightWatch {
	t.Helper()
	w := &insightWatch{t: t, topic: topic, envs: map[string]int{}}
	consume(t, brokers, topic, func(v []byte) {
		var b codec.InsightBatch
		_, err := b.UnmarshalMsg(v)
		w.mu.Lock()
		defer w.mu.Unlock()
		w.recs++
		if err != nil {
			w.bad++
			return
		}
		// The batch's env id is authoritative (records are keyed by it);
		// items carry it too, but only the batch's is part of the contract
		// checked here.
		w.envs[b.EnvID]++
		for _, e := range b.Evals {
			e.EnvID = b.EnvID
			w.evals = append(w.evals, e)
		}
		for _, m := range b.Metrics {
			m.EnvID = b.EnvID
			w.mets = append(w.mets, m)
		}
	})
	return w
}

// consume calls fn with the value of every record of topic, from its start,
// on its own goroutine until the test ends.
func consume(t *testing.T, brokers []string, topic string, fn func(value []byte)) {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { fn(r.Value) })
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		cl.Close()
	})
}

// waitFor polls cond (under the watch's lock) until it holds or timeout
// passes; it fails the test with what arrived so far.
func (w *insightWatch) waitFor(timeout time.Duration, what string, cond func(evals []codec.FlagEval, mets []codec.MetricEvent) bool) {
	w.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		w.mu.Lock()
		ok := cond(w.evals, w.mets)
		w.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.t.Fatalf("insights on %s: no %s within %s (records %d, undecodable %d, batches per env %v, evals %+v, metrics %+v)",
				w.topic, what, timeout, w.recs, w.bad, w.envs, w.evals, w.mets)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func hasEval(evals []codec.FlagEval, env, flag, userKey string) bool {
	for _, e := range evals {
		if e.EnvID == env && e.FlagKey == flag && e.UserKey == userKey {
			return true
		}
	}
	return false
}

func hasMetric(mets []codec.MetricEvent, env, name, userKey string) bool {
	for _, m := range mets {
		if m.EnvID == env && m.EventName == name && m.UserKey == userKey {
			return true
		}
	}
	return false
}

// userWatch collects the end users of every codec.EndUserBatch produced to
// one topic.
type userWatch struct {
	t     *testing.T
	topic string
	mu    sync.Mutex
	users map[string]map[string]codec.EndUser // env id -> key -> last user seen
	bad   int
}

// watchEndUsers consumes topic from its start until the test ends.
func watchEndUsers(t *testing.T, brokers []string, topic string) *userWatch {
	t.Helper()
	w := &userWatch{t: t, topic: topic, users: map[string]map[string]codec.EndUser{}}
	consume(t, brokers, topic, func(v []byte) {
		var b codec.EndUserBatch
		_, err := b.UnmarshalMsg(v)
		w.mu.Lock()
		defer w.mu.Unlock()
		if err != nil {
			w.bad++
			return
		}
		if w.users[b.EnvID] == nil {
			w.users[b.EnvID] = map[string]codec.EndUser{}
		}
		for _, u := range b.Users {
			w.users[b.EnvID][u.KeyID] = u
		}
	})
	return w
}

// waitFor waits until every key in keys arrived for env.
func (w *userWatch) waitFor(timeout time.Duration, env string, keys ...string) map[string]codec.EndUser {
	w.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		w.mu.Lock()
		missing := 0
		got := map[string]codec.EndUser{}
		for _, k := range keys {
			if u, ok := w.users[env][k]; ok {
				got[k] = u
			} else {
				missing++
			}
		}
		w.mu.Unlock()
		if missing == 0 {
			return got
		}
		if time.Now().After(deadline) {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.t.Fatalf("end users on %s: want %v for env %s within %s; got %v (undecodable %d)", w.topic, keys, env, timeout, sortedKeys(w.users[env]), w.bad)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
