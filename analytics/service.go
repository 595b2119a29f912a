package analytics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/switchyard/switchyard/analytics/internal/chstore"
	"github.com/switchyard/switchyard/analytics/internal/consume"
	"github.com/switchyard/switchyard/analytics/internal/embedded"
	"github.com/switchyard/switchyard/analytics/internal/store"
	"github.com/switchyard/switchyard/codec"
)

// Service is one analytics instance.
type Service struct {
	cfg   Config
	log   *slog.Logger
	store store.Store
	ch    *chstore.Store // nil in embedded mode
	cons  *consume.Consumer
	cache *resultCache
	h     http.Handler

	probes []*probe // readiness of ClickHouse and Kafka (see health.go)

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	srv    *http.Server
	ln     net.Listener
}

// New builds a Service: it opens the embedded store (loading its log) or the
// ClickHouse connection (lazily; Start creates the schema).
func New(cfg Config) (*Service, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, log: cfg.Logger, cache: newResultCache(cfg.CacheTTL, 256)}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if cfg.ClickHouseAddr == "" {
		st, err := embedded.Open(filepath.Join(cfg.DataDir, "analytics"), EmbeddedMaxEvents)
		if err != nil {
			return nil, err
		}
		s.store = st
	} else {
		sk, err := chstore.Open(cfg.ClickHouseAddr, cfg.ClickHouseDB, cfg.ClickHouseUser, cfg.ClickHousePassword)
		if err != nil {
			return nil, err
		}
		s.ch, s.store = sk, sk
		if len(cfg.KafkaBrokers) > 0 {
			c, err := consume.New(consume.Config{Brokers: cfg.KafkaBrokers, Topic: InsightTopic(cfg.TopicPrefix),
				Group: cfg.TopicPrefix + ConsumerGroup, BatchRows: cfg.BatchRows, FlushInterval: cfg.FlushInterval,
				Logger: cfg.Logger, ClientOpts: cfg.kafkaOpts}, sk)
			if err != nil {
				sk.Close()
				return nil, err
			}
			s.cons = c
		}
	}
	s.h = s.routes()
	return s, nil
}

// Start creates/migrates the ClickHouse schema (retrying for up to 30 s while
// ClickHouse is unreachable), starts the consumer, the retention job and
// (unless Addr is "-") the HTTP listener.
func (s *Service) Start() error {
	if s.ch != nil {
		// ClickHouse may still be starting (compose, systemd): retry for 30 s.
		ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
		err := s.ch.Migrate(ctx)
		for backoff := 200 * time.Millisecond; err != nil && ctx.Err() == nil; backoff = min(2*backoff, 5*time.Second) {
			s.log.Warn("analytics: ClickHouse schema setup failed; retrying", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
				err = s.ch.Migrate(ctx)
			}
		}
		cancel()
		if err != nil {
			return err
		}
	}
	if s.cons != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.cons.Run(s.ctx); err != nil {
				s.log.Error("analytics: consumer stopped", "err", err)
			}
		}()
	}
	s.startProbes()
	if s.cfg.Retention > 0 {
		s.wg.Add(1)
		go s.retentionLoop()
	}
	if s.cfg.Addr != "-" {
		ln, err := net.Listen("tcp", s.cfg.Addr)
		if err != nil {
			return fmt.Errorf("analytics: cannot listen on %s: %w", s.cfg.Addr, err)
		}
		s.ln = ln
		s.srv = &http.Server{Handler: s.h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: s.cfg.httpReadTimeout,
			WriteTimeout: queryTimeout + 15*time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("analytics: HTTP server stopped", "err", err)
			}
		}()
	}
	return nil
}

// ListenAddr is the bound address of the HTTP listener (nil before Start or
// with Addr "-").
func (s *Service) ListenAddr() net.Addr {
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Handler is the query API (routes under /api/analytics/v1/) and the
// operations endpoints /healthz, /readyz and /metrics.
func (s *Service) Handler() http.Handler { return s.h }

// Ingest stores one batch directly (embedded mode: the edge's EventSink calls
// it; in ClickHouse mode it inserts one small batch per call). b is not
// retained: the caller may reuse it when Ingest returns.
func (s *Service) Ingest(ctx context.Context, b *codec.InsightBatch) error {
	return s.store.Insert(ctx, b)
}

// Insights is Ingest under the name of the edge's EventSink method, so a
// composing binary can hand the Service to an adapter that forwards end users
// elsewhere.
func (s *Service) Insights(ctx context.Context, b *codec.InsightBatch) error { return s.Ingest(ctx, b) }

// IngestStats are the consumer's counters (zero without Kafka).
func (s *Service) IngestStats() consume.Stats {
	if s.cons == nil {
		return consume.Stats{}
	}
	return s.cons.Stats()
}

// Shutdown stops the listener, flushes and stops the consumer (committing what
// was flushed) and closes the store.
func (s *Service) Shutdown(ctx context.Context) error {
	var errs []error
	if s.srv != nil {
		errs = append(errs, s.srv.Shutdown(ctx))
	}
	s.cancel()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, ctx.Err())
	}
	if s.cons != nil {
		s.cons.Close()
	}
	errs = append(errs, s.store.Close())
	return errors.Join(errs...)
}

func (s *Service) retentionLoop() {
	defer s.wg.Done()
	every := min(time.Hour, max(time.Minute, s.cfg.Retention/10))
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(s.ctx, 10*time.Minute)
		if err := s.store.DeleteBefore(ctx, time.Now().Add(-s.cfg.Retention)); err != nil && s.ctx.Err() == nil {
			s.log.Warn("analytics: retention run failed", "err", err)
		}
		cancel()
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
	}
}
