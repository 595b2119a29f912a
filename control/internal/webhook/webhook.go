// Package webhook delivers control's change events to the HTTP endpoints
// organizations subscribe: each delivery is persisted first (the queue is
// the webhook_deliveries collection, so a restart loses nothing), then a
// Dispatcher POSTs it with an HMAC-SHA256 signature over timestamp and
// body, retrying with exponential backoff up to MaxAttempts, and records
// every attempt (status, latency, response excerpt).
//
// Signature: X-Switchyard-Timestamp is the Unix time in seconds of the
// attempt; X-Switchyard-Signature is "sha256=" + hex(HMAC-SHA256(secret,
// timestamp + "." + body)). Receivers recompute it (Verify) and reject old
// timestamps to stop replays.
//
// Several control instances may run Dispatchers on one database: each
// attempt is claimed first (store.Claim: an insert of a unique id, atomic
// even where the database's filtered replace is not), then marked sending
// with a lease, so only one instance sends it; a lease that expires (the
// sender died) makes it claimable again, so a delivery is sent at least
// once.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchyard/switchyard/control/internal/store"
)

// Headers of a delivery.
const (
	HeaderTimestamp = "X-Switchyard-Timestamp"
	HeaderSignature = "X-Switchyard-Signature"
	HeaderEvent     = "X-Switchyard-Event"
	HeaderDelivery  = "X-Switchyard-Delivery"
)

// Event kinds a webhook may subscribe to ("*" subscribes to all).
var Kinds = []string{
	"flag.created", "flag.updated", "flag.toggled", "flag.archived", "flag.restored", "flag.deleted",
	"segment.created", "segment.updated", "segment.archived", "segment.restored", "segment.deleted",
	"environment.created", "environment.updated", "environment.deleted", "environment.secret_rotated",
	"schedule.applied", "schedule.failed", "webhook.test",
}

// Event is the JSON body of a delivery.
type Event struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	At        int64     `json:"at"` // Unix ms
	OrgID     string    `json:"orgId"`
	ProjectID string    `json:"projectId,omitempty"`
	EnvID     string    `json:"envId,omitempty"`
	Actor     string    `json:"actor,omitempty"`
	Resource  *Resource `json:"resource,omitempty"`
	Comment   string    `json:"comment,omitempty"`
	Changes   []string  `json:"changes,omitempty"`
	Data      any       `json:"data,omitempty"` // the resource after the change
}

// Resource names what an event is about.
type Resource struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Key  string `json:"key,omitempty"`
}

