// Package ofrep serves the OpenFeature Remote Evaluation Protocol (OFREP)
// on the edge: single-flag and bulk evaluation of an environment's flags
// for an evaluation context.
package ofrep

import (
	"github.com/switchyard/switchyard/edge/internal/hub"
	"github.com/switchyard/switchyard/edge/internal/metrics"
	"github.com/valyala/fasthttp"
)

// API is the OFREP handler.
type API struct {
	hub *hub.Hub
	m   *metrics.M
}

// New returns the OFREP API over h.
func New(h *hub.Hub, m *metrics.M) *API { return &API{hub: h, m: m} }

// Handler returns the fasthttp handler for /ofrep/v1/*.
func (a *API) Handler() fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(fasthttp.StatusNotImplemented) }
}
