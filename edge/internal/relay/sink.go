package relay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/codec/wire"
)

// SinkConfig configures the event forwarder.
type SinkConfig struct {
	Upstream string // as Config.Upstream
	// SecretOf returns the server secret that authenticates an
	// environment's events at the upstream ("" drops them: not relayed).
	SecretOf func(env string) string
	// Dir and MaxBytes are the spool's directory and cap.
	Dir      string
	MaxBytes int64
	// MinBackoff and MaxBackoff bound the retry delay [500ms, 30s].
	MinBackoff, MaxBackoff time.Duration
	Dial                   func(ctx context.Context, network, addr string) (net.Conn, error)
	Log                    *slog.Logger
	// OnLost is told about events lost (cause: "relay_buffer_dropped" by
	// the cap, "relay_rejected" refused by the upstream with 400 or 413,
	// "relay_buffer_write" a failed disk write); OnSent about events the
	// upstream accepted.
	OnLost func(cause string, events int)
	OnSent func(events int)
}

// Record kinds (the first byte of a spool record; the rest is the msgp
// batch).
const (
	kindInsights = 'i'
	kindUsers    = 'u'
)

// maxBody is the size at which the forwarder starts a new track request
// (the upstream takes 1 MiB by default, -max-track-bytes).
const maxBody = 512 << 10

// recordsPerRound is how many spool records one forwarding round reads.
const recordsPerRound = 1000

// Sink is the relay's EventSink: every batch goes to the spool, and a
// forwarder posts the spool's records to the upstream's track endpoint,
// oldest first, deleting them once the upstream answered 2xx.
type Sink struct {
	cfg   SinkConfig
	spool *Spool
	hc    *http.Client
	track string
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
}

// NewSink opens the spool and starts the forwarder.
func NewSink(cfg SinkConfig) (*Sink, error) {
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(30*time.Second, cfg.MinBackoff)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.OnLost == nil {
		cfg.OnLost = func(string, int) {}
	}
	if cfg.OnSent == nil {
		cfg.OnSent = func(int) {}
	}
	if cfg.MaxBytes <= 0 {
		return nil, errors.New("relay-buffer-bytes: must be positive")
	}
	sp, err := OpenSpool(cfg.Dir, cfg.MaxBytes, func(b []byte) { cfg.OnLost("relay_buffer_dropped", countEvents(b)) })
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.Dial != nil {
		tr.DialContext = cfg.Dial
	}
	tr.MaxIdleConnsPerHost = 4
	s := &Sink{cfg: cfg, spool: sp, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second},
		track: httpURL(cfg.Upstream) + "/api/public/insight/track", stop: make(chan struct{}), done: make(chan struct{})}
	go s.run()
	return s, nil
}

func (s *Sink) put(kind byte, m interface{ MarshalMsg([]byte) ([]byte, error) }, events int) error {
	b, err := m.MarshalMsg([]byte{kind})
	if err != nil {
		return err
	}
	if err := s.spool.Append(b); err != nil {
		s.cfg.OnLost("relay_buffer_write", events)
		return fmt.Errorf("relay: spool: %w", err)
	}
	return nil
}

// Insights spools an insight batch.
func (s *Sink) Insights(_ context.Context, b *codec.InsightBatch) error {
	return s.put(kindInsights, b, len(b.Evals)+len(b.Metrics))
}

// EndUsers spools an end-user batch.
func (s *Sink) EndUsers(_ context.Context, b *codec.EndUserBatch) error {
	return s.put(kindUsers, b, len(b.Users))
}

// Pending returns the records and bytes waiting in the spool.
func (s *Sink) Pending() (records int, bytes int64) { return s.spool.Stats() }

// Close stops the forwarder; what was not sent stays in the spool for the
// next run.
func (s *Sink) Close() {
	s.once.Do(func() { close(s.stop) })
	<-s.done
}