// Sign returns the signature header value for a body sent at ts (Unix s).
func Sign(secret string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte("."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a delivery's headers against its body: the signature must
// match and the timestamp be within maxSkew of now.
func Verify(secret, tsHeader, sigHeader string, body []byte, maxSkew time.Duration, now time.Time) error {
	ts, err := strconv.ParseInt(tsHeader, 10, 64)
	if err != nil {
		return fmt.Errorf("bad %s %q", HeaderTimestamp, tsHeader)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > maxSkew || d < -maxSkew {
		return fmt.Errorf("timestamp %d is %s away from now", ts, d.Round(time.Second))
	}
	if !hmac.Equal([]byte(Sign(secret, ts, body)), []byte(sigHeader)) {
		return errors.New("signature mismatch")
	}
	return nil
}

// NewID returns a random 128-bit hex id.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// NewSecret returns a random signing secret ("whsec_" + 256 bits).
func NewSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return "whsec_" + hex.EncodeToString(b[:])
}

// Matches reports whether a webhook wants an event of kind in a project and
// environment.
func Matches(w *store.Webhook, kind, projectID, envID string) bool {
	if !w.Enabled {
		return false
	}
	if !slices.Contains(w.Events, kind) && !slices.Contains(w.Events, "*") && kind != "webhook.test" {
		return false
	}
	if len(w.ProjectIDs) > 0 && !slices.Contains(w.ProjectIDs, projectID) {
		return false
	}
	if len(w.EnvIDs) > 0 && !slices.Contains(w.EnvIDs, envID) {
		return false
	}
	return true
}

// Dispatcher queues and sends deliveries. The exported fields may be changed
// before Run.
type Dispatcher struct {
	MaxAttempts int                             // default 6
	Backoff     func(attempt int) time.Duration // delay after the n-th failed attempt (default 1 s · 2^(n-1), at most 5 min)
	Timeout     time.Duration                   // per attempt (default 10 s)
	Poll        time.Duration                   // how often the queue is read without a wake-up (default 1 s)
	Parallel    int                             // concurrent sends (default 4)
	// Client sends the attempts; New sets NewClient(nil, Timeout), which
	// connects to public addresses only (SetAllow changes it).
	Client *http.Client

	st    *store.Store
	log   *slog.Logger
	owner string
	wake  chan struct{}
	allow []netip.Prefix
}

// New returns a Dispatcher over a store.
func New(st *store.Store, log *slog.Logger) *Dispatcher {
	if log == nil {
		log = slog.Default()
	}
	return &Dispatcher{MaxAttempts: 6, Timeout: 10 * time.Second, Poll: time.Second, Parallel: 4,
		Backoff: func(n int) time.Duration { return min(time.Second<<min(n-1, 20), 5*time.Minute) },
		Client:  NewClient(nil, 10*time.Second), st: st, log: log, owner: NewID(), wake: make(chan struct{}, 1)}
}

// SetAllow replaces the client with one that may also connect to the
// allowed prefixes (private networks an operator trusts, local receivers in
// tests). Call it before Run.
func (d *Dispatcher) SetAllow(allow []netip.Prefix) {
	d.allow = allow
	d.Client = NewClient(allow, d.Timeout)
}

// Allow returns the prefixes SetAllow permitted.
func (d *Dispatcher) Allow() []netip.Prefix { return d.allow }

// Enqueue persists one delivery of ev per matching webhook of the
// organization and wakes the sender; it does not send anything itself.
func (d *Dispatcher) Enqueue(ctx context.Context, ev *Event) error {
	ws, err := d.st.ListWebhooks(ctx, ev.OrgID)
	if err != nil {
		return err
	}
	for _, w := range ws {
		if !Matches(w, ev.Kind, ev.ProjectID, ev.EnvID) || ev.Kind == "webhook.test" {
			continue
		}
		if _, err := d.EnqueueTo(ctx, w, ev); err != nil {
			return err
		}
	}
	return nil
}

// EnqueueTo persists one delivery of ev to w and wakes the sender.
func (d *Dispatcher) EnqueueTo(ctx context.Context, w *store.Webhook, ev *Event) (*store.Delivery, error) {
	if ev.ID == "" {
		ev.ID = NewID()
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("cannot encode webhook event: %w", err)
	}
	dl := &store.Delivery{ID: NewID(), WebhookID: w.ID, OrgID: w.OrgID, Event: ev.Kind, Body: string(body),
		Status: store.DeliveryPending, NextAt: time.Now().UnixMilli()}
	if err := d.st.AddDelivery(ctx, dl); err != nil {
		return nil, err
	}
	d.Wake()
	return dl, nil
}

// Wake makes Run read the queue now.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run sends due deliveries until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) {
	t := time.NewTicker(d.Poll)
	defer t.Stop()
	for {
		d.Sweep(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.wake:
		}
	}
}

// Sweep claims and sends every due delivery once; it returns how many it
// sent.
func (d *Dispatcher) Sweep(ctx context.Context) int {
	now := time.Now().UnixMilli()
	var due []*store.Delivery
	for _, status := range []string{store.DeliveryPending, store.DeliverySending} {
		ds, err := d.st.DeliveriesByStatus(ctx, status, 500)
		if err != nil {
			if ctx.Err() == nil {
				d.log.Warn("cannot read the webhook queue", "err", err)
			}
			return 0
		}
		for _, dl := range ds {
			if (status == store.DeliveryPending && dl.NextAt <= now) || (status == store.DeliverySending && dl.LeaseUntil < now) {
				due = append(due, dl)
			}
		}
	}
	sem := make(chan struct{}, max(d.Parallel, 1))
	var wg sync.WaitGroup
	n := 0
	for _, dl := range due {
		if ctx.Err() != nil {
			break
		}
		if ok, err := d.st.Claim(ctx, store.CollDeliveries, dl.ID+":"+strconv.Itoa(dl.Claims), d.owner); err != nil || !ok {
			continue // another instance claimed it
		}
		expect := dl.Version
		dl.Claims++
		dl.Status, dl.LeaseOwner = store.DeliverySending, d.owner
		dl.LeaseUntil = time.Now().Add(d.Timeout + 30*time.Second).UnixMilli()
		if err := d.st.SaveDelivery(ctx, dl, expect); err != nil {
			continue
		}
		n++
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			d.send(ctx, dl)
		})
	}
	wg.Wait()
	return n
}

