package edge_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/edge"
	"github.com/switchyard/switchyard/edge/edgetest"
)

func do(t *testing.T, method, url, auth, body string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestHTTPOnStreamingPort(t *testing.T) {
	e := edgetest.Run(t)
	env := e.Env(t)
	if code, body, _ := do(t, "GET", e.URL()+"/health/liveness", "", ""); code != 200 || body != "Healthy" {
		t.Fatalf("liveness %d %q", code, body)
	}
	code, body, _ := do(t, "GET", e.URL()+"/api/public/sdk/server/latest-all", env.ServerSecret, "")
	if code != 200 {
		t.Fatalf("latest-all %d %q", code, body)
	}
	var m struct {
		MessageType string
		Data        serverSync
	}
	if err := json.Unmarshal([]byte(body), &m); err != nil || m.Data.EventType != "full" || len(m.Data.FeatureFlags) != len(env.Snapshot.Flags) {
		t.Fatalf("latest-all body %q (%v)", body, err)
	}
	if code, _, _ := do(t, "GET", e.URL()+"/api/public/sdk/server/latest-all", "nope", ""); code != 401 {
		t.Fatalf("bad key: %d", code)
	}
}

func TestTrackAndCORS(t *testing.T) {
	e := edgetest.Run(t)
	env := e.Env(t)
	body := `[{"user":{"keyId":"u1","name":"Bob","customizedProperties":[{"name":"age","value":18}]},
	  "variations":[{"featureFlagKey":"demo-bool","variation":{"id":"v1","value":"true"},"timestamp":1700000000000,"sendToExperiment":true}]},
	 {"user":{"keyId":"u1","name":"Bob","customizedProperties":[]},
	  "metrics":[{"route":"index/metric","type":"CustomEvent","eventName":"checkout","numericValue":1.5,"appType":"x","timestamp":1700000000001}]},
	 {"user":{"keyId":""},"variations":[{"featureFlagKey":"x","variation":{"id":"v","value":"1"},"timestamp":1}]}]`
	if code, b, h := do(t, "POST", e.URL()+"/api/public/insight/track", env.ClientSecret, body); code != 200 || h.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("track %d %q %v", code, b, h)
	}
	if code, _, _ := do(t, "POST", e.URL()+"/api/public/insight/track", env.ServerSecret, `[]`); code != 200 {
		t.Fatalf("empty track %d", code)
	}
	if code, _, _ := do(t, "POST", e.URL()+"/api/public/insight/track", env.ServerSecret, `{"not":"an array"`); code != 400 {
		t.Fatalf("malformed track %d", code)
	}
	if code, _, _ := do(t, "POST", e.URL()+"/api/public/insight/track", "", `[]`); code != 401 {
		t.Fatalf("no key %d", code)
	}
	code, _, h := do(t, "OPTIONS", e.URL()+"/api/public/insight/track", "", "")
	if code != 204 || h.Get("Access-Control-Allow-Origin") != "*" || h.Get("Access-Control-Allow-Headers") == "" {
		t.Fatalf("preflight %d %v", code, h)
	}
	evals := e.Sink.FlagEvents()
	var metrics int
	for _, b := range e.Sink.InsightBatches() {
		metrics += len(b.Metrics)
	}
	if len(evals) != 1 || evals[0].FlagKey != "demo-bool" || evals[0].UserKey != "u1" || evals[0].EnvID != env.ID || metrics != 1 {
		t.Fatalf("recorded %+v, %d metrics", evals, metrics)
	}
}

