//go:build integration

package control

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/publish"
	"github.com/switchyard/switchyard/control/internal/store/mongo"
)

// live is a control Server on the real services (MongoDB wire, Redis,
// Kafka) with its own database and topic prefix, reached over HTTP.
type live struct {
	t       *testing.T
	s       *Server
	base    string
	info    *BootstrapInfo
	admin   string
	redis   rueidis.Client
	brokers []string
	prefix  string

	mu     sync.Mutex
	events []*codec.ChangeEvent
}

func need(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set (start the services with `make services-up` and `source ops/services/env.sh`)", name)
	}
	return v
}

func randName() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func newLive(t *testing.T, mods ...func(*Config)) *live {
	t.Helper()
	return newLiveWith(t, nil, mods...)
}

// newLiveWith is newLive with beforeStart called after the bootstrap,
// before the publisher starts.
func newLiveWith(t *testing.T, beforeStart func(*Server, *BootstrapInfo), mods ...func(*Config)) *live {
	t.Helper()
	mongoURI, redisAddr := need(t, "SY_TEST_MONGO_URI"), need(t, "SY_TEST_REDIS_ADDR")
	brokers := strings.Split(need(t, "SY_TEST_KAFKA_BROKERS"), ",")
	id := randName()
	l := &live{t: t, brokers: brokers, prefix: "t" + id + "."}
	cfg := Config{Addr: "127.0.0.1:0", MongoURI: mongoURI, MongoDB: "sy_control_" + id, RedisAddr: redisAddr,
		KafkaBrokers: brokers, TopicPrefix: l.prefix, AdminPassword: "admin-password", WebhookAllow: loopback}
	for _, m := range mods {
		m(&cfg)
	}
	s, err := New(cfg, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	l.s = s
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if b, ok := s.st.Backend().(*mongo.Backend); ok {
			_ = b.Database().Drop(ctx)
		}
		_ = s.Shutdown(ctx)
	})
	if l.info, err = s.Bootstrap(context.Background()); err != nil {
		t.Fatal(err)
	}
	if beforeStart != nil {
		beforeStart(s, l.info)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	l.base = "http://" + s.Addr()
	l.redis, err = rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{redisAddr}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.redis.Close)
	l.consume()
	l.admin = l.login(l.info.AdminEmail, "admin-password")
	return l
}

// consume collects every change event of this test's topic in the
// background, from the start of the topic, without a group (like an edge).
func (l *live) consume() {
	cl, err := kgo.NewClient(kgo.SeedBrokers(l.brokers...), kgo.ConsumeTopics(l.prefix+publish.ChangesTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond),
		kgo.AllowAutoTopicCreation(), kgo.MetadataMinAge(250*time.Millisecond))
	if err != nil {
		l.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			fs.EachRecord(func(r *kgo.Record) {
				var ev codec.ChangeEvent
				if _, err := ev.UnmarshalMsg(r.Value); err == nil && string(r.Key) == ev.EnvID {
					l.mu.Lock()
					l.events = append(l.events, &ev)
					l.mu.Unlock()
				}
			})
		}
	}()
	l.t.Cleanup(func() { cancel(); <-done; cl.Close() })
}

func (l *live) login(email, pw string) string {
	var lr struct{ Token string }
	l.must(200, "", "POST", "/api/v1/auth/login", map[string]string{"email": email, "password": pw}).decode(l.t, &lr)
	return lr.Token
}

func (l *live) do(token, method, path string, body any) *resp {
	l.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, l.base+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		l.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return &resp{Code: res.StatusCode, Body: b, Header: res.Header}
}

func (l *live) must(want int, token, method, path string, body any) *resp {
	l.t.Helper()
	r := l.do(token, method, path, body)
	if r.Code != want {
		l.t.Fatalf("%s %s: %d, want %d: %s", method, path, r.Code, want, r.Body)
	}
	return r
}

func (l *live) env(name string) string {
	for _, e := range l.info.Envs {
		if e.Name == name {
			return e.ID
		}
	}
	l.t.Fatalf("no env %s", name)
	return ""
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// event returns the flag event with the id and version, if consumed.
func (l *live) event(id string, version int64, op string) *codec.ChangeEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ev := range l.events {
		if ev.ID == id && ev.Version == version && ev.Op == op {
			return ev
		}
	}
	return nil
}

