package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/switchyard/switchyard/control/internal/store"
)

func TestErrorMapping(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	cases := []struct {
		err        error
		status     int
		code       string
		field      string
		retryAfter string
	}{
		{store.Invalid("rules[0].variations", "bad"), 400, "invalid", "rules[0].variations", ""},
		{fmt.Errorf("ctx: %w", &store.FieldError{Kind: store.ErrDuplicate, Field: "key", Msg: "x"}), 400, "duplicate", "key", ""},
		{fmt.Errorf("limit: %w", errTooLarge), 413, "too_large", "", ""},
		{store.Errorf(store.ErrUnauthorized, "no"), 401, "unauthorized", "", ""},
		{store.Errorf(store.ErrForbidden, "no"), 403, "forbidden", "", ""},
		{fmt.Errorf("flag x: %w", store.ErrNotFound), 404, "not_found", "", ""},
		{&store.FieldError{Kind: store.ErrConflict, Field: "version", Msg: "stale"}, 409, "conflict", "version", ""},
		{&retryAfter{wait: 1500 * time.Millisecond, err: store.Errorf(store.ErrTooMany, "slow down")}, 429, "too_many_requests", "", "2"},
		{fmt.Errorf("mongo down: %w", store.ErrUnavailable), 503, "unavailable", "", "5"},
		{errors.New("disk on fire"), 500, "internal", "", ""},
	}
	for _, c := range cases {
		w := httptest.NewRecorder()
		writeError(w, log, c.err)
		var body ErrorBody
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if w.Code != c.status || body.Error.Code != c.code || body.Error.Field != c.field || w.Header().Get("Retry-After") != c.retryAfter {
			t.Errorf("%v: %d %+v Retry-After %q", c.err, w.Code, body.Error, w.Header().Get("Retry-After"))
		}
		if c.status >= 500 && body.Error.Message == c.err.Error() {
			t.Errorf("%v: internal detail leaked", c.err)
		}
	}
}
