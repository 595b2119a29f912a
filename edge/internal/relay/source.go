// Package relay is the edge's relay mode: environments taken from another
// Switchyard (or FeatBit-compatible) edge over the network instead of from
// Redis and Kafka, and the events of the relay's SDKs forwarded to it.
//
// Source connects to the upstream as a FeatBit server SDK, one WebSocket
// per relayed environment (its server secret), asks for a full data-sync on
// every connection, applies the pushes that follow, and reconnects with
// backoff; what it holds is kept in a source.Local, which serves the
// relay's own SDKs exactly as the embedded source does. Sink writes every
// event batch to a bounded spool on disk first (spool.go) and a forwarder
// posts them to the upstream's track endpoint, so nothing is lost while the
// link is down, below the spool's cap, and across a relay restart.
//
// Lifetime: NewSource, Start (once), Close; NewSink, Close. All methods are
// safe for concurrent use.
package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/codec/secret"
	"github.com/switchyard/switchyard/edge/internal/ready"
	"github.com/switchyard/switchyard/edge/internal/source"
)

// Config configures a relay.
type Config struct {
	// Upstream is the base URL of the upstream edge: http(s):// or
	// ws(s)://host:port (a path prefix is kept).
	Upstream string
	// ServerSecrets are the server secrets of the relayed environments,
	// one per environment: the link authenticates with it, the relay's
	// server SDKs use it too.
	ServerSecrets []string
	// ClientSecrets are client secrets the relay accepts from its own
	// client SDKs (each belongs to an environment of ServerSecrets).
	ClientSecrets []string
	// MaxMessageBytes caps one message from the upstream (a full sync of
	// a large environment) [64 MiB].
	MaxMessageBytes int64
	// PingInterval is how often the link pings the upstream; a link that
	// received nothing for 3 intervals is reconnected [10s].
	PingInterval time.Duration
	// MinBackoff and MaxBackoff bound the reconnect delay, doubled per
	// failed attempt with ±20 % jitter [500ms, 30s].
	MinBackoff, MaxBackoff time.Duration
	// Dial, when set, opens the TCP connections (tests).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	Log  *slog.Logger
	// OnError is told about link failures and bad messages (cause names).
	OnError func(cause string)
}

// maxSecrets bounds the environments one relay serves.
const maxSecrets = 1000