// snapshotFlag reads the Redis snapshot and returns the flag with the key.
func (l *live) snapshotFlag(env, key string) *codec.Flag {
	fields, err := l.redis.Do(context.Background(), l.redis.B().Hgetall().Key(publish.SnapshotKey(env)).Build()).AsStrMap()
	if err != nil || len(fields) == 0 {
		return nil
	}
	s, err := codec.EnvFromFields(env, fields)
	if err != nil {
		l.t.Fatalf("snapshot does not decode: %v", err)
	}
	for i := range s.Flags {
		if s.Flags[i].Key == key {
			return &s.Flags[i]
		}
	}
	return nil
}

const eventWait = 60 * time.Second

func TestIntegrationFlagChangesReachKafkaAndRedis(t *testing.T) {
	l := newLive(t)
	env := l.env("dev")
	url := "/api/v1/envs/" + env + "/flags"
	var f codec.Flag
	l.must(201, l.admin, "POST", url, map[string]any{"key": "live-flag", "variationType": "boolean"}).decode(t, &f)
	check := func(step string, version int64, op string, pred func(*codec.Flag) bool) {
		t.Helper()
		waitFor(t, step+" event on Kafka", eventWait, func() bool { return l.event(f.ID, version, op) != nil })
		ev := l.event(f.ID, version, op)
		var pf codec.Flag
		if _, err := pf.UnmarshalMsg(ev.Payload); err != nil || pf.Version != version || !pred(&pf) {
			t.Fatalf("%s: payload %+v (%v)", step, pf, err)
		}
		waitFor(t, step+" snapshot in Redis", eventWait, func() bool {
			sf := l.snapshotFlag(env, "live-flag")
			return sf != nil && sf.Version >= version
		})
		if sf := l.snapshotFlag(env, "live-flag"); sf.Version == version && !pred(sf) {
			t.Fatalf("%s: snapshot flag %+v", step, sf)
		}
	}
	check("create", 1, codec.OpUpsert, func(x *codec.Flag) bool { return !x.IsEnabled })
	f.Description = "updated"
	l.must(200, l.admin, "PUT", url+"/live-flag", f).decode(t, &f)
	check("update", 2, codec.OpUpsert, func(x *codec.Flag) bool { return x.Description == "updated" })
	l.must(200, l.admin, "POST", url+"/live-flag/toggle", map[string]any{"version": 2}).decode(t, &f)
	check("toggle", 3, codec.OpUpsert, func(x *codec.Flag) bool { return x.IsEnabled })
	l.must(200, l.admin, "POST", url+"/live-flag/archive", map[string]any{"version": 3}).decode(t, &f)
	check("archive", 4, codec.OpUpsert, func(x *codec.Flag) bool { return x.IsArchived && !x.IsEnabled })
	l.must(204, l.admin, "DELETE", url+"/live-flag?version=4", nil)
	waitFor(t, "delete tombstone on Kafka", eventWait, func() bool { return l.event(f.ID, 5, codec.OpDelete) != nil })
	waitFor(t, "flag gone from the Redis snapshot", eventWait, func() bool { return l.snapshotFlag(env, "live-flag") == nil })
	// The stale version gets 409 on MongoDB too.
	l.must(201, l.admin, "POST", url, map[string]any{"key": "race", "variationType": "boolean"})
	l.must(200, l.admin, "POST", url+"/race/toggle", map[string]any{"version": 1})
	r := l.must(409, l.admin, "POST", url+"/race/toggle", map[string]any{"version": 1})
	if code, field := r.errField(t); code != "conflict" || field != "version" {
		t.Fatalf("409 body %s", r.Body)
	}
	// Duplicate key: 400 naming the field (the unique index also holds).
	r = l.must(400, l.admin, "POST", url, map[string]any{"key": "race", "variationType": "boolean"})
	if _, field := r.errField(t); field != "key" {
		t.Fatalf("duplicate: %s", r.Body)
	}
}

