package scenario

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/loadtest/internal/change"
	"github.com/switchyard/switchyard/loadtest/internal/httpload"
	"github.com/switchyard/switchyard/loadtest/internal/machine"
	"github.com/switchyard/switchyard/loadtest/internal/report"
)

var countries = []string{"FR", "US", "DE", "JP", "BR", "IN", "GB", "ES", "CA", "NG"}

// Evaluate runs OFREP / polling load.
func Evaluate(ctx context.Context, c Config) (*report.Result, error) {
	c.defaults()
	if err := c.prepare(ctx); err != nil {
		return nil, err
	}
	r := newResult("evaluate", &c)
	r.Params["httpConcurrency"], r.Params["httpDuration"], r.Params["mix"] = c.HTTPConcurrency, c.HTTPDuration.String(), c.EvalMix
	var keys []string
	for _, f := range envFlags(c.Env) {
		keys = append(keys, f.Key)
	}
	host := "http://" + c.HTTPTarget
	kinds := map[string][]string{"ofrep": {"ofrep"}, "server-poll": {"server-poll"}, "client-poll": {"client-poll"},
		"mix": {"ofrep", "ofrep", "ofrep", "server-poll", "client-poll"}}[c.EvalMix]
	if kinds == nil {
		return nil, fmt.Errorf("evaluate: unknown mix %q (ofrep, server-poll, client-poll, mix)", c.EvalMix)
	}
	kindOf := func(i int) string { return kinds[i%len(kinds)] }
	build := func(i int, req *fasthttp.Request) {
		req.Header.SetContentType("application/json")
		switch kindOf(i) {
		case "ofrep":
			req.Header.SetMethod("POST")
			req.SetRequestURI(host + "/ofrep/v1/evaluate/flags/" + keys[i%len(keys)])
			req.Header.Set("Authorization", c.Env.ServerSecret)
			b := append(req.Body()[:0], `{"context":{"targetingKey":"lt-user-`...)
			b = strconv.AppendInt(b, int64(i%100000), 10)
			b = append(b, `","country":"`...)
			b = append(b, countries[i%len(countries)]...)
			b = append(b, `","plan":"pro"}}`...)
			req.SetBodyRaw(b)
		case "server-poll":
			req.Header.SetMethod("GET")
			req.SetRequestURI(host + "/api/public/sdk/server/latest-all")
			req.Header.Set("Authorization", c.Env.ServerSecret)
		case "client-poll":
			req.Header.SetMethod("POST")
			req.SetRequestURI(host + "/api/public/sdk/client/latest-all?timestamp=0")
			req.Header.Set("Authorization", c.Env.ClientSecret)
			req.SetBodyString(`{"keyId":"lt-user-` + strconv.Itoa(i%100000) + `","name":"u","customizedProperties":[{"name":"country","value":"` + countries[i%len(countries)] + `"}]}`)
		}
	}
	check := func(i int, resp *fasthttp.Response) bool {
		body := resp.Body()
		if kindOf(i) == "ofrep" {
			return bytes.Contains(body, []byte(`"value"`))
		}
		return bytes.Contains(body, []byte(`"featureFlags"`))
	}
	pids := c.edgePids()
	before, _ := machine.ReadProcs(pids)
	res := httpload.Run(ctx, httpload.Spec{Addr: c.HTTPTarget, Concurrency: c.HTTPConcurrency, Duration: c.HTTPDuration, Build: build, Check: check})
	after, _ := machine.ReadProcs(pids)
	secs := res.Elapsed.Seconds()
	r.Add("requests", float64(res.Requests), "")
	r.Add("evaluation requests/s", float64(res.OK)/secs, "1/s")
	if cpu := after.CPUNs - before.CPUNs; cpu > 0 && !c.InEdge {
		per := float64(res.OK) / (float64(cpu) / 1e9)
		m := r.Add("requests per edge CPU-second", per, "1/CPU-s")
		if c.EvalMix == "ofrep" {
			m.WithGoal("≥ 100000 (edge issue)", per >= 100000)
		}
		r.Add("edge CPU", float64(cpu)/1e9/secs*100, "% of a core")
	}
	r.AddLatency(c.EvalMix+" request", res.Latency)
	r.Series = append(r.Series, report.Series{Name: "requests per second over time", XLabel: "seconds", YLabel: "requests/s", Points: res.Rate})
	for k, v := range res.Errors {
		r.Failures[k] += v
	}
	for code, n := range res.Status {
		if code < 200 || code >= 300 {
			r.Failures["HTTP "+strconv.Itoa(code)] += n
		}
	}
	r.Check("requests were made", res.Requests > 0, "%d requests", res.Requests)
	r.Check("every request succeeded", res.Bad == 0 && len(res.Errors) == 0, "%d bad responses, %d errors", res.Bad, res.Requests-res.OK-res.Bad)
	r.Duration = time.Since(r.Started).Seconds()
	r.Params["loadavgAtEnd"] = loadavg()
	if !r.OK() {
		return r, fmt.Errorf("evaluate: %w", ErrChecks)
	}
	return r, nil
}