func TestClientPolling(t *testing.T) {
	e := edgetest.Run(t)
	env := e.Env(t)
	user := `{"keyId":"u-fr","name":"Fr","customizedProperties":[{"name":"country","value":"FR"}]}`
	code, body, _ := do(t, "POST", e.URL()+"/api/public/sdk/client/latest-all?timestamp=0", env.ClientSecret, user)
	var m struct{ Data clientSync }
	if code != 200 || json.Unmarshal([]byte(body), &m) != nil || m.Data.EventType != "full" || len(m.Data.FeatureFlags) != len(env.Snapshot.Flags) {
		t.Fatalf("client polling %d %q", code, body)
	}
	code, body, _ = do(t, "POST", e.URL()+"/api/public/sdk/client/latest-all?timestamp=99999999999999", env.ClientSecret, user)
	if code != 200 || body != "" {
		t.Fatalf("empty patch %d %q", code, body)
	}
	if code, _, _ := do(t, "POST", e.URL()+"/api/public/sdk/client/latest-all", env.ClientSecret, `{"keyId":""}`); code != 400 {
		t.Fatalf("invalid user %d", code)
	}
	code, body, _ = do(t, "GET", e.URL()+"/api/public/sdk/server/latest-all?timestamp=99999999999999", env.ServerSecret, "")
	if code != 200 || body != "" {
		t.Fatalf("server empty patch %d %q", code, body)
	}
}

func TestOFREP(t *testing.T) {
	t.Run("port=shared", func(t *testing.T) { testOFREP(t, false) })
	t.Run("port=http-addr", func(t *testing.T) { testOFREP(t, true) })
}

func testOFREP(t *testing.T, direct bool) {
	cfg := edge.Config{}
	if direct {
		cfg.HTTPAddr = "127.0.0.1:0"
	}
	e := edgetest.Run(t, cfg)
	env := e.Env(t)
	base := e.URL()
	if direct {
		base = "http://" + e.Server.HTTPAddr()
	}
	url := base + "/ofrep/v1/evaluate/flags/"
	type result struct {
		Key, Reason, Variant, ErrorCode string
		Value                           any
		Metadata                        map[string]any
	}
	eval := func(key, auth, body string) (int, result) {
		code, b, _ := do(t, "POST", url+key, auth, body)
		var r result
		if b != "" {
			if err := json.Unmarshal([]byte(b), &r); err != nil {
				t.Fatalf("%s: %q: %v", key, b, err)
			}
		}
		return code, r
	}
	bearer := "Bearer " + env.ServerSecret
	fr := `{"context":{"targetingKey":"u-fr","country":"FR","age":18,"vip":true,"nested":{"a":1},"none":null}}`
	if code, r := eval(edgetest.FlagString, bearer, fr); code != 200 || r.Value != "fr" || r.Reason != "TARGETING_MATCH" || r.Variant != "fr" || r.Metadata["matchReason"] != "France" {
		t.Fatalf("string flag: %d %+v", code, r)
	}
	if code, r := eval(edgetest.FlagBool, bearer, fr); code != 200 || r.Value != true || r.Reason != "DEFAULT" {
		t.Fatalf("bool flag: %d %+v", code, r)
	}
	if code, r := eval(edgetest.FlagDisabled, bearer, fr); code != 200 || r.Value != 0.0 || r.Reason != "DISABLED" {
		t.Fatalf("disabled number flag: %d %+v", code, r)
	}
	if code, r := eval(edgetest.FlagArchived, bearer, fr); code != 404 || r.ErrorCode != "FLAG_NOT_FOUND" {
		t.Fatalf("archived: %d %+v", code, r)
	}
	if code, r := eval("nope", bearer, fr); code != 404 || r.ErrorCode != "FLAG_NOT_FOUND" || r.Key != "nope" {
		t.Fatalf("unknown: %d %+v", code, r)
	}
	if code, r := eval(edgetest.FlagBool, bearer, `{"context":{"country":"FR"}}`); code != 400 || r.ErrorCode != "TARGETING_KEY_MISSING" {
		t.Fatalf("no targeting key: %d %+v", code, r)
	}
	if code, r := eval(edgetest.FlagBool, bearer, `{"context":`); code != 400 || r.ErrorCode != "PARSE_ERROR" {
		t.Fatalf("bad json: %d %+v", code, r)
	}
	if code, _ := eval(edgetest.FlagBool, "Bearer nope", fr); code != 401 {
		t.Fatalf("bad key: %d", code)
	}
	// X-API-Key works too
	req, _ := http.NewRequest("POST", url+edgetest.FlagBool, strings.NewReader(fr))
	req.Header.Set("X-API-Key", env.ClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("X-API-Key: %v %v", resp, err)
	}
	resp.Body.Close()

	// bulk with ETag
	code, body, h := do(t, "POST", base+"/ofrep/v1/evaluate/flags", bearer, fr)
	var bulk struct{ Flags []result }
	if code != 200 || json.Unmarshal([]byte(body), &bulk) != nil || len(bulk.Flags) != len(env.Snapshot.Flags)-1 || h.Get("ETag") == "" {
		t.Fatalf("bulk %d %q %v", code, body, h)
	}
	req, _ = http.NewRequest("POST", base+"/ofrep/v1/evaluate/flags", strings.NewReader(fr))
	req.Header.Set("Authorization", bearer)
	req.Header.Set("If-None-Match", h.Get("ETag"))
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 304 {
		t.Fatalf("If-None-Match: %v %v", resp, err)
	}
	resp.Body.Close()
	// another user gets other values, so another ETag
	_, _, h2 := do(t, "POST", base+"/ofrep/v1/evaluate/flags", bearer, `{"context":{"targetingKey":"u-de","country":"DE"}}`)
	if h2.Get("ETag") == h.Get("ETag") {
		t.Fatal("same ETag for different values")
	}
}

