//go:build integration

package control

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/gobwas/ws/wsutil"
)

// TestIntegrationFlagBatchReachesSDK: the production path (MongoDB wire,
// Redis, Kafka, a real edge process). A bulk write of SY_TEST_BATCH_SIZE
// flags (default 1,000: the MongoDB-wire test server takes a document lock
// per write) reaches a connected server SDK; a batch within one Kafka record
// (publish.MaxBatchRecord) arrives as ONE patch. Logs the time from the
// API request to the patch (docs/benchmarks.md quotes it with -v).
func TestIntegrationFlagBatchReachesSDK(t *testing.T) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("SY_TEST_BATCH_SIZE")); err == nil && v > 0 {
		n = v
	}
	l := newLiveWith(t, nil)
	env := l.env("dev")
	waitFor(t, "first publish", time.Minute, func() bool {
		e, err := l.s.st.GetEnv(t.Context(), env)
		return err == nil && e.PublishedVersion == e.Version
	})
	addr, _ := runEdge(t, l, buildEdge(t))
	sdk := dialSDK(t, addr, l.info.Envs[0].ServerSecret)
	if err := wsutil.WriteClientText(sdk.c, []byte(`{"messageType":"data-sync","data":{"timestamp":0}}`)); err != nil {
		t.Fatal(err)
	}
	if full := sdk.next(time.Minute); full.Data.EventType != "full" {
		t.Fatalf("first message %+v", full.Data.EventType)
	}
	body := batchOf(n, "prod")
	t0 := time.Now()
	// Read all the time, as an SDK does (a client that stops reading while
	// a large patch is pushed is cut off after -write-timeout), and ping
	// every 10 s (FeatBit SDKs ping) while the batch is written: on the
	// MongoDB-wire test server that can take minutes.
	type patch struct {
		m   *syncMsg
		err error
	}
	patches := make(chan patch, 16)
	go func() {
		for {
			m, err := sdk.read(10 * time.Minute)
			patches <- patch{m, err}
			if err != nil {
				return
			}
		}
	}()
	done := make(chan *resp, 1)
	go func() { done <- l.do(l.admin, "POST", batchURL(env), body) }()
	var r *resp
	for r == nil {
		select {
		case r = <-done:
		case <-time.After(10 * time.Second):
			if err := wsutil.WriteClientText(sdk.c, []byte(`{"messageType":"ping","data":null}`)); err != nil {
				t.Fatal(err)
			}
		}
	}
	api := time.Since(t0)
	t.Logf("API response after %v", api.Round(time.Millisecond))
	if r.Code != 200 {
		t.Fatalf("batch: %d %s", r.Code, r.Body)
	}
	got, npatch := 0, 0
	for got < n {
		select {
		case p := <-patches:
			if p.err != nil {
				t.Fatalf("after the batch (%d flags in %d patches so far): %v", got, npatch, p.err)
			}
			if p.m.Data.EventType != "patch" {
				t.Fatalf("after the batch: %s", p.m.Data.EventType)
			}
			got += len(p.m.Data.FeatureFlags)
			npatch++
		case <-time.After(10 * time.Second):
			// keep pinging while the publish runs (an idle SDK is cut off)
			if time.Since(t0) > 10*time.Minute {
				t.Fatalf("%d of %d flags reached the SDK (%d patches) in 10 minutes", got, n, npatch)
			}
			if err := wsutil.WriteClientText(sdk.c, []byte(`{"messageType":"ping","data":null}`)); err != nil {
				t.Fatal(err)
			}
		}
	}
	d := time.Since(t0)
	if got != n || (n <= 1000 && npatch != 1) {
		t.Fatalf("%d flags in %d patches, want %d (one patch up to 1,000 flags)", got, npatch, n)
	}
	t.Logf("production, batch of %d flags: API response %v, API request → SDK has all (%d patches) %v", n, api.Round(time.Millisecond), npatch, d.Round(time.Millisecond))
	t.Logf("publisher: %+v", l.s.pub.Stats())
}
