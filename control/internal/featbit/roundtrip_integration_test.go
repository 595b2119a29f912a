//go:build integration

package featbit_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control"
	"github.com/switchyard/switchyard/control/internal/featbit"
	"github.com/switchyard/switchyard/edge"
)

// TestImportRoundTrip is the import's acceptance test (issue 19): a random
// FeatBit data set (>= 100 flags, segments, >= 300 users, every operator
// FeatBit's Node server SDK and FeatBit's server agree on) is evaluated for
// every user by FeatBit's Node server SDK 1.3.0 offline, bootstrapped from
// the ORIGINAL data (edge/compat/node/offline-eval.js), and through a
// Switchyard edge after `import featbit` into a fresh embedded control
// plane. Every (flag, user) value must agree. The seed is random and
// logged; SY_IMPORT_SEED=N replays one.
func TestImportRoundTrip(t *testing.T) {
	const nFlags, nSegs, nUsers = 120, 20, 300
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("SY_IMPORT_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("SY_IMPORT_SEED: %v", err)
		}
		seed = v
	}
	t.Logf("seed %d (replay with SY_IMPORT_SEED=%d)", seed, seed)
	r := rand.New(rand.NewPCG(seed, seed^0x5eed))
	users := randomUsers(r, nUsers)
	ex := randomExport(r, "rt", nFlags, nSegs, users)
	doc, err := ex.ServerSync()
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]string, len(ex.Flags))
	types := map[string]int{}
	for i, f := range ex.Flags {
		keys[i] = f.Key
		types[f.VariationType]++
	}
	t.Logf("flag types %v", types)

	// 1. FeatBit's Node server SDK on the original data.
	sdk := nodeEvaluate(t, doc, ex.Flags, users)

	// 2. Import into a fresh control plane, publish to an in-process edge.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	src := edge.NewLocalSource()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctl, err := control.New(control.Config{DataDir: t.TempDir(), Addr: "127.0.0.1:0"},
		control.WithSnapshotWriter(src), control.WithChangeProducer(src), control.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Shutdown(context.Background())
	info, err := ctl.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	env := info.Envs[0]
	rep, err := ctl.ImportFeatBit(ctx, env.ID, bytes.NewReader(doc), featbit.Limits{}, false)
	if err != nil {
		t.Fatal(err)
	}
	if n := rep.Count(featbit.OpCreate); n != nFlags+nSegs {
		t.Fatalf("import created %d items, want %d", n, nFlags+nSegs)
	}
	rep, err = ctl.ImportFeatBit(ctx, env.ID, bytes.NewReader(doc), featbit.Limits{}, false)
	if err != nil || rep.Count(featbit.OpUnchanged) != nFlags+nSegs {
		t.Fatalf("second import: err %v, %d unchanged, want %d", err, rep.Count(featbit.OpUnchanged), nFlags+nSegs)
	}
	for deadline := time.Now().Add(30 * time.Second); ctl.PublishPending(ctx) != 0; {
		if time.Now().After(deadline) {
			t.Fatal("the import was not published within 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	e, err := edge.New(edge.Config{Addr: "127.0.0.1:0", DrainWindow: -1, AddrRate: -1, SecretRate: -1, EndUserRate: -1},
		edge.WithSource(src), edge.WithEventSink(nopSink{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())

	// 3. Compare every pair.
	diffs, pairs := 0, 0
	reasons := map[string]int{}
	values := map[string]bool{}
	var report []string
	for _, u := range users {
		got := edgeEvaluate(t, e.Addr(), env.ServerSecret, u, keys)
		for _, k := range keys {
			pairs++
			want, ok := sdk[u.KeyID][k]
			if !ok || want.Value == "<sdk-default>" {
				t.Fatalf("the Node SDK did not evaluate flag %s for %s: %+v", k, u.KeyID, want)
			}
			g, ok := got[k]
			if !ok {
				t.Fatalf("the edge did not return flag %s for %s", k, u.KeyID)
			}
			reasons[reasonKind(g.MatchReason)]++
			values[k+"="+g.Value] = true
			if g.Value != want.Value {
				diffs++
				if len(report) < 20 {
					report = append(report, fmt.Sprintf("flag %s user %s: Node SDK %q (%s), edge %q (%s)", k, u.KeyID, want.Value, want.Reason, g.Value, g.MatchReason))
				}
			}
		}
	}
	t.Logf("%d flags x %d users = %d evaluations, %d differences; edge reasons %v; %d distinct (flag, value) pairs", len(keys), len(users), pairs, diffs, reasons, len(values))
	if diffs > 0 {
		t.Fatalf("%d of %d evaluations differ (seed %d):\n%s", diffs, pairs, seed, strings.Join(report, "\n"))
	}
	// The data set must exercise every path, or agreeing proves little.
	for _, k := range []string{"targeted", "rule", "default", "flag disabled"} {
		if reasons[k] == 0 {
			t.Errorf("no evaluation ended with reason %q: the random data set is too narrow", k)
		}
	}
	if len(values) < len(keys)*3/2 {
		t.Errorf("only %d distinct (flag, value) pairs for %d flags: the data set is too narrow", len(values), len(keys))
	}
}

func reasonKind(r string) string {
	switch r {
	case "targeted", "default", "flag disabled", "flag archived":
		return r
	}
	return "rule"
}

type nopSink struct{}

func (nopSink) Insights(context.Context, *codec.InsightBatch) error { return nil }
func (nopSink) EndUsers(context.Context, *codec.EndUserBatch) error { return nil }

type sdkResult struct {
	Value  string `json:"value"`
	Reason string `json:"reason"`
}

// nodeEvaluate runs edge/compat/node/offline-eval.js.
func nodeEvaluate(t *testing.T, doc []byte, flags []featbit.Flag, users []genUser) map[string]map[string]sdkResult {
	t.Helper()
	dir := nodeDir(t)
	type flagRef struct {
		Key  string `json:"key"`
		Type string `json:"type"`
	}
	refs := make([]flagRef, len(flags))
	for i, f := range flags {
		refs[i] = flagRef{f.Key, f.VariationType}
	}
	in, err := json.Marshal(map[string]any{"bootstrap": json.RawMessage(doc), "flags": refs, "users": users})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "input.json")
	if err := os.WriteFile(path, in, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join(dir, "offline-eval.js"), path)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node offline-eval.js: %v\n%s", err, stderr.String())
	}
	var res map[string]map[string]sdkResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("node output: %v\n%.500s", err, out)
	}
	return res
}

