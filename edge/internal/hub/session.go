package hub

import (
	"bytes"
	"context"
	"sync"

	"github.com/gobwas/ws"
	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/codec/secret"
	"github.com/switchyard/switchyard/codec/wire"
	"github.com/switchyard/switchyard/edge/eval"
	"github.com/switchyard/switchyard/edge/internal/envstate"
	"github.com/switchyard/switchyard/edge/internal/metrics"
	"github.com/switchyard/switchyard/edge/internal/wsconn"
)

// Protocol is the subprotocol of the binary (msgpack) streaming variant.
const Protocol = "switchyard.msgpack.v1"

// Session is one streaming connection of an environment.
type Session struct {
	c      *wsconn.Conn
	env    *Env
	idx    int32 // position in env.server or env.client (guarded by env.mu)
	kind   uint8 // metrics.ConnServer or metrics.ConnClient
	format uint8 // envstate.JSON or envstate.MsgPack
	secret string
	sdk    string       // the SDK its User-Agent names (census.go)
	cl     *clientState // client SDK sessions only; guarded by c's write lock
	// synced is 0 until the session's first data-sync was answered, then
	// 1 + the Seq of the State the last data-sync reply was built from:
	// pushes of changes already in that reply, and every push before it,
	// are not written (a FeatBit SDK applies a patch that comes before its
	// full sync to an empty store). Guarded by c's write lock.
	synced uint64
}

// clientState is what a client-SDK session remembers: its user and, per
// flag slot, the result it was last sent (0 = nothing sent).
type clientState struct {
	hasUser bool
	user    codec.EndUser
	euser   eval.User
	last    []uint32
}

// resultKey identifies a result for change detection: the flag's
// variation generation in the high 16 bits, 1 for "no variation" or
// 2+index of the variation in the low 16 bits.
func resultKey(f *envstate.Flag, res *eval.Result) uint32 {
	k := uint32(1)
	if v := res.Variation; v != nil {
		vs := f.Src.Variations
		for i := range vs {
			if &vs[i] == v {
				k = uint32(i) + 2
				break
			}
		}
	}
	return uint32(f.VarGen)<<16 | k
}

// Open authenticates a new streaming connection (FeatBit: accept the
// upgrade, then close 4003 for a bad request, 1011 when the source is
// unavailable).
func (h *Hub) Open(c *wsconn.Conn, r *wsconn.Request) (ws.StatusCode, string) {
	q := r.URI
	if i := bytes.IndexByte(q, '?'); i >= 0 {
		q = q[i+1:]
	} else {
		q = nil
	}
	var typ, token, version []byte
	for len(q) > 0 {
		var kv []byte
		if i := bytes.IndexByte(q, '&'); i >= 0 {
			kv, q = q[:i], q[i+1:]
		} else {
			kv, q = q, nil
		}
		k, v, _ := bytes.Cut(kv, []byte("="))
		switch string(k) {
		case "type":
			typ = v
		case "token":
			token = v
		case "version":
			version = v
		}
	}
	switch string(version) {
	case "", "1", "2":
	default:
		h.m.Error("bad_version")
		return CloseInvalid, ReasonInvalid
	}
	kind := uint8(metrics.ConnServer)
	switch string(typ) {
	case codec.SecretServer:
	case codec.SecretClient:
		kind = metrics.ConnClient
	default:
		h.m.Error("bad_type")
		return CloseInvalid, ReasonInvalid
	}
	sec, err := secret.DecodeTokenBytes(token, h.cfg.Now(), h.cfg.TokenWindow, nil)
	if err != nil {
		h.m.Error("bad_token")
		return CloseInvalid, ReasonInvalid
	}
	envID, err := secret.EnvID(string(sec))
	if err != nil {
		h.m.Error("bad_token")
		return CloseInvalid, ReasonInvalid
	}
	e, err := h.Env(context.Background(), envID)
	switch {
	case err == ErrUnavailable:
		return CloseUnavailable, ReasonUnavail
	case err != nil:
		h.m.Error("unknown_env")
		return CloseInvalid, ReasonInvalid
	}
	t, stored := e.st.Load().SecretAt(sec, h.cfg.Now())
	if t != string(typ) {
		h.m.Error("bad_secret")
		return CloseInvalid, ReasonInvalid
	}
	s := &Session{c: c, env: e, kind: kind, secret: stored, sdk: h.sdks.name(r.UserAgent)}
	if r.Protocol == Protocol {
		s.format = envstate.MsgPack
		c.SetBinary(true)
	}
	if kind == metrics.ConnClient {
		s.cl = &clientState{}
	}
	c.Sess = s
	e.mu.Lock()
	if kind == metrics.ConnServer {
		s.idx = int32(len(e.server))
		e.server = append(e.server, s)
	} else {
		s.idx = int32(len(e.client))
		e.client = append(e.client, s)
	}
	e.count(s, 1)
	e.mu.Unlock()
	h.m.Conns[kind].Add(1)
	return 0, ""
}

