// Package control is Switchyard's control plane: the REST API under
// /api/v1 (OpenAPI document at /api/openapi.json), the store (MongoDB in
// production, an embedded bbolt store under a data directory otherwise), the
// change pipeline that delivers every acknowledged change to the edges
// (snapshot to Redis, change event to Kafka, retried until both are current)
// and the end-user ingestion from Kafka.
//
// Mains and the all-in-one binary use New, Start, Shutdown, Bootstrap and
// IngestEndUsers; everything else is in control/internal. A Server is safe
// for concurrent use once Start returned.
package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/event"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/api"
	"github.com/switchyard/switchyard/control/internal/delivery"
	"github.com/switchyard/switchyard/control/internal/domain"
	"github.com/switchyard/switchyard/control/internal/enduser"
	"github.com/switchyard/switchyard/control/internal/insights"
	"github.com/switchyard/switchyard/control/internal/publish"
	"github.com/switchyard/switchyard/control/internal/store"
	"github.com/switchyard/switchyard/control/internal/store/bolt"
	"github.com/switchyard/switchyard/control/internal/store/mongo"
	"github.com/switchyard/switchyard/control/internal/webhook"
	"github.com/switchyard/switchyard/control/internal/workflow"
	"github.com/switchyard/switchyard/control/ui"
)

// Config configures a Server. The zero value (plus DataDir) runs the
// embedded mode: bbolt store, no Redis, no Kafka (pass in-process writers
// with WithSnapshotWriter/WithChangeProducer).
type Config struct {
	// Addr is the listen address of the API (default ":8080").
	Addr string
	// DataDir holds the embedded store (control.db) when MongoURI is empty
	// (default "./data").
	DataDir string
	// MongoURI selects the MongoDB store; MongoDB is the database name
	// (default "switchyard").
	MongoURI, MongoDB string
	// MongoSelectTimeout is how long a store operation waits for a
	// reachable MongoDB server before the API answers 503 (default 2 s);
	// MongoTimeout bounds each store operation (default 5 s).
	MongoSelectTimeout, MongoTimeout time.Duration
	// mongoMonitor sees every MongoDB command (tests count a request's
	// round trips with it).
	mongoMonitor *event.CommandMonitor
	// RedisAddr, when set, makes Redis the snapshot writer (hash
	// "sy:env:{envId}", codec/envhash.go).
	RedisAddr string
	// RedisSentinelMaster, when set, makes RedisAddr a comma-separated list
	// of Redis Sentinel addresses, and the snapshot writer the primary of
	// this master set (followed across a failover).
	RedisSentinelMaster string
	// KafkaBrokers, when set, makes Kafka the change producer (topic
	// TopicPrefix+"sy.changes") and starts the end-user consumer (topic
	// TopicPrefix+"sy.endusers", group "sy-control-endusers").
	KafkaBrokers []string
	// TopicPrefix prefixes every Kafka topic name.
	TopicPrefix string
	// KafkaRequestTimeout is how long a broker may wait for the in-sync
	// replicas before a change event is retried (default 5 s);
	// KafkaRetryBackoff the longest pause between retries (default 250 ms);
	// KafkaDeliveryTimeout how long an event is retried before the publish
	// attempt fails and backs off (default 15 s).
	KafkaRequestTimeout, KafkaRetryBackoff, KafkaDeliveryTimeout time.Duration
	// AdminEmail and AdminPassword define the initial admin that Bootstrap
	// creates on first run (default email admin@switchyard.local; empty
	// password: a random one, returned once by Bootstrap).
	AdminEmail, AdminPassword string
	// AnalyticsURL is the base URL of analytics' query API (e.g.
	// http://analytics:8090); the stale-flag report and GDPR erasure use it.
	// The all-in-one binary passes the in-process service with WithInsights.
	AnalyticsURL string
	// EdgeURL is where SDKs reach the edge (host:port or a URL, e.g.
	// flags.example.com:443), shown in the UI's SDK snippets.
	EdgeURL string
	// MaxBody limits request bodies (default 1 MiB); SessionTTL is the
	// lifetime of a login session (default 24 h).
	MaxBody    int64
	SessionTTL time.Duration
	// AuditRetention deletes audit entries older than this, at start and
	// hourly (0, the default: keep them forever).
	AuditRetention time.Duration
	// InviteTTL is how long an invitation to an organization can be
	// accepted (default 7 days).
	InviteTTL time.Duration
	// OrgCreation says who may create organizations: "admins" (instance
	// administrators only, such as the bootstrap admin; the default) or
	// "anyone" (every logged-in user).
	OrgCreation string
	// ReadTimeout bounds reading a request, headers and body (default 15 s;
	// code-reference uploads get UploadTimeout); WriteTimeout bounds a
	// request from the end of its headers to the end of the response
	// (default 60 s); MaxHeaderBytes caps request headers (default 64 KiB).
	ReadTimeout, WriteTimeout, UploadTimeout time.Duration
	MaxHeaderBytes                           int
	// MaxConnsPerIP caps the connections one client address (IPv6: one
	// /64) holds open (default 256; negative: no cap). Behind a reverse
	// proxy every client shares the proxy's address: raise it or disable it.
	MaxConnsPerIP int
	// RateLimit/RateBurst limit the requests of one session or access token
	// per second (default 50, burst 200); PublicRateLimit/PublicRateBurst
	// those of one client address on public routes (login, trigger runs) and
	// with refused credentials (default 2, burst 20). Negative: no limit.
	RateLimit, PublicRateLimit float64
	RateBurst, PublicRateBurst int
	// PrintSecrets asks the mains to print the SDK secrets at every start
	// (default: only on the first, when they are created).
	PrintSecrets bool
	// WebhookAllow lists the prefixes webhook deliveries may connect to
	// besides public addresses (default none: loopback, private, link-local,
	// CGNAT, multicast and reserved addresses are refused).
	WebhookAllow []netip.Prefix
	// PublicURL is the URL browsers reach control at; single sign-on's
	// redirect URI is PublicURL + api.CallbackPath (empty: SSO off).
	PublicURL string
	// SSOAllow lists the prefixes OpenID issuers may be reached at besides
	// public addresses (default none, like WebhookAllow).
	SSOAllow []netip.Prefix
	// SnapshotCheck is how often every live environment's snapshot is
	// checked for presence and rewritten if missing (Redis restarted empty);
	// default 30 s.
	SnapshotCheck time.Duration
}

