// Package edgetest runs an in-process edge for tests: Run starts one on
// 127.0.0.1:0 with a LocalSource and a recording EventSink and shuts it
// down when the test ends; Env creates a demo environment; Dial opens a
// small WebSocket SDK-style client.
package edgetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/codec/secret"
	"github.com/switchyard/switchyard/edge"
)

// Edge is a running in-process edge.
type Edge struct {
	Addr   string // host:port
	Server *edge.Server
	Source *edge.LocalSource
	Sink   *Sink
}

// Run starts an edge with cfg (Addr defaults to 127.0.0.1:0) and stops it
// at the end of the test. The per-address, per-secret and per-environment
// rate limits and the per-address cap of unfinished requests are off unless
// cfg sets them (tests of those limits set them).
func Run(t testing.TB, cfg ...edge.Config) *Edge {
	t.Helper()
	var c edge.Config
	if len(cfg) > 0 {
		c = cfg[0]
	}
	if c.Addr == "" {
		c.Addr = "127.0.0.1:0"
	}
	// Every test client shares an address (loopback) and a test's secret
	// serves all its clients, so the per-address and per-secret limits are
	// off unless cfg sets them (0 = the production default would apply).
	if c.AddrRate == 0 {
		c.AddrRate = -1
	}
	if c.SecretRate == 0 {
		c.SecretRate = -1
	}
	if c.EndUserRate == 0 {
		c.EndUserRate = -1
	}
	if c.MaxUnfinished == 0 {
		c.MaxUnfinished = -1
	}
	if c.DrainWindow == 0 {
		c.DrainWindow = -1 // close at once at the end of a test (drain tests set it)
	}
	src := edge.NewLocalSource()
	sk := &Sink{}
	s, err := edge.New(c, edge.WithSource(src), edge.WithEventSink(sk))
	if err != nil {
		t.Fatalf("edgetest: new edge: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("edgetest: start edge: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return &Edge{Addr: s.Addr(), Server: s, Source: src, Sink: sk}
}

// URL is the edge's base URL for SDKs ("http://host:port"); the streaming
// URL is the same with "ws://".
func (e *Edge) URL() string { return "http://" + e.Addr }

// DemoEnv is an environment created by Env.
type DemoEnv struct {
	ID           string
	ServerSecret string
	ClientSecret string
	Snapshot     *codec.EnvSnapshot // as written to the source
}

// Flag keys of the demo environment.
const (
	FlagBool     = "demo-bool"     // boolean, on, fallthrough "true" for everyone
	FlagString   = "demo-string"   // string: rule "country is FR" → "fr", else "default"
	FlagDisabled = "demo-disabled" // number, disabled → "0"
	FlagArchived = "demo-archived" // archived tombstone
	FlagSegment  = "demo-segment"  // boolean: users in segment "beta" → "true", else "false"
)

// Env creates a demo environment (server and client secret, the flags
// above and one segment "beta" with user "u-beta") and returns it.
func (e *Edge) Env(t testing.TB) *DemoEnv {
	t.Helper()
	snap := DemoSnapshot(secret.NewGUID())
	if err := e.Source.WriteSnapshot(context.Background(), snap); err != nil {
		t.Fatalf("edgetest: write snapshot: %v", err)
	}
	d := &DemoEnv{ID: snap.EnvID, Snapshot: snap}
	for _, s := range snap.Secrets {
		if s.Type == codec.SecretServer {
			d.ServerSecret = s.Value
		} else {
			d.ClientSecret = s.Value
		}
	}
	return d
}

func boolVariations() []codec.Variation {
	return []codec.Variation{{ID: secret.NewGUID(), Name: "true", Value: "true"}, {ID: secret.NewGUID(), Name: "false", Value: "false"}}
}

// DemoSnapshot builds the demo environment's snapshot for envID (a GUID).
func DemoSnapshot(envID string) *codec.EnvSnapshot {
	now := time.Now().UnixMilli() - 60_000
	ss, _ := secret.New(envID)
	cs, _ := secret.New(envID)
	all := func(id string) []codec.RolloutVariation {
		return []codec.RolloutVariation{{ID: id, Rollout: [2]float64{0, 1}, ExptRollout: 1}}
	}
	flag := func(key, typ string, vs []codec.Variation) codec.Flag {
		return codec.Flag{ID: secret.NewGUID(), EnvID: envID, Name: key, Key: key, VariationType: typ, Variations: vs,
			IsEnabled: true, DisabledVariationID: vs[len(vs)-1].ID, Fallthrough: codec.Fallthrough{IncludedInExpt: true, Variations: all(vs[0].ID)},
			Tags: []string{}, TargetUsers: []codec.TargetUser{}, Rules: []codec.Rule{}, CreatedAt: now, UpdatedAt: now, Version: 1}
	}
	seg := codec.Segment{ID: secret.NewGUID(), EnvID: envID, Name: "beta", Included: []string{"u-beta"}, Excluded: []string{},
		Rules: []codec.SegmentRule{}, Tags: []string{}, CreatedAt: now, UpdatedAt: now, Version: 1}

	fb := flag(FlagBool, "boolean", boolVariations())
	sv := []codec.Variation{{ID: secret.NewGUID(), Name: "default", Value: "default"}, {ID: secret.NewGUID(), Name: "fr", Value: "fr"}}
	fs := flag(FlagString, "string", sv)
	fs.Rules = []codec.Rule{{ID: secret.NewGUID(), Name: "France", Conditions: []codec.Condition{{ID: secret.NewGUID(), Property: "country", Op: "Equal", Value: "FR"}},
		Variations: all(sv[1].ID)}}
	nv := []codec.Variation{{ID: secret.NewGUID(), Name: "one", Value: "1"}, {ID: secret.NewGUID(), Name: "zero", Value: "0"}}
	fd := flag(FlagDisabled, "number", nv)
	fd.IsEnabled = false
	fa := flag(FlagArchived, "boolean", boolVariations())
	fa.IsArchived = true
	sgv := boolVariations()
	fg := flag(FlagSegment, "boolean", sgv)
	fg.Fallthrough.Variations = all(sgv[1].ID)
	fg.Rules = []codec.Rule{{ID: secret.NewGUID(), Name: "beta users", Conditions: []codec.Condition{{Property: "User is in segment", Value: `["` + seg.ID + `"]`}},
		Variations: all(sgv[0].ID)}}
	return &codec.EnvSnapshot{
		EnvID:    envID,
		Version:  1,
		Secrets:  []codec.EnvSecret{{EnvID: envID, Type: codec.SecretServer, Value: ss}, {EnvID: envID, Type: codec.SecretClient, Value: cs}},
		Flags:    []codec.Flag{fb, fs, fd, fa, fg},
		Segments: []codec.Segment{seg},
	}
}

// Sink records every batch; safe for concurrent use.
type Sink struct {
	mu       sync.Mutex
	insights []*codec.InsightBatch
	users    []*codec.EndUserBatch
}

// Insights records a copy of b.
func (s *Sink) Insights(_ context.Context, b *codec.InsightBatch) error {
	raw, _ := b.MarshalMsg(nil)
	cp := new(codec.InsightBatch)
	_, _ = cp.UnmarshalMsg(raw)
	s.mu.Lock()
	s.insights = append(s.insights, cp)
	s.mu.Unlock()
	return nil
}

// EndUsers records a copy of b.
func (s *Sink) EndUsers(_ context.Context, b *codec.EndUserBatch) error {
	raw, _ := b.MarshalMsg(nil)
	cp := new(codec.EndUserBatch)
	_, _ = cp.UnmarshalMsg(raw)
	s.mu.Lock()
	s.users = append(s.users, cp)
	s.mu.Unlock()
	return nil
}

// InsightBatches returns the recorded insight batches.
func (s *Sink) InsightBatches() []*codec.InsightBatch {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*codec.InsightBatch(nil), s.insights...)
}

// EndUserBatches returns the recorded end-user batches.
func (s *Sink) EndUserBatches() []*codec.EndUserBatch {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*codec.EndUserBatch(nil), s.users...)
}

// FlagEvents returns every recorded flag evaluation event.
func (s *Sink) FlagEvents() []codec.FlagEval {
	var out []codec.FlagEval
	for _, b := range s.InsightBatches() {
		out = append(out, b.Evals...)
	}
	return out
}
