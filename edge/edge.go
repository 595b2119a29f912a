package edge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/edge/internal/delivery"
	"github.com/switchyard/switchyard/edge/internal/httpapi"
	"github.com/switchyard/switchyard/edge/internal/hub"
	"github.com/switchyard/switchyard/edge/internal/limit"
	"github.com/switchyard/switchyard/edge/internal/metrics"
	"github.com/switchyard/switchyard/edge/internal/ofrep"
	"github.com/switchyard/switchyard/edge/internal/ready"
	"github.com/switchyard/switchyard/edge/internal/relay"
	"github.com/switchyard/switchyard/edge/internal/sink"
	"github.com/switchyard/switchyard/edge/internal/source"
	"github.com/switchyard/switchyard/edge/internal/wsconn"
	"github.com/valyala/fasthttp"
)

// Config is the edge's configuration. Zero values take the defaults in
// brackets (see ParseConfig for the flag and environment names).
type Config struct {
	// Addr is the listen address for streaming and HTTP [":5100"];
	// "127.0.0.1:0" picks a free port (see Server.Addr).
	Addr string
	// HTTPAddr, when set, is a second listener for the HTTP endpoints only
	// (track, polling, OFREP, health, metrics), served by fasthttp on Go's
	// own network poller: a goroutine per keep-alive connection, which
	// costs ~15 % less CPU per request than HTTP through the netpoll event
	// loops of Addr (docs/edge.md). Addr keeps serving HTTP too [""].
	HTTPAddr string
	// RedisAddr and KafkaBrokers select the production source (snapshots
	// in Redis, changes on Kafka) and the Kafka event sink. Without them
	// the edge uses a LocalSource and discards events unless options say
	// otherwise.
	RedisAddr string
	// RedisSentinelMaster, when set, makes RedisAddr a comma-separated
	// list of Redis Sentinel addresses naming the primary of this master
	// set (followed across a failover).
	RedisSentinelMaster string
	KafkaBrokers        []string
	// TopicPrefix is prepended to the Kafka topic names (sy.changes,
	// sy.insights, sy.endusers) [""].
	TopicPrefix string
	// DeliveryInterval is the period of the delivery heartbeat: the census
	// of the streaming connections sent to control with the change reports
	// (delivery receipts, live SDK view) when the event sink can carry
	// them (Kafka, or the all-in-one binary) [5s; negative: no reports].
	DeliveryInterval time.Duration
	// PartitionCheck is how often the production source looks for
	// partitions added to the change topic since start [30s].
	PartitionCheck time.Duration
	// TokenWindow is the allowed clock difference of a connection token
	// [30s, FeatBit's value].
	TokenWindow time.Duration
	// HandshakeTimeout bounds the HTTP upgrade request [10s].
	HandshakeTimeout time.Duration
	// IdleTimeout closes streaming connections that sent nothing for this
	// long (SDKs ping every 10–18 s) [5m].
	IdleTimeout time.Duration
	// HTTPIdleTimeout closes plain HTTP keep-alive connections without
	// input for this long [2m].
	HTTPIdleTimeout time.Duration
	// CloseTimeout is how long the edge waits for the client's close frame
	// after sending its own before closing the TCP connection [1s].
	CloseTimeout time.Duration
	// FrameTimeout bounds the arrival of a frame that has started [10s].
	FrameTimeout time.Duration
	// WriteTimeout bounds a blocked write to one connection [10s].
	WriteTimeout time.Duration
	// MaxMessageBytes is the largest frame or message accepted; larger
	// ones close the connection with 1009 [64 KiB].
	MaxMessageBytes int
	// ReusePort sets SO_REUSEPORT so several edge processes share Addr.
	ReusePort bool
	// ShutdownCode is the close code sent on Shutdown: 1001 (going away)
	// or 1012 (service restart) [1012]. Never 1000: .NET, Go and Java SDKs
	// do not reconnect after it.
	ShutdownCode int
	// DrainWindow spreads the closes of Shutdown evenly over this long, so
	// that the SDKs of a restarting edge reconnect to the others gradually
	// rather than in one burst [10s; negative: all at once]. Shutdown's ctx
	// bounds it: with a deadline, the window shrinks to half the time left.
	DrainWindow time.Duration
	// LogLevel is the level of the edge's log (text on stderr unless
	// WithLogger) [info]; at debug it logs one line per change pushed, with
	// the request id of the API call that made it.
	LogLevel slog.Level
	// BufferSize and NodeCap tune netpoll's per-connection buffers [256, 64].
	BufferSize, NodeCap int

	// RequestTimeout bounds the arrival of a whole plain HTTP request
	// (header and body) from its first byte, on both listeners [10s].
	RequestTimeout time.Duration
	// MaxHeaderBytes caps an HTTP request header, on both listeners; larger
	// headers get 431 [8 KiB].
	MaxHeaderBytes int
	// MaxBodyBytes caps the body of every HTTP request except track (OFREP
	// contexts, client polling users); MaxTrackBytes caps track bodies.
	// Larger bodies get 413 and the connection is closed [64 KiB, 1 MiB].
	MaxBodyBytes, MaxTrackBytes int
	// MaxUnfinished caps, per client address (an IPv4 address or an IPv6
	// /64), the connections in a handshake or in an HTTP request that is
	// still arriving; beyond it new connections are closed on accept and
	// slow requests end their connection [128; -1: no cap].
	MaxUnfinished int
	// AddrRate and AddrBurst rate-limit /api/public and /ofrep requests and
	// WebSocket upgrades per client address (requests/s, bucket size); SecretRate and SecretBurst
	// per SDK secret. A refusal is 429 with Retry-After: 1. Rate 0 takes
	// the default, a negative rate disables the limit; a zero burst is
	// twice the rate [1000/s and 2000; 20000/s and 40000].
	AddrRate, SecretRate   float64
	AddrBurst, SecretBurst int
	// MaxTrackUsers caps the distinct end users of one track request (400
	// beyond) [100]. EndUserRate and EndUserBurst limit the end users the
	// edge forwards per environment (new users/s, bucket size); users over
	// it are dropped (sy_edge_errors_total{cause="endusers_limited"})
	// [1000/s and 10000; negative rate: no limit].
	MaxTrackUsers int
	EndUserRate   float64
	EndUserBurst  int
	// RelayUpstream, when set, makes this edge a relay: environments come
	// from the upstream edge at this URL (http(s):// or ws(s)://host:port)
	// instead of Redis and Kafka, and events are forwarded to it
	// (docs/edge.md, "Relay mode"). RelaySecrets are the server secrets of
	// the relayed environments (one per environment), RelayClientSecrets
	// client secrets of those environments the relay's client SDKs use.
	RelayUpstream      string
	RelaySecrets       []string
	RelayClientSecrets []string
	// RelayBufferDir is the directory of the relay's event spool and
	// RelayBufferBytes its cap: beyond it the oldest batches are dropped
	// (sy_edge_errors_total{cause="relay_buffer_dropped"} counts their
	// events) [./relay-buffer, 256 MiB].
	RelayBufferDir   string
	RelayBufferBytes int64
	// RelayMaxMessageBytes caps one message from the upstream (a full
	// sync) [64 MiB].
	RelayMaxMessageBytes int64
	// ProbeInterval is how often each dependency of the source and the
	// sink (Redis, Kafka, a relay's upstream) is probed for /readyz, and
	// ProbeTimeout bounds one probe; /readyz reads the cached results, so
	// it turns unready within ProbeInterval + ProbeTimeout of a dependency
	// dying [500ms, 1s].
	ProbeInterval, ProbeTimeout time.Duration
	// OFREPMinPoll is the minPollingIntervalMs that GET
	// /ofrep/v1/configuration advertises to OpenFeature providers [5s].
	OFREPMinPoll time.Duration
}

