package api

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/switchyard/switchyard/control/internal/delivery"
	"github.com/switchyard/switchyard/control/internal/store"
)

// Bounds of the delivery routes' query parameters.
const (
	maxReceiptWait = 50 * time.Second // below the server's write timeout (60 s by default)
	maxViewWindow  = 30 * 24 * time.Hour
	maxRequestID   = 64
)

// ReceiptResponse is a delivery receipt; with ?until it also says whether
// the threshold was reached before the timeout.
type ReceiptResponse struct {
	delivery.Receipt
	// Reached: Fraction reached ?until (and, for until=1, every live edge
	// holds the change); false when the wait timed out. Absent without ?until.
	Reached *bool `json:"reached,omitempty"`
}

// deliveryRoutes are the delivery receipts and the live view of connected SDKs.
func (a *API) deliveryRoutes() []Route {
	const p = Prefix
	return []Route{
		{Method: "GET", Path: p + "/envs/{envId}/changes/{requestId}/receipt", Tag: "delivery",
			Summary: "How many of the environment's streaming connections, across all edges, hold the change made by the API request with this id (its X-Request-Id); with until (0..1] waits up to timeout (default 30s, at most 50s) for that fraction and says whether it was reached",
			Scope:   Env, Action: ActRead, Query: []string{"until", "timeout"}, Resp: ReceiptResponse{}, h: a.getReceipt},
		{Method: "GET", Path: p + "/envs/{envId}/sdks", Tag: "delivery",
			Summary: "The SDKs connected to the environment now, by type, SDK and edge; connections whose secret expires within window (default 24h) are flagged",
			Scope:   Env, Action: ActRead, Query: []string{"window"}, Resp: delivery.View{}, h: a.getSDKView},
	}
}

func (a *API) getReceipt(c *call) (any, error) {
	t := a.cfg.Deliveries
	if t == nil {
		return nil, store.Errorf(store.ErrUnavailable, "delivery receipts are not configured")
	}
	rid := c.path("requestId")
	if rid == "" || len(rid) > maxRequestID {
		return nil, store.Invalid("requestId", "must be 1 to %d characters", maxRequestID)
	}
	q := c.r.URL.Query()
	if q.Get("until") == "" {
		r, err := t.Receipt(c.env.ID, rid)
		if errors.Is(err, delivery.ErrUnknownChange) {
			return nil, unknownChange(rid)
		}
		if err != nil {
			return nil, err
		}
		return ReceiptResponse{Receipt: *r}, nil
	}
	until, err := strconv.ParseFloat(q.Get("until"), 64)
	if err != nil || !(until > 0 && until <= 1) {
		return nil, store.Invalid("until", "must be a fraction in (0, 1], e.g. 0.999")
	}
	timeout := 30 * time.Second
	if s := q.Get("timeout"); s != "" {
		if timeout, err = time.ParseDuration(s); err != nil || timeout <= 0 || timeout > maxReceiptWait {
			return nil, store.Invalid("timeout", "must be a duration from 1ms to %v, e.g. 30s", maxReceiptWait)
		}
	}
	ctx, cancel := context.WithTimeout(c.ctx, timeout)
	defer cancel()
	r, err := t.Wait(ctx, c.env.ID, rid, until)
	reached := err == nil
	if r == nil { // the change stayed unknown until the timeout
		return nil, unknownChange(rid)
	}
	return ReceiptResponse{Receipt: *r, Reached: &reached}, nil
}

func unknownChange(rid string) error {
	return &store.FieldError{Kind: store.ErrNotFound, Field: "requestId",
		Msg: fmt.Sprintf("no change with request id %q is known for this environment (not published yet, made in another environment, or older than the last %d changes)", rid, delivery.MaxChanges)}
}

func (a *API) getSDKView(c *call) (any, error) {
	t := a.cfg.Deliveries
	if t == nil {
		return nil, store.Errorf(store.ErrUnavailable, "the live SDK view is not configured")
	}
	window := 24 * time.Hour
	if s := c.r.URL.Query().Get("window"); s != "" {
		var err error
		if window, err = time.ParseDuration(s); err != nil || window < 0 || window > maxViewWindow {
			return nil, store.Invalid("window", "must be a duration from 0 to %v, e.g. 24h", maxViewWindow)
		}
	}
	return t.View(c.env.ID, window), nil
}