func TestIntegrationAccessControl(t *testing.T) {
	l := newLive(t)
	env, org := l.env("dev"), l.info.OrgID
	url := "/api/v1/envs/" + env + "/flags"
	var inv struct{ Token string }
	l.must(201, l.admin, "POST", "/api/v1/orgs/"+org+"/invitations",
		map[string]string{"email": "viewer@example.com", "role": "viewer"}).decode(t, &inv)
	l.must(200, "", "POST", "/api/v1/auth/invitations/accept", map[string]string{"token": inv.Token, "password": "viewer-password"})
	viewer := l.login("viewer@example.com", "viewer-password")
	l.must(200, viewer, "GET", url, nil)
	l.must(403, viewer, "POST", url, map[string]any{"key": "nope"})
	// Org B and a token of org A.
	var orgB, projB, envB struct{ ID string }
	l.must(201, l.admin, "POST", "/api/v1/orgs", map[string]string{"name": "B"}).decode(t, &orgB)
	l.must(201, l.admin, "POST", "/api/v1/orgs/"+orgB.ID+"/projects", map[string]string{"name": "P"}).decode(t, &projB)
	l.must(201, l.admin, "POST", "/api/v1/projects/"+projB.ID+"/envs", map[string]string{"name": "E"}).decode(t, &envB)
	var tok struct{ Token string }
	l.must(201, l.admin, "POST", "/api/v1/orgs/"+org+"/tokens", map[string]string{"name": "ci", "role": "viewer"}).decode(t, &tok)
	l.must(200, tok.Token, "GET", url, nil)
	l.must(403, tok.Token, "GET", "/api/v1/envs/"+envB.ID+"/flags", nil)
	l.must(403, tok.Token, "GET", "/api/v1/orgs/"+orgB.ID, nil)
	l.must(403, tok.Token, "POST", url, map[string]any{"key": "nope"})
	// Wrong password refused, then throttled.
	bad := map[string]string{"email": l.info.AdminEmail, "password": "wrong-password"}
	for range 4 {
		l.must(401, "", "POST", "/api/v1/auth/login", bad)
	}
	r := l.must(429, "", "POST", "/api/v1/auth/login", bad)
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
}

func TestIntegrationEndUsersFromKafka(t *testing.T) {
	l := newLive(t)
	env := l.env("dev")
	cl, err := kgo.NewClient(kgo.SeedBrokers(l.brokers...), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	b := codec.EndUserBatch{EnvID: env, Users: []codec.EndUser{{KeyID: "kafka-user", Name: "Kay",
		Props: []codec.UserProp{{Name: "plan", Value: "pro"}}, LastSeen: time.Now().UnixMilli()}}}
	v, _ := b.MarshalMsg(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: l.prefix + "sy.endusers", Key: []byte(env), Value: v}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "end user ingested", 90*time.Second, func() bool {
		return l.do(l.admin, "GET", "/api/v1/envs/"+env+"/end-users/kafka-user", nil).Code == 200
	})
	var u codec.EndUser
	l.must(200, l.admin, "GET", "/api/v1/envs/"+env+"/end-users/kafka-user", nil).decode(t, &u)
	if u.Name != "Kay" || len(u.Props) != 1 || u.FirstSeen == 0 {
		t.Fatalf("user %+v", u)
	}
}

func service(t *testing.T, name, action string) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "ops", "services", name+".sh")
	out, err := exec.Command("bash", script, action).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, action, err, out)
	}
}

// TestOutageKafka stops the broker, makes a change (the API acknowledges it
// and Redis gets the snapshot), and checks the change event is delivered once
// the broker is back.
func TestOutageKafka(t *testing.T) {
	// however crowded the cluster, its restart here keeps the topics the
	// publisher writes to (only services-up may start it from empty log dirs)
	t.Setenv("SY_KAFKA_MAX_PARTITIONS", "1")
	l := newLive(t)
	env := l.env("dev")
	url := "/api/v1/envs/" + env + "/flags"
	var f codec.Flag
	l.must(201, l.admin, "POST", url, map[string]any{"key": "before-outage", "variationType": "boolean"}).decode(t, &f)
	waitFor(t, "event before the outage", eventWait, func() bool { return l.event(f.ID, 1, codec.OpUpsert) != nil })

	service(t, "kafka", "stop")
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			service(t, "kafka", "start")
		}
	})
	var g codec.Flag
	l.must(201, l.admin, "POST", url, map[string]any{"key": "during-outage", "variationType": "boolean"}).decode(t, &g)
	l.must(200, l.admin, "POST", url+"/during-outage/toggle", map[string]any{"version": 1}).decode(t, &g)
	waitFor(t, "snapshot in Redis during the Kafka outage", eventWait, func() bool {
		sf := l.snapshotFlag(env, "during-outage")
		return sf != nil && sf.Version == 2
	})
	e, err := l.s.st.GetEnv(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	if e.PublishedVersion >= e.Version || len(e.Outbox) == 0 {
		t.Fatalf("publish state claims delivery during the outage: %d/%d", e.PublishedVersion, e.Version)
	}
	service(t, "kafka", "start")
	restarted = true
	waitFor(t, "event delivered after Kafka came back", 3*time.Minute, func() bool { return l.event(g.ID, 2, codec.OpUpsert) != nil })
	waitFor(t, "publish state current", time.Minute, func() bool {
		e, err := l.s.st.GetEnv(context.Background(), env)
		return err == nil && e.PublishedVersion == e.Version && len(e.Outbox) == 0
	})
}