func (c *Config) defaults() {
	if c.Addr == "" {
		c.Addr = ":5100"
	}
	if c.TokenWindow <= 0 {
		c.TokenWindow = 30 * time.Second
	}
	if c.DrainWindow == 0 {
		c.DrainWindow = 10 * time.Second
	}
	if c.DeliveryInterval == 0 {
		c.DeliveryInterval = 5 * time.Second
	}
	if c.ShutdownCode == 0 {
		c.ShutdownCode = int(statusServiceRestart)
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 10 * time.Second
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 10 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.HTTPIdleTimeout <= 0 {
		c.HTTPIdleTimeout = 2 * time.Minute
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = 8 << 10
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 64 << 10
	}
	if c.MaxTrackBytes <= 0 {
		c.MaxTrackBytes = 1 << 20
	}
	if c.MaxUnfinished == 0 {
		c.MaxUnfinished = 128
	}
	if c.AddrRate == 0 {
		c.AddrRate = 1000
	}
	if c.SecretRate == 0 {
		c.SecretRate = 20000
	}
	if c.MaxTrackUsers <= 0 {
		c.MaxTrackUsers = 100
	}
	if c.RelayUpstream != "" {
		if c.RelayBufferDir == "" {
			c.RelayBufferDir = "relay-buffer"
		}
		if c.RelayBufferBytes <= 0 {
			c.RelayBufferBytes = 256 << 20
		}
		if c.RelayMaxMessageBytes <= 0 {
			c.RelayMaxMessageBytes = 64 << 20
		}
	}
	if c.ProbeInterval <= 0 {
		c.ProbeInterval = 500 * time.Millisecond
	}
	if c.ProbeTimeout <= 0 {
		c.ProbeTimeout = time.Second
	}
	if c.EndUserRate == 0 {
		c.EndUserRate = 1000
	}
	if c.EndUserBurst <= 0 && c.EndUserRate > 0 {
		c.EndUserBurst = 10 * int(c.EndUserRate)
	}
}

func (c *Config) validate() error {
	if c.ShutdownCode != int(ws.StatusGoingAway) && c.ShutdownCode != int(statusServiceRestart) {
		return fmt.Errorf("edge: ShutdownCode must be 1001 or 1012, not %d", c.ShutdownCode)
	}
	if c.RelayUpstream != "" {
		if c.RedisAddr != "" || len(c.KafkaBrokers) > 0 {
			return errors.New("edge: -relay-upstream (SY_EDGE_RELAY_UPSTREAM) takes the place of -redis-addr and -kafka-brokers: give one or the other")
		}
		rc := relay.Config{Upstream: c.RelayUpstream, ServerSecrets: c.RelaySecrets, ClientSecrets: c.RelayClientSecrets, MaxMessageBytes: c.RelayMaxMessageBytes}
		if err := rc.Validate(); err != nil {
			return fmt.Errorf("edge: %w", err)
		}
	} else if len(c.RelaySecrets)+len(c.RelayClientSecrets) > 0 {
		return errors.New("edge: -relay-secrets and -relay-client-secrets need -relay-upstream (SY_EDGE_RELAY_UPSTREAM)")
	}
	if (c.RedisAddr == "") != (len(c.KafkaBrokers) == 0) {
		return errors.New("edge: the production source needs both RedisAddr and KafkaBrokers")
	}
	if c.RedisSentinelMaster != "" {
		if c.RedisAddr == "" {
			return errors.New("edge: -redis-sentinel-master (SY_EDGE_REDIS_SENTINEL_MASTER) needs -redis-addr (the sentinel addresses)")
		}
		if _, err := source.RedisOption(c.RedisAddr, c.RedisSentinelMaster); err != nil {
			return fmt.Errorf("edge: %w (SY_EDGE_REDIS_SENTINEL_MASTER, SY_EDGE_REDIS_ADDR)", err)
		}
	}
	if c.MaxMessageBytes < 0 {
		return errors.New("edge: MaxMessageBytes must not be negative")
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"AddrRate", c.AddrRate}, {"SecretRate", c.SecretRate}, {"EndUserRate", c.EndUserRate}} {
		if r.v > 0 && r.v < 1 {
			return fmt.Errorf("edge: %s must be at least 1 per second (or negative: off), not %g", r.name, r.v)
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"ProbeInterval (-probe-interval, SY_EDGE_PROBE_INTERVAL)", c.ProbeInterval}, {"ProbeTimeout (-probe-timeout, SY_EDGE_PROBE_TIMEOUT)", c.ProbeTimeout}} {
		if d.v < 50*time.Millisecond || d.v > time.Minute {
			return fmt.Errorf("edge: %s must be between 50ms and 1m, not %s", d.name, d.v)
		}
	}
	if c.OFREPMinPoll < 0 {
		return errors.New("edge: OFREPMinPoll must not be negative")
	}
	if c.AddrBurst < 0 || c.SecretBurst < 0 || c.EndUserBurst < 0 {
		return errors.New("edge: rate-limit bursts must not be negative")
	}
	if _, port, _ := net.SplitHostPort(c.HTTPAddr); c.HTTPAddr != "" && c.HTTPAddr == c.Addr && port != "0" {
		return fmt.Errorf("edge: HTTPAddr %q must differ from Addr", c.HTTPAddr)
	}
	return nil
}

