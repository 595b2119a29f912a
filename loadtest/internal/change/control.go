package change

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/codec/secret"
	"github.com/switchyard/switchyard/loadtest/internal/fleet"
)

// Control makes the push flag's changes through the control plane's REST
// API (PUT /api/v1/envs/{envId}/flags/lt-push), so a change travels the
// production path: MongoDB, the Redis snapshot, the Kafka change topic,
// every edge.
type Control struct {
	base  string // http://host:port
	token string
	env   string
	hc    *http.Client
	flag  codec.Flag
	run   string       // request-id prefix of this run's changes (lt-<unix ms>)
	rid   string       // the request id of the call being made (do sends it as X-Request-Id)
	grown int          // flags Grow created
	bulk  *http.Client // Grow's client: no overall timeout (BatchTimeout per request)

	seg codec.Segment // the members segment (members.go)
}

// NewControl logs in (when token is empty, with email and password), reads
// the environment's secrets and creates the push flag if it does not exist.
func NewControl(ctx context.Context, base, token, email, password, envID string) (*Control, *Env, error) {
	c := &Control{base: strings.TrimRight(base, "/"), token: token, env: envID, hc: &http.Client{Timeout: 30 * time.Second}, bulk: &http.Client{},
		run: fmt.Sprintf("lt-%d", time.Now().UnixMilli())}
	if c.token == "" {
		var lr struct {
			Token string `json:"token"`
		}
		if err := c.do(ctx, "POST", "/api/v1/auth/login", map[string]string{"email": email, "password": password}, &lr); err != nil {
			return nil, nil, fmt.Errorf("control login: %w", err)
		}
		c.token = lr.Token
	}
	var ev struct {
		ID      string            `json:"id"`
		Secrets []codec.EnvSecret `json:"secrets"`
	}
	if err := c.do(ctx, "GET", "/api/v1/envs/"+envID, nil, &ev); err != nil {
		return nil, nil, fmt.Errorf("control: read environment %s: %w", envID, err)
	}
	env := &Env{ID: ev.ID}
	for _, s := range ev.Secrets {
		switch s.Type {
		case codec.SecretServer:
			env.ServerSecret = s.Value
		case codec.SecretClient:
			env.ClientSecret = s.Value
		}
	}
	err := c.do(ctx, "GET", "/api/v1/envs/"+envID+"/flags/"+PushFlagKey, nil, &c.flag)
	var se *statusError
	if errors.As(err, &se) && se.code == http.StatusNotFound {
		f := codec.Flag{Key: PushFlagKey, Name: "load test push", VariationType: "string", IsEnabled: true}
		setPushVariation(&f, 0, "initial")
		err = c.do(ctx, "POST", "/api/v1/envs/"+envID+"/flags", &f, &c.flag)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("control: push flag %s: %w", PushFlagKey, err)
	}
	return c, env, nil
}

// Push makes change seq (sent at sent) to the push flag.
func (c *Control) Push(ctx context.Context, seq int, sent time.Time) error {
	f := c.flag
	setPushVariation(&f, seq, fleet.PushMarker(seq, sent))
	var out codec.Flag
	c.rid = c.requestID(seq)
	err := c.do(ctx, "PUT", "/api/v1/envs/"+c.env+"/flags/"+PushFlagKey, &f, &out)
	c.rid = ""
	if err != nil {
		return fmt.Errorf("control: change %d: %w", seq, err)
	}
	c.flag = out
	return nil
}

func (c *Control) requestID(seq int) string { return fmt.Sprintf("%s-%d", c.run, seq) }

// Receipt is the part of control's delivery receipt (docs/delivery.md) the
// harness reports.
type Receipt struct {
	ChangedAt     int64 `json:"changedAt"`
	DeliveredInMs int64 `json:"deliveredInMs"`
	Complete      bool  `json:"complete"`
	Connections   struct {
		Total int `json:"total"`
	} `json:"connections"`
	Delivered struct {
		Total int `json:"total"`
	} `json:"delivered"`
	Edges []struct {
		DeliveredAt int64 `json:"deliveredAt"`
	} `json:"edges"`
}

// Receipt waits (up to timeout) until change seq's receipt is complete and
// returns it as it stands then.
func (c *Control) Receipt(ctx context.Context, seq int, timeout time.Duration) (*Receipt, error) {
	var r Receipt
	path := fmt.Sprintf("/api/v1/envs/%s/changes/%s/receipt?until=1&timeout=%s", c.env, c.requestID(seq), timeout)
	if err := c.do(ctx, "GET", path, nil, &r); err != nil {
		return nil, fmt.Errorf("control: receipt of change %d: %w", seq, err)
	}
	return &r, nil
}