// Closed removes the session of c.
func (h *Hub) Closed(c *wsconn.Conn) {
	s, ok := c.Sess.(*Session)
	if !ok {
		return
	}
	e := s.env
	e.mu.Lock()
	list := &e.server
	if s.kind == metrics.ConnClient {
		list = &e.client
	}
	l := *list
	if i := int(s.idx); i < len(l) && l[i] == s {
		last := len(l) - 1
		l[i] = l[last]
		l[i].idx = int32(i)
		l[last] = nil
		*list = l[:last]
		h.m.Conns[s.kind].Add(-1)
		e.count(s, -1)
	}
	e.mu.Unlock()
}

// scratch is per-message state. Lifetime: taken at the start of Message
// (or a client push), returned at its end.
type scratch struct {
	msg    wire.Message
	buf    []byte
	lists  envstate.Lists
	cflags []wire.ClientFlag
	props  []wire.PropView
}

var scratchPool = sync.Pool{New: func() any {
	return &scratch{buf: make([]byte, 0, 4096)}
}}

func putScratch(sc *scratch) {
	if cap(sc.buf) > 1<<20 {
		sc.buf = make([]byte, 0, 4096)
	}
	clear(sc.cflags)
	sc.cflags = sc.cflags[:0]
	scratchPool.Put(sc)
}

var (
	pongFrame   = wsconn.Frame(append(make([]byte, wsconn.FrameReserve), wire.Pong...), ws.OpText)
	pongFrameMP = wsconn.Frame(append(make([]byte, wsconn.FrameReserve), wire.PongMP...), ws.OpBinary)
)

// Message handles one SDK message; unknown or malformed messages are
// ignored and the connection stays open.
func (h *Hub) Message(c *wsconn.Conn, op ws.OpCode, payload []byte) {
	s, ok := c.Sess.(*Session)
	if !ok {
		return
	}
	h.m.MsgIn.Add(1)
	sc := scratchPool.Get().(*scratch)
	h.handle(s, sc, payload)
	putScratch(sc)
}

func (h *Hub) handle(s *Session, sc *scratch, payload []byte) {
	m := &sc.msg
	var err error
	if s.format == envstate.MsgPack {
		err = wire.ParseMP(payload, m, &sc.props)
	} else {
		err = m.Parse(payload)
	}
	if err != nil {
		h.m.Error("bad_message")
		return
	}
	switch m.Type {
	case wire.Ping:
		f := pongFrame
		if s.format == envstate.MsgPack {
			f = pongFrameMP
		}
		if s.c.Write(f) == nil {
			h.m.MsgOut.Add(1)
		}
	case wire.Echo:
		b := sc.buf[:wsconn.FrameReserve]
		op := ws.OpText
		if s.format == envstate.MsgPack {
			b = wire.AppendEchoMP(b, m.Data)
			op = ws.OpBinary
		} else {
			b = append(b, `{"messageType":"echo","data":`...)
			b = append(b, m.Data...)
			b = append(b, '}')
		}
		sc.buf = b
		if s.c.Write(wsconn.Frame(b, op)) == nil {
			h.m.MsgOut.Add(1)
		}
	case wire.DataSync:
		if s.kind == metrics.ConnServer {
			h.serverSync(s, sc, m.Timestamp)
		} else {
			h.clientSync(s, sc, m)
		}
	default:
		h.m.Error("unknown_message")
	}
}