func (s *Sink) run() {
	defer close(s.done)
	backoff := s.cfg.MinBackoff
	for {
		err := s.forward()
		wait := time.Duration(0)
		if err != nil {
			s.cfg.Log.Warn("relay: forwarding events to the upstream", "err", err)
			wait = time.Duration(float64(backoff) * (0.8 + 0.4*rand.Float64()))
			backoff = min(2*backoff, s.cfg.MaxBackoff)
		} else {
			backoff = s.cfg.MinBackoff
			if n, _ := s.spool.Stats(); n > 0 {
				continue // more than one round's worth waiting
			}
		}
		var timer <-chan time.Time
		if wait > 0 {
			timer = time.After(wait)
		}
		select {
		case <-s.stop:
			return
		case <-timer:
		case <-s.spool.kick:
			if wait > 0 { // failing: keep to the backoff
				select {
				case <-s.stop:
					return
				case <-time.After(wait):
				}
			}
		}
	}
}

// group is one track request: consecutive records of one environment.
type group struct {
	env    string
	recs   []rec
	body   []byte
	events int
}

// forward sends one round of records; an error means the upstream could
// not be reached (or answered 5xx, 401, 403 or 429): the records stay.
func (s *Sink) forward() error {
	recs := s.spool.peek(recordsPerRound)
	var g *group
	flush := func() error {
		if g == nil {
			return nil
		}
		cur := g
		g = nil
		if len(cur.body) <= 1 { // no event in the records
			s.spool.remove(cur.recs)
			return nil
		}
		return s.post(cur)
	}
	for _, r := range recs {
		b, err := s.spool.read(r)
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted by the cap meanwhile
		}
		if err != nil {
			return err
		}
		env, entries, events, err := trackEntries(b)
		if err != nil { // unreadable: never sendable
			s.cfg.Log.Error("relay: dropping an unreadable spool record", "seq", r.seq, "err", err)
			s.cfg.OnLost("relay_buffer_corrupt", 0)
			s.spool.remove([]rec{r})
			continue
		}
		if s.cfg.SecretOf(env) == "" {
			s.cfg.OnLost("relay_rejected", events)
			s.spool.remove([]rec{r})
			continue
		}
		if g != nil && (g.env != env || len(g.body)+len(entries) > maxBody) {
			if err := flush(); err != nil {
				return err
			}
		}
		if g == nil {
			g = &group{env: env, body: []byte{'['}}
		}
		if len(entries) > 0 {
			if len(g.body) > 1 {
				g.body = append(g.body, ',')
			}
			g.body = append(g.body, entries...)
		}
		g.recs = append(g.recs, r)
		g.events += events
	}
	return flush()
}

