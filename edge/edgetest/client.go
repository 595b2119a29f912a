package edgetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/switchyard/switchyard/codec/secret"
)

// Client is a minimal SDK-style streaming client for tests.
type Client struct {
	Conn     net.Conn
	Protocol string // negotiated subprotocol
	t        testing.TB
	r        io.Reader
}

// StreamURL returns the streaming URL FeatBit SDKs build for secret and
// typ ("server" or "client"), with a fresh token.
func StreamURL(addr, typ, sec string) string {
	return fmt.Sprintf("ws://%s/streaming?type=%s&token=%s", addr, typ, secret.EncodeToken(sec, time.Now().UnixMilli(), 7))
}

// Dial connects to url (see StreamURL) offering protocols.
func Dial(t testing.TB, url string, protocols ...string) *Client {
	t.Helper()
	c, err := DialErr(url, protocols...)
	if err != nil {
		t.Fatalf("edgetest: dial %s: %v", url, err)
	}
	c.t = t
	t.Cleanup(func() { c.Conn.Close() })
	return c
}

// DialErr is Dial returning the error.
func DialErr(url string, protocols ...string) (*Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d := ws.Dialer{Protocols: protocols}
	conn, br, hs, err := d.Dial(ctx, url)
	if err != nil {
		return nil, err
	}
	c := &Client{Conn: conn, Protocol: hs.Protocol, r: conn}
	if br != nil { // the server sent frames right after the upgrade (a close frame)
		c.r = io.MultiReader(br, conn)
	}
	return c, nil
}

// Send writes one text message.
func (c *Client) Send(msg string) error { return wsutil.WriteClientText(c.Conn, []byte(msg)) }

// SendBinary writes one binary message.
func (c *Client) SendBinary(msg []byte) error { return wsutil.WriteClientBinary(c.Conn, msg) }

// CloseError is returned by Read when the server closed the connection.
type CloseError struct {
	Code   ws.StatusCode
	Reason string
}

func (e *CloseError) Error() string { return fmt.Sprintf("closed %d %q", e.Code, e.Reason) }

// Read returns the next data message (answering pings), waiting at most d.
func (c *Client) Read(d time.Duration) (ws.OpCode, []byte, error) {
	_ = c.Conn.SetReadDeadline(time.Now().Add(d))
	defer c.Conn.SetReadDeadline(time.Time{})
	for {
		h, err := ws.ReadHeader(c.r)
		if err != nil {
			return 0, nil, err
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(c.r, p); err != nil {
			return 0, nil, err
		}
		if h.Masked {
			ws.Cipher(p, h.Mask, 0)
		}
		switch h.OpCode {
		case ws.OpClose:
			code, reason := ws.ParseCloseFrameData(p)
			return h.OpCode, p, &CloseError{Code: code, Reason: reason}
		case ws.OpPing:
			_ = wsutil.WriteClientMessage(c.Conn, ws.OpPong, p)
			continue
		case ws.OpPong:
			continue
		}
		return h.OpCode, p, nil
	}
}

// Message is a decoded JSON streaming message.
type Message struct {
	MessageType string          `json:"messageType"`
	Data        json.RawMessage `json:"data"`
}

// ReadJSON reads the next message and decodes it.
func (c *Client) ReadJSON(d time.Duration) (*Message, error) {
	_, p, err := c.Read(d)
	if err != nil {
		return nil, err
	}
	m := new(Message)
	if err := json.Unmarshal(p, m); err != nil {
		return nil, fmt.Errorf("edgetest: bad JSON %q: %w", p, err)
	}
	return m, nil
}

// ExpectClose reads until the server's close frame and returns its code.
func (c *Client) ExpectClose(d time.Duration) (ws.StatusCode, error) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		_, _, err := c.Read(time.Until(deadline))
		var ce *CloseError
		if errors.As(err, &ce) {
			return ce.Code, nil
		}
		if err != nil {
			return 0, err
		}
	}
	return 0, errors.New("edgetest: no close frame")
}