// Source provides environments (see LocalSource and the production
// Redis + Kafka source).
type Source = source.Source

// LocalSource is the embedded source the control plane feeds in-process
// (WriteSnapshot, Produce).
type LocalSource = source.Local

// NewLocalSource returns an empty LocalSource.
func NewLocalSource() *LocalSource { return source.NewLocal() }

// EventSink receives insight and end-user batches.
type EventSink = sink.EventSink

// Option configures New.
type Option func(*Server)

// WithSource sets the flag source (default: production source when
// configured, else a new LocalSource).
func WithSource(s Source) Option { return func(srv *Server) { srv.src = s } }

// WithLogger sets the logger (default: text on stderr at Config.LogLevel).
func WithLogger(l *slog.Logger) Option { return func(srv *Server) { srv.log = l } }

// WithEventSink sets the event sink (default: Kafka when configured, else
// events are discarded).
func WithEventSink(s EventSink) Option { return func(srv *Server) { srv.sink = s } }

// Server is a running edge.
type Server struct {
	cfg     Config
	log     *slog.Logger
	src     Source
	sink    EventSink
	closers []func()
	m       *metrics.M
	hub     *hub.Hub
	users   *sink.Users
	ws      *wsconn.Server
	http    *fasthttp.Server
	// httpDirect serves HTTPAddr (nil without one); httpLn is its listener
	httpDirect *fasthttp.Server
	httpLn     net.Listener
	limiters   []func() // Close of the rate limiters
	probes     *ready.Prober
	kafkaDial  func(ctx context.Context, network, host string) (net.Conn, error) // tests: through a proxy
	ready      atomic.Bool
	started    atomic.Bool
	stopped    atomic.Bool
	ctx        context.Context
	cancel     context.CancelFunc
}

