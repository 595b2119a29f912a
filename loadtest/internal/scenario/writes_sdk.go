package scenario

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/switchyard/switchyard/codec/secret"
)

// maxSDKMessage bounds one message an SDK connection of the writes
// scenario reads (a full sync of a large environment is tens of MB).
const maxSDKMessage = 256 << 20

// sdkPing is how often an SDK connection sends FeatBit's ping (the Node
// SDK's 18 s, a little less).
const sdkPing = 15 * time.Second

// sdkConn is one FeatBit server SDK: a streaming connection that records
// every state of the write flags it reads (Delivery), in order, and can
// reconnect as a FeatBit SDK does, asking only for the items updated after
// the newest updatedAt it holds. The deliveries of all its connections
// form one sequence.
type sdkConn struct {
	addr, secret, run string
	keys              map[string]int
	syncTimeout       time.Duration

	wmu sync.Mutex // one frame at a time on the current link
	l   *link      // the current connection (swapped by connect, under wmu)

	mu         sync.Mutex
	ds         []Delivery
	last       map[int]int64 // flag → marker of the last state read
	maxStamp   int64         // newest updatedAt read (the reconnect cursor)
	msgs       int
	reconnects int
	err        error // why a read loop ended on its own (nil: none did)
}

// link is one connection of an sdkConn.
type link struct {
	conn   net.Conn
	r      io.Reader
	since  int64 // the data-sync's timestamp (0: a full sync is expected)
	synced bool  // the answer to the data-sync was read (guarded by sdkConn.mu)
	done   chan struct{}
	quit   chan struct{}
	sync   chan struct{}
}

// dialSDK opens a server connection to the edge at addr, sends data-sync
// (timestamp 0) and waits for the full sync.
func dialSDK(ctx context.Context, addr, serverSecret, run string, keys map[string]int, syncTimeout time.Duration) (*sdkConn, error) {
	s := &sdkConn{addr: addr, secret: serverSecret, run: run, keys: keys, syncTimeout: syncTimeout, last: map[int]int64{}}
	if err := s.connect(ctx, 0); err != nil {
		return nil, err
	}
	return s, nil
}

// connect opens a link, sends data-sync with timestamp since and waits for
// its answer.
func (s *sdkConn) connect(ctx context.Context, since int64) error {
	url := fmt.Sprintf("ws://%s/streaming?type=server&token=%s", s.addr, secret.EncodeToken(s.secret, time.Now().UnixMilli(), 7))
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, br, _, err := ws.Dialer{}.Dial(dctx, url)
	if err != nil {
		return err
	}
	l := &link{conn: conn, r: conn, since: since, done: make(chan struct{}), quit: make(chan struct{}), sync: make(chan struct{})}
	if br != nil {
		l.r = io.MultiReader(br, conn)
	}
	l.r = bufio.NewReaderSize(l.r, 64<<10)
	s.wmu.Lock()
	s.l = l
	s.wmu.Unlock()
	go s.readLoop(l)
	if err := s.send(`{"messageType":"data-sync","data":{"timestamp":` + strconv.FormatInt(since, 10) + `}}`); err != nil {
		s.closeLink(l)
		return err
	}
	select {
	case <-l.sync:
	case <-l.done:
		s.closeLink(l)
		s.mu.Lock()
		defer s.mu.Unlock()
		return fmt.Errorf("before the data-sync answer: %w", s.err)
	case <-time.After(s.syncTimeout):
		s.closeLink(l)
		return fmt.Errorf("no data-sync answer within %s", s.syncTimeout)
	case <-ctx.Done():
		s.closeLink(l)
		return ctx.Err()
	}
	go s.pingLoop(l)
	return nil
}

// reconnect closes the current connection and opens a new one asking for
// the items updated after the newest updatedAt read, as a FeatBit SDK does.
func (s *sdkConn) reconnect(ctx context.Context) error {
	s.wmu.Lock()
	l := s.l
	s.wmu.Unlock()
	s.closeLink(l)
	s.mu.Lock()
	since := s.maxStamp
	s.reconnects++
	s.mu.Unlock()
	return s.connect(ctx, since)
}

func (s *sdkConn) send(msg string) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return wsutil.WriteClientText(s.l.conn, []byte(msg))
}

func (s *sdkConn) pingLoop(l *link) {
	t := time.NewTicker(sdkPing)
	defer t.Stop()
	for {
		select {
		case <-l.quit:
			return
		case <-l.done:
			return
		case <-t.C:
			_ = s.send(`{"messageType":"ping","data":{}}`)
		}
	}
}

