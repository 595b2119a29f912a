// Package insights is the control plane's client of analytics' query API
// (analytics/api.go): evaluations per flag and variation of an environment,
// for stale-flag detection, and the GDPR erasure of one end user's events. A
// Client is safe for concurrent use.
package insights

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client calls analytics at BaseURL (e.g. http://analytics:8090).
type Client struct {
	BaseURL string
	HTTP    *http.Client
}

// New returns a client of the analytics service at baseURL.
func New(baseURL string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), HTTP: &http.Client{Timeout: 30 * time.Second}}
}

const prefix = "/api/analytics/v1"

func (c *Client) do(ctx context.Context, method, path string, out any) error {
	return c.doBody(ctx, method, path, nil, out)
}

// doBody is do with a JSON request body (nil: none).
func (c *Client) doBody(ctx context.Context, method, path string, in any, out any) error {
	var rb io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("analytics: %w", err)
		}
		rb = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+prefix+path, rb)
	if err != nil {
		return fmt.Errorf("analytics: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("analytics unavailable: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("analytics: %s %s: HTTP %d: %s", method, path, resp.StatusCode, strings.TrimSpace(string(body[:min(len(body), 300)])))
	}
	if out != nil && len(body) > 0 {
		if err := json.Unmarshal(body, out); err != nil {
			return fmt.Errorf("analytics: bad answer to %s: %w", path, err)
		}
	}
	return nil
}

// EnvFlagVariations returns, for every flag of an environment evaluated in
// [from, to), its evaluations per variation id, in one request.
func (c *Client) EnvFlagVariations(ctx context.Context, envID string, from, to time.Time) (map[string]map[string]int64, error) {
	var out struct {
		Flags []struct {
			FlagKey     string `json:"flagKey"`
			VariationID string `json:"variationId"`
			Evaluations int64  `json:"evaluations"`
		} `json:"flags"`
	}
	p := "/envs/" + url.PathEscape(envID) + "/variations?from=" +
		strconv.FormatInt(from.UnixMilli(), 10) + "&to=" + strconv.FormatInt(to.UnixMilli(), 10)
	if err := c.do(ctx, http.MethodGet, p, &out); err != nil {
		return nil, err
	}
	m := map[string]map[string]int64{}
	for _, v := range out.Flags {
		if m[v.FlagKey] == nil {
			m[v.FlagKey] = map[string]int64{}
		}
		m[v.FlagKey][v.VariationID] += v.Evaluations
	}
	return m, nil
}

// Experiment asks analytics for the results of flagKey's experiment; query
// is analytics' POST form of the experiment query. The answer is returned as
// is (at most 8 MiB).
func (c *Client) Experiment(ctx context.Context, envID, flagKey string, query any) (json.RawMessage, error) {
	var out json.RawMessage
	p := "/envs/" + url.PathEscape(envID) + "/flags/" + url.PathEscape(flagKey) + "/experiment"
	if err := c.doBody(ctx, http.MethodPost, p, query, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteUser erases every event of one end user of an environment.
func (c *Client) DeleteUser(ctx context.Context, envID, userKey string) error {
	return c.do(ctx, http.MethodDelete, "/envs/"+url.PathEscape(envID)+"/users/"+url.PathEscape(userKey), nil)
}