// New builds an edge; Start makes it listen.
func New(cfg Config, opts ...Option) (*Server, error) {
	cfg.defaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, m: metrics.New()}
	for _, o := range opts {
		o(s)
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	}
	if s.src == nil {
		if cfg.RedisAddr != "" {
			rs, err := source.NewRemote(source.RemoteConfig{RedisAddr: cfg.RedisAddr, RedisSentinelMaster: cfg.RedisSentinelMaster, Brokers: cfg.KafkaBrokers, Topic: cfg.TopicPrefix + codec.TopicChanges,
				PartitionCheck: cfg.PartitionCheck, Dial: s.kafkaDial, OnError: func(error) { s.m.Error("change_stream") }})
			if err != nil {
				return nil, fmt.Errorf("edge: production source: %w", err)
			}
			s.src = rs
		} else if cfg.RelayUpstream != "" {
			rs, err := relay.NewSource(relay.Config{Upstream: cfg.RelayUpstream, ServerSecrets: cfg.RelaySecrets, ClientSecrets: cfg.RelayClientSecrets,
				MaxMessageBytes: cfg.RelayMaxMessageBytes, Log: s.log, OnError: s.m.Error})
			if err != nil {
				return nil, fmt.Errorf("edge: relay: %w", err)
			}
			s.src = rs
		} else {
			s.src = source.NewLocal()
		}
	}
	if s.sink == nil {
		if len(cfg.KafkaBrokers) > 0 {
			ks, err := sink.NewKafka(sink.KafkaConfig{Brokers: cfg.KafkaBrokers, TopicPrefix: cfg.TopicPrefix, Dial: s.kafkaDial, OnError: func(error) { s.m.Error("kafka_produce") }})
			if err != nil {
				return nil, fmt.Errorf("edge: kafka sink: %w", err)
			}
			s.sink = ks
			s.closers = append(s.closers, ks.Close)
		} else if rs, ok := s.src.(*relay.Source); ok {
			ks, err := relay.NewSink(relay.SinkConfig{Upstream: cfg.RelayUpstream, SecretOf: rs.ServerSecret, Dir: cfg.RelayBufferDir, MaxBytes: cfg.RelayBufferBytes,
				Log: s.log, OnLost: s.m.ErrorAdd, OnSent: func(n int) { s.m.RelayForwarded.Add(int64(n)) }})
			if err != nil {
				return nil, fmt.Errorf("edge: relay event buffer: %w", err)
			}
			s.sink = ks
			s.closers = append(s.closers, ks.Close)
		} else {
			s.sink = sink.Discard{}
		}
	}
	wsconn.Tune(cfg.BufferSize, cfg.NodeCap)
	s.users = sink.NewUsers(s.sink, time.Second, 500, func(error) { s.m.Error("endusers_sink") }, func(n int) { s.m.EndUsers.Add(int64(n)) })
	var rep atomic.Pointer[delivery.Reporter] // set once the hub exists (its Census feeds the reporter)
	delivered := func(d codec.EnvDelivery) {
		if r := rep.Load(); r != nil {
			r.Delivered(d)
		}
	}
	s.hub = hub.New(hub.Config{TokenWindow: cfg.TokenWindow, Log: s.log, Delivered: delivered}, s.src, s.users, s.m)
	if ds, ok := s.sink.(delivery.Sender); ok && cfg.DeliveryInterval > 0 {
		r := delivery.New(delivery.Config{Interval: cfg.DeliveryInterval, Census: s.hub.Census,
			OnError: func(error) { s.m.Error("delivery_report") }}, ds)
		rep.Store(r)
		s.closers = append([]func(){r.Close}, s.closers...) // before the sink flushes
	}
	byAddr := limit.New(limit.Config{Rate: cfg.AddrRate, Burst: cfg.AddrBurst}, limit.BytesHash16Key[wsconn.AddrKey])
	bySecret := limit.New(limit.Config{Rate: cfg.SecretRate, Burst: cfg.SecretBurst}, limit.StringHash)
	byEnv := limit.New(limit.Config{Rate: cfg.EndUserRate, Burst: cfg.EndUserBurst}, limit.StringHash)
	s.limiters = []func(){byAddr.Close, bySecret.Close, byEnv.Close}
	if byEnv.Enabled() {
		s.users.Admit = func(env string) bool { return byEnv.Allow(env, 1) }
		s.users.OnDropped = func() { s.m.Error("endusers_limited") }
	}
	s.probes = ready.New(ready.Of(s.src, s.sink), cfg.ProbeInterval, cfg.ProbeTimeout)
	api := &httpapi.API{Hub: s.hub, Sink: s.sink, Users: s.users, Metrics: s.m, Ready: s.ready.Load,
		Readyz: s.readyz, MoreMetrics: s.readyMetrics,
		ByAddr: byAddr, BySecret: bySecret, MaxTrackUsers: cfg.MaxTrackUsers}
	oa := ofrep.New(s.hub, s.m, api.AuthAny, httpapi.StatusOf)
	oa.Events, oa.Users, oa.MinPollInterval = s.sink, s.users, cfg.OFREPMinPoll
	api.OFREP = oa.Handler()
	// per-route body caps, decided once the header is in (fasthttp
	// allocates a body of the announced length before reading it)
	bodyCap := func(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
		if httpapi.IsTrack(h.RequestURI()) {
			return fasthttp.RequestConfig{MaxRequestBodySize: cfg.MaxTrackBytes}
		}
		return fasthttp.RequestConfig{MaxRequestBodySize: cfg.MaxBodyBytes}
	}
	s.http = &fasthttp.Server{
		Handler:      api.Handler(),
		Name:         "switchyard-edge",
		ErrorHandler: s.requestError,
		Logger:       quiet{},
		// no ReadTimeout/IdleTimeout: deadlines would cost a timer
		// operation per request; wsconn's sweeper closes idle HTTP
		// connections (2 min without input) and requests not complete
		// RequestTimeout after their first byte instead
		HeaderReceived:        bodyCap,
		MaxRequestBodySize:    max(cfg.MaxBodyBytes, cfg.MaxTrackBytes),
		NoDefaultServerHeader: true,
		ReadBufferSize:        cfg.MaxHeaderBytes, // also the header cap (431 beyond)
	}
	if cfg.HTTPAddr != "" {
		s.httpDirect = &fasthttp.Server{
			Handler:               api.Handler(),
			Name:                  "switchyard-edge",
			ErrorHandler:          s.requestError,
			Logger:                quiet{},
			HeaderReceived:        bodyCap,
			MaxRequestBodySize:    max(cfg.MaxBodyBytes, cfg.MaxTrackBytes),
			NoDefaultServerHeader: true,
			ReadBufferSize:        cfg.MaxHeaderBytes,
			// deadlines here are runtime timers of Go's poller: a
			// request must arrive within RequestTimeout of its first
			// byte (of the accept, for a connection's first request), a
			// keep-alive connection may idle HTTPIdleTimeout
			ReadTimeout:  cfg.RequestTimeout,
			WriteTimeout: cfg.WriteTimeout,
			IdleTimeout:  cfg.HTTPIdleTimeout,
		}
	}
	var admit func(wsconn.AddrKey) bool // WebSocket upgrades share the address's bucket
	if byAddr.Enabled() {
		admit = func(k wsconn.AddrKey) bool { return byAddr.Allow(k, 1) }
	}
	s.ws = wsconn.New(wsconn.Config{
		HandshakeTimeout: cfg.HandshakeTimeout,
		IdleTimeout:      cfg.IdleTimeout,
		FrameTimeout:     cfg.FrameTimeout,
		WriteTimeout:     cfg.WriteTimeout,
		HTTPIdleTimeout:  cfg.HTTPIdleTimeout,
		CloseTimeout:     cfg.CloseTimeout,
		MaxMessageBytes:  cfg.MaxMessageBytes,
		MaxHeaderBytes:   cfg.MaxHeaderBytes,
		RequestTimeout:   cfg.RequestTimeout,
		MaxUnfinished:    cfg.MaxUnfinished,
		Admit:            admit,
		Protocols:        []string{hub.Protocol},
		ReusePort:        cfg.ReusePort,
	}, s.hub, func(c net.Conn) error { return s.http.ServeConn(c) }, s.m)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// requestError answers a request fasthttp could not read (the handler never