func TestHTTPIdleConnectionsAreClosed(t *testing.T) {
	e := edgetest.Run(t, edge.Config{HTTPIdleTimeout: 1500 * time.Millisecond, HandshakeTimeout: 2 * time.Second})
	c, err := net.Dial("tcp", e.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for i := 0; i < 2; i++ { // keep-alive: two requests on one connection
		if _, err := c.Write([]byte("GET /health/liveness HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("request %d: %v %v", i, resp, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	_ = c.SetReadDeadline(time.Now().Add(wait))
	if n, err := br.ReadByte(); err == nil || isTimeout(err) {
		t.Fatalf("idle keep-alive connection not closed: %v %v", n, err)
	}
}

// TestHTTPAddr: with Config.HTTPAddr the HTTP endpoints answer on a second
// port too (streaming stays on Addr), its idle keep-alive connections are
// closed after HTTPIdleTimeout, and Shutdown stops it.
func TestHTTPAddr(t *testing.T) {
	e := edgetest.Run(t, edge.Config{HTTPAddr: "127.0.0.1:0", HTTPIdleTimeout: 1500 * time.Millisecond})
	env := e.Env(t)
	base := "http://" + e.Server.HTTPAddr()
	if base == "http://" || e.Server.HTTPAddr() == e.Addr {
		t.Fatalf("HTTPAddr %q (streaming on %q)", e.Server.HTTPAddr(), e.Addr)
	}
	if code, body, _ := do(t, "GET", base+"/health/readiness", "", ""); code != 200 || body != "Healthy" {
		t.Fatalf("readiness %d %q", code, body)
	}
	if code, body, _ := do(t, "GET", base+"/api/public/sdk/server/latest-all", env.ServerSecret, ""); code != 200 || !strings.Contains(body, `"eventType":"full"`) {
		t.Fatalf("latest-all %d %q", code, body)
	}
	if code, _, _ := do(t, "GET", base+"/api/public/sdk/server/latest-all", "nope", ""); code != 401 {
		t.Fatalf("bad key: %d", code)
	}
	if _, err := edgetest.DialErr(edgetest.StreamURL(e.Server.HTTPAddr(), "server", env.ServerSecret)); err == nil {
		t.Fatal("WebSocket upgrade accepted on the HTTP-only port")
	}
	// still streaming on Addr
	c := edgetest.Dial(t, edgetest.StreamURL(e.Addr, "server", env.ServerSecret))
	_ = c.Send(`{"messageType":"ping","data":null}`)
	if _, p, err := c.Read(wait); err != nil || !strings.Contains(string(p), "pong") {
		t.Fatalf("ping on Addr: %q %v", p, err)
	}

	nc, err := net.Dial("tcp", e.Server.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	br := bufio.NewReader(nc)
	if _, err := nc.Write([]byte("GET /health/liveness HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("keep-alive request: %v %v", resp, err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(wait))
	if _, err := io.Copy(io.Discard, br); isTimeout(err) {
		t.Fatal("idle keep-alive connection on HTTPAddr not closed")
	}

	addr := e.Server.HTTPAddr()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.Server.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("HTTPAddr still accepts after Shutdown")
	}
}