// Events runs insight-track load and, with ClickHouseHTTP, waits until
// ClickHouse holds every accepted event.
func Events(ctx context.Context, c Config) (*report.Result, error) {
	c.defaults()
	if err := c.prepare(ctx); err != nil {
		return nil, err
	}
	r := newResult("events", &c)
	r.Params["httpConcurrency"], r.Params["httpDuration"], r.Params["eventsPerRequest"] = c.HTTPConcurrency, c.HTTPDuration.String(), c.EventsPerReq
	flags := envFlags(c.Env)
	host := "http://" + c.HTTPTarget
	nVar := (c.EventsPerReq + 1) / 2
	build := func(i int, req *fasthttp.Request) {
		req.Header.SetMethod("POST")
		req.SetRequestURI(host + "/api/public/insight/track")
		req.Header.SetContentType("application/json")
		req.Header.Set("Authorization", c.Env.ServerSecret)
		ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
		b := append(req.Body()[:0], '[')
		for j := 0; j < c.EventsPerReq; j++ {
			if j > 0 {
				b = append(b, ',')
			}
			u := strconv.Itoa((i*c.EventsPerReq + j) % 100000)
			b = append(b, `{"user":{"keyId":"lt-user-`+u+`","name":"User `+u+`","customizedProperties":[{"name":"country","value":"`+countries[j%len(countries)]+`"}]},`...)
			if j < nVar {
				f := flags[j%len(flags)]
				v := f.Variations[j%len(f.Variations)]
				b = append(b, `"variations":[{"featureFlagKey":"`+f.Key+`","variation":{"id":"`+v.ID+`","value":"`+v.Value+`"},"timestamp":`+ts+`,"sendToExperiment":false}]}`...)
			} else {
				b = append(b, `"metrics":[{"route":"index/metric","type":"CustomEvent","eventName":"lt-checkout","numericValue":1,"appType":"NodeJS-Server-SDK","timestamp":`+ts+`}]}`...)
			}
		}
		b = append(b, ']')
		req.SetBodyRaw(b)
	}
	pids := c.edgePids()
	before, _ := machine.ReadProcs(pids)
	res := httpload.Run(ctx, httpload.Spec{Addr: c.HTTPTarget, Concurrency: c.HTTPConcurrency, Duration: c.HTTPDuration, Build: build})
	loadEnd := time.Now()
	after, _ := machine.ReadProcs(pids)
	secs := res.Elapsed.Seconds()
	accepted := res.OK * int64(c.EventsPerReq)
	r.Add("track requests", float64(res.Requests), "")
	r.Add("events accepted", float64(accepted), "")
	r.Add("events/s accepted", float64(accepted)/secs, "1/s")
	if cpu := after.CPUNs - before.CPUNs; cpu > 0 && !c.InEdge {
		r.Add("events per edge CPU-second", float64(accepted)/(float64(cpu)/1e9), "1/CPU-s")
	}
	r.AddLatency("track request", res.Latency)
	ev := make([][2]float64, len(res.Rate))
	for i, p := range res.Rate {
		ev[i] = [2]float64{p[0], p[1] * float64(c.EventsPerReq)}
	}
	r.Series = append(r.Series, report.Series{Name: "events sent per second over time", XLabel: "seconds", YLabel: "events/s", Points: ev})
	for k, v := range res.Errors {
		r.Failures[k] += v
	}
	for code, n := range res.Status {
		if code < 200 || code >= 300 {
			r.Failures["HTTP "+strconv.Itoa(code)] += n
		}
	}
	r.Check("requests were made", res.Requests > 0, "%d requests", res.Requests)
	r.Check("every request accepted", res.Bad == 0 && len(res.Errors) == 0, "%d bad responses", res.Bad)
	if c.ClickHouseHTTP != "" {
		c.logf("waiting for %d events in ClickHouse at %s", accepted, c.ClickHouseHTTP)
		q := fmt.Sprintf("SELECT (SELECT count() FROM flag_events WHERE env_id = '%s') + (SELECT count() FROM metric_events WHERE env_id = '%s')", c.Env.ID, c.Env.ID)
		var got int64
		deadline := time.Now().Add(c.LagTimeout)
		for {
			n, err := clickhouseCount(ctx, c.ClickHouseHTTP, c.ClickHouseDB, q)
			if err != nil {
				r.Notes = append(r.Notes, "ClickHouse query failed: "+err.Error())
			}
			got = n
			if n >= accepted || time.Now().After(deadline) || ctx.Err() != nil {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		lag := time.Since(loadEnd)
		r.Add("events in ClickHouse", float64(got), "")
		if got >= accepted {
			r.Add("lag until every event is in ClickHouse (after the load ended)", lag.Seconds()*1000, "ms")
		}
		r.Check("every accepted event reached ClickHouse", got >= accepted, "%d of %d", got, accepted)
	}
	r.Duration = time.Since(r.Started).Seconds()
	r.Params["loadavgAtEnd"] = loadavg()
	if !r.OK() {
		return r, fmt.Errorf("events: %w", ErrChecks)
	}
	return r, nil
}

func clickhouseCount(ctx context.Context, addr, db, q string) (int64, error) {
	u := "http://" + addr + "/?database=" + url.QueryEscape(db) + "&query=" + url.QueryEscape(q)
	req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return 0, fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

// envFlags is the generated environment's flags, or for an existing
// environment (-server-secret, -control) the push flag only.
func envFlags(e *change.Env) []codec.Flag {
	if e.Snapshot != nil && len(e.Snapshot.Flags) > 0 {
		return e.Snapshot.Flags
	}
	return []codec.Flag{{Key: change.PushFlagKey, Variations: []codec.Variation{{ID: "lt-v-0", Value: "initial"}}}}
}