// ran): 413 naming the route's body cap, 431, 408 or 400. The connection is
// closed after it.
func (s *Server) requestError(ctx *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	var ne net.Error
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		s.m.Error("body_too_large")
		max := s.cfg.MaxBodyBytes
		if httpapi.IsTrack(ctx.Request.Header.RequestURI()) {
			max = s.cfg.MaxTrackBytes
		}
		ctx.Error(fmt.Sprintf("request body too large: this route takes at most %d bytes", max), fasthttp.StatusRequestEntityTooLarge)
	case errors.As(err, &small):
		s.m.Error("header_too_large")
		ctx.Error(fmt.Sprintf("request header too large: at most %d bytes", s.cfg.MaxHeaderBytes), fasthttp.StatusRequestHeaderFieldsTooLarge)
	case errors.As(err, &ne) && ne.Timeout():
		s.m.Error("request_timeout")
		ctx.Error("request not complete in time", fasthttp.StatusRequestTimeout)
	default:
		s.m.Error("bad_http")
		ctx.Error("malformed HTTP request", fasthttp.StatusBadRequest)
	}
}

// quiet drops fasthttp's per-connection error log (one line per malformed
// or oversized request would let a client flood the log); the causes are
// counted in sy_edge_errors_total instead.
type quiet struct{}