// Validate checks cfg and fills defaults; errors name the setting.
func (c *Config) Validate() error {
	u, err := url.Parse(c.Upstream)
	if err != nil || u.Host == "" {
		return fmt.Errorf("relay-upstream: want http(s):// or ws(s)://host:port of the upstream edge, got %q", c.Upstream)
	}
	switch u.Scheme {
	case "http", "https", "ws", "wss":
	default:
		return fmt.Errorf("relay-upstream: scheme %q: want http, https, ws or wss", u.Scheme)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return errors.New("relay-upstream: no user, query or fragment (secrets go in -relay-secrets)")
	}
	if len(c.ServerSecrets) == 0 {
		return errors.New("relay-secrets: at least one server secret (one per relayed environment)")
	}
	if len(c.ServerSecrets)+len(c.ClientSecrets) > maxSecrets {
		return fmt.Errorf("relay-secrets: at most %d secrets in all", maxSecrets)
	}
	envs := map[string]bool{}
	for _, s := range c.ServerSecrets {
		env, err := secret.EnvID(s)
		if err != nil || !secret.Valid(s) {
			return fmt.Errorf("relay-secrets: %q is not an SDK secret", redact(s))
		}
		if envs[env] {
			return fmt.Errorf("relay-secrets: two server secrets of environment %s (give one per environment)", env)
		}
		envs[env] = true
	}
	for _, s := range c.ClientSecrets {
		env, err := secret.EnvID(s)
		if err != nil || !secret.Valid(s) {
			return fmt.Errorf("relay-client-secrets: %q is not an SDK secret", redact(s))
		}
		if !envs[env] {
			return fmt.Errorf("relay-client-secrets: %s… belongs to environment %s, which no -relay-secrets server secret relays", redact(s), env)
		}
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = 64 << 20
	}
	if c.PingInterval <= 0 {
		c.PingInterval = 10 * time.Second
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 500 * time.Millisecond
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = max(30*time.Second, c.MinBackoff)
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.OnError == nil {
		c.OnError = func(string) {}
	}
	return nil
}

// redact keeps the first 6 characters of a secret for messages.
func redact(s string) string {
	if len(s) > 6 {
		return s[:6] + "…"
	}
	return s
}

// streamURL is the upstream's server streaming URL (without the token).
func streamURL(upstream string) string {
	u, _ := url.Parse(upstream)
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/streaming"
	return u.String()
}

// httpURL is the upstream's HTTP base URL.
func httpURL(upstream string) string {
	u, _ := url.Parse(upstream)
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u.String()
}

// Source is the relay's environment source.
type Source struct {
	cfg   Config
	local *source.Local
	links map[string]*link // env id → link
	wg    sync.WaitGroup
	ctx   context.Context
	stop  context.CancelFunc
}

// link is one environment's connection to the upstream.
type link struct {
	env     string
	secret  string
	secrets []codec.EnvSecret
	synced  atomic.Bool // a full sync arrived (the environment can be served)
	up      atomic.Bool // connected and synced now
	lastErr atomic.Pointer[string]
	version int64           // env version given to the last applied change (link goroutine only)
	flags   map[string]held // link goroutine only
	segs    map[string]held
}

// NewSource validates cfg and returns a relay source (not yet connected).
func NewSource(cfg Config) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Source{cfg: cfg, local: source.NewLocal(), links: map[string]*link{}}
	for _, sec := range cfg.ServerSecrets {
		env, _ := secret.EnvID(sec)
		s.links[env] = &link{env: env, secret: sec, secrets: []codec.EnvSecret{{EnvID: env, Type: codec.SecretServer, Value: sec}},
			flags: map[string]held{}, segs: map[string]held{}}
	}
	for _, sec := range cfg.ClientSecrets {
		env, _ := secret.EnvID(sec)
		l := s.links[env]
		l.secrets = append(l.secrets, codec.EnvSecret{EnvID: env, Type: codec.SecretClient, Value: sec})
	}
	return s, nil
}

// ServerSecret returns the server secret of a relayed environment ("" if
// it is not relayed).
func (s *Source) ServerSecret(env string) string {
	if l := s.links[env]; l != nil {
		return l.secret
	}
	return ""
}

// Snapshot serves a relayed environment once its first full sync arrived;
// before that it is unavailable (SDKs retry), and an environment the relay
// does not relay is unknown.
func (s *Source) Snapshot(ctx context.Context, envID string) (*codec.EnvSnapshot, error) {
	l := s.links[envID]
	if l == nil {
		return nil, source.ErrNotFound
	}
	if !l.synced.Load() {
		return nil, fmt.Errorf("%w: relay: environment %s not synced from the upstream yet", source.ErrNoSnapshot, envID)
	}
	return s.local.Snapshot(ctx, envID)
}

// Start delivers changes to apply and connects every link.
func (s *Source) Start(ctx context.Context, apply func(*codec.ChangeEvent)) error {
	if err := s.local.Start(ctx, apply); err != nil {
		return err
	}
	s.ctx, s.stop = context.WithCancel(context.Background())
	for _, l := range s.links {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.run(l)
		}()
	}
	return nil
}

// Close disconnects the links and stops delivery.
func (s *Source) Close() error {
	if s.stop != nil {
		s.stop()
		s.wg.Wait()
	}
	return s.local.Close()
}

