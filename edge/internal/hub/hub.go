// Package hub is the edge's streaming core: it keeps every loaded
// environment (an envstate.State behind an atomic pointer), the streaming
// sessions of each environment, answers the FeatBit streaming protocol
// (ping, echo, data-sync for server and client SDKs) and fans changes out.
//
// Fan-out: a change is applied to the environment's State (copy-on-write);
// the server-SDK patch is encoded once per format and the same bytes are
// written to every server connection of that environment that has had its
// data-sync reply and whose reply did not already include the change
// (State.Seq; so an SDK reads its full sync first, then every later change
// once, in order); client
// connections re-evaluate only the flags the change can affect and get a
// patch only when a result differs from what they were last sent (kept
// per connection as one uint32 per flag slot). Other environments see
// nothing.
//
// Lock order (also edge/LOCKS.md): Hub.mu → Env.mu → Conn write lock
// (wsconn.Conn.Lock). Hub.mu and Env.mu are held only for map and list
// updates, never while writing to a connection; a session's client state is
// guarded by its connection's write lock, and a reply is built from the
// State loaded while holding that lock, so a reply never overtakes a push.
package hub

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/edge/internal/envstate"
	"github.com/switchyard/switchyard/edge/internal/metrics"
	"github.com/switchyard/switchyard/edge/internal/source"
	"github.com/switchyard/switchyard/edge/internal/wsconn"
)

// UserSink receives end users seen on client connections (deduplicated per
// connection). It must not block.
type UserSink interface {
	AddUser(envID string, u *codec.EndUser)
}

// Config of the hub.
type Config struct {
	TokenWindow time.Duration // ±window of the connection token timestamp
	LoadTimeout time.Duration // snapshot load from the source
	// Now returns the current time in Unix ms (tests); nil means the clock.
	Now func() int64
	// Log, when its debug level is enabled, gets one line per applied
	// change with the request id of the API call that made it (nil: none).
	Log *slog.Logger
	// Delivered, when set, is told after each change was fanned out
	// (census.go).
	Delivered DeliveredFunc
}

// Hub holds the environments.
type Hub struct {
	cfg   Config
	src   source.Source
	users UserSink
	m     *metrics.M

	mu   sync.RWMutex // read-locked for lookups (every request), locked to add or remove
	envs map[string]*Env

	sdks sdkNames
}

// Env is one environment: its State and its sessions.
type Env struct {
	ID string
	st atomic.Pointer[envstate.State]

	mu      sync.Mutex
	ready   chan struct{} // closed when the first load finished
	err     error
	pending []*codec.ChangeEvent // events that arrived during the load
	server  []*Session
	client  []*Session
	expiry  *time.Timer // closes the sessions of a rotated-out secret at its ExpiresAt (armExpiry)
	census  map[censusKey]int32
}

// State returns the current State (nil while loading).
func (e *Env) State() *envstate.State { return e.st.Load() }

// New returns a hub over src.
func New(cfg Config, src source.Source, users UserSink, m *metrics.M) *Hub {
	if cfg.TokenWindow <= 0 {
		cfg.TokenWindow = 30 * time.Second
	}
	if cfg.LoadTimeout <= 0 {
		cfg.LoadTimeout = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = func() int64 { return time.Now().UnixMilli() }
	}
	return &Hub{cfg: cfg, src: src, users: users, m: m, envs: map[string]*Env{}}
}

// Errors of Env.
var (
	ErrUnknownEnv  = errors.New("hub: unknown environment")
	ErrUnavailable = errors.New("hub: source unavailable")
)

// Env returns the loaded environment id, loading it from the source on
// first use. ErrUnknownEnv: no such environment; ErrUnavailable: the
// source failed (try again later).
func (h *Hub) Env(ctx context.Context, id string) (*Env, error) {
	return h.env(ctx, id, nil)
}

// EnvBytes is Env for an id in a byte slice; it does not allocate when
// the environment is loaded.
func (h *Hub) EnvBytes(ctx context.Context, id []byte) (*Env, error) {
	return h.env(ctx, "", id)
}