func (s *Sink) post(g *group) error {
	body := append(g.body, ']')
	req, err := http.NewRequest(http.MethodPost, s.track, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", s.cfg.SecretOf(g.env))
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.hc.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", s.track, err)
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	resp.Body.Close()
	switch {
	case resp.StatusCode/100 == 2:
		s.spool.remove(g.recs)
		s.cfg.OnSent(g.events)
		return nil
	case resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusRequestEntityTooLarge:
		// the upstream will never take these bytes: drop, count, log
		s.cfg.Log.Error("relay: the upstream refused events", "env", g.env, "status", resp.StatusCode, "body", string(msg), "events", g.events)
		s.cfg.OnLost("relay_rejected", g.events)
		s.spool.remove(g.recs)
		return nil
	}
	return fmt.Errorf("POST %s: %d %s", s.track, resp.StatusCode, bytes.TrimSpace(msg))
}

// countEvents is the number of events in a spool record (0 if unreadable).
func countEvents(b []byte) int {
	_, _, n, _ := trackEntries(b)
	return n
}

// trackEntries decodes a spool record and encodes its events as entries of
// FeatBit's track body (without the enclosing brackets): evaluations
// grouped by consecutive user, metrics one entry each, end users one entry
// each with their properties and no events.
func trackEntries(b []byte) (env string, out []byte, events int, err error) {
	if len(b) == 0 {
		return "", nil, 0, errors.New("empty record")
	}
	switch b[0] {
	case kindInsights:
		var ib codec.InsightBatch
		if _, err := ib.UnmarshalMsg(b[1:]); err != nil {
			return "", nil, 0, err
		}
		for i := 0; i < len(ib.Evals); {
			j := i + 1
			for j < len(ib.Evals) && ib.Evals[j].UserKey == ib.Evals[i].UserKey && ib.Evals[j].UserName == ib.Evals[i].UserName {
				j++
			}
			out = appendSep(out)
			out = append(out, `{"user":`...)
			out = appendUser(out, ib.Evals[i].UserKey, ib.Evals[i].UserName, nil)
			out = append(out, `,"variations":[`...)
			for k := i; k < j; k++ {
				e := &ib.Evals[k]
				if k > i {
					out = append(out, ',')
				}
				out = append(out, `{"featureFlagKey":`...)
				out = wire.AppendString(out, e.FlagKey)
				out = append(out, `,"sendToExperiment":`...)
				out = wire.AppendBool(out, e.SendToExperiment)
				out = append(out, `,"timestamp":`...)
				out = appendInt(out, e.Timestamp)
				out = append(out, `,"variation":{"id":`...)
				out = wire.AppendString(out, e.VariationID)
				out = append(out, `,"value":`...)
				out = wire.AppendString(out, e.Value)
				out = append(out, `}}`...)
			}
			out = append(out, `],"metrics":[]}`...)
			i = j
		}
		for k := range ib.Metrics {
			m := &ib.Metrics[k]
			out = appendSep(out)
			out = append(out, `{"user":`...)
			out = appendUser(out, m.UserKey, "", nil)
			out = append(out, `,"variations":[],"metrics":[{"route":`...)
			out = wire.AppendString(out, m.Route)
			out = append(out, `,"type":`...)
			out = wire.AppendString(out, m.Type)
			out = append(out, `,"eventName":`...)
			out = wire.AppendString(out, m.EventName)
			out = append(out, `,"numericValue":`...)
			out = wire.AppendFloat(out, m.NumericValue)
			out = append(out, `,"appType":`...)
			out = wire.AppendString(out, m.AppType)
			out = append(out, `,"timestamp":`...)
			out = appendInt(out, m.Timestamp)
			out = append(out, `}]}`...)
		}
		return ib.EnvID, out, len(ib.Evals) + len(ib.Metrics), nil
	case kindUsers:
		var ub codec.EndUserBatch
		if _, err := ub.UnmarshalMsg(b[1:]); err != nil {
			return "", nil, 0, err
		}
		for k := range ub.Users {
			u := &ub.Users[k]
			out = appendSep(out)
			out = append(out, `{"user":`...)
			out = appendUser(out, u.KeyID, u.Name, u.Props)
			out = append(out, `,"variations":[],"metrics":[]}`...)
		}
		return ub.EnvID, out, len(ub.Users), nil
	}
	return "", nil, 0, fmt.Errorf("unknown record kind %q", b[0])
}

func appendSep(b []byte) []byte {
	if len(b) > 0 {
		b = append(b, ',')
	}
	return b
}

func appendUser(b []byte, key, name string, props []codec.UserProp) []byte {
	b = append(b, `{"keyId":`...)
	b = wire.AppendString(b, key)
	b = append(b, `,"name":`...)
	b = wire.AppendString(b, name)
	b = append(b, `,"customizedProperties":[`...)
	for i := range props {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = wire.AppendString(b, props[i].Name)
		b = append(b, `,"value":`...)
		b = wire.AppendString(b, props[i].Value)
		b = append(b, '}')
	}
	return append(b, `]}`...)
}

func appendInt(b []byte, n int64) []byte {
	return fmt.Appendf(b, "%d", n)
}
