// Package consume is the ingest loop of analytics: a franz-go consumer group
// reads codec.InsightBatch records from the insight topic, buffers their events
// column by column (chstore.Columns) and hands full buffers to a Writer (the
// ClickHouse store, chstore), committing Kafka offsets only after the Writer accepted the
// buffer (at-least-once).
//
// Flow control: a buffer is flushed when it holds BatchRows events or its
// oldest event has waited FlushInterval, whichever comes first. The flush runs
// in the background while the next buffer fills (at most one in flight, so
// commits stay in order). While a flush fails (ClickHouse down), it is retried
// with exponential backoff; the loop fills the next buffer up to BatchRows and
// then stops polling: Kafka keeps the backlog, memory stays at two buffers plus
// the client's bounded fetch buffer, and ingest resumes where it stopped.
//
// Rebalances: when partitions are revoked, the loop writes and commits what it
// buffered before the callback returns (bounded by revokeTimeout), so the next
// owner does not re-insert it.
//
// Duplicates: an event can reach the Writer twice (a flush that timed out
// after ClickHouse stored it; a crash between insert and offset commit; a
// rebalance during a ClickHouse outage). Every event carries an id derived from (partition, offset, index
// in the record), so the copies are identical rows of a
// ReplacingMergeTree and collapse (see package chstore). Counters report the
// retried flushes.
//
// Undecodable records are counted, logged (at most once per 10 s) and skipped;
// their offsets are committed with the next flush.
//
// A Consumer runs one loop (Run) and is not otherwise safe for concurrent use,
// except Stats, which may be called at any time.
package consume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tinylib/msgp/msgp"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/switchyard/switchyard/analytics/internal/chstore"
	"github.com/switchyard/switchyard/analytics/internal/metrics"
	"github.com/switchyard/switchyard/codec"
)

// Writer stores a buffer of events; it must be all-or-nothing per table (a
// failed Write is retried with the same buffer).
type Writer interface {
	Write(ctx context.Context, c *chstore.Columns) error
}

// Config configures a Consumer.
type Config struct {
	Brokers       []string
	Topic         string        // full topic name, prefix included
	Group         string        // consumer group, "sy-analytics"
	BatchRows     int           // flush at this many events (default 50,000)
	FlushInterval time.Duration // or when the oldest buffered event waited this long (default 1s)
	MaxBackoff    time.Duration // retry delay cap while the Writer fails (default 5s)
	Logger        *slog.Logger
	// ClientOpts are appended to the franz-go options (tests: heartbeat interval).
	ClientOpts []kgo.Opt
}

// Stats are the ingest counters.
type Stats struct {
	Records      uint64 `json:"records"`      // Kafka records consumed
	Consumed     uint64 `json:"consumed"`     // events decoded from them (buffered for insert)
	Events       uint64 `json:"events"`       // events written
	BadRecords   uint64 `json:"badRecords"`   // undecodable records skipped
	Flushes      uint64 `json:"flushes"`      // successful flushes
	FlushErrors  uint64 `json:"flushErrors"`  // failed flush attempts (each one retried)
	CommitErrors uint64 `json:"commitErrors"` // failed offset commits (records will be re-delivered)
	LagMs        int64  `json:"lagMs"`        // record time → flushed, of the last flush's newest record
	WriteMs      uint64 `json:"writeMs"`      // total time spent in successful Writes (ClickHouse inserts)
}

// Consumer is the ingest loop.
type Consumer struct {
	cfg Config
	cl  *kgo.Client
	w   Writer
	log *slog.Logger

	records, consumed, events, bad, flushes, flushErrs, commitErrs, writeMs atomic.Uint64
	lag                                                                     atomic.Int64

	insertSeconds *metrics.Histogram // duration of successful Writes
	batchRows     *metrics.Histogram // rows per successful Write
	parts         partitions         // per-partition offsets, for the lag gauge

	badLog   throttle
	flushLog throttle

	// revocation handshake (see onRevoked)
	revoke   chan chan struct{} // cap 1
	runDone  chan struct{}      // closed when Run returns
	pollMu   sync.Mutex         // guards pollStop and the send on revoke
	pollStop context.CancelFunc // cancels the current PollRecords
}