func (quiet) Printf(string, ...any) {}

// Start positions the change stream, then listens (non-blocking).
func (s *Server) Start() error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("edge: already started")
	}
	if err := s.src.Start(s.ctx, s.hub.Apply); err != nil {
		return fmt.Errorf("edge: start source: %w", err)
	}
	if err := s.ws.Listen(s.cfg.Addr); err != nil {
		return err
	}
	if s.httpDirect != nil {
		ln, err := wsconn.ListenTCP(s.cfg.HTTPAddr, s.cfg.ReusePort)
		if err != nil {
			_ = s.ws.Shutdown(context.Background(), ws.StatusCode(s.cfg.ShutdownCode), "server shutting down")
			return fmt.Errorf("edge: HTTP listener: %w", err)
		}
		// out of file descriptors for a moment must not end fasthttp's
		// accept loop for good: wait and retry (errors "http_accept")
		s.httpLn = wsconn.RetryListener(ln, func(error) { s.m.Error("http_accept") })
		// the cap of unfinished requests per address, as on Addr
		s.httpLn = wsconn.LimitListener(s.httpLn, s.cfg.MaxUnfinished, func() { s.m.Error("address_busy") })
		go func() {
			if err := s.httpDirect.Serve(s.httpLn); err != nil && !s.stopped.Load() {
				s.m.Error("http_listener") // a listener error no retry covers
			}
		}()
	}
	s.probes.Start()
	s.ready.Store(true)
	return nil
}

