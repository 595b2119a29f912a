package fleet

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/cloudwego/netpoll"
	"github.com/gobwas/ws"
	"github.com/tinylib/msgp/msgp"
)

// conn is one held connection: ~40 bytes beside netpoll's own state.
// wmu serializes writes (netpoll rejects concurrent Write calls); frag is
// only used for fragmented messages.
type conn struct {
	c       netpoll.Connection
	f       *Fleet
	wmu     sync.Mutex
	client  bool
	closed  bool // a close frame was received (guarded by netpoll's serial OnRequest)
	lastSeq int32
	frag    []byte
}

func (cn *conn) send(frame []byte) error {
	cn.wmu.Lock()
	_, err := cn.c.Write(frame)
	cn.wmu.Unlock()
	return err
}

func (cn *conn) onClose(netpoll.Connection) error {
	cn.f.open.Add(-1)
	if !cn.f.closing.Load() {
		cn.f.lost.Add(1)
		if !cn.closed {
			cn.f.fail("lost: closed without close frame")
		}
	}
	return nil
}

// onRequest handles every complete frame in the input buffer. netpoll calls
// it serially per connection; partial frames block in readFrame until the
// rest arrives.
func (cn *conn) onRequest(_ context.Context, c netpoll.Connection) error {
	r := c.Reader()
	for r.Len() > 0 {
		op, fin, p, err := readFrame(r)
		if err != nil {
			_ = c.Close()
			return err
		}
		cn.handle(op, fin, p)
		_ = r.Release()
	}
	return nil
}

func (cn *conn) handle(op ws.OpCode, fin bool, p []byte) {
	f := cn.f
	switch op {
	case ws.OpClose:
		cn.closed = true
		if !f.closing.Load() {
			f.fail("lost: close " + strconv.Itoa(closeCode(p)))
		}
		_ = cn.c.Close()
		return
	case ws.OpPing:
		_ = cn.send(clientFrame(nil, ws.OpPong, p, [4]byte{9, 8, 7, 6}))
		return
	case ws.OpPong:
		return
	case ws.OpContinuation:
		cn.frag = append(cn.frag, p...)
		if !fin {
			return
		}
		p, cn.frag = cn.frag, nil
	default:
		if !fin {
			cn.frag = append(cn.frag[:0], p...)
			return
		}
	}
	f.message(p, &cn.lastSeq)
}

// message handles one complete text/binary message of an open connection;
// lastSeq is the connection's last push sequence (duplicate detection).
func (f *Fleet) message(p []byte, lastSeq *int32) {
	f.msgsIn.Add(1)
	recv := time.Now().UnixNano()
	switch messageType(p) {
	case "pong":
		f.pongs.Add(1)
	case "data-sync":
		f.patches.Add(1)
		seq, sent, ok := pushMarker(p)
		if !ok {
			return
		}
		if int32(seq) == *lastSeq {
			f.dupPushes.Add(1)
			return
		}
		*lastSeq = int32(seq)
		f.Push.Record(time.Duration(recv - sent))
		if seq > 0 && seq < len(f.pushes) {
			s := &f.pushes[seq]
			s.n.Add(1)
			s.sentNs.Store(sent)
			for {
				v := s.last.Load()
				if v >= recv || s.last.CompareAndSwap(v, recv) {
					break
				}
			}
			for {
				v := s.first.Load()
				if (v != 0 && v <= recv) || s.first.CompareAndSwap(v, recv) {
					break
				}
			}
		}
	}
}

var errFrameTooBig = errors.New("frame too big")