// New creates the Kafka client (it connects lazily) for the Consumer.
func New(cfg Config, w Writer) (*Consumer, error) {
	if len(cfg.Brokers) == 0 || cfg.Topic == "" || cfg.Group == "" {
		return nil, errors.New("consume: brokers, topic and group are required")
	}
	if cfg.BatchRows <= 0 {
		cfg.BatchRows = 50_000
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Consumer{cfg: cfg, w: w, log: cfg.Logger, revoke: make(chan chan struct{}, 1), runDone: make(chan struct{}),
		insertSeconds: metrics.NewHistogram(insertBuckets...), batchRows: metrics.NewHistogram(batchBuckets...)}
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.OnPartitionsRevoked(c.onRevoked),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Topic),
		kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(16 << 20),
		kgo.AllowAutoTopicCreation(),
	}, cfg.ClientOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("cannot create Kafka consumer: %w", err)
	}
	c.cl = cl
	return c, nil
}

// revokeTimeout bounds how long a rebalance waits for the buffered events of
// the revoked partitions to be written and committed (during a ClickHouse
// outage it gives up: those records are re-delivered to the new owner).
const revokeTimeout = 10 * time.Second

// onRevoked runs in franz-go's group goroutine when partitions are taken
// away (rebalance, leaving). It asks the Run loop to write and commit what it
// buffered, interrupting a blocked poll, and waits for it, so the partitions'
// next owner starts after the last inserted record instead of re-inserting
// (duplicates would collapse anyway; this avoids them).
func (c *Consumer) onRevoked(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
	defer c.parts.drop(revoked[c.cfg.Topic])
	ack := make(chan struct{})
	c.pollMu.Lock()
	select {
	case c.revoke <- ack:
	default: // a request is already pending (Run not running)
		c.pollMu.Unlock()
		return
	}
	if c.pollStop != nil {
		c.pollStop()
	}
	c.pollMu.Unlock()
	t := time.NewTimer(revokeTimeout)
	defer t.Stop()
	select {
	case <-ack:
	case <-c.runDone:
	case <-t.C:
		c.log.Warn("analytics: rebalance did not wait for the pending insert; records will be re-delivered")
	}
}

// Stats returns the counters.
func (c *Consumer) Stats() Stats {
	return Stats{Records: c.records.Load(), Consumed: c.consumed.Load(), Events: c.events.Load(), BadRecords: c.bad.Load(),
		Flushes: c.flushes.Load(), FlushErrors: c.flushErrs.Load(), CommitErrors: c.commitErrs.Load(), LagMs: c.lag.Load(),
		WriteMs: c.writeMs.Load()}
}

// maxRecordBytes bounds a record value; larger ones are rejected as bad.
const maxRecordBytes = 16 << 20

// DecodeRecord decodes one record value into b (reusing b's slices). It fails
// on malformed msgp and on trailing bytes.
//
// The generated decoder allocates an array's declared length before reading
// its elements, so a 6-byte record declaring 2³² evaluations would allocate
// hundreds of GiB (found by FuzzDecodeInsightRecord). msgp.Skip first walks the
// whole value (bounded nesting), which proves every declared array has its
// elements present; allocation is then bounded by the record size.
func DecodeRecord(value []byte, b *codec.InsightBatch) error {
	if len(value) > maxRecordBytes {
		return fmt.Errorf("cannot decode insight batch: %d bytes is over the %d limit", len(value), maxRecordBytes)
	}
	if _, err := msgp.Skip(value); err != nil {
		return fmt.Errorf("cannot decode insight batch: %w", err)
	}
	rest, err := b.UnmarshalMsg(value)
	if err != nil {
		return fmt.Errorf("cannot decode insight batch: %w", err)
	}
	if len(rest) != 0 {
		return fmt.Errorf("cannot decode insight batch: %d trailing bytes", len(rest))
	}
	if n := len(b.Evals) + len(b.Metrics); n > MaxEventsPerRecord {
		return fmt.Errorf("cannot decode insight batch: %d events is over the %d limit", n, MaxEventsPerRecord)
	}
	return nil
}

