// Package delivery turns the edges' delivery reports (codec.DeliveryReport,
// read from "<prefix>sy.delivery" or handed over in process) into delivery
// receipts — how many of an environment's streaming connections, across
// all edges, hold a change, and when the last one got it — and into the
// live view of the SDKs connected to each environment.
//
// State is in memory and bounded: per edge, per environment it serves, the
// latest counts and the last MaxTimes (version, time) pairs of its change
// reports; per environment, the last MaxChanges request ids with their
// versions. An edge that misses three heartbeats is forgotten (it stopped,
// or it cannot reach Kafka; its connections then count nowhere). Nothing is
// stored: after a restart the next heartbeats rebuild the counts (within one
// interval), and receipts of changes made before it are answered from what
// the edges report from then on.
//
// A receipt counts connections, not SDK instances: a connection that opens
// after the change gets the current state in its full sync and counts as
// delivered; one that closes stops counting. Waiters (Wait) block on a
// broadcast channel replaced at every report, so a wait costs nothing
// between reports and returns at the first report that completes it.
package delivery

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/codec"
)

// Bounds of the state.
const (
	MaxChanges = 1024   // request ids remembered per environment
	MaxTimes   = 64     // (version, time) pairs remembered per edge and environment
	MaxEdges   = 4096   // edges tracked at once; reports of more are dropped
	MaxEnvs    = 100000 // environments per edge report considered
	MaxSDKs    = 64     // SDK kinds kept per edge and environment
)

// ErrUnknownChange: no publisher or edge reported this request id for the
// environment (not published yet, or older than the last MaxChanges).
var ErrUnknownChange = errors.New("delivery: unknown change")

// Tracker aggregates delivery reports. Safe for concurrent use.
type Tracker struct {
	now func() time.Time

	changeReports, heartbeats atomic.Int64

	mu      sync.Mutex
	edges   map[string]*edge
	changes map[string]*envChanges
	updated chan struct{} // closed and replaced at every report
}

type edge struct {
	seen     time.Time
	interval time.Duration
	envs     map[string]*edgeEnv
}

type edgeEnv struct {
	version        int64
	at             int64 // Unix ms of the report the counts are from
	server, client int32
	sdks           []codec.SDKCount
	times          []versionAt // change reports, oldest first, at most MaxTimes
}

type versionAt struct{ version, at int64 }

type envChanges struct {
	order []string // request ids, oldest first
	byRID map[string]change
}

type change struct{ version, at int64 }

// New returns an empty tracker; now may be nil (the clock).
func New(now func() time.Time) *Tracker {
	if now == nil {
		now = time.Now
	}
	return &Tracker{now: now, edges: map[string]*edge{}, changes: map[string]*envChanges{}, updated: make(chan struct{})}
}

// Published records a change control produced (its request id, the
// environment version it made and its time), so a receipt can be asked for
// before any edge reported it.
func (t *Tracker) Published(envID, requestID string, envVersion, at int64) {
	if requestID == "" {
		return
	}
	t.mu.Lock()
	t.remember(envID, requestID, envVersion, at)
	t.mu.Unlock()
}

// remember adds a request id to env's ring. t.mu is held.
func (t *Tracker) remember(envID, rid string, version, at int64) {
	ec := t.changes[envID]
	if ec == nil {
		ec = &envChanges{byRID: map[string]change{}}
		t.changes[envID] = ec
	}
	if _, ok := ec.byRID[rid]; ok {
		return
	}
	if len(ec.order) >= MaxChanges {
		delete(ec.byRID, ec.order[0])
		ec.order = ec.order[1:]
	}
	ec.order = append(ec.order, rid)
	ec.byRID[rid] = change{version: version, at: at}
}