func (s *Session) op() ws.OpCode {
	if s.format == envstate.MsgPack {
		return ws.OpBinary
	}
	return ws.OpText
}

// serverSync answers a server SDK's data-sync: the cached full sync for
// timestamp 0, else a patch (always sent, even when empty).
func (h *Hub) serverSync(s *Session, sc *scratch, ts int64) {
	c := s.c
	c.Lock()
	st := s.env.st.Load()
	var err error
	if ts <= 0 {
		err = c.WritePartsLocked(st.Full(int(s.format)).Parts)
	} else {
		b := st.AppendServerPatch(sc.buf[:wsconn.FrameReserve], int(s.format), ts, &sc.lists)
		sc.buf = b
		err = c.WriteLocked(wsconn.Frame(b, s.op()))
	}
	if err == nil {
		h.m.MsgOut.Add(1)
	}
	s.synced = st.Seq() + 1
	c.Unlock()
}

// pushServer writes a server-SDK patch of the change that made the State
// with Seq seq, unless the session has not had its data-sync reply yet or
// that reply already included the change. It reports whether it wrote.
func (h *Hub) pushServer(s *Session, seq uint64, frame []byte) bool {
	s.c.Lock()
	return h.pushServerLocked(s, seq, frame)
}

// pushServerLocked is pushServer for a caller that took the connection's
// write lock; it releases it.
func (h *Hub) pushServerLocked(s *Session, seq uint64, frame []byte) bool {
	c := s.c
	ok := s.synced != 0 && s.synced <= seq && c.WriteLocked(frame) == nil
	c.Unlock()
	return ok
}

// setUser attaches the message's user to a client session (called with
// the connection's write lock held). It reports whether a user is attached.
func (h *Hub) setUser(s *Session, m *wire.Message) bool {
	cl := s.cl
	if !m.HasUser || !m.User.Valid() {
		return cl.hasUser
	}
	u := &m.User
	same := cl.hasUser && string(u.KeyID) == cl.user.KeyID && string(u.Name) == cl.user.Name && len(u.Props) == len(cl.user.Props)
	if same {
		for i := range u.Props {
			if string(u.Props[i].Name) != cl.user.Props[i].Name || string(u.Props[i].Value) != cl.user.Props[i].Value {
				same = false
				break
			}
		}
	}
	if same {
		return true
	}
	var nu codec.EndUser
	u.ToEndUser(&nu)
	nu.EnvID = s.env.ID
	nu.LastSeen = h.cfg.Now()
	cl.user = nu
	cl.euser = eval.UserFrom(&cl.user)
	cl.hasUser = true
	clear(cl.last)
	if h.users != nil {
		uc := nu
		h.users.AddUser(s.env.ID, &uc)
	}
	return true
}

// clientSync answers a client SDK's data-sync with the flags evaluated for
// its user. Without a user FeatBit sends nothing, and so do we.
func (h *Hub) clientSync(s *Session, sc *scratch, m *wire.Message) {
	c := s.c
	c.Lock()
	defer c.Unlock()
	if !h.setUser(s, m) {
		h.m.Error("client_sync_without_user")
		return
	}
	st := s.env.st.Load()
	cl := s.cl
	cl.grow(st.Slots())
	ev := "full"
	if m.Timestamp > 0 {
		ev = "patch"
	}
	sc.cflags = sc.cflags[:0]
	for _, f := range st.FlagList() {
		if m.Timestamp > 0 && f.Src.UpdatedAt <= m.Timestamp {
			continue
		}
		var key uint32
		sc.cflags, key = appendClientFlag(sc.cflags, f, st, &cl.euser)
		cl.last[f.Slot] = key
	}
	h.m.Evaluations.Add(int64(len(sc.cflags)))
	if c.WriteLocked(h.encodeClient(s, sc, ev)) == nil {
		h.m.MsgOut.Add(1)
	}
}