// TestIntegrationPublishLatency measures the delay from an acknowledged
// toggle to its change event on Kafka and its snapshot in Redis (reported
// with -v; docs/control.md quotes it).
func TestIntegrationPublishLatency(t *testing.T) {
	l := newLive(t)
	env := l.env("dev")
	url := "/api/v1/envs/" + env + "/flags"
	var f codec.Flag
	l.must(201, l.admin, "POST", url, map[string]any{"key": "latency", "variationType": "boolean"}).decode(t, &f)
	waitFor(t, "first event", eventWait, func() bool { return l.event(f.ID, 1, codec.OpUpsert) != nil })
	const n = 30
	var api, kafka, redis []time.Duration
	for i := range n {
		v := int64(i + 1)
		t0 := time.Now()
		l.must(200, l.admin, "POST", url+"/latency/toggle", map[string]any{"version": v})
		t1 := time.Now()
		var tr time.Time
		for tr.IsZero() || l.event(f.ID, v+1, codec.OpUpsert) == nil {
			if tr.IsZero() {
				if sf := l.snapshotFlag(env, "latency"); sf != nil && sf.Version == v+1 {
					tr = time.Now()
				}
			}
			if time.Since(t0) > eventWait {
				t.Fatalf("toggle %d not delivered", i)
			}
			time.Sleep(time.Millisecond)
		}
		api, redis, kafka = append(api, t1.Sub(t0)), append(redis, tr.Sub(t0)), append(kafka, time.Since(t0))
	}
	q := func(ds []time.Duration) string {
		s := append([]time.Duration(nil), ds...)
		slices.Sort(s)
		return fmt.Sprintf("p50 %v p90 %v max %v", s[len(s)/2].Round(time.Millisecond/10),
			s[len(s)*9/10].Round(time.Millisecond/10), s[len(s)-1].Round(time.Millisecond/10))
	}
	t.Logf("%d toggles: API response %s; snapshot in Redis %s; event consumed from Kafka %s", n, q(api), q(redis), q(kafka))
}

// TestOutageRedis stops Redis: a write is acknowledged but neither the
// snapshot nor the event is delivered (the snapshot always goes first);
// once Redis is back both arrive and the publish state becomes current.
func TestOutageRedis(t *testing.T) {
	l := newLive(t)
	env := l.env("dev")
	url := "/api/v1/envs/" + env + "/flags"
	waitFor(t, "initial publish", eventWait, func() bool { return l.snapshotFlag(env, "welcome-banner") != nil })

	service(t, "redis", "stop")
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			service(t, "redis", "start")
		}
	})
	var g codec.Flag
	l.must(201, l.admin, "POST", url, map[string]any{"key": "redis-outage", "variationType": "boolean"}).decode(t, &g)
	waitFor(t, "a failed publish attempt", eventWait, func() bool { return l.s.pub.Stats().Failures > 0 })
	if l.event(g.ID, 1, codec.OpUpsert) != nil {
		t.Fatal("event produced before the snapshot could be written")
	}
	e, err := l.s.st.GetEnv(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	if e.PublishedVersion >= e.Version {
		t.Fatalf("publish state claims delivery during the outage: %d/%d", e.PublishedVersion, e.Version)
	}
	service(t, "redis", "start")
	restarted = true
	waitFor(t, "snapshot after Redis came back", 2*time.Minute, func() bool { return l.snapshotFlag(env, "redis-outage") != nil })
	waitFor(t, "event after Redis came back", time.Minute, func() bool { return l.event(g.ID, 1, codec.OpUpsert) != nil })
}

// TestIntegrationLoginThrottleSharedByInstances: the login throttle's state
// is in MongoDB, so failures on one instance lock the account on another.
func TestIntegrationLoginThrottleSharedByInstances(t *testing.T) {
	a := newLive(t)
	b, err := New(Config{Addr: "127.0.0.1:0", MongoURI: a.s.cfg.MongoURI, MongoDB: a.s.cfg.MongoDB, RedisAddr: a.s.cfg.RedisAddr,
		KafkaBrokers: a.brokers, TopicPrefix: a.prefix}, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Shutdown(context.Background()) })
	lb := &live{t: t, base: "http://" + b.Addr()}
	bad := map[string]string{"email": a.info.AdminEmail, "password": "wrong-password"}
	for range 4 {
		a.must(401, "", "POST", "/api/v1/auth/login", bad)
	}
	if r := lb.must(429, "", "POST", "/api/v1/auth/login", bad); r.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	a.must(429, "", "POST", "/api/v1/auth/login", map[string]string{"email": a.info.AdminEmail, "password": "admin-password"})
}