// Checks is the readiness of the relay: every link connected and synced.
// It reads the links' state; the links themselves are the probe (a dead
// link is noticed by its read deadline, 3 ping intervals).
func (s *Source) Checks() []ready.Check {
	return []ready.Check{{Name: "upstream", Probe: func(context.Context) error {
		var down []string
		for env, l := range s.links {
			if !l.up.Load() {
				why := "not connected"
				if e := l.lastErr.Load(); e != nil {
					why = *e
				}
				down = append(down, env+": "+why)
			}
		}
		if len(down) > 0 {
			return fmt.Errorf("%d of %d environments not linked: %s", len(down), len(s.links), strings.Join(down, "; "))
		}
		return nil
	}}}
}

// run keeps one link connected until Close.
func (s *Source) run(l *link) {
	backoff := s.cfg.MinBackoff
	for s.ctx.Err() == nil {
		started := time.Now()
		err := s.session(l)
		l.up.Store(false)
		if s.ctx.Err() != nil {
			return
		}
		msg := err.Error()
		l.lastErr.Store(&msg)
		s.cfg.OnError("relay_link")
		s.cfg.Log.Warn("relay: upstream link down", "env", l.env, "err", err)
		if time.Since(started) > 30*time.Second {
			backoff = s.cfg.MinBackoff // it had been up: retry soon
		}
		d := time.Duration(float64(backoff) * (0.8 + 0.4*rand.Float64()))
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(d):
		}
		backoff = min(2*backoff, s.cfg.MaxBackoff)
	}
}

// lockedWriter serialises the link's writes (pings, pongs, data-sync).
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

func (w *lockedWriter) text(msg []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return wsutil.WriteClientText(w.w, msg)
}

// session runs one connection: dial, ask for a full sync, apply messages
// until an error.
func (s *Source) session(l *link) error {
	tok := secret.EncodeToken(l.secret, time.Now().UnixMilli(), 2+rand.IntN(max(len(l.secret)-2, 1)))
	u := streamURL(s.cfg.Upstream) + "?type=server&version=2&token=" + url.QueryEscape(tok)
	d := ws.Dialer{Timeout: 10 * time.Second, NetDial: s.cfg.Dial}
	dctx, cancel := context.WithTimeout(s.ctx, 15*time.Second)
	conn, br, _, err := d.Dial(dctx, u)
	cancel()
	if err != nil {
		return fmt.Errorf("dial %s: %w", streamURL(s.cfg.Upstream), err)
	}
	defer conn.Close()
	stop := context.AfterFunc(s.ctx, func() { conn.Close() })
	defer stop()
	var src io.Reader = conn
	if br != nil {
		src = io.MultiReader(br, conn)
	}
	w := &lockedWriter{w: conn}
	if err := w.text([]byte(`{"messageType":"data-sync","data":{"timestamp":0}}`)); err != nil {
		return fmt.Errorf("send data-sync: %w", err)
	}
	pingDone := make(chan struct{})
	defer close(pingDone)
	go func() {
		t := time.NewTicker(s.cfg.PingInterval)
		defer t.Stop()
		for {
			select {
			case <-pingDone:
				return
			case <-t.C:
				_ = w.text([]byte(`{"messageType":"ping","data":null}`))
			}
		}
	}()
	rd := &wsutil.Reader{Source: src, State: ws.StateClientSide, CheckUTF8: true, MaxFrameSize: s.cfg.MaxMessageBytes}
	control := wsutil.ControlFrameHandler(w, ws.StateClientSide)
	for {
		_ = conn.SetReadDeadline(time.Now().Add(3 * s.cfg.PingInterval))
		hdr, err := rd.NextFrame()
		if errors.Is(err, wsutil.ErrFrameTooLarge) {
			return fmt.Errorf("a frame of more than %d bytes (-relay-max-message-bytes)", s.cfg.MaxMessageBytes)
		}
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if hdr.OpCode.IsControl() {
			if err := control(hdr, rd); err != nil {
				var ce wsutil.ClosedError
				if errors.As(err, &ce) {
					return fmt.Errorf("closed by the upstream: %d %s", ce.Code, ce.Reason)
				}
				return err
			}
			continue
		}
		msg, err := io.ReadAll(io.LimitReader(rd, s.cfg.MaxMessageBytes+1))
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if int64(len(msg)) > s.cfg.MaxMessageBytes {
			return fmt.Errorf("a message of more than %d bytes (-relay-max-message-bytes)", s.cfg.MaxMessageBytes)
		}
		if hdr.OpCode != ws.OpText {
			continue
		}
		if err := s.handle(l, msg); err != nil {
			s.cfg.OnError("relay_bad_message")
			return err
		}
	}
}