// Observe applies one report.
func (t *Tracker) Observe(r *codec.DeliveryReport) {
	if r == nil || r.Edge == "" {
		return
	}
	if r.Heartbeat {
		t.heartbeats.Add(1)
	} else {
		t.changeReports.Add(1)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	t.expire(now)
	e := t.edges[r.Edge]
	if e == nil {
		if len(t.edges) >= MaxEdges {
			return
		}
		e = &edge{envs: map[string]*edgeEnv{}}
		t.edges[r.Edge] = e
	}
	e.seen = now
	e.interval = time.Duration(min(max(r.Interval, 100), 3_600_000)) * time.Millisecond
	envs := r.Envs
	if len(envs) > MaxEnvs {
		envs = envs[:MaxEnvs]
	}
	if r.Heartbeat { // every environment with connections is listed
		for id, ee := range e.envs {
			if !slices.ContainsFunc(envs, func(d codec.EnvDelivery) bool { return d.EnvID == id }) {
				ee.server, ee.client, ee.sdks, ee.at = 0, 0, nil, r.At
			}
		}
	}
	for i := range envs {
		d := &envs[i]
		ee := e.envs[d.EnvID]
		if ee == nil {
			ee = &edgeEnv{}
			e.envs[d.EnvID] = ee
		}
		if d.EnvVersion >= ee.version {
			ee.version = d.EnvVersion
		}
		if r.At >= ee.at {
			ee.at, ee.server, ee.client = r.At, max(d.Server, 0), max(d.Client, 0)
			if r.Heartbeat {
				ee.sdks = d.SDKs
				if len(ee.sdks) > MaxSDKs {
					ee.sdks = ee.sdks[:MaxSDKs]
				}
			}
		}
		if !r.Heartbeat {
			if len(ee.times) >= MaxTimes {
				ee.times = ee.times[1:]
			}
			at := r.At
			if d.DoneAt > 0 && d.DoneAt <= r.At {
				at = d.DoneAt // when the fan-out ended, not when the report was sent
			}
			ee.times = append(ee.times, versionAt{d.EnvVersion, at})
			if d.RequestID != "" {
				t.remember(d.EnvID, d.RequestID, d.EnvVersion, d.ChangeAt)
			}
		}
	}
	close(t.updated)
	t.updated = make(chan struct{})
}

// Reports returns how many change reports and heartbeats were observed.
func (t *Tracker) Reports() (changes, heartbeats int64) {
	return t.changeReports.Load(), t.heartbeats.Load()
}

// expire forgets edges that missed three heartbeats. t.mu is held.
func (t *Tracker) expire(now time.Time) {
	for id, e := range t.edges {
		if now.Sub(e.seen) > 3*e.interval {
			delete(t.edges, id)
		}
	}
}

// Counts are connection counts by SDK type.
type Counts struct {
	Server int `json:"server"`
	Client int `json:"client"`
	Total  int `json:"total"`
}

func (c *Counts) add(server, client int32) {
	c.Server += int(server)
	c.Client += int(client)
	c.Total += int(server) + int(client)
}

// EdgeReceipt is one edge's part of a receipt.
type EdgeReceipt struct {
	Edge        string `json:"edge"`
	EnvVersion  int64  `json:"envVersion"`
	Connections Counts `json:"connections"`
	Delivered   bool   `json:"delivered"`
	// DeliveredAt is when the edge reported the change fanned out (Unix
	// ms; 0 when it holds it from a later change or a load).
	DeliveredAt int64 `json:"deliveredAt,omitempty"`
}

// Receipt is how far one change has reached.
type Receipt struct {
	RequestID   string `json:"requestId"`
	EnvID       string `json:"envId"`
	EnvVersion  int64  `json:"envVersion"`
	ChangedAt   int64  `json:"changedAt,omitempty"` // Unix ms of the change
	Connections Counts `json:"connections"`         // connections of the environment on live edges
	Delivered   Counts `json:"delivered"`           // of those, holding the change
	// Fraction is Delivered.Total / Connections.Total (1 with no connections).
	Fraction float64 `json:"fraction"`
	// Complete: every live edge holds the change (every connection has it).
	Complete bool `json:"complete"`
	// DeliveredInMs: from the change to the last edge's report of it, once
	// complete and when every edge reported it from its fan-out.
	DeliveredInMs int64         `json:"deliveredInMs,omitempty"`
	Edges         []EdgeReceipt `json:"edges"`
}

// Receipt returns the receipt of envID's change requestID.
func (t *Tracker) Receipt(envID, requestID string) (*Receipt, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.receipt(envID, requestID)
}

func (t *Tracker) receipt(envID, rid string) (*Receipt, error) {
	t.expire(t.now())
	ch, ok := t.changes[envID].get(rid)
	if !ok {
		return nil, ErrUnknownChange
	}
	r := &Receipt{RequestID: rid, EnvID: envID, EnvVersion: ch.version, ChangedAt: ch.at, Edges: []EdgeReceipt{}, Complete: true}
	var last int64
	timed := true
	for id, e := range t.edges {
		ee := e.envs[envID]
		if ee == nil {
			continue
		}
		er := EdgeReceipt{Edge: id, EnvVersion: ee.version, Delivered: ee.version >= ch.version}
		er.Connections.add(ee.server, ee.client)
		r.Connections.add(ee.server, ee.client)
		if er.Delivered {
			r.Delivered.add(ee.server, ee.client)
			if at := ee.firstAt(ch.version); at != 0 {
				er.DeliveredAt = at
				last = max(last, at)
			} else if ee.server+ee.client > 0 {
				timed = false
			}
		} else if ee.server+ee.client > 0 {
			r.Complete = false
		}
		r.Edges = append(r.Edges, er)
	}
	sort.Slice(r.Edges, func(i, j int) bool { return r.Edges[i].Edge < r.Edges[j].Edge })
	r.Fraction = 1
	if r.Connections.Total > 0 {
		r.Fraction = float64(r.Delivered.Total) / float64(r.Connections.Total)
	}
	if r.Complete && timed && last != 0 && ch.at != 0 {
		r.DeliveredInMs = max(last-ch.at, 0)
	}
	return r, nil
}

func (ec *envChanges) get(rid string) (change, bool) {
	if ec == nil {
		return change{}, false
	}
	c, ok := ec.byRID[rid]
	return c, ok
}

// firstAt is when the edge reported fanning out version v or the first
// version after it (0 when it has no such report).
func (ee *edgeEnv) firstAt(v int64) int64 {
	i := sort.Search(len(ee.times), func(i int) bool { return ee.times[i].version >= v })
	if i == len(ee.times) || (i == 0 && ee.times[0].version > v) {
		return 0
	}
	return ee.times[i].at
}

// Wait returns the receipt once its Fraction reaches until (0 < until ≤ 1)
// or ctx ends; then it returns the last receipt (nil if the change stayed
// unknown) with ctx's error.
func (t *Tracker) Wait(ctx context.Context, envID, requestID string, until float64) (*Receipt, error) {
	for {
		t.mu.Lock()
		r, err := t.receipt(envID, requestID)
		ch := t.updated
		t.mu.Unlock()
		if err == nil && (r.Fraction >= until && (until < 1 || r.Complete)) {
			return r, nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return nil, err
			}
			return r, ctx.Err()
		case <-ch:
		case <-time.After(time.Second): // edges expire without a report
		}
	}
}