func (c *Config) defaults() {
	if c.Addr == "" {
		c.Addr = ":8080"
	}
	if c.DataDir == "" {
		c.DataDir = "./data"
	}
	if c.MongoDB == "" {
		c.MongoDB = "switchyard"
	}
	if c.AdminEmail == "" {
		c.AdminEmail = "admin@switchyard.local"
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 15 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 60 * time.Second
	}
	if c.UploadTimeout <= 0 {
		c.UploadTimeout = 5 * time.Minute
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = 64 << 10
	}
	if c.MaxConnsPerIP == 0 {
		c.MaxConnsPerIP = 256
	}
}

// SnapshotWriter receives whole-environment snapshots (see
// docs/architecture.md, "In-process composition").
type SnapshotWriter = publish.SnapshotWriter

// ChangeProducer receives change events.
type ChangeProducer = publish.ChangeProducer

// Option customises a Server.
type Option func(*Server)

// WithSnapshotWriter replaces the Redis snapshot writer.
func WithSnapshotWriter(w SnapshotWriter) Option { return func(s *Server) { s.snap = w } }

// WithChangeProducer replaces the Kafka change producer.
func WithChangeProducer(p ChangeProducer) Option { return func(s *Server) { s.prod = p } }

// Insights is what control asks analytics: evaluations per variation of a
// flag (stale flags) and the erasure of one end user's events (GDPR).
type Insights = api.Insights