func (h *Hub) env(ctx context.Context, id string, idb []byte) (*Env, error) {
	lookup := func() *Env {
		if idb != nil {
			return h.envs[string(idb)]
		}
		return h.envs[id]
	}
	h.mu.RLock()
	e := lookup()
	h.mu.RUnlock()
	if e == nil {
		h.mu.Lock()
		if e = lookup(); e == nil {
			if idb != nil {
				id = string(idb)
			}
			e = &Env{ID: id, ready: make(chan struct{})}
			h.envs[id] = e
			h.mu.Unlock()
			h.load(ctx, e)
		} else {
			h.mu.Unlock()
		}
	}
	if e.st.Load() == nil { // loading
		select {
		case <-e.ready:
		case <-ctx.Done():
			return nil, ErrUnavailable
		}
	}
	if e.err != nil {
		return nil, e.err
	}
	return e, nil
}

func (h *Hub) load(ctx context.Context, e *Env) {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.LoadTimeout)
	snap, err := h.src.Snapshot(ctx, e.ID)
	cancel()
	if err != nil {
		if errors.Is(err, source.ErrNotFound) {
			e.err = ErrUnknownEnv
		} else {
			h.m.Error("source_unavailable")
			e.err = ErrUnavailable
		}
		h.mu.Lock()
		delete(h.envs, e.ID)
		h.mu.Unlock()
		e.mu.Lock()
		e.pending = nil
		e.mu.Unlock()
		close(e.ready)
		return
	}
	st := envstate.Build(snap)
	e.mu.Lock()
	for _, ev := range e.pending {
		if ns, _, err := st.Apply(ev); err == nil {
			st = ns
		}
	}
	e.pending = nil
	e.st.Store(st)
	h.armExpiry(e, st)
	close(e.ready)
	e.mu.Unlock()
}

// armExpiry (e.mu held) sets e's timer to the next ExpiresAt of st's
// secrets: then the sessions of the expired secret are closed with the
// retryable CloseRotated (recheckSecrets).
func (h *Hub) armExpiry(e *Env, st *envstate.State) {
	if e.expiry != nil {
		e.expiry.Stop()
		e.expiry = nil
	}
	now := h.cfg.Now()
	next := st.NextExpiry(now)
	if next == 0 {
		return
	}
	e.expiry = time.AfterFunc(time.Duration(next-now)*time.Millisecond, func() {
		e.mu.Lock()
		cur := e.st.Load()
		if cur == nil {
			e.mu.Unlock()
			return
		}
		servers := append([]*Session(nil), e.server...)
		clients := append([]*Session(nil), e.client...)
		h.armExpiry(e, cur)
		e.mu.Unlock()
		h.recheckSecrets(cur, servers, clients)
	})
}

// Apply applies one change event (called by the source, in order) and
// pushes it to the environment's sessions. Events of environments that are
// not loaded are ignored: they are loaded fresh on first use.
func (h *Hub) Apply(ev *codec.ChangeEvent) {
	start := time.Now()
	h.mu.Lock()
	e := h.envs[ev.EnvID]
	h.mu.Unlock()
	if e == nil {
		return
	}
	e.mu.Lock()
	st := e.st.Load()
	if st == nil { // loading: apply after the snapshot
		e.pending = append(e.pending, ev)
		e.mu.Unlock()
		return
	}
	ns, d, err := st.Apply(ev)
	if errors.Is(err, envstate.ErrDeleted) {
		if e.expiry != nil {
			e.expiry.Stop()
		}
		all := append(append([]*Session(nil), e.server...), e.client...)
		e.mu.Unlock()
		h.mu.Lock() // after e.mu is released: the order is hub → env
		if h.envs[e.ID] == e {
			delete(h.envs, e.ID)
		}
		h.mu.Unlock()
		for _, s := range all {
			s.c.CloseWith(4003, "invalid request, close by server")
		}
		return
	}
	if err != nil {
		e.mu.Unlock()
		h.m.Error("bad_change")
		return
	}
	if d == nil {
		e.mu.Unlock()
		return
	}
	e.st.Store(ns)
	if d.Secrets {
		h.armExpiry(e, ns)
	}
	servers := append([]*Session(nil), e.server...)
	clients := append([]*Session(nil), e.client...)
	e.mu.Unlock()
	h.m.Changes.Add(1)

	if d.Secrets {
		h.recheckSecrets(ns, servers, clients)
	}
	if !d.Empty() {
		if len(d.Flags)+len(d.Segs) > 0 && len(servers) > 0 {
			frames := envstate.EncodeServerDelta(d)
			seq := ns.Seq()
			fanOut(servers, func(part []*Session) {
				n := int64(0)
				var busy []*Session // connections busy writing (a large full sync): after the others
				for _, s := range part {
					if !s.c.TryLock() {
						busy = append(busy, s)
						continue
					}
					if h.pushServerLocked(s, seq, frames[s.format].Frame) {
						n++
					}
				}
				for _, s := range busy {
					if h.pushServer(s, seq, frames[s.format].Frame) {
						n++
					}
				}
				h.m.Pushes.Add(n) // once per part: the counters are shared by the parts' goroutines
				h.m.MsgOut.Add(n)
			})
		}
		if len(d.Reeval) > 0 && len(clients) > 0 {
			fanOut(clients, func(part []*Session) {
				var busy []*Session
				for _, s := range part {
					if !s.c.TryLock() {
						busy = append(busy, s)
						continue
					}
					h.pushClientLocked(s, d.Reeval)
				}
				for _, s := range busy {
					h.pushClient(s, d.Reeval)
				}
			})
		}
	}
	h.m.ObservePush(time.Since(start))
	if h.cfg.Delivered != nil {
		h.cfg.Delivered(codec.EnvDelivery{EnvID: ev.EnvID, EnvVersion: ns.Version, RequestID: ev.RequestID, ChangeAt: ev.At,
			DoneAt: time.Now().UnixMilli(), Server: int32(len(servers)), Client: int32(len(clients))})
	}
	if h.cfg.Log != nil && h.cfg.Log.Enabled(context.Background(), slog.LevelDebug) {
		h.cfg.Log.Debug("change pushed", "request_id", ev.RequestID, "env", ev.EnvID, "kind", ev.Kind, "op", ev.Op,
			"id", ev.ID, "env_version", ev.EnvVersion, "server_sessions", len(servers), "client_sessions", len(clients))
	}
}