// readFrame reads one frame from r, blocking until it is complete. The
// payload aliases r's buffer and is valid until r.Release.
func readFrame(r netpoll.Reader) (op ws.OpCode, fin bool, payload []byte, err error) {
	h, err := r.Peek(2)
	if err != nil {
		return 0, false, nil, err
	}
	fin = h[0]&0x80 != 0
	op = ws.OpCode(h[0] & 0x0f)
	masked := h[1]&0x80 != 0
	l := int(h[1] & 0x7f)
	hl := 2
	switch l {
	case 126:
		hl += 2
	case 127:
		hl += 8
	}
	if masked {
		hl += 4
	}
	hb, err := r.Next(hl)
	if err != nil {
		return 0, false, nil, err
	}
	n := uint64(l)
	switch l {
	case 126:
		n = uint64(binary.BigEndian.Uint16(hb[2:4]))
	case 127:
		n = binary.BigEndian.Uint64(hb[2:10])
	}
	if n > MaxFrame {
		return 0, false, nil, errFrameTooBig
	}
	var mask [4]byte
	if masked {
		copy(mask[:], hb[hl-4:])
	}
	if n == 0 {
		return op, fin, nil, nil
	}
	payload, err = r.Next(int(n))
	if err != nil {
		return 0, false, nil, err
	}
	if masked {
		ws.Cipher(payload, mask, 0)
	}
	return op, fin, payload, nil
}

// clientFrame appends a masked single frame to dst.
func clientFrame(dst []byte, op ws.OpCode, payload []byte, mask [4]byte) []byte {
	dst = append(dst, 0x80|byte(op))
	switch n := len(payload); {
	case n < 126:
		dst = append(dst, 0x80|byte(n))
	case n < 1<<16:
		dst = append(dst, 0x80|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	dst = append(dst, mask[:]...)
	start := len(dst)
	dst = append(dst, payload...)
	ws.Cipher(dst[start:], mask, 0)
	return dst
}

func closeCode(p []byte) int {
	if len(p) < 2 {
		return 1005
	}
	return int(binary.BigEndian.Uint16(p))
}

var (
	keyMessageType = []byte(`"messageType":"`)
	keyEventType   = []byte(`"eventType":"`)
	msgpMessageTyp = []byte("messageType")
	msgpEventType  = []byte("eventType")
)

// messageType returns the FeatBit message type of a JSON or msgpack message
// without decoding it.
func messageType(p []byte) string {
	return stringAfter(p, keyMessageType, msgpMessageTyp)
}

func eventType(p []byte) string {
	return stringAfter(p, keyEventType, msgpEventType)
}

// stringAfter finds a JSON `"key":"value"` or a msgpack fixstr key followed
// by a fixstr value and returns value (interned for the known values).
func stringAfter(p, jsonKey, msgpKey []byte) string {
	if i := bytes.Index(p, jsonKey); i >= 0 {
		rest := p[i+len(jsonKey):]
		if j := bytes.IndexByte(rest, '"'); j >= 0 {
			return intern(rest[:j])
		}
		return ""
	}
	if i := bytes.Index(p, msgpKey); i >= 0 {
		rest := p[i+len(msgpKey):]
		if len(rest) > 0 && rest[0]&0xe0 == 0xa0 {
			n := int(rest[0] & 0x1f)
			if len(rest) > n {
				return intern(rest[1 : 1+n])
			}
		}
	}
	return ""
}

func intern(b []byte) string {
	switch string(b) {
	case "data-sync":
		return "data-sync"
	case "pong":
		return "pong"
	case "full":
		return "full"
	case "patch":
		return "patch"
	}
	return string(b)
}

// PushMarker returns the marker the harness puts in a changed flag's
// variation value: "lt~<seq>~<unix nanoseconds>".
func PushMarker(seq int, sent time.Time) string {
	return "lt~" + strconv.Itoa(seq) + "~" + strconv.FormatInt(sent.UnixNano(), 10)
}

var markerPrefix = []byte("lt~")

func pushMarker(p []byte) (seq int, sentNs int64, ok bool) {
	i := bytes.Index(p, markerPrefix)
	if i < 0 {
		return 0, 0, false
	}
	rest := p[i+3:]
	n, rest := digits(rest)
	if len(rest) == 0 || rest[0] != '~' {
		return 0, 0, false
	}
	t, _ := digits(rest[1:])
	if t == 0 {
		return 0, 0, false
	}
	return int(n), t, true
}

func digits(b []byte) (int64, []byte) {
	var v int64
	i := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		v = v*10 + int64(b[i]-'0')
	}
	return v, b[i:]
}

var (
	countries = []string{"FR", "US", "DE", "JP", "BR", "IN", "GB", "ES", "CA", "NG"}
	plans     = []string{"free", "pro", "enterprise"}
	devices   = []string{"ios", "android", "web"}
)

// appendClientSync appends a client-SDK data-sync request for a realistic
// user number i (key, name and custom properties like the JS SDK sends)
// holding data up to timestamp ts (0: none, a full sync).
func appendClientSync(b []byte, i int, ts int64) []byte {
	b = append(b, `{"messageType":"data-sync","data":{"timestamp":`...)
	b = strconv.AppendInt(b, ts, 10)
	b = append(b, `,"user":{"keyId":"lt-user-`...)
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, `","name":"Load Test User `...)
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, `","customizedProperties":[{"name":"country","value":"`...)
	b = append(b, countries[i%len(countries)]...)
	b = append(b, `"},{"name":"plan","value":"`...)
	b = append(b, plans[i%len(plans)]...)
	b = append(b, `"},{"name":"device","value":"`...)
	b = append(b, devices[i%len(devices)]...)
	b = append(b, `"},{"name":"age","value":"`...)
	b = strconv.AppendInt(b, int64(18+i%60), 10)
	b = append(b, `"},{"name":"appVersion","value":"3.`...)
	b = strconv.AppendInt(b, int64(i%12), 10)
	b = append(b, `.0"}]}}}`...)
	return b
}

