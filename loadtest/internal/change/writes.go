package change

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/codec"
)

// WriteFlagPrefix starts the keys of the flags the writes scenario changes
// (lt-write-0, lt-write-1, …).
const WriteFlagPrefix = "lt-write-"

// writeVariation is the one variation of a write flag; every write
// replaces its value.
const writeVariation = "lt-w"

// SetWriteValue makes f serve value to everyone (one string variation).
func SetWriteValue(f *codec.Flag, value string) {
	f.VariationType = "string"
	f.Variations = []codec.Variation{{ID: writeVariation, Name: "value", Value: value}}
	f.DisabledVariationID = writeVariation
	f.Fallthrough = codec.Fallthrough{Variations: []codec.RolloutVariation{{ID: writeVariation, Rollout: [2]float64{0, 1}}}}
}

// Writer makes flag writes through control's REST API with up to conns
// requests in flight (one keep-alive connection each). Safe for concurrent
// use.
type Writer struct {
	c      *Control
	hc     *http.Client
	tokens []string // access tokens the writes are spread over (nil: the login's)
	ids    []string // their ids, for Close
	org    string
	next   atomic.Uint64
}

// NewWriter is a writer using c's login and environment.
func (c *Control) NewWriter(conns int, timeout time.Duration) *Writer {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost, tr.MaxConnsPerHost = conns+4, conns+4, conns+4
	return &Writer{c: c, hc: &http.Client{Transport: tr, Timeout: timeout}}
}

// ErrConflict is returned (wrapped) by Put when the version sent is stale
// (HTTP 409).
var ErrConflict = errors.New("version conflict")

// MaxTokens bounds the access tokens a Writer creates.
const MaxTokens = 1000

// SpreadTokens creates n editor access tokens (named lt-writes-<run>-<i>,
// expiring in a day) in the environment's organization and spreads the
// writes over them: control limits the requests of one credential
// (-rate-limit, 50/s by default), and a real write load comes from many
// clients. Close revokes them.
func (w *Writer) SpreadTokens(ctx context.Context, n int) error {
	if n < 1 || n > MaxTokens {
		return fmt.Errorf("write tokens: %d is not in 1..%d", n, MaxTokens)
	}
	var me struct {
		Orgs []struct {
			OrgID string `json:"orgId"`
		} `json:"orgs"`
	}
	if err := w.c.doWith(ctx, w.hc, "GET", "/api/v1/auth/me", nil, &me); err != nil {
		return fmt.Errorf("control: who am I: %w", err)
	}
	if len(me.Orgs) == 0 {
		return errors.New("control: the login belongs to no organization")
	}
	w.org = me.Orgs[0].OrgID
	exp := time.Now().Add(24 * time.Hour).UnixMilli()
	for i := range n {
		var tc struct {
			ID    string `json:"id"`
			Token string `json:"token"`
		}
		req := map[string]any{"name": fmt.Sprintf("%s-%d", strings.Replace(w.c.run, "lt-", "lt-writes-", 1), i), "role": "editor", "expiresAt": exp}
		if err := w.c.doWith(ctx, w.hc, "POST", "/api/v1/orgs/"+w.org+"/tokens", req, &tc); err != nil {
			w.Close(context.WithoutCancel(ctx))
			return fmt.Errorf("control: create write token %d: %w", i, err)
		}
		w.tokens, w.ids = append(w.tokens, tc.Token), append(w.ids, tc.ID)
	}
	return nil
}

// Close revokes the tokens SpreadTokens created (best effort).
func (w *Writer) Close(ctx context.Context) {
	for _, id := range w.ids {
		_ = w.c.doWith(ctx, w.hc, "DELETE", "/api/v1/orgs/"+w.org+"/tokens/"+id, nil, nil)
	}
	w.tokens, w.ids = nil, nil
}

func (w *Writer) call(ctx context.Context, method, path string, in, out any) error {
	var err error
	if len(w.tokens) > 0 {
		tok := w.tokens[w.next.Add(1)%uint64(len(w.tokens))]
		err = w.c.doAs(ctx, w.hc, tok, method, path, in, out)
	} else {
		err = w.c.doWith(ctx, w.hc, method, path, in, out)
	}
	var se *statusError
	if errors.As(err, &se) && se.code == http.StatusConflict {
		return fmt.Errorf("%w: %s", ErrConflict, se.body)
	}
	return err
}

// Get reads a flag of the environment by key.
func (w *Writer) Get(ctx context.Context, key string) (codec.Flag, error) {
	var f codec.Flag
	err := w.call(ctx, "GET", "/api/v1/envs/"+w.c.env+"/flags/"+key, nil, &f)
	return f, err
}

// Put replaces the flag (f.Version: the version the caller holds) and
// returns it as stored.
func (w *Writer) Put(ctx context.Context, f *codec.Flag) (codec.Flag, error) {
	var out codec.Flag
	err := w.call(ctx, "PUT", "/api/v1/envs/"+w.c.env+"/flags/"+f.Key, f, &out)
	return out, err
}

// EnsureFlags reads the n write flags (lt-write-0 … lt-write-<n-1>),
// creating the missing ones with the value initial.
func (w *Writer) EnsureFlags(ctx context.Context, n int, initial string) ([]codec.Flag, error) {
	out := make([]codec.Flag, n)
	for i := range out {
		key := fmt.Sprintf("%s%d", WriteFlagPrefix, i)
		f, err := w.Get(ctx, key)
		var se *statusError
		if errors.As(err, &se) && se.code == http.StatusNotFound {
			nf := codec.Flag{Key: key, Name: "load test write " + key, IsEnabled: true, Tags: []string{"loadtest"}}
			SetWriteValue(&nf, initial)
			err = w.call(ctx, "POST", "/api/v1/envs/"+w.c.env+"/flags", &nf, &f)
		}
		if err != nil {
			return nil, fmt.Errorf("control: write flag %s: %w", key, err)
		}
		out[i] = f
	}
	return out, nil
}
