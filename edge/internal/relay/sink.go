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
	"strconv"
	"strings"
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

// A spool record is one environment's events, already in the upstream's
// format: a header line "sy1 <env id> <events>\n", then entries of
// FeatBit's track body separated by commas (without the brackets), so the
// forwarder only concatenates records.
const recordMagic = "sy1 "

// coalesce is how long events wait in memory to share a spool record
// (graceful shutdown writes them; a crash of the process loses at most
// this long), and coalesceBytes the size that writes them at once.
const (
	coalesce      = 100 * time.Millisecond
	coalesceBytes = 256 << 10
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

	mu      sync.Mutex
	pend    map[string]*pendingEnv // events not yet in the spool, by env
	pendLen int
	flushed chan struct{} // closed when the coalescer ended
}

type pendingEnv struct {
	entries []byte
	events  int
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
		track: httpURL(cfg.Upstream) + "/api/public/insight/track", stop: make(chan struct{}), done: make(chan struct{}),
		pend: map[string]*pendingEnv{}, flushed: make(chan struct{})}
	go s.run()
	go s.coalescer()
	return s, nil
}

// add queues entries (copied) of env for the next spool record.
func (s *Sink) add(env string, entries []byte, events int) error {
	if events == 0 || len(entries) == 0 {
		return nil
	}
	if env == "" || len(env) > 64 || strings.ContainsAny(env, " \t\r\n") {
		s.cfg.OnLost("relay_rejected", events) // not an environment id
		return nil
	}
	s.mu.Lock()
	p := s.pend[env]
	if p == nil {
		p = &pendingEnv{}
		s.pend[env] = p
	}
	if len(p.entries) > 0 {
		p.entries = append(p.entries, ',')
	}
	p.entries = append(p.entries, entries...)
	p.events += events
	s.pendLen += len(entries) + 1
	var err error
	if s.pendLen >= coalesceBytes {
		err = s.flushLocked()
	}
	s.mu.Unlock()
	return err
}

// flushLocked writes the waiting events to the spool, one record per
// environment.
func (s *Sink) flushLocked() error {
	var first error
	for env, p := range s.pend {
		rec := fmt.Appendf(make([]byte, 0, len(p.entries)+64), "%s%s %d\n", recordMagic, env, p.events)
		rec = append(rec, p.entries...)
		if err := s.spool.Append(rec); err != nil {
			s.cfg.OnLost("relay_buffer_write", p.events)
			if first == nil {
				first = fmt.Errorf("relay: spool: %w", err)
			}
		}
	}
	clear(s.pend)
	s.pendLen = 0
	return first
}

func (s *Sink) coalescer() {
	defer close(s.flushed)
	t := time.NewTicker(coalesce)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			s.mu.Lock()
			_ = s.flushLocked()
			s.mu.Unlock()
			return
		case <-t.C:
			s.mu.Lock()
			if s.pendLen > 0 {
				if err := s.flushLocked(); err != nil {
					s.cfg.Log.Error("relay: writing the event buffer", "err", err)
				}
			}
			s.mu.Unlock()
		}
	}
}

// Insights queues an insight batch (encoded at once: b is not retained).
func (s *Sink) Insights(_ context.Context, b *codec.InsightBatch) error {
	return s.add(b.EnvID, appendInsightEntries(nil, b), len(b.Evals)+len(b.Metrics))
}

// EndUsers queues an end-user batch.
func (s *Sink) EndUsers(_ context.Context, b *codec.EndUserBatch) error {
	return s.add(b.EnvID, appendUserEntries(nil, b), len(b.Users))
}

// Pending returns the records and bytes waiting in the spool.
func (s *Sink) Pending() (records int, bytes int64) { return s.spool.Stats() }

// Close writes the events waiting in memory to the spool and stops the
// forwarder; what was not sent stays in the spool for the next run.
func (s *Sink) Close() {
	s.once.Do(func() { close(s.stop) })
	<-s.flushed
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
		env, entries, events, err := parseRecord(b)
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
	_, _, n, _ := parseRecord(b)
	return n
}

// parseRecord splits a spool record into its environment, its track
// entries and their number of events.
func parseRecord(b []byte) (env string, entries []byte, events int, err error) {
	nl := bytes.IndexByte(b, '\n')
	if nl < 0 || !bytes.HasPrefix(b, []byte(recordMagic)) {
		return "", nil, 0, errors.New("not a spool record")
	}
	head := strings.Fields(string(b[len(recordMagic):nl]))
	if len(head) != 2 || head[0] == "" || len(head[0]) > 64 {
		return "", nil, 0, errors.New("bad spool record header")
	}
	n, err := strconv.Atoi(head[1])
	if err != nil || n < 0 {
		return "", nil, 0, errors.New("bad event count in a spool record header")
	}
	return head[0], b[nl+1:], n, nil
}

// appendInsightEntries appends b's events as entries of FeatBit's track
// body (without brackets): evaluations grouped by consecutive user, each
// metric one entry.
func appendInsightEntries(out []byte, ib *codec.InsightBatch) []byte {
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
			out = strconv.AppendInt(out, e.Timestamp, 10)
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
		out = strconv.AppendInt(out, m.Timestamp, 10)
		out = append(out, `}]}`...)
	}
	return out
}

// appendUserEntries appends one entry per end user, with its properties
// and no events (the upstream adds it to its end-user list).
func appendUserEntries(out []byte, ub *codec.EndUserBatch) []byte {
	for k := range ub.Users {
		u := &ub.Users[k]
		out = appendSep(out)
		out = append(out, `{"user":`...)
		out = appendUser(out, u.KeyID, u.Name, u.Props)
		out = append(out, `,"variations":[],"metrics":[]}`...)
	}
	return out
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