// WithInsights sets the analytics client (default: an HTTP client of
// Config.AnalyticsURL when set).
func WithInsights(i Insights) Option { return func(s *Server) { s.ins = i } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// WithGuardedEnvHandler mounts h under prefix behind the API's
// authentication: each request must name an environment (".../envs/{envId}/...")
// that the caller may read (viewer; DELETE needs admin). The all-in-one
// binary mounts analytics' query API this way.
func WithGuardedEnvHandler(prefix string, h http.Handler) Option {
	return func(s *Server) { s.extra = append(s.extra, extraHandler{prefix, h, true}) }
}

type extraHandler struct {
	prefix string
	h      http.Handler
	guard  bool
}

// Server is a control plane instance.
type Server struct {
	cfg   Config
	log   *slog.Logger
	snap  SnapshotWriter
	prod  ChangeProducer
	extra []extraHandler
	ins   Insights

	st      *store.Store
	dom     *domain.Service    // every domain write (API, bootstrap, import)
	wf      *workflow.Workflow // scheduler, webhook deliveries, housekeeping; runs from Start to Shutdown
	api     *api.API
	pub     *publish.Publisher
	deliv   *delivery.Tracker // delivery receipts, live SDK view
	mux     *http.ServeMux
	handler http.Handler // mux, instrumented
	ops     *ops
	closers []func()

	mu     sync.Mutex
	ln     net.Listener
	srv    *http.Server
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// kafkaDial opens the change producer's broker connections (tests: withKafkaDialer).
	kafkaDial func(ctx context.Context, network, host string) (net.Conn, error)
}

// New opens the store (applying migrations) and builds the server; it does
// not listen or publish until Start.
func New(cfg Config, opts ...Option) (*Server, error) {
	cfg.defaults()
	s := &Server{cfg: cfg, log: slog.Default(), ops: newOps()}
	for _, o := range opts {
		o(s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var b store.Backend
	var err error
	if cfg.MongoURI != "" {
		b, err = mongo.OpenWith(ctx, cfg.MongoURI, cfg.MongoDB, store.Schema,
			mongo.Options{SelectTimeout: cfg.MongoSelectTimeout, OpTimeout: cfg.MongoTimeout, Monitor: cfg.mongoMonitor})
	} else {
		var unlock func()
		if unlock, err = LockDataDir(cfg.DataDir); err != nil {
			return nil, err
		}
		if b, err = bolt.Open(cfg.DataDir, store.Schema); err != nil {
			unlock()
			return nil, err
		}
		s.closers = append(s.closers, unlock)
	}
	if err != nil {
		return nil, err
	}
	s.st = store.New(b)
	s.closers = append(s.closers, func() { _ = b.Close(context.Background()) })
	if s.snap == nil && cfg.RedisAddr != "" {
		r, err := publish.NewRedisSentinel(cfg.RedisAddr, cfg.RedisSentinelMaster)
		if err != nil {
			s.close()
			return nil, err
		}
		s.snap = r
		s.closers = append(s.closers, r.Close)
	}
	if s.prod == nil && len(cfg.KafkaBrokers) > 0 {
		k, err := publish.NewKafkaWith(cfg.KafkaBrokers, cfg.TopicPrefix, publish.KafkaOptions{
			RequestTimeout: cfg.KafkaRequestTimeout, RetryBackoff: cfg.KafkaRetryBackoff, DeliveryTimeout: cfg.KafkaDeliveryTimeout,
			Dial: s.kafkaDial})
		if err != nil {
			s.close()
			return nil, err
		}
		s.prod = k
		s.closers = append(s.closers, k.Close)
	}
	s.pub = publish.New(s.st, s.snap, s.prod, s.log)
	s.pub.CheckInterval = cfg.SnapshotCheck
	s.deliv = delivery.New(nil)
	s.pub.OnProduced = func(ev *codec.ChangeEvent) { s.deliv.Published(ev.EnvID, ev.RequestID, ev.EnvVersion, ev.At) }
	if s.ins == nil && cfg.AnalyticsURL != "" {
		s.ins = insights.New(cfg.AnalyticsURL)
	}
	hooks := webhook.New(s.st, s.log)
	hooks.SetAllow(cfg.WebhookAllow)
	s.dom = domain.New(s.st, domain.Options{Notifier: s.pub, Events: hooks, Log: s.log})
	s.wf = workflow.New(s.st, s.dom, hooks, workflow.Config{AuditRetention: cfg.AuditRetention, Log: s.log})
	if g, ok := s.ins.(workflow.Guardrails); ok && g != nil {
		s.wf.SetGuardrails(g) // guarded rollouts' checks (docs/analytics.md)
	}
	s.api = api.New(s.st, s.dom, s.wf, api.Config{MaxBody: cfg.MaxBody, SessionTTL: cfg.SessionTTL, Log: s.log, Insights: s.ins, EdgeURL: cfg.EdgeURL,
		InviteTTL: cfg.InviteTTL, OrgCreation: cfg.OrgCreation,
		UploadTimeout: cfg.UploadTimeout, PublicURL: cfg.PublicURL, SSOAllow: cfg.SSOAllow,
		RateLimit: cfg.RateLimit, RateBurst: cfg.RateBurst, PublicRateLimit: cfg.PublicRateLimit, PublicRateBurst: cfg.PublicRateBurst,
		Deliveries: s.deliv})
	s.mux = http.NewServeMux()
	s.api.Register(s.mux)
	doc, err := json.Marshal(s.api.OpenAPI())
	if err != nil {
		s.close()
		return nil, fmt.Errorf("BUG: cannot encode OpenAPI document: %w", err)
	}
	s.mux.HandleFunc("GET "+api.OpenAPIPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	})
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.HandleFunc("GET /metrics", s.metricsHandler)
	for _, e := range s.extra {
		if e.guard {
			e.h = s.api.GuardEnv(e.h, api.ActRead, api.ActEnvManage)
		}
		p := e.prefix
		if strings.HasSuffix(p, "/") {
			s.mux.Handle(p, e.h)
		} else {
			s.mux.Handle(p, e.h)
			s.mux.Handle(p+"/", e.h)
		}
	}
	s.mux.Handle("/", ui.Handler()) // the operator UI (embedded assets)
	s.handler = s.instrument(s.mux)
	return s, nil
}

// httpServer is the API's http.Server: every phase of a request has a
// deadline (headers 10 s, headers and body ReadTimeout, the response
// WriteTimeout, idle keep-alive 2 min) and headers are capped.
func (s *Server) httpServer() *http.Server {
	return &http.Server{Handler: s.handler, ReadHeaderTimeout: min(10*time.Second, s.cfg.ReadTimeout),
		ReadTimeout: s.cfg.ReadTimeout, WriteTimeout: s.cfg.WriteTimeout, IdleTimeout: 2 * time.Minute,
		MaxHeaderBytes: s.cfg.MaxHeaderBytes, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
}

func (s *Server) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}

// Handler returns the HTTP handler (API, OpenAPI document, extra handlers,
// /healthz, /readyz, /metrics).
func (s *Server) Handler() http.Handler { return s.handler }

// Listen binds Config.Addr without serving yet; Start serves on it. Mains
// call it before Bootstrap, so that a port already taken fails before a
// first run creates (and would then never print) the admin's password.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.listenLocked()
}

func (s *Server) listenLocked() error {
	if s.ln != nil {
		return nil
	}
	raw, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", s.cfg.Addr, err)
	}
	s.ln = newConnLimiter(raw, s.cfg.MaxConnsPerIP)
	return nil
}