// msgpack forms of the same requests, for the edge's msgpack subprotocol.

func mpPing() []byte {
	b := msgp.AppendMapHeader(nil, 2)
	b = msgp.AppendString(b, "messageType")
	b = msgp.AppendString(b, "ping")
	b = msgp.AppendString(b, "data")
	return msgp.AppendNil(b)
}

func mpServerSync(ts int64) []byte {
	b := msgp.AppendMapHeader(nil, 2)
	b = msgp.AppendString(b, "messageType")
	b = msgp.AppendString(b, "data-sync")
	b = msgp.AppendString(b, "data")
	b = msgp.AppendMapHeader(b, 1)
	b = msgp.AppendString(b, "timestamp")
	return msgp.AppendInt64(b, ts)
}

func mpClientSync(b []byte, i int, ts int64) []byte {
	b = msgp.AppendMapHeader(b, 2)
	b = msgp.AppendString(b, "messageType")
	b = msgp.AppendString(b, "data-sync")
	b = msgp.AppendString(b, "data")
	b = msgp.AppendMapHeader(b, 2)
	b = msgp.AppendString(b, "timestamp")
	b = msgp.AppendInt64(b, ts)
	b = msgp.AppendString(b, "user")
	b = msgp.AppendMapHeader(b, 3)
	b = msgp.AppendString(b, "keyId")
	b = msgp.AppendString(b, "lt-user-"+strconv.Itoa(i))
	b = msgp.AppendString(b, "name")
	b = msgp.AppendString(b, "Load Test User "+strconv.Itoa(i))
	b = msgp.AppendString(b, "customizedProperties")
	props := [][2]string{{"country", countries[i%len(countries)]}, {"plan", plans[i%len(plans)]},
		{"device", devices[i%len(devices)]}, {"age", strconv.Itoa(18 + i%60)}, {"appVersion", "3." + strconv.Itoa(i%12) + ".0"}}
	b = msgp.AppendArrayHeader(b, uint32(len(props)))
	for _, p := range props {
		b = msgp.AppendMapHeader(b, 2)
		b = msgp.AppendString(b, "name")
		b = msgp.AppendString(b, p[0])
		b = msgp.AppendString(b, "value")
		b = msgp.AppendString(b, p[1])
	}
	return b
}