// handle applies one upstream message.
func (s *Source) handle(l *link, msg []byte) error {
	var m serverMessage
	if err := json.Unmarshal(msg, &m); err != nil {
		return fmt.Errorf("upstream message: %w", err)
	}
	if m.MessageType != "data-sync" {
		return nil // pong, or anything newer
	}
	full := strings.EqualFold(m.Data.EventType, "full")
	if full {
		l.flags, l.segs = map[string]held{}, map[string]held{}
	}
	flags := make([]codec.Flag, 0, len(m.Data.FeatureFlags))
	for _, raw := range m.Data.FeatureFlags {
		f, err := decodeFlag(raw)
		if err != nil {
			return fmt.Errorf("upstream flag: %w", err)
		}
		f.EnvID = l.env
		f.Version = versionFor(l.flags, f.ID, raw, f.UpdatedAt)
		flags = append(flags, *f)
	}
	segs := make([]codec.Segment, 0, len(m.Data.Segments))
	for _, raw := range m.Data.Segments {
		sg, err := decodeSegment(raw)
		if err != nil {
			return fmt.Errorf("upstream segment: %w", err)
		}
		sg.EnvID = l.env
		sg.Version = versionFor(l.segs, sg.ID, raw, sg.UpdatedAt)
		segs = append(segs, *sg)
	}
	l.version = max(l.version+1, time.Now().UnixMilli())
	ctx := s.ctx
	if full {
		snap := &codec.EnvSnapshot{EnvID: l.env, Version: l.version, Secrets: l.secrets, Flags: flags, Segments: segs}
		if err := s.local.WriteSnapshot(ctx, snap); err != nil {
			return err
		}
		p, err := snap.MarshalMsg(nil)
		if err != nil {
			return err
		}
		l.synced.Store(true)
		l.up.Store(true)
		// an environment the hub has loaded merges it (items missing from
		// it are dropped: FeatBit's only way to show a hard delete)
		_ = s.local.Produce(ctx, &codec.ChangeEvent{EnvID: l.env, Kind: codec.KindSnapshot, Op: codec.OpUpsert, EnvVersion: l.version, At: time.Now().UnixMilli(), Payload: p})
		s.cfg.Log.Info("relay: environment synced from the upstream", "env", l.env, "flags", len(flags), "segments", len(segs))
		return nil
	}
	evs := make([]*codec.ChangeEvent, 0, len(flags)+len(segs))
	for i := range flags {
		p, err := flags[i].MarshalMsg(nil)
		if err != nil {
			return err
		}
		evs = append(evs, &codec.ChangeEvent{EnvID: l.env, Kind: codec.KindFlag, Op: codec.OpUpsert, ID: flags[i].ID, Version: flags[i].Version, EnvVersion: l.version, At: time.Now().UnixMilli(), Payload: p})
	}
	for i := range segs {
		p, err := segs[i].MarshalMsg(nil)
		if err != nil {
			return err
		}
		evs = append(evs, &codec.ChangeEvent{EnvID: l.env, Kind: codec.KindSegment, Op: codec.OpUpsert, ID: segs[i].ID, Version: segs[i].Version, EnvVersion: l.version, At: time.Now().UnixMilli(), Payload: p})
	}
	if len(evs) == 0 {
		return nil
	}
	if err := s.local.WriteChanges(ctx, l.env, l.version, evs); err != nil {
		return err
	}
	for _, ev := range evs {
		_ = s.local.Produce(ctx, ev)
	}
	return nil
}
