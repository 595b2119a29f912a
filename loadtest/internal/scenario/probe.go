package scenario

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/switchyard/switchyard/codec/secret"
)

// maxProbeBytes bounds the full sync the probe reads (an edge is trusted,
// but a wrong -target must not fill the harness's memory).
const maxProbeBytes = 1 << 30

// Probe is what one server-SDK full sync showed.
type Probe struct {
	Newest   int64         // newest updatedAt (Unix ms) of any flag or segment
	Flags    int           // flags in the full sync
	Segments int           // segments in the full sync
	Bytes    int           // message size
	Took     time.Duration // data-sync written → full sync read
}

// ProbeFullSync opens one server-SDK streaming connection to target, asks
// for a full sync (timestamp 0) and returns its newest item timestamp: what
// a reconnecting FeatBit SDK sends as its data-sync timestamp.
func ProbeFullSync(ctx context.Context, target, serverSecret string, timeout time.Duration) (Probe, error) {
	return probeSync(ctx, target, serverSecret, 0, timeout)
}

// probeSync is ProbeFullSync for a data-sync from timestamp ts: with ts > 0
// the answer is a patch of the items updated after ts (cheap to ask for and
// to read, even in a large environment).
func probeSync(ctx context.Context, target, serverSecret string, ts int64, timeout time.Duration) (Probe, error) {
	var p Probe
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	u := &url.URL{Scheme: "ws", Host: target, Path: "/streaming",
		RawQuery: "type=server&token=" + secret.EncodeToken(serverSecret, time.Now().UnixMilli(), 7)}
	c, _, _, err := ws.Dialer{Timeout: timeout}.Dial(ctx, u.String())
	if err != nil {
		return p, fmt.Errorf("probe full sync: %w", err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	t0 := time.Now()
	req := fmt.Appendf(nil, `{"messageType":"data-sync","data":{"timestamp":%d}}`, max(ts, 0))
	if err := wsutil.WriteClientText(c, req); err != nil {
		return p, fmt.Errorf("probe full sync: %w", err)
	}
	rd := &wsutil.Reader{Source: c, State: ws.StateClientSide, CheckUTF8: false,
		OnIntermediate: wsutil.ControlFrameHandler(c, ws.StateClientSide), MaxFrameSize: maxProbeBytes}
	for {
		h, err := rd.NextFrame()
		if err != nil {
			return p, fmt.Errorf("probe full sync: %w", err)
		}
		if h.OpCode.IsControl() {
			if err := rd.OnIntermediate(h, rd); err != nil {
				return p, fmt.Errorf("probe full sync: %w", err)
			}
			continue
		}
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(&limitedReader{r: rd, n: maxProbeBytes}); err != nil {
			return p, fmt.Errorf("probe full sync: %w", err)
		}
		took := time.Since(t0)
		if h.OpCode != ws.OpText {
			continue
		}
		want := "full"
		if ts > 0 {
			want = "patch"
		}
		p, err = parseSync(buf.Bytes(), want)
		if errors.Is(err, errNotFullSync) {
			continue
		}
		p.Took = took
		return p, err
	}
}

var errNotFullSync = errors.New("not the data-sync asked for")

// parseFullSync reads a FeatBit server full sync.
func parseFullSync(b []byte) (Probe, error) { return parseSync(b, "full") }

// parseSync reads a FeatBit server data-sync of event type want ("full" or
// "patch"; errNotFullSync for any other message).
func parseSync(b []byte, want string) (Probe, error) {
	type item struct {
		UpdatedAt stamp `json:"updatedAt"`
	}
	var m struct {
		MessageType string `json:"messageType"`
		Data        struct {
			EventType    string `json:"eventType"`
			FeatureFlags []item `json:"featureFlags"`
			Segments     []item `json:"segments"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return Probe{}, fmt.Errorf("probe full sync: %w", err)
	}
	if m.MessageType != "data-sync" || m.Data.EventType != want {
		return Probe{}, errNotFullSync
	}
	p := Probe{Flags: len(m.Data.FeatureFlags), Segments: len(m.Data.Segments), Bytes: len(b)}
	for _, l := range [][]item{m.Data.FeatureFlags, m.Data.Segments} {
		for _, it := range l {
			p.Newest = max(p.Newest, int64(it.UpdatedAt))
		}
	}
	if p.Newest <= 0 && want == "full" {
		return p, errors.New("probe full sync: no item has an updatedAt")
	}
	return p, nil
}

// limitedReader fails (rather than truncating) past n bytes.
type limitedReader struct {
	r interface{ Read([]byte) (int, error) }
	n int
}

func (l *limitedReader) Read(b []byte) (int, error) {
	if l.n <= 0 {
		return 0, fmt.Errorf("message larger than %d bytes", maxProbeBytes)
	}
	if len(b) > l.n {
		b = b[:l.n]
	}
	n, err := l.r.Read(b)
	l.n -= n
	return n, err
}

// stamp is an item's updatedAt as Unix ms: FeatBit's RFC 3339 string with
// milliseconds ("2023-01-28T05:49:35.885Z"; the SDKs send it back as
// Date.getTime()) or a number.
type stamp int64

func (s *stamp) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return fmt.Errorf("updatedAt: %w", err)
		}
		*s = stamp(t.UnixMilli())
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("updatedAt: %w", err)
	}
	*s = stamp(n)
	return nil
}