// Event id layout: partition (12 bits) | offset (low 32 bits) | index in the
// record (20 bits).
const (
	idIndexBits  = 20
	idOffsetBits = 32
	// MaxEventsPerRecord bounds the events of one record (more is a bad record),
	// so the index never wraps.
	MaxEventsPerRecord = 1 << idIndexBits
)

// EventID is the id of the i-th event of the record at (partition, offset):
// the same on every re-delivery, and increasing within a partition so a batch
// arrives nearly sorted by the tables' sorting key (hashed ids halved the
// insert rate). Wrap-around cannot collide in practice: ids only have to
// differ within one (env, flag or event, second) group of the sorting key, and
// two records 2³² offsets apart are far more than a second apart; partition
// numbers wrap at 4096.
func EventID(partition int32, offset int64, i int) uint64 {
	return uint64(partition)&0xfff<<(idOffsetBits+idIndexBits) |
		uint64(offset)&(1<<idOffsetBits-1)<<idIndexBits |
		uint64(i)&(1<<idIndexBits-1)
}

// flight is a buffer being written in the background and the newest record
// per partition it holds (committed once the write succeeded).
type flight struct {
	cols   *chstore.Columns
	recs   []*kgo.Record
	newest time.Time
	done   chan error
}

// Run consumes until ctx is done or the client is closed. One buffer is
// written in the background while the next one fills (at most one write in
// flight, so offsets are committed in order); when the write is slower than
// Kafka (or failing), filling stops at BatchRows and polling pauses. On return
// it hands over what it holds and gives the writes 5 s to finish.
func (c *Consumer) Run(ctx context.Context) error {
	defer close(c.runDone)
	// Writes use their own context: cancelling Run must not abort an insert
	// half way. It is cancelled after the shutdown grace period.
	wctx, wcancel := context.WithCancel(context.Background())
	defer wcancel()
	var (
		bufs     [2]chstore.Columns
		cur      = &bufs[0]
		batch    codec.InsightBatch
		last     = map[int32]*kgo.Record{} // newest record per partition in cur
		deadline time.Time
		inflight *flight
	)
	complete := func(err error) {
		f := inflight
		inflight = nil
		if err != nil { // only when wctx was cancelled: the records stay uncommitted
			c.log.Warn("analytics: insert abandoned at shutdown; records will be re-delivered", "err", err)
			return
		}
		c.events.Add(uint64(f.cols.Rows()))
		c.lag.Store(time.Since(f.newest).Milliseconds())
		if err := c.cl.CommitRecords(wctx, f.recs...); err != nil {
			c.commitErrs.Add(1)
			c.log.Warn("analytics: offset commit failed; records will be re-delivered (duplicates collapse by event id)", "err", err)
		} else {
			for _, r := range f.recs {
				c.parts.committed(r.Partition, r.Offset+1)
			}
		}
		f.cols.Reset()
	}
	// wait waits for the in-flight write (or ctx).
	wait := func(ctx context.Context) bool {
		if inflight == nil {
			return true
		}
		select {
		case err := <-inflight.done:
			complete(err)
			return true
		case <-ctx.Done():
			return false
		}
	}
	// start hands cur to a background write once the previous one is done.
	start := func(ctx context.Context) bool {
		if len(last) == 0 {
			return true
		}
		if !wait(ctx) {
			return false
		}
		f := &flight{cols: cur, done: make(chan error, 1)}
		for _, r := range last {
			f.recs = append(f.recs, r)
			if r.Timestamp.After(f.newest) {
				f.newest = r.Timestamp
			}
		}
		clear(last)
		go func() { f.done <- c.flush(wctx, f.cols) }()
		inflight = f
		if cur == &bufs[0] {
			cur = &bufs[1]
		} else {
			cur = &bufs[0]
		}
		return true
	}
	defer func() {
		gctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if !start(gctx) || !wait(gctx) {
			c.log.Warn("analytics: buffered events not written at shutdown; they will be re-delivered")
		}
	}()
	for {
		timeout := c.cfg.FlushInterval
		if len(last) > 0 {
			timeout = time.Until(deadline)
		}
		if timeout > 0 {
			pctx, cancel := context.WithTimeout(ctx, timeout)
			c.pollMu.Lock()
			c.pollStop = cancel
			if len(c.revoke) > 0 {
				cancel()
			}
			c.pollMu.Unlock()
			fetches := c.cl.PollRecords(pctx, 1000)
			cancel()
			if fetches.IsClientClosed() || ctx.Err() != nil {
				return nil
			}
			fetches.EachError(func(topic string, p int32, err error) {
				if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
					c.log.Warn("analytics: fetch error", "topic", topic, "partition", p, "err", err)
				}
			})
			fetches.EachPartition(func(p kgo.FetchTopicPartition) {
				if p.Err == nil {
					first := int64(-1)
					if len(p.Records) > 0 {
						first = p.Records[0].Offset
					}
					c.parts.fetched(p.Partition, p.HighWatermark, first)
				}
			})
			fetches.EachRecord(func(r *kgo.Record) {
				c.records.Add(1)
				if len(last) == 0 {
					deadline = time.Now().Add(c.cfg.FlushInterval)
				}
				last[r.Partition] = r
				if err := DecodeRecord(r.Value, &batch); err != nil {
					c.bad.Add(1)
					if n, ok := c.badLog.allow(); ok {
						c.log.Warn("analytics: skipping undecodable insight record", "partition", r.Partition,
							"offset", r.Offset, "err", err, "skippedSinceLastLog", n)
					}
					return
				}
				c.consumed.Add(uint64(len(batch.Evals) + len(batch.Metrics)))
				p, off := r.Partition, r.Offset
				cur.Add(&batch, r.Timestamp.UnixMilli(), func(i int) uint64 { return EventID(p, off, i) })
			})
		}
		select {
		case ack := <-c.revoke: // rebalance: write and commit everything before the partitions go
			rctx, cancel := context.WithTimeout(ctx, revokeTimeout)
			start(rctx)
			wait(rctx)
			cancel()
			close(ack)
		default:
		}
		if inflight != nil { // commit a finished write promptly
			select {
			case err := <-inflight.done:
				complete(err)
			default:
			}
		}
		if len(last) > 0 && (cur.Rows() >= c.cfg.BatchRows || !time.Now().Before(deadline)) {
			if !start(ctx) {
				return nil // ctx done while ClickHouse was down: nothing lost, the records stay uncommitted
			}
		}
	}
}

