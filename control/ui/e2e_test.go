//go:build integration

package ui_test

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/switchyard/switchyard/codec/secret"
	"github.com/switchyard/switchyard/control/ui"
)

// The browser tests run the all-in-one binary (control + edge + analytics on
// an embedded store, fresh temp data dir, free loopback ports), serve
// ui.Handler in front of its API, hold a FeatBit server-SDK streaming
// connection to the edge, and drive headless Chromium through e2e/e2e.mjs.

func run(t *testing.T, dir string, timeout time.Duration, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// TestDistUpToDate fails when the committed dist/ is not what src/ builds to.
func TestDistUpToDate(t *testing.T) {
	run(t, ".", 10*time.Minute, "bash", "build.sh", "--check")
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// platform is a running all-in-one binary.
type platform struct {
	ctlAddr, edgeAddr string
	adminPassword     string
	devServerSecret   string
}

func startPlatform(t *testing.T, root string, extra ...string) *platform {
	t.Helper()
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "switchyard")
	run(t, root, 10*time.Minute, "go", "build", "-o", bin, "./cmd/switchyard")
	p := &platform{ctlAddr: freeAddr(t), edgeAddr: freeAddr(t), adminPassword: fmt.Sprintf("e2e-admin-%d", rand.Uint64())}
	cmd := exec.Command(bin, append([]string{"-data", filepath.Join(tmp, "data"), "-addr", p.ctlAddr, "-edge-addr", p.edgeAddr,
		"-admin-password", p.adminPassword, "-webhook-allow", "127.0.0.0/8,::1/128"}, extra...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(tmp, "switchyard.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("switchyard log (tail):\n%s", tail(string(b), 4000))
		}
	})
	// the banner: "Environment dev    server secret <44 chars>"
	re := regexp.MustCompile(`Environment (\S+)\s+server secret (\S+)`)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil && m[1] == "dev" && !sent {
				found <- m[2]
				sent = true
			}
		}
		if !sent {
			close(found)
		}
	}()
	select {
	case s, ok := <-found:
		if !ok || !secret.Valid(s) {
			t.Fatalf("switchyard printed no valid dev server secret (%q)", s)
		}
		p.devServerSecret = s
	case <-time.After(2 * time.Minute):
		t.Fatal("switchyard did not print its banner within 2 minutes")
	}
	return p
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// wire types: FeatBit's JSON form of a flag as the edge streams it.
type wireFlag struct {
	Key         string `json:"key"`
	IsEnabled   bool   `json:"isEnabled"`
	DisabledVar string `json:"disabledVariationId"`
	TargetUsers []struct {
		KeyIDs      []string `json:"keyIds"`
		VariationID string   `json:"variationId"`
	} `json:"targetUsers"`
	Variations []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"variations"`
	Rules []struct {
		Name        string  `json:"name"`
		DispatchKey *string `json:"dispatchKey"`
		Conditions  []struct {
			Property string  `json:"property"`
			Op       *string `json:"op"`
			Value    string  `json:"value"`
		} `json:"conditions"`
		Variations []struct {
			ID      string     `json:"id"`
			Rollout [2]float64 `json:"rollout"`
		} `json:"variations"`
	} `json:"rules"`
}

type syncMsg struct {
	MessageType string `json:"messageType"`
	Data        struct {
		EventType    string     `json:"eventType"`
		FeatureFlags []wireFlag `json:"featureFlags"`
	} `json:"data"`
}

// sdkStream is a FeatBit server-SDK streaming connection that remembers the
// last state of every flag it was sent.
type sdkStream struct {
	mu    sync.Mutex
	flags map[string]wireFlag
	err   error
}

func openStream(t *testing.T, edgeAddr, serverSecret string) *sdkStream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s := &sdkStream{flags: map[string]wireFlag{}}
	// connect and complete the full data-sync; retried, since a busy machine
	// (load tests next door) can refuse or drop a connection for a moment
	var conn net.Conn
	var lastErr error
	for conn == nil {
		if ctx.Err() != nil {
			t.Fatalf("no full data-sync from the edge within 60 s: %v", lastErr)
		}
		u := "ws://" + edgeAddr + "/streaming?type=server&token=" + url.QueryEscape(secret.EncodeToken(serverSecret, time.Now().UnixMilli(), 7))
		c, _, _, err := ws.Dial(ctx, u)
		if err == nil {
			err = s.handshake(c)
			if err == nil {
				conn = c
				break
			}
			c.Close()
		}
		lastErr = err
		time.Sleep(500 * time.Millisecond)
	}
	var wmu sync.Mutex
	send := func(msg string) error {
		wmu.Lock()
		defer wmu.Unlock()
		return wsutil.WriteClientText(conn, []byte(msg))
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // keep-alive like the SDKs
		defer wg.Done()
		tk := time.NewTicker(5 * time.Second)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				_ = send(`{"messageType":"ping","data":null}`)
			}
		}
	}()
	go func() {
		defer wg.Done()
		for {
			b, err := wsutil.ReadServerText(conn)
			if err != nil {
				s.mu.Lock()
				s.err = err
				s.mu.Unlock()
				return
			}
			s.apply(b)
		}
	}()
	t.Cleanup(func() { close(stop); conn.Close(); wg.Wait() })
	return s
}

// handshake sends data-sync and reads until the full answer arrived.
func (s *sdkStream) handshake(c net.Conn) error {
	if err := wsutil.WriteClientText(c, []byte(`{"messageType":"data-sync","data":{"timestamp":0}}`)); err != nil {
		return err
	}
	_ = c.SetReadDeadline(time.Now().Add(15 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	for {
		b, err := wsutil.ReadServerText(c)
		if err != nil {
			return err
		}
		if s.apply(b) == "full" {
			return nil
		}
	}
}

// apply records the flags of a data-sync message and returns its event type.
func (s *sdkStream) apply(b []byte) string {
	var m syncMsg
	if json.Unmarshal(b, &m) != nil || m.MessageType != "data-sync" {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range m.Data.FeatureFlags {
		s.flags[f.Key] = f
	}
	return m.Data.EventType
}

func (s *sdkStream) flag(key string) (wireFlag, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.flags[key]
	return f, ok, s.err
}

// ruleDelivered reports what is still missing from the flag the UI built: on,
// one rule, conditions country Equal FR and plan IsOneOf [pro, team], 30% control / 70% treatment,
// dispatch key keyId, off variation control, alice and bob get treatment.
func ruleDelivered(f wireFlag) string {
	if !f.IsEnabled {
		return "flag is off"
	}
	if len(f.Rules) != 1 {
		return fmt.Sprintf("%d rules", len(f.Rules))
	}
	r := f.Rules[0]
	if len(r.Conditions) != 2 {
		return fmt.Sprintf("%d conditions", len(r.Conditions))
	}
	c0, c1 := r.Conditions[0], r.Conditions[1]
	if c0.Property != "country" || c0.Op == nil || *c0.Op != "Equal" || c0.Value != "FR" {
		return fmt.Sprintf("condition 1 is %+v", c0)
	}
	var list []string
	if c1.Property != "plan" || c1.Op == nil || *c1.Op != "IsOneOf" || json.Unmarshal([]byte(c1.Value), &list) != nil ||
		strings.Join(list, ",") != "pro,team" {
		return fmt.Sprintf("condition 2 is %+v", c1)
	}
	names := map[string]string{}
	for _, v := range f.Variations {
		names[v.ID] = v.Name
	}
	share := map[string]float64{}
	for _, v := range r.Variations {
		share[names[v.ID]] += v.Rollout[1] - v.Rollout[0]
	}
	if math.Abs(share["control"]-0.3) > 1e-9 || math.Abs(share["treatment"]-0.7) > 1e-9 {
		return fmt.Sprintf("split is %v", share)
	}
	if r.DispatchKey == nil || *r.DispatchKey != "keyId" {
		return "dispatch key is not keyId"
	}
	if names[f.DisabledVar] != "control" {
		return "off variation is not control"
	}
	if len(f.TargetUsers) != 1 || names[f.TargetUsers[0].VariationID] != "treatment" || strings.Join(f.TargetUsers[0].KeyIDs, ",") != "alice,bob" {
		return fmt.Sprintf("individual targeting is %+v", f.TargetUsers)
	}
	return ""
}

// apiCall sends a JSON request to the control plane (or analytics under it)
// and decodes the answer into out.
func apiCall(t *testing.T, base, token, method, path string, in, out any) {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, base+path, body)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

type idItem struct {
	ID      string `json:"id"`
	Key     string `json:"key"`
	Version int64  `json:"version"`
}

// seed gives the insights page data: evaluations of checkout-flow through
// the edge's track endpoint, half spread over the last 20 hours (insights
// chart), half now. It waits until analytics answers with them. (The
// experiment steps of the browser run, e2e/expt.mjs, make their own
// exposures with the sendToExperiment the edge gives each user.)
func seed(t *testing.T, p *platform) {
	t.Helper()
	base := "http://" + p.ctlAddr
	var login struct {
		Token string `json:"token"`
	}
	apiCall(t, base, "", "POST", "/api/v1/auth/login", map[string]string{"email": "admin@switchyard.local", "password": p.adminPassword}, &login)
	tok := "Bearer " + login.Token
	var orgs, projects, envs struct{ Items []idItem }
	apiCall(t, base, tok, "GET", "/api/v1/orgs", nil, &orgs)
	apiCall(t, base, tok, "GET", "/api/v1/orgs/"+orgs.Items[0].ID+"/projects", nil, &projects)
	apiCall(t, base, tok, "GET", "/api/v1/projects/"+projects.Items[0].ID+"/envs", nil, &envs)
	env := ""
	for _, e := range envs.Items {
		if e.Key == "dev" {
			env = e.ID
		}
	}
	var flag struct {
		ID         string `json:"id"`
		Variations []struct {
			ID    string `json:"id"`
			Value string `json:"value"`
		} `json:"variations"`
	}
	apiCall(t, base, tok, "GET", "/api/v1/envs/"+env+"/flags/checkout-flow", nil, &flag)

	type variation struct {
		ID    string `json:"id"`
		Value string `json:"value"`
	}
	type eval struct {
		Key       string    `json:"featureFlagKey"`
		Variation variation `json:"variation"`
		Timestamp int64     `json:"timestamp"`
	}
	type insight struct {
		User       map[string]any `json:"user"`
		Variations []eval         `json:"variations"`
	}
	now := time.Now().UnixMilli()
	var body []insight
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 240 {
		v := flag.Variations[i%2]
		in := insight{User: map[string]any{"keyId": fmt.Sprintf("user-%03d", i), "name": fmt.Sprintf("User %d", i),
			"customizedProperties": []map[string]string{{"name": "country", "value": []string{"FR", "DE", "US"}[i%3]}, {"name": "plan", "value": []string{"free", "pro"}[i%2]}}}}
		if i < 120 { // history for the insights chart
			ts := time.Now().Add(-time.Duration(rng.IntN(20*60)) * time.Minute).UnixMilli()
			for range 1 + rng.IntN(4) {
				in.Variations = append(in.Variations, eval{Key: "checkout-flow", Variation: variation{v.ID, v.Value}, Timestamp: ts})
			}
		} else {
			in.Variations = []eval{{Key: "checkout-flow", Variation: variation{v.ID, v.Value}, Timestamp: now}}
		}
		body = append(body, in)
	}
	for len(body) > 0 { // the edge takes at most 100 end users per track request (-max-track-users)
		n := min(len(body), 80)
		b, _ := json.Marshal(body[:n])
		body = body[n:]
		req, _ := http.NewRequest("POST", "http://"+p.edgeAddr+"/api/public/insight/track", strings.NewReader(string(b)))
		req.Header.Set("Authorization", p.devServerSecret)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("track: %d", res.StatusCode)
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		var vu struct {
			Variations []struct {
				Evaluations int `json:"evaluations"`
			} `json:"variations"`
		}
		apiCall(t, base, tok, "GET", fmt.Sprintf("/api/analytics/v1/envs/%s/flags/checkout-flow/variations?from=%d&to=%d", env, time.Now().Add(-25*time.Hour).UnixMilli(), time.Now().Add(time.Minute).UnixMilli()), nil, &vu)
		n := 0
		for _, v := range vu.Variations {
			n += v.Evaluations
		}
		if n >= 240 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("analytics shows %d evaluations of checkout-flow 60 s after the track request, want >= 240", n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// seedWorkflow prepares the code-reference and stale-flag steps: a flag
// legacy-banner, archived, and one upload of references (repository
// acme/shop, branch main) that mentions only checkout-flow and
// legacy-banner, so legacy-banner is a risk (archived, still in code) and
// welcome-banner, created minutes ago, is not stale although no code
// mentions it (a flag must be older than the window to be stale).
func seedWorkflow(t *testing.T, p *platform) {
	t.Helper()
	base := "http://" + p.ctlAddr
	var login struct {
		Token string `json:"token"`
	}
	apiCall(t, base, "", "POST", "/api/v1/auth/login", map[string]string{"email": "admin@switchyard.local", "password": p.adminPassword}, &login)
	tok := "Bearer " + login.Token
	var orgs, projects, envs struct{ Items []idItem }
	apiCall(t, base, tok, "GET", "/api/v1/orgs", nil, &orgs)
	apiCall(t, base, tok, "GET", "/api/v1/orgs/"+orgs.Items[0].ID+"/projects", nil, &projects)
	apiCall(t, base, tok, "GET", "/api/v1/projects/"+projects.Items[0].ID+"/envs", nil, &envs)
	env := ""
	for _, e := range envs.Items {
		if e.Key == "dev" {
			env = e.ID
		}
	}
	var legacy idItem
	apiCall(t, base, tok, "POST", "/api/v1/envs/"+env+"/flags", map[string]any{"key": "legacy-banner", "name": "Legacy banner", "variationType": "boolean"}, &legacy)
	apiCall(t, base, tok, "POST", "/api/v1/envs/"+env+"/flags/legacy-banner/archive", map[string]any{"version": legacy.Version}, nil)
	ref := func(key, file string, line int, ctx ...string) map[string]any {
		return map[string]any{"flagKey": key, "token": key, "file": file, "line": line, "contextStart": line - 2, "context": ctx}
	}
	apiCall(t, base, tok, "POST", "/api/v1/projects/"+projects.Items[0].ID+"/code-refs", map[string]any{
		"repository": "acme/shop", "branch": "main", "commit": "0123456789abcdef", "scannedAt": time.Now().UnixMilli(),
		"references": []any{
			ref("checkout-flow", "src/checkout/flow.ts", 42, "export function checkout(user: User) {", "  // the one-page experiment",
				"  if (client.variation('checkout-flow', user, 'classic') === 'one-page') {", "    return onePage(user);", "  }"),
			ref("legacy-banner", "src/home/banner.go", 7, "func banner(u *User) string {", "\t// TODO remove", "\tif fb.BoolVariation(\"legacy-banner\", u, false) {"),
		},
	}, nil)
}

// receiver is the webhook endpoint of the browser test: it checks each
// delivery's signature (X-Switchyard-Signature: "sha256=" + hex HMAC-SHA256
// of timestamp + "." + body under the secret the browser typed), records the
// event kind ("<kind> (bad signature)" when it does not verify) and answers 200.
type receiver struct {
	secret string
	mu     sync.Mutex
	events []string
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var ev struct {
		Kind string `json:"kind"`
	}
	_ = json.Unmarshal(b, &ev)
	kind := r.Header.Get("X-Switchyard-Event")
	if kind == "" {
		kind = ev.Kind
	}
	m := hmac.New(sha256.New, []byte(rc.secret))
	m.Write([]byte(r.Header.Get("X-Switchyard-Timestamp") + "."))
	m.Write(b)
	if want := "sha256=" + hex.EncodeToString(m.Sum(nil)); !hmac.Equal([]byte(want), []byte(r.Header.Get("X-Switchyard-Signature"))) {
		kind += " (bad signature)"
	}
	rc.mu.Lock()
	rc.events = append(rc.events, kind)
	rc.mu.Unlock()
	_, _ = io.WriteString(w, "ok from the e2e receiver")
}

func (rc *receiver) got(kind string) bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, k := range rc.events {
		if k == kind {
			return true
		}
	}
	return false
}

type stepResult struct {
	Step   string `json:"step"`
	OK     bool   `json:"ok"`
	MS     int64  `json:"ms"`
	Error  string `json:"error"`
	Done   bool   `json:"done"`
	Passed int    `json:"passed"`
	Failed int    `json:"failed"`
}

func TestBrowserE2E(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is required for the browser tests (Debian package nodejs)")
	}
	run(t, ".", 15*time.Minute, "bash", "install-chromium.sh")
	run(t, ".", 10*time.Minute, "bash", "build.sh", "--install")

	// The UI's address is known before the platform starts: single sign-on
	// needs it as the public URL (the issuer sends the browser back there).
	uiLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	uiURL := "http://" + uiLn.Addr().String()
	p := startPlatform(t, root, "-public-url", uiURL, "-sso-allow", "127.0.0.0/8")
	target, _ := url.Parse("http://" + p.ctlAddr)
	mux := http.NewServeMux()
	mux.Handle("/api/", httputil.NewSingleHostReverseProxy(target))
	mux.Handle("/", ui.Handler())
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener.Close()
	srv.Listener = uiLn
	srv.Start()
	defer srv.Close()

	stream := openStream(t, p.edgeAddr, p.devServerSecret)
	if _, ok, _ := stream.flag("checkout-flow"); !ok {
		t.Fatal("the full data-sync lacks the demo flag checkout-flow")
	}

	seed(t, p)
	seedWorkflow(t, p)
	ssoEnv := seedSSO(t, p, uiURL)
	hooks := &receiver{secret: fmt.Sprintf("e2e-webhook-secret-%d", rand.Uint64())}
	hookSrv := httptest.NewServer(hooks)
	defer hookSrv.Close()

	flagKey := fmt.Sprintf("e2e-checkout-%d", rand.IntN(1_000_000))
	artifacts := filepath.Join(root, ".artifacts", "ui")
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute) // the main flow, then a11y.mjs (every page three times)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "e2e/e2e.mjs")
	cmd.Env = append(os.Environ(),
		"SY_UI_URL="+srv.URL,
		"SY_ADMIN_EMAIL=admin@switchyard.local",
		"SY_ADMIN_PASSWORD="+p.adminPassword,
		"SY_FLAG_KEY="+flagKey,
		"SY_VIEWER_EMAIL=viewer-"+flagKey+"@example.com",
		"SY_VIEWER_PASSWORD=viewer-password-1",
		"SY_ARTIFACTS="+artifacts,
		"SY_WEBHOOK_URL="+hookSrv.URL+"/hook",
		"SY_WEBHOOK_SECRET="+hooks.secret,
		"SY_EDGE_ADDR="+p.edgeAddr,
		"SY_SERVER_SECRET="+p.devServerSecret, // the experiment steps' SDK population (e2e/expt.mjs)
	)
	cmd.Env = append(cmd.Env, ssoEnv...)
	cmd.Env = append(cmd.Env, seedDelivery(t, p, 1)...) // the one stream opened above
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var done *stepResult
	steps := 0
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r stepResult
		if json.Unmarshal(sc.Bytes(), &r) != nil {
			t.Logf("e2e: %s", sc.Text())
			continue
		}
		if r.Done {
			done = &r
			continue
		}
		steps++
		t.Run(r.Step, func(t *testing.T) {
			if !r.OK {
				t.Errorf("%s (after %d ms; screenshot %s)", r.Error, r.MS, filepath.Join(artifacts, "FAILED-"+r.Step+".png"))
			}
			t.Logf("%d ms", r.MS)
		})
	}
	_, _ = io.Copy(io.Discard, out)
	werr := cmd.Wait()
	if done == nil {
		t.Fatalf("the browser script ended without a summary (%v); stderr:\n%s", werr, tail(stderr.String(), 4000))
	}
	if done.Failed > 0 || werr != nil {
		t.Fatalf("browser steps: %d passed, %d failed (%v); screenshots in %s", done.Passed, done.Failed, werr, artifacts)
	}
	if steps < 25 {
		t.Fatalf("only %d browser steps ran", steps)
	}

	// The SDK connection opened before the browser run received the flag
	// exactly as the UI built it.
	t.Run("sdk-stream-received-the-change", func(t *testing.T) {
		deadline := time.Now().Add(30 * time.Second)
		why := "flag never arrived"
		for time.Now().Before(deadline) {
			f, ok, err := stream.flag(flagKey)
			if err != nil {
				t.Fatalf("stream broke: %v", err)
			}
			if ok {
				if why = ruleDelivered(f); why == "" {
					return
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("the SDK stream did not receive the UI's change: %s", why)
	})
	// The trigger the browser created and called turned theme-config on:
	// the SDK connection sees it.
	t.Run("sdk-stream-sees-the-trigger", func(t *testing.T) {
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			f, ok, err := stream.flag("theme-config")
			if err != nil {
				t.Fatalf("stream broke: %v", err)
			}
			if ok && f.IsEnabled {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatal("the SDK stream never saw theme-config turned on by the trigger")
	})
	// The webhook the browser created received the signed test event and,
	// subscribed to flag.toggled, the toggle of the clone in the compare step.
	t.Run("webhook-receiver-got-the-events", func(t *testing.T) {
		deadline := time.Now().Add(30 * time.Second)
		for !hooks.got("webhook.test") || !hooks.got("flag.toggled") {
			if time.Now().After(deadline) {
				hooks.mu.Lock()
				defer hooks.mu.Unlock()
				t.Fatalf("the receiver got %v; want a signed webhook.test and flag.toggled", hooks.events)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	for _, f := range []string{"audit-log", "flag-history", "webhooks", "flag-triggers", "flag-schedule", "schedules", "flag-compare", "flags-stale", "flag-code-refs", "change-comment", "org-audit-log", "webhook-deliveries",
		"login", "flags", "flag-detail", "flag-rollout-refused", "segments", "insights", "experiment-results", "end-users", "sdk-keys", "members", "viewer-flag",
		"experiment-srm", "insights-users", "guarded-rollout"} {
		if st, err := os.Stat(filepath.Join(artifacts, f+".png")); err != nil || st.Size() < 5000 {
			t.Errorf("screenshot %s.png missing or tiny (%v)", f, err)
		}
	}
}
