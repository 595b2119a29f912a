// Command probe is the health check of the container images: it GETs one
// URL and exits 0 on a 2xx answer, 1 otherwise (distroless images have no
// curl or shell). It exists so HEALTHCHECK works without a health-check mode
// in every binary.
//
//	probe [-timeout 3s] http://127.0.0.1:5100/health/readiness
//
// It only speaks plain HTTP to the container's own loopback port, reads at
// most 4 KiB of the answer and never follows redirects.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"
)

func main() {
	timeout := flag.Duration("timeout", 3*time.Second, "give up after this long")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: probe [-timeout 3s] http://127.0.0.1:PORT/PATH")
		os.Exit(2)
	}
	if err := probe(flag.Arg(0), *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		os.Exit(1)
	}
}

func probe(raw string, timeout time.Duration) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("%q is not an http:// URL", raw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode/100 != 2 {
		return errors.New(resp.Status + ": " + string(body))
	}
	return nil
}