// close closes the current connection and waits for its read loop.
func (s *sdkConn) close() {
	s.wmu.Lock()
	l := s.l
	s.wmu.Unlock()
	s.closeLink(l)
}

func (s *sdkConn) closeLink(l *link) {
	select {
	case <-l.quit:
	default:
		close(l.quit)
	}
	s.wmu.Lock()
	_ = ws.WriteFrame(l.conn, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))))
	s.wmu.Unlock()
	_ = l.conn.Close()
	<-l.done
}

// deliveries returns a copy of what the SDK read, and why a connection
// stopped reading on its own (nil if none did).
func (s *sdkConn) deliveries() ([]Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery(nil), s.ds...), s.err
}

// reconnected is how many times the SDK reconnected.
func (s *sdkConn) reconnected() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reconnects
}

// has reports whether the last state read of every flag in want is the
// marker given.
func (s *sdkConn) has(want map[int]int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for f, m := range want {
		if s.last[f] != m {
			return false
		}
	}
	return true
}

func (s *sdkConn) failed(l *link, err error) {
	select {
	case <-l.quit: // closed by us
		return
	default:
	}
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
}

func (s *sdkConn) readLoop(l *link) {
	defer close(l.done)
	var frag []byte
	for {
		h, err := ws.ReadHeader(l.r)
		if err == nil && h.Length > maxSDKMessage-int64(len(frag)) {
			err = fmt.Errorf("message over %d bytes", maxSDKMessage)
		}
		var p []byte
		if err == nil {
			p = make([]byte, h.Length)
			_, err = io.ReadFull(l.r, p)
		}
		if err != nil {
			s.failed(l, err)
			return
		}
		if h.Masked {
			ws.Cipher(p, h.Mask, 0)
		}
		switch h.OpCode {
		case ws.OpPing:
			s.wmu.Lock()
			_ = ws.WriteFrame(l.conn, ws.MaskFrame(ws.NewPongFrame(p)))
			s.wmu.Unlock()
			continue
		case ws.OpPong:
			continue
		case ws.OpClose:
			code, reason := ws.ParseCloseFrameData(p)
			s.failed(l, fmt.Errorf("closed by the edge: %d %s", code, reason))
			return
		}
		frag = append(frag, p...)
		if !h.Fin {
			continue
		}
		msg := frag
		frag = nil
		if err := s.message(l, msg, time.Now().UnixNano()); err != nil {
			s.failed(l, err)
			return
		}
	}
}

// serverMessage is the part of a FeatBit server data-sync message the
// writes scenario reads.
type serverMessage struct {
	MessageType string `json:"messageType"`
	Data        struct {
		EventType    string `json:"eventType"`
		FeatureFlags []struct {
			Key        string `json:"key"`
			Variations []struct {
				Value string `json:"value"`
			} `json:"variations"`
			UpdatedAt time.Time `json:"updatedAt"`
		} `json:"featureFlags"`
	} `json:"data"`
}

func (s *sdkConn) message(l *link, p []byte, recv int64) error {
	var m serverMessage
	if err := json.Unmarshal(p, &m); err != nil {
		return fmt.Errorf("message %d: %w", s.msgs, err)
	}
	if m.MessageType != "data-sync" {
		return nil
	}
	ev := m.Data.EventType
	s.mu.Lock()
	defer s.mu.Unlock()
	if !l.synced {
		// the answer to the data-sync: a full sync for timestamp 0, the
		// items updated since for a reconnect
		if l.since == 0 && ev != "full" {
			return fmt.Errorf("first data-sync is %q, not full", ev)
		}
		l.synced = true
		defer close(l.sync)
	} else if ev == "full" {
		return errors.New("a second full sync on one connection")
	}
	full := ev == "full" && l.since == 0
	n := s.msgs
	s.msgs++
	for _, f := range m.Data.FeatureFlags {
		at := f.UpdatedAt.UnixMilli()
		s.maxStamp = max(s.maxStamp, at)
		idx, ok := s.keys[f.Key]
		if !ok {
			continue
		}
		marker := int64(-1)
		if len(f.Variations) == 1 {
			marker = parseMarker(s.run, f.Variations[0].Value)
		}
		s.ds = append(s.ds, Delivery{Flag: idx, Marker: marker, UpdatedAt: at, RecvNs: recv, Msg: n, Full: full})
		s.last[idx] = marker
	}
	return nil
}
