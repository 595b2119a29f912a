package edge_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

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