// Start listens on Config.Addr (unless Listen did) and starts the publisher
// and, with Kafka, the end-user consumer. It returns once listening.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return errors.New("control: already started")
	}
	if err := s.listenLocked(); err != nil {
		return err
	}
	ln := s.ln
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.srv = s.httpServer()
	if k, ok := s.prod.(*publish.Kafka); ok {
		tctx, tcancel := context.WithTimeout(ctx, 10*time.Second)
		if err := k.EnsureTopic(tctx, 6); err != nil {
			s.log.Warn("cannot ensure the change topic; relying on auto-creation", "err", err)
		}
		tcancel()
	}
	if len(s.cfg.KafkaBrokers) > 0 {
		c, err := enduser.NewConsumer(s.cfg.KafkaBrokers, s.cfg.TopicPrefix, s.st, s.log, enduser.Options{})
		if err != nil {
			cancel()
			ln.Close()
			return err
		}
		s.wg.Go(func() { c.Run(ctx) })
		dc, err := delivery.NewConsumer(ctx, s.cfg.KafkaBrokers, s.cfg.TopicPrefix, s.deliv, s.log)
		if err != nil {
			cancel()
			ln.Close()
			return err
		}
		s.wg.Go(func() { dc.Run(ctx) })
	}
	s.startProbes(ctx)
	s.wg.Go(func() { s.pub.Run(ctx) })
	s.wg.Go(func() { s.wf.Run(ctx) }) // webhook deliveries, scheduled changes, housekeeping
	s.wg.Go(func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("control API server stopped", "err", err)
		}
	})
	return nil
}

// Addr returns the listening address (after Start), else Config.Addr.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return s.ln.Addr().String()
	}
	return s.cfg.Addr
}

// Shutdown stops serving (waiting for requests in flight until ctx ends),
// stops the background work and closes the store and clients.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	srv, cancel, ln := s.srv, s.cancel, s.ln
	s.mu.Unlock()
	if srv == nil && ln != nil {
		ln.Close() // Listen without Start
	}
	var err error
	if srv != nil {
		err = srv.Shutdown(ctx)
		cancel()
		s.wg.Wait()
	}
	s.close()
	return err
}

// IngestEndUsers upserts a batch of end users (the embedded mode's
// replacement for the Kafka end-user consumer).
func (s *Server) IngestEndUsers(ctx context.Context, b *codec.EndUserBatch) error {
	return enduser.Ingest(ctx, s.st, b)
}

// Deliveries takes an edge's delivery report (the embedded mode's
// replacement for the Kafka delivery topic).
func (s *Server) Deliveries(_ context.Context, r *codec.DeliveryReport) error {
	s.deliv.Observe(r)
	return nil
}

// PublishPending publishes every environment whose changes are not yet
// delivered, once, now; it returns how many are still pending. Start runs
// this continuously; tests and tools may call it directly.
func (s *Server) PublishPending(ctx context.Context) int { return s.pub.Sweep(ctx) }
