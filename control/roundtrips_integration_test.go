//go:build integration

package control

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/event"

	"github.com/switchyard/switchyard/control/internal/store"
	"github.com/switchyard/switchyard/control/internal/store/mongo"
)

// cmdLog records the MongoDB commands the driver sends while on.
type cmdLog struct {
	mu   sync.Mutex
	on   bool
	cmds []loggedCmd
}

// loggedCmd is one command and the id of the API request whose context
// sent it ("" for background work: sweeps, schedulers, the publisher).
type loggedCmd struct {
	req, desc string
}

func (c *cmdLog) monitor() *event.CommandMonitor {
	return &event.CommandMonitor{Started: func(ctx context.Context, e *event.CommandStartedEvent) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.on {
			c.cmds = append(c.cmds, loggedCmd{store.RequestIDFrom(ctx), describeCmd(e.CommandName, e.Command)})
		}
	}}
}

func (c *cmdLog) start() { c.mu.Lock(); c.on, c.cmds = true, nil; c.mu.Unlock() }

func (c *cmdLog) stop() []loggedCmd {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.on = false
	return c.cmds
}

// describeCmd is "<command> <collection> <filter or first document's _id>".
func describeCmd(name string, cmd bson.Raw) string {
	coll, _ := cmd.Lookup(name).StringValueOK()
	what := ""
	for _, k := range []string{"filter", "query"} {
		if v, err := cmd.LookupErr(k); err == nil {
			what = v.String()
		}
	}
	for _, arr := range []string{"updates", "deletes"} {
		if v, err := cmd.LookupErr(arr, "0", "q"); err == nil {
			what = v.String()
		}
	}
	if name == "insert" {
		if v, err := cmd.LookupErr("documents", "0", "_id"); err == nil {
			what = "_id " + v.String()
		}
	}
	if len(what) > 90 {
		what = what[:90] + "…"
	}
	return fmt.Sprintf("%s %s %s", name, coll, what)
}

// TestIntegrationTogglePathRoundTrips counts the MongoDB commands of one
// API flag toggle on the production path (FerretDB, Redis, Kafka): the
// request (authentication, the environment and its project, the flag, the
// environment's compare-and-set, the flag write, history, audit, webhook
// outbox) and its publish (through the environment's publish mark). It
// lists them (-v) and fails above the bound docs/control.md quotes.
func TestIntegrationTogglePathRoundTrips(t *testing.T) {
	rec := &cmdLog{}
	var dbName string
	l := newLiveWith(t, nil, func(c *Config) { c.mongoMonitor, dbName = rec.monitor(), c.MongoDB })
	env := l.env("dev")
	// the test's own reads go through a connection of their own, which
	// the recorder does not see
	b, err := mongo.Open(context.Background(), need(t, "SY_TEST_MONGO_URI"), dbName, store.Schema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	mine := store.New(b)
	published := func() bool {
		e, err := mine.GetEnv(context.Background(), env)
		return err == nil && e.PublishedVersion == e.Version
	}
	waitFor(t, "first publish", time.Minute, published)
	url := "/api/v1/envs/" + env + "/flags/welcome-banner/toggle"
	version := func() int64 {
		f, err := mine.GetFlagByKey(context.Background(), env, "welcome-banner")
		if err != nil {
			t.Fatal(err)
		}
		return f.Version
	}
	for i := 0; i < 2; i++ { // warm every lookup the path makes
		if r := l.do(l.admin, "POST", url, map[string]any{"version": version()}); r.Code != 200 {
			t.Fatalf("toggle: %d %s", r.Code, r.Body)
		}
		waitFor(t, "publish", time.Minute, published)
	}
	body := map[string]any{"version": version()}
	rec.start()
	t0 := time.Now()
	r := l.do(l.admin, "POST", url, body)
	if r.Code != 200 {
		t.Fatalf("toggle: %d %s", r.Code, r.Body)
	}
	api := time.Since(t0)
	id := r.Header.Get("X-Request-Id")
	rec.mu.Lock()
	during := len(rec.cmds)
	rec.mu.Unlock()
	waitFor(t, "publish", time.Minute, published)
	cmds := rec.stop()
	// the request's own commands carry its id in their context; the others
	// sent while it ran are background work (webhook and schedule sweeps,
	// the publisher) that a loaded machine lets overlap it
	req := 0
	for _, c := range cmds {
		if c.req == id {
			req++
		}
	}
	t.Logf("toggle: API %v, %d commands of the request, %d in all (r: the request's; b: background while it ran; p: after the response)", api, req, len(cmds))
	for i, c := range cmds {
		mark := "r"
		switch {
		case c.req == id:
		case i < during:
			mark = "b"
		default:
			mark = "p"
		}
		t.Logf("%s %2d %s", mark, i+1, c.desc)
	}
	if id == "" || req == 0 {
		t.Fatalf("no command carried the request's id %q: the recorder cannot tell the request's commands", id)
	}
	if req > togglePathBound {
		t.Fatalf("one toggle request made %d MongoDB commands, want at most %d", req, togglePathBound)
	}
}

// togglePathBound is the most commands one toggle request sends (those
// whose context carries its request id; measured 21, docs/control.md, plus
// the 2 of one wait for a document lock another writer holds).
const togglePathBound = 23