// Addr is the actual listen address (host:port).
func (s *Server) Addr() string {
	if a := s.ws.Addr(); a != nil {
		return a.String()
	}
	return ""
}

// HTTPAddr is the actual address of the HTTP-only listener ("" without
// Config.HTTPAddr or before Start).
func (s *Server) HTTPAddr() string {
	if s.httpLn == nil {
		return ""
	}
	return s.httpLn.Addr().String()
}

// Shutdown refuses new streaming connections and turns /health/readiness
// unready, closes every streaming connection with Config.ShutdownCode
// spread over Config.DrainWindow (the others keep receiving changes until
// their turn), stops listening (the HTTP listener lets requests in progress finish, until
// ctx ends), flushes queued events and stops the source.
func (s *Server) Shutdown(ctx context.Context) error {
	if !s.stopped.CompareAndSwap(false, true) {
		return nil
	}
	s.ready.Store(false)
	var herr error
	if s.httpLn != nil {
		herr = s.httpDirect.ShutdownWithContext(ctx)
	}
	window := max(s.cfg.DrainWindow, 0)
	if dl, ok := ctx.Deadline(); ok {
		window = min(window, time.Until(dl)/2)
	}
	err := s.ws.Drain(ctx, ws.StatusCode(s.cfg.ShutdownCode), "server shutting down", window)
	if err == nil && herr != nil {
		err = fmt.Errorf("edge: HTTP listener shutdown: %w", herr)
	}
	s.cancel()
	s.probes.Stop()
	_ = s.src.Close()
	s.users.Close()
	for _, c := range s.limiters {
		c()
	}
	for _, c := range s.closers {
		c()
	}
	return err
}

// Metrics writes the Prometheus exposition (also served at /metrics).
func (s *Server) Metrics() *metrics.M { return s.m }

// Connections returns the number of open streaming connections.
func (s *Server) Connections() int { return s.ws.Conns() }

// statusServiceRestart is close code 1012 (gobwas/ws has no name for it).
const statusServiceRestart ws.StatusCode = 1012