type edgeResult struct {
	Value       string `json:"value"`
	MatchReason string `json:"matchReason"`
}

// edgeEvaluate asks the edge's POST /api/public/featureflag/evaluate.
func edgeEvaluate(t *testing.T, addr, secret string, u genUser, keys []string) map[string]edgeResult {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"user": u, "filter": map[string]any{"keys": keys}})
	req, err := http.NewRequest("POST", "http://"+addr+"/api/public/featureflag/evaluate", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", secret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("evaluate: %d %s", resp.StatusCode, b)
	}
	var items []struct {
		Key       string     `json:"key"`
		Variation edgeResult `json:"variation"`
	}
	if err := json.Unmarshal(b, &items); err != nil {
		t.Fatalf("evaluate: %v\n%.300s", err, b)
	}
	out := make(map[string]edgeResult, len(items))
	for _, it := range items {
		out[it.Key] = it.Variation
	}
	return out
}

// nodeDir installs edge/compat/node's pinned packages (npm ci) when they are
// missing or from another lock file, exactly as edge/compat's harness does
// (same lock file in the cache directory, same stamp), and returns the
// directory.
func nodeDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "..", "edge", "compat", "node"))
	if err != nil {
		t.Fatal(err)
	}
	nodeV, err := exec.Command("node", "--version").Output()
	if err != nil {
		t.Fatalf("node is needed by the import round trip: %v", err)
	}
	lock, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	h.Write([]byte(strings.TrimSpace(string(nodeV))))
	h.Write(lock)
	want := hex.EncodeToString(h.Sum(nil))
	stamp := filepath.Join(dir, "node_modules", ".sy-lock-hash")
	cache := os.Getenv("SY_CACHE_DIR")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Fatalf("no SY_CACHE_DIR and no home directory: %v", err)
		}
		cache = filepath.Join(home, ".cache", "switchyard")
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		t.Fatal(err)
	}
	lf, err := os.OpenFile(filepath.Join(cache, "compat-npm.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	defer syscall.Flock(int(lf.Fd()), syscall.LOCK_UN)
	if b, err := os.ReadFile(stamp); err == nil && strings.TrimSpace(string(b)) == want {
		return dir
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--cache", filepath.Join(cache, "npm"), "--no-audit", "--no-fund", "--prefer-offline")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
	}
	if err := os.WriteFile(stamp, []byte(want+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}