// SDKGroup is one kind of connection in the live view.
type SDKGroup struct {
	Type    string `json:"type"` // server or client
	SDK     string `json:"sdk"`  // as its User-Agent names it; "" unknown, "browser", "other"
	Count   int    `json:"count"`
	Expires int64  `json:"secretExpiresAt,omitempty"` // Unix ms of its secret's expiry
	// Expiring: its secret expires within the view's window.
	Expiring bool `json:"expiring,omitempty"`
	// Problem names a known protocol problem of this SDK version.
	Problem string `json:"problem,omitempty"`
}

// EdgeView is one edge's connections in the live view.
type EdgeView struct {
	Edge        string     `json:"edge"`
	EnvVersion  int64      `json:"envVersion"`
	Connections Counts     `json:"connections"`
	SDKs        []SDKGroup `json:"sdks"`
}

// View is the live view of an environment's connections.
type View struct {
	EnvID       string     `json:"envId"`
	Connections Counts     `json:"connections"`
	SDKs        []SDKGroup `json:"sdks"` // across edges
	Edges       []EdgeView `json:"edges"`
	Expiring    int        `json:"expiring"` // connections whose secret expires within the window
}

// View returns who is connected to envID now; secrets expiring before
// now+window are flagged.
func (t *Tracker) View(envID string, window time.Duration) *View {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	t.expire(now)
	v := &View{EnvID: envID, SDKs: []SDKGroup{}, Edges: []EdgeView{}}
	type key struct {
		typ, sdk string
		exp      int64
	}
	all := map[key]int{}
	horizon := now.Add(window).UnixMilli()
	for id, e := range t.edges {
		ee := e.envs[envID]
		if ee == nil || ee.server+ee.client == 0 {
			continue
		}
		ev := EdgeView{Edge: id, EnvVersion: ee.version, SDKs: []SDKGroup{}}
		ev.Connections.add(ee.server, ee.client)
		v.Connections.add(ee.server, ee.client)
		for _, s := range ee.sdks {
			g := group(s, horizon)
			ev.SDKs = append(ev.SDKs, g)
			all[key{g.Type, g.SDK, g.Expires}] += g.Count
		}
		sortGroups(ev.SDKs)
		v.Edges = append(v.Edges, ev)
	}
	for k, n := range all {
		g := group(codec.SDKCount{Type: k.typ, SDK: k.sdk, Expires: k.exp, Count: int32(n)}, horizon)
		if g.Expiring {
			v.Expiring += g.Count
		}
		v.SDKs = append(v.SDKs, g)
	}
	sortGroups(v.SDKs)
	sort.Slice(v.Edges, func(i, j int) bool { return v.Edges[i].Edge < v.Edges[j].Edge })
	return v
}

func group(s codec.SDKCount, horizon int64) SDKGroup {
	return SDKGroup{Type: s.Type, SDK: s.SDK, Count: int(max(s.Count, 0)), Expires: s.Expires,
		Expiring: s.Expires != 0 && s.Expires <= horizon, Problem: KnownProblem(s.SDK)}
}

func sortGroups(g []SDKGroup) {
	sort.Slice(g, func(i, j int) bool {
		if g[i].Count != g[j].Count {
			return g[i].Count > g[j].Count
		}
		return g[i].Type+g[i].SDK < g[j].Type+g[j].SDK
	})
}

// problems lists SDK versions with known protocol problems against this
// server, matched by the User-Agent product token's prefix.
// The entries come from docs/compat.md ("SDK quirks found").
var problems = []struct{ prefix, problem string }{
	{"NodeJS-Server-SDK/1.3.", "evaluates MatchRegex/NotMatchRegex with the arguments swapped, ignores isArchived, and buckets a user without the dispatch attribute as \"undefined\" (docs/compat.md)"},
	// FeatBit's Python SDK sends this User-Agent, without a version, on
	// its streaming connection.
	{"fb-python-server-sdk", "1.2.1 and older: reconnects for ever after close code 4003 with websocket-client 1.9, and misses change notifications after an archived flag in a sync (docs/compat.md)"},
}

// KnownProblem returns the known protocol problem of sdk ("" for none).
func KnownProblem(sdk string) string {
	for _, p := range problems {
		if strings.HasPrefix(sdk, p.prefix) {
			return p.problem
		}
	}
	return ""
}
