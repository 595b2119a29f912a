package coderefs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Upload is the body of POST /api/v1/projects/{projectId}/code-refs: the
// references of one scan of one repository branch. A new upload replaces the
// previous one for the same repository and branch.
type Upload struct {
	Repository string      `json:"repository"`
	Branch     string      `json:"branch"`
	Commit     string      `json:"commit"`
	ScannedAt  int64       `json:"scannedAt"` // Unix ms
	References []Reference `json:"references"`
	Stats      Stats       `json:"stats"`
}

// Client talks to the control plane's code-reference API with an access
// token.
type Client struct {
	BaseURL string // e.g. http://127.0.0.1:8080
	Token   string // an API access token
	HTTP    *http.Client
}

func (c *Client) do(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("cannot encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, rd)
	if err != nil {
		return fmt.Errorf("bad control-plane URL: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, strings.TrimSpace(string(data[:min(len(data), 500)])))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: bad response: %w", method, path, err)
		}
	}
	return nil
}

// FlagKeys fetches the flag keys of a project (all its environments).
func (c *Client) FlagKeys(ctx context.Context, projectID string) ([]string, error) {
	var out struct {
		Keys []string `json:"keys"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/v1/projects/"+url.PathEscape(projectID)+"/code-refs/keys", nil, &out); err != nil {
		return nil, err
	}
	return out.Keys, nil
}

// Upload sends the references of one scan.
func (c *Client) Upload(ctx context.Context, projectID string, u *Upload) error {
	return c.do(ctx, http.MethodPost, "/api/v1/projects/"+url.PathEscape(projectID)+"/code-refs", u, nil)
}