// DeliveryReports reads control's count of delivery reports (change reports
// and heartbeats) from its /metrics.
func (c *Control) DeliveryReports(ctx context.Context) (changes, heartbeats int64, err error) {
	req, err := http.NewRequestWithContext(ctx, "GET", c.base+"/metrics", nil)
	if err != nil {
		return 0, 0, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		var v float64
		switch {
		case strings.HasPrefix(line, `sy_control_delivery_reports_total{kind="change"} `):
			_, err = fmt.Sscan(strings.Fields(line)[1], &v)
			changes = int64(v)
		case strings.HasPrefix(line, `sy_control_delivery_reports_total{kind="heartbeat"} `):
			_, err = fmt.Sscan(strings.Fields(line)[1], &v)
			heartbeats = int64(v)
		}
		if err != nil {
			return 0, 0, err
		}
	}
	return changes, heartbeats, nil
}

type statusError struct {
	code int
	body string
}

func (e *statusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.code, e.body) }

func (c *Control) do(ctx context.Context, method, path string, in, out any) error {
	return c.doWith(ctx, c.hc, method, path, in, out)
}

func (c *Control) doWith(ctx context.Context, hc *http.Client, method, path string, in, out any) error {
	return c.doAs(ctx, hc, c.token, method, path, in, out)
}

// doAs is doWith with the bearer token given.
func (c *Control) doAs(ctx context.Context, hc *http.Client, token, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if c.rid != "" {
		req.Header.Set("X-Request-Id", c.rid)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		if len(b) > 300 {
			b = b[:300]
		}
		return &statusError{code: resp.StatusCode, body: strings.TrimSpace(string(b))}
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// MaxBatchItems is the most flags Grow sends in one bulk request.
const MaxBatchItems = 1000

// BatchTimeout bounds one bulk request of Grow.
const BatchTimeout = 10 * time.Minute

// Grow creates n flags (keys lt-scale-<run>-<i>, boolean, a targeting rule
// and a percentage rollout) through the bulk route
// (POST /api/v1/envs/{envId}/flags/batch), batch items per request
// (1..MaxBatchItems), one request after the other.
func (c *Control) Grow(ctx context.Context, n, batch int) error {
	if batch < 1 || batch > MaxBatchItems {
		return fmt.Errorf("bulk batch size %d: want 1..%d", batch, MaxBatchItems)
	}
	for done := 0; done < n; {
		k := min(batch, n-done)
		items := make([]codec.Flag, k)
		for i := range items {
			items[i] = scaleFlag(fmt.Sprintf("lt-scale-%s-%d", strings.TrimPrefix(c.run, "lt-"), c.grown+done+i), c.grown+done+i)
		}
		var out struct {
			Created int `json:"created"`
		}
		// a bulk request into a large environment on a slow store takes
		// longer than the client's 30 s: up to BatchTimeout
		bctx, cancel := context.WithTimeout(ctx, BatchTimeout)
		err := c.doWith(bctx, c.bulk, "POST", "/api/v1/envs/"+c.env+"/flags/batch", map[string]any{"items": items}, &out)
		cancel()
		if err != nil {
			return fmt.Errorf("control: bulk create flags %d..%d: %w", c.grown+done, c.grown+done+k-1, err)
		}
		if out.Created != k {
			return fmt.Errorf("control: bulk create: %d of %d flags created", out.Created, k)
		}
		done += k
	}
	c.grown += n
	return nil
}

// scaleFlag is a new flag for the bulk route: no flag id (the server
// assigns it), no segment (the environment may have none).
func scaleFlag(key string, i int) codec.Flag {
	on, off := secret.NewGUID(), secret.NewGUID()
	return codec.Flag{Key: key, Name: "Scale " + key, Description: "generated by loadtest scale", VariationType: "boolean",
		IsEnabled: i%7 != 6, Tags: []string{"loadtest"}, DisabledVariationID: off,
		Variations: []codec.Variation{{ID: on, Name: "on", Value: "true"}, {ID: off, Name: "off", Value: "false"}},
		Rules: []codec.Rule{{Name: "enterprise in EU", Conditions: []codec.Condition{
			{Property: "plan", Op: "Equal", Value: "enterprise"},
			{Property: "country", Op: "IsOneOf", Value: `["FR","DE","ES","GB"]`}},
			Variations: []codec.RolloutVariation{{ID: on, Rollout: [2]float64{0, 1}}}}},
		Fallthrough: codec.Fallthrough{Variations: []codec.RolloutVariation{
			{ID: on, Rollout: [2]float64{0, float64(i%10) / 10}}, {ID: off, Rollout: [2]float64{float64(i%10) / 10, 1}}}},
	}
}

// CountFlags is the number of flags in the environment (the list route's
// total).
func (c *Control) CountFlags(ctx context.Context) (int, error) {
	var out struct {
		Total int `json:"total"`
	}
	if err := c.do(ctx, "GET", "/api/v1/envs/"+c.env+"/flags?pageSize=1", nil, &out); err != nil {
		return 0, fmt.Errorf("control: count flags: %w", err)
	}
	return out.Total, nil
}
