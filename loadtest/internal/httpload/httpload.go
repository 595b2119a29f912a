// Package httpload drives HTTP request load against the edge's REST
// endpoints (OFREP, polling, insight track) with a fixed number of
// keep-alive connections (fasthttp client), each worked by one goroutine in
// a closed loop, and measures requests/s, status codes and latency.
package httpload

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchyard/switchyard/loadtest/internal/hist"
)

// Spec is one load run.
type Spec struct {
	Addr        string // host:port
	Concurrency int
	Duration    time.Duration
	// Build fills request number i (method, URI path, headers, body). The
	// request is reset before each call. It must be safe for concurrent use.
	Build func(i int, req *fasthttp.Request)
	// Check, if set, validates a 2xx response; false counts as a bad response.
	Check func(i int, resp *fasthttp.Response) bool
}

// Result of a run.
type Result struct {
	Requests int64            `json:"requests"`
	OK       int64            `json:"ok"`
	Bad      int64            `json:"bad"` // non-2xx or failed Check
	Errors   map[string]int64 `json:"errors"`
	Status   map[int]int64    `json:"status"`
	Latency  hist.Snap        `json:"latency"`
	Elapsed  time.Duration    `json:"elapsed"`
	// Rate is completed requests per second, sampled every 250 ms: [seconds since start, requests/s].
	Rate [][2]float64 `json:"rate"`
}

// Run runs the load until Duration passes or ctx ends.
func Run(ctx context.Context, s Spec) Result {
	if s.Concurrency <= 0 {
		s.Concurrency = 64
	}
	hc := &fasthttp.HostClient{Addr: s.Addr, MaxConns: s.Concurrency, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second,
		MaxIdleConnDuration: time.Minute}
	var (
		lat      hist.H
		n, ok    atomic.Int64
		bad      atomic.Int64
		mu       sync.Mutex
		status   = map[int]int64{}
		errCause = map[string]int64{}
		wg       sync.WaitGroup
	)
	ctx, cancel := context.WithTimeout(ctx, s.Duration)
	defer cancel()
	start := time.Now()
	var rate [][2]float64
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		last, lastAt := int64(0), start
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				done := int64(lat.Count())
				rate = append(rate, [2]float64{now.Sub(start).Seconds(), float64(done-last) / now.Sub(lastAt).Seconds()})
				last, lastAt = done, now
			}
		}
	}()
	for w := 0; w < s.Concurrency; w++ {
		wg.Go(func() {
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			localStatus := map[int]int64{}
			for ctx.Err() == nil {
				i := int(n.Add(1))
				req.Reset()
				resp.Reset()
				s.Build(i, req)
				t0 := time.Now()
				err := hc.Do(req, resp)
				lat.Record(time.Since(t0))
				if err != nil {
					mu.Lock()
					errCause[cause(err)]++
					mu.Unlock()
					continue
				}
				code := resp.StatusCode()
				localStatus[code]++
				if code >= 200 && code < 300 && (s.Check == nil || s.Check(i, resp)) {
					ok.Add(1)
				} else {
					bad.Add(1)
				}
			}
			mu.Lock()
			for k, v := range localStatus {
				status[k] += v
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	<-sampled
	hc.CloseIdleConnections()
	var errs int64
	for _, v := range errCause {
		errs += v
	}
	return Result{Requests: ok.Load() + bad.Load() + errs, OK: ok.Load(), Bad: bad.Load(), Errors: errCause, Status: status,
		Latency: lat.Snapshot(), Elapsed: time.Since(start), Rate: rate}
}

func cause(err error) string {
	switch {
	case errors.Is(err, fasthttp.ErrTimeout):
		return "timeout"
	case errors.Is(err, fasthttp.ErrNoFreeConns):
		return "no free connections"
	case strings.Contains(err.Error(), "connection refused"):
		return "connection refused"
	case strings.Contains(err.Error(), "reset"):
		return "connection reset"
	}
	s := err.Error()
	if len(s) > 60 {
		s = s[:60]
	}
	return s
}
