package scenario

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
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

// sdkConn is one FeatBit server-SDK streaming connection that records every
// state of the write flags it reads (Delivery), in order.
type sdkConn struct {
	conn net.Conn
	r    io.Reader
	run  string
	keys map[string]int

	wmu sync.Mutex // one frame at a time

	mu     sync.Mutex
	ds     []Delivery
	last   map[int]int64 // flag → marker of the last state read
	err    error         // why the read loop ended (nil: still reading or closed by us)
	done   chan struct{}
	quit   chan struct{}
	synced chan struct{}
}

// dialSDK opens a server connection to the edge at addr, sends data-sync
// (timestamp 0) and waits for the full sync.
func dialSDK(ctx context.Context, addr, serverSecret, run string, keys map[string]int, syncTimeout time.Duration) (*sdkConn, error) {
	url := fmt.Sprintf("ws://%s/streaming?type=server&token=%s", addr, secret.EncodeToken(serverSecret, time.Now().UnixMilli(), 7))
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, br, _, err := ws.Dialer{}.Dial(dctx, url)
	if err != nil {
		return nil, err
	}
	s := &sdkConn{conn: conn, r: conn, run: run, keys: keys, last: map[int]int64{},
		done: make(chan struct{}), quit: make(chan struct{}), synced: make(chan struct{})}
	if br != nil {
		s.r = io.MultiReader(br, conn)
	}
	s.r = bufio.NewReaderSize(s.r, 64<<10)
	go s.readLoop()
	if err := s.send(`{"messageType":"data-sync","data":{"timestamp":0}}`); err != nil {
		s.close()
		return nil, err
	}
	select {
	case <-s.synced:
	case <-s.done:
		s.close()
		return nil, fmt.Errorf("before the full sync: %w", s.err)
	case <-time.After(syncTimeout):
		s.close()
		return nil, fmt.Errorf("no full sync within %s", syncTimeout)
	case <-ctx.Done():
		s.close()
		return nil, ctx.Err()
	}
	go s.pingLoop()
	return s, nil
}

func (s *sdkConn) send(msg string) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return wsutil.WriteClientText(s.conn, []byte(msg))
}

func (s *sdkConn) pingLoop() {
	t := time.NewTicker(sdkPing)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-s.done:
			return
		case <-t.C:
			_ = s.send(`{"messageType":"ping","data":{}}`)
		}
	}
}

// close closes the connection and waits for the read loop.
func (s *sdkConn) close() {
	select {
	case <-s.quit:
	default:
		close(s.quit)
	}
	s.wmu.Lock()
	_ = ws.WriteFrame(s.conn, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))))
	s.wmu.Unlock()
	_ = s.conn.Close()
	<-s.done
}

// deliveries returns a copy of what the connection read, and why it
// stopped reading before close (nil if it did not).
func (s *sdkConn) deliveries() ([]Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery(nil), s.ds...), s.err
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

func (s *sdkConn) readLoop() {
	defer close(s.done)
	var frag []byte
	msgs := 0
	for {
		h, err := ws.ReadHeader(s.r)
		if err == nil && h.Length > maxSDKMessage-int64(len(frag)) {
			err = fmt.Errorf("message over %d bytes", maxSDKMessage)
		}
		var p []byte
		if err == nil {
			p = make([]byte, h.Length)
			_, err = io.ReadFull(s.r, p)
		}
		if err != nil {
			select {
			case <-s.quit: // closed by us
			default:
				s.mu.Lock()
				s.err = err
				s.mu.Unlock()
			}
			return
		}
		if h.Masked {
			ws.Cipher(p, h.Mask, 0)
		}
		switch h.OpCode {
		case ws.OpPing:
			s.wmu.Lock()
			_ = ws.WriteFrame(s.conn, ws.MaskFrame(ws.NewPongFrame(p)))
			s.wmu.Unlock()
			continue
		case ws.OpPong:
			continue
		case ws.OpClose:
			select {
			case <-s.quit:
			default:
				code, reason := ws.ParseCloseFrameData(p)
				s.mu.Lock()
				s.err = fmt.Errorf("closed by the edge: %d %s", code, reason)
				s.mu.Unlock()
			}
			return
		}
		frag = append(frag, p...)
		if !h.Fin {
			continue
		}
		msg := frag
		frag = nil
		if err := s.message(msg, msgs, time.Now().UnixNano()); err != nil {
			s.mu.Lock()
			s.err = err
			s.mu.Unlock()
			return
		}
		msgs++
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

func (s *sdkConn) message(p []byte, n int, recv int64) error {
	var m serverMessage
	if err := json.Unmarshal(p, &m); err != nil {
		return fmt.Errorf("message %d: %w", n, err)
	}
	if m.MessageType != "data-sync" {
		return nil
	}
	full := m.Data.EventType == "full"
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.synced:
		if full {
			return errors.New("a second full sync on one connection")
		}
	default:
		if !full {
			return fmt.Errorf("first data-sync is %q, not full", m.Data.EventType)
		}
		defer close(s.synced)
	}
	for _, f := range m.Data.FeatureFlags {
		idx, ok := s.keys[f.Key]
		if !ok {
			continue
		}
		marker := int64(-1)
		if len(f.Variations) == 1 {
			marker = parseMarker(s.run, f.Variations[0].Value)
		}
		s.ds = append(s.ds, Delivery{Flag: idx, Marker: marker, UpdatedAt: f.UpdatedAt.UnixMilli(), RecvNs: recv, Msg: n, Full: full})
		s.last[idx] = marker
	}
	return nil
}
