package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/domain"
	"github.com/switchyard/switchyard/control/internal/impact"
	"github.com/switchyard/switchyard/control/internal/store"
)

// Bounds of an impact preview: the users it may evaluate, and how many run
// at once in this process (each reads a whole environment's end users).
const (
	maxImpactUsers      = 5_000_000
	maxImpactWindow     = 366 * 24 * time.Hour
	impactConcurrency   = 2
	defaultImpactWindow = 30 * 24 * time.Hour
)

var impactSlots = make(chan struct{}, impactConcurrency)

// ImpactRequest is a proposed flag and the end users to preview it on.
type ImpactRequest struct {
	// Flag is the proposed state of the flag (as for an update; key, id and
	// version are taken from the stored flag).
	Flag codec.Flag `json:"flag"`
	// SeenWithin selects the end users last seen within this long (a Go
	// duration, default 720h, at most 8784h).
	SeenWithin string `json:"seenWithin,omitempty"`
	// Samples is the number of end-user keys listed per transition (0..20,
	// default 5).
	Samples *int `json:"samples,omitempty"`
}

// ImpactProgress is a progress line of a streamed preview.
type ImpactProgress struct {
	Users int `json:"users"`
}

// ImpactLine is one line of a streamed (application/x-ndjson) preview:
// progress lines, then the result or an error.
type ImpactLine struct {
	Progress *ImpactProgress `json:"progress,omitempty"`
	Result   *impact.Result  `json:"result,omitempty"`
	Error    *ErrorDetail    `json:"error,omitempty"`
}

// written tells wrap that the handler wrote the response itself.
type written struct{}

func (a *API) impactRoutes() []Route {
	const p = Prefix
	return []Route{
		{Method: "POST", Path: p + "/envs/{envId}/flags/{key}/impact", Tag: "flags",
			Summary: "Blast-radius preview: how many of the environment's end users seen within seenWithin the proposed flag would serve another variation than the current one, from which to which, why and sample users; with Accept: application/x-ndjson progress lines are streamed before the result",
			Scope:   Env, Action: ActRead, Body: ImpactRequest{}, Resp: impact.Result{}, h: a.flagImpact},
	}
}

func (a *API) flagImpact(c *call) (any, error) {
	var req ImpactRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	window := defaultImpactWindow
	if req.SeenWithin != "" {
		var err error
		if window, err = time.ParseDuration(req.SeenWithin); err != nil || window <= 0 || window > maxImpactWindow {
			return nil, store.Invalid("seenWithin", "must be a duration from 1s to %v, e.g. 720h", maxImpactWindow)
		}
	}
	samples := 5
	if req.Samples != nil {
		if samples = *req.Samples; samples < 0 || samples > impact.MaxSamples {
			return nil, store.Invalid("samples", "must be from 0 to %d", impact.MaxSamples)
		}
	}
	cur, err := a.flag(c)
	if err != nil {
		return nil, err
	}
	next := req.Flag
	next.ID, next.EnvID, next.Key, next.Version = cur.ID, cur.EnvID, cur.Key, cur.Version
	domain.FillIDs(&next)
	if err := domain.ValidateFlag(&next, a.dom.SegmentExists(c.ctx, cur.EnvID)); err != nil {
		return nil, prefixField(err, "flag")
	}
	segs, err := a.st.AllSegments(c.ctx, c.env.ID)
	if err != nil {
		return nil, err
	}
	// a large environment takes longer than the server's write timeout
	_ = http.NewResponseController(c.w).SetWriteDeadline(time.Now().Add(a.cfg.UploadTimeout))
	select {
	case impactSlots <- struct{}{}:
		defer func() { <-impactSlots }()
	default:
		return nil, store.Errorf(store.ErrTooMany, "%d impact previews are running; try again shortly", impactConcurrency)
	}
	since := time.Now().Add(-window).UnixMilli()
	scan := func(ctx context.Context, fn func(*codec.EndUser) error) error {
		return a.st.ScanEndUsers(ctx, c.env.ID, since, fn)
	}
	opts := impact.Options{Samples: samples, MaxUsers: maxImpactUsers}
	if !strings.Contains(c.r.Header.Get("Accept"), "application/x-ndjson") {
		res, err := impact.Compute(c.ctx, cur, &next, segs, scan, opts)
		if errors.Is(err, impact.ErrTooMany) {
			return nil, store.Errorf(store.ErrInvalid, "the environment has more than %d end users in the window; choose a shorter seenWithin", maxImpactUsers)
		}
		return res, err
	}
	// streamed: a progress line every 50,000 users, then the result
	c.w.Header().Set("Content-Type", "application/x-ndjson")
	c.w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(c.w)
	rc := http.NewResponseController(c.w)
	opts.Progress = func(n int) {
		_ = enc.Encode(ImpactLine{Progress: &ImpactProgress{Users: n}})
		_ = rc.Flush()
	}
	res, err := impact.Compute(c.ctx, cur, &next, segs, scan, opts)
	if err != nil {
		msg := "the preview failed"
		if errors.Is(err, impact.ErrTooMany) {
			msg = "the environment has too many end users in the window; choose a shorter seenWithin"
		}
		c.a.cfg.Log.Warn("impact preview failed", "env", c.env.ID, "flag", cur.Key, "err", err)
		_ = enc.Encode(ImpactLine{Error: &ErrorDetail{Code: "failed", Message: msg}})
		return written{}, nil
	}
	_ = enc.Encode(ImpactLine{Result: res})
	return written{}, nil
}