// flush writes cols, retrying with backoff until it succeeds or ctx is done.
func (c *Consumer) flush(ctx context.Context, cols *chstore.Columns) error {
	backoff := 100 * time.Millisecond
	for {
		t0 := time.Now()
		err := c.w.Write(ctx, cols)
		if err == nil {
			d := time.Since(t0)
			c.writeMs.Add(uint64(d.Milliseconds()))
			c.insertSeconds.Observe(d.Seconds())
			c.batchRows.Observe(float64(cols.Rows()))
			c.flushes.Add(1)
			return nil
		}
		c.flushErrs.Add(1)
		if n, ok := c.flushLog.allow(); ok {
			c.log.Warn("analytics: ClickHouse insert failed; consumption paused, retrying", "rows", cols.Rows(),
				"err", err, "failuresSinceLastLog", n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, c.cfg.MaxBackoff)
	}
}

// Close leaves the group and closes the client. Call after Run returned.
func (c *Consumer) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.cl.LeaveGroupContext(ctx)
	c.cl.Close()
}

// throttle allows one event per 10 s and counts the suppressed ones.
type throttle struct {
	next       atomic.Int64
	suppressed atomic.Uint64
}

func (t *throttle) allow() (suppressed uint64, ok bool) {
	now := time.Now().UnixNano()
	n := t.next.Load()
	if now < n || !t.next.CompareAndSwap(n, now+int64(10*time.Second)) {
		t.suppressed.Add(1)
		return 0, false
	}
	return t.suppressed.Swap(0), true
}