// recheckSecrets closes sessions whose secret is no longer valid (rotated
// out and expired, or removed). The secret was valid when the session
// opened, so the close code is the retryable CloseRotated, never 4003
// (which SDKs take as "give up"): the SDK reconnects and, with its new key,
// is served; with the old one it then gets 4003 at the handshake.
func (h *Hub) recheckSecrets(st *envstate.State, lists ...[]*Session) {
	now := h.cfg.Now()
	for _, l := range lists {
		for _, s := range l {
			if t, _ := st.SecretAt([]byte(s.secret), now); t == "" {
				s.c.CloseWith(CloseRotated, ReasonRotated)
			}
		}
	}
}

// fanOut runs f over ss in parts, each on its own goroutine when there are
// several, so the writes (a system call per connection, most of a push's
// cost) use every core and one slow connection delays only its part: parts
// of at least fanOutMin sessions, about fanOutPerCPU parts per core. (The
// pushes also write to a connection whose write lock is busy — a large
// full sync on the wire — after the rest of its part.)
func fanOut(ss []*Session, f func(part []*Session)) {
	per := max(fanOutMin, (len(ss)+fanOutParts()-1)/fanOutParts())
	if len(ss) <= per {
		f(ss)
		return
	}
	var wg sync.WaitGroup
	for i := 0; i < len(ss); i += per {
		part := ss[i:min(i+per, len(ss))]
		wg.Go(func() { f(part) })
	}
	wg.Wait()
}

const (
	fanOutMin    = 128 // fewer sessions than this are written by the caller alone
	fanOutPerCPU = 4
)

func fanOutParts() int { return fanOutPerCPU * runtime.GOMAXPROCS(0) }

// EnvIfLoaded returns a loaded environment or nil (tests, metrics).
func (h *Hub) EnvIfLoaded(id string) *Env {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.envs[id]
}

// Sessions returns the number of server and client sessions of e.
func (e *Env) Sessions() (server, client int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.server), len(e.client)
}

// closeCodes of the streaming protocol.
const (
	CloseInvalid     ws.StatusCode = 4003
	CloseUnavailable ws.StatusCode = 1011
	CloseRotated     ws.StatusCode = 1012 // the session's secret was rotated out: reconnect (with the new key)
	ReasonInvalid                  = "invalid request, close by server"
	ReasonUnavail                  = "service unavailable, close by server"
	ReasonRotated                  = "secret rotated, reconnect"
)

var _ wsconn.Handler = (*Hub)(nil)