// send makes one attempt of a claimed delivery and records it.
func (d *Dispatcher) send(ctx context.Context, dl *store.Delivery) {
	w, err := d.st.GetWebhook(ctx, dl.OrgID, dl.WebhookID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			dl.Status, dl.LeaseOwner = store.DeliveryFailed, ""
			dl.Attempts = append(dl.Attempts, store.DeliveryAttempt{At: time.Now().UnixMilli(), Error: "the webhook was deleted"})
			_ = d.st.SaveDelivery(ctx, dl, dl.Version)
		}
		return
	}
	at := d.Attempt(ctx, w, dl)
	dl.Attempts = append(dl.Attempts, at)
	dl.LeaseOwner, dl.LeaseUntil = "", 0
	switch {
	case at.Status >= 200 && at.Status < 300:
		dl.Status = store.DeliveryDelivered
	case len(dl.Attempts) >= d.MaxAttempts:
		dl.Status = store.DeliveryFailed
	default:
		dl.Status = store.DeliveryPending
		dl.NextAt = time.Now().Add(d.Backoff(len(dl.Attempts))).UnixMilli()
	}
	if err := d.st.SaveDelivery(context.WithoutCancel(ctx), dl, dl.Version); err != nil {
		d.log.Warn("cannot record a webhook attempt", "delivery", dl.ID, "err", err)
		return
	}
	if dl.Status != store.DeliveryPending {
		d.st.ReleaseClaims(context.WithoutCancel(ctx), store.CollDeliveries, dl.ID, dl.Claims)
		d.dropIfOrgDeleted(context.WithoutCancel(ctx), dl)
	}
}

// OrgDeleted is the event of a deleted organization, the last one its
// webhooks receive.
const OrgDeleted = "organization.deleted"

// dropIfOrgDeleted removes the webhook (and its log) of a deleted
// organization once its organization.deleted delivery ended: deleting an
// organization keeps the webhooks subscribed to that event until then.
func (d *Dispatcher) dropIfOrgDeleted(ctx context.Context, dl *store.Delivery) {
	if dl.Event != OrgDeleted {
		return
	}
	if _, err := d.st.GetOrg(ctx, dl.OrgID); !errors.Is(err, store.ErrNotFound) {
		return
	}
	if err := d.st.DeleteWebhookAndDeliveries(ctx, dl.WebhookID); err != nil {
		d.log.Warn("cannot remove the webhook of a deleted organization", "webhook", dl.WebhookID, "err", err)
	}
}

// attemptError is the recorded text of a failed attempt: the cause without
// the URL (which the delivery log already names).
func attemptError(err error) string {
	// One answer for "resolves to a refused address" and "does not
	// resolve", so the log cannot be used to probe internal DNS names.
	var dns *net.DNSError
	if errors.Is(err, ErrForbiddenAddress) || errors.As(err, &dns) {
		return "refused: the host does not resolve to an allowed address (public, or in -webhook-allow)"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	s := err.Error()
	if len(s) > ExcerptBytes {
		s = s[:ExcerptBytes]
	}
	return s
}

// Attempt POSTs a delivery's body to the webhook once: no redirects are
// followed (a 3xx is the result), only public addresses are reached (see
// NewClient), and only the status and at most ExcerptBytes of the response
// are read and recorded.
func (d *Dispatcher) Attempt(ctx context.Context, w *store.Webhook, dl *store.Delivery) store.DeliveryAttempt {
	start := time.Now()
	at := store.DeliveryAttempt{At: start.UnixMilli()}
	ctx, cancel := context.WithTimeout(ctx, d.Timeout)
	defer cancel()
	body := []byte(dl.Body)
	if err := CheckURL(w.URL, d.allow); err != nil {
		at.Error = "refused: url " + err.Error()
		return at
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		at.Error = err.Error()
		return at
	}
	ts := start.Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Switchyard-Webhook/1")
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(w.Secret, ts, body))
	req.Header.Set(HeaderEvent, dl.Event)
	req.Header.Set(HeaderDelivery, dl.ID)
	resp, err := d.Client.Do(req)
	at.LatencyMs = time.Since(start).Milliseconds()
	if err != nil {
		at.Error = attemptError(err)
		return at
	}
	defer resp.Body.Close()
	ex, _ := io.ReadAll(io.LimitReader(resp.Body, ExcerptBytes))
	at.Status, at.Response = resp.StatusCode, strings.ToValidUTF8(string(ex), "\uFFFD")
	return at
}