func (cl *clientState) grow(n int) {
	if len(cl.last) < n {
		cl.last = append(cl.last, make([]uint32, n-len(cl.last))...)
	}
}

func (h *Hub) encodeClient(s *Session, sc *scratch, ev string) []byte {
	b := sc.buf[:wsconn.FrameReserve]
	if s.format == envstate.MsgPack {
		b = wire.AppendClientSyncMP(b, ev, s.cl.user.KeyID, sc.cflags)
	} else {
		b = wire.AppendClientSync(b, ev, s.cl.user.KeyID, sc.cflags)
	}
	sc.buf = b
	return wsconn.Frame(b, s.op())
}

// appendClientFlag evaluates f for u and appends the client-SDK flag.
func appendClientFlag(dst []wire.ClientFlag, f *envstate.Flag, st *envstate.State, u *eval.User) ([]wire.ClientFlag, uint32) {
	res := eval.Evaluate(f.Eval, st.EvalSegs, u)
	cf := wire.ClientFlag{
		Key:              f.Src.Key,
		VariationType:    f.Src.VariationType,
		MatchReason:      res.MatchReason,
		Options:          f.Src.Variations,
		SendToExperiment: res.SendToExperiment,
		Timestamp:        f.Src.UpdatedAt,
	}
	if res.Variation != nil {
		cf.Value, cf.VariationID = res.Variation.Value, res.Variation.ID
	} else if f.Src.IsArchived {
		cf.ValueNull = true
	}
	return append(dst, cf), resultKey(f, &res)
}

// pushClient re-evaluates flags for a client session and sends the ones
// whose result changed.
func (h *Hub) pushClient(s *Session, flags []*envstate.Flag) {
	s.c.Lock()
	h.pushClientLocked(s, flags)
}

// pushClientLocked is pushClient for a caller that took the connection's
// write lock; it releases it.
func (h *Hub) pushClientLocked(s *Session, flags []*envstate.Flag) {
	c := s.c
	defer c.Unlock()
	cl := s.cl
	if !cl.hasUser {
		return
	}
	st := s.env.st.Load()
	cl.grow(st.Slots())
	sc := scratchPool.Get().(*scratch)
	defer putScratch(sc)
	sc.cflags = sc.cflags[:0]
	n := 0
	for _, f0 := range flags {
		f := st.FlagByID(f0.Src.ID)
		if f == nil {
			continue
		}
		n++
		var key uint32
		before := len(sc.cflags)
		sc.cflags, key = appendClientFlag(sc.cflags, f, st, &cl.euser)
		if cl.last[f.Slot] == key {
			sc.cflags = sc.cflags[:before]
			continue
		}
		cl.last[f.Slot] = key
	}
	h.m.Evaluations.Add(int64(n))
	if len(sc.cflags) == 0 {
		return
	}
	if c.WriteLocked(h.encodeClient(s, sc, "patch")) == nil {
		h.m.Pushes.Add(1)
		h.m.MsgOut.Add(1)
	}
}

// AppendClientFlags evaluates for u every flag of st updated after ts (all
// of them for ts 0) and appends the client-SDK flags (the polling
// endpoint's body).
func AppendClientFlags(dst []wire.ClientFlag, st *envstate.State, u *eval.User, ts int64) []wire.ClientFlag {
	for _, f := range st.FlagList() {
		if ts > 0 && f.Src.UpdatedAt <= ts {
			continue
		}
		dst, _ = appendClientFlag(dst, f, st, u)
	}
	return dst
}
