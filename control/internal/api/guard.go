package api

import (
	"net/http"
	"strings"

	"github.com/switchyard/switchyard/control/internal/store"
)

// GuardEnv protects a handler mounted beside the API (analytics' query API
// in the all-in-one binary) with the API's authentication and access
// decision: the request path must name an environment as
// ".../envs/{envId}/...", and the caller (a member, or an access token of its
// organization) needs writeAction on it for DELETE and readAction for
// anything else (analytics' POST routes are queries with a body).
// Paths that name no environment are refused with 404, so nothing behind the
// guard is reachable without an environment check. The API's rate limits
// apply (ratelimit.go).
func (a *API) GuardEnv(h http.Handler, readAction, writeAction string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		envID := envInPath(r.URL.Path)
		if envID == "" {
			writeError(w, a.cfg.Log, store.Errorf(store.ErrNotFound, "not found"))
			return
		}
		p, err := a.authenticate(r.Context(), r)
		if err != nil {
			if lerr := a.limitAddr(r); lerr != nil {
				err = lerr
			}
			writeError(w, a.cfg.Log, err)
			return
		}
		if err := a.limitPrincipal(p); err != nil {
			writeError(w, a.cfg.Log, err)
			return
		}
		e, err := a.st.GetEnv(r.Context(), envID)
		if err != nil {
			writeError(w, a.cfg.Log, err)
			return
		}
		ac, _, err := a.accessIn(r.Context(), p, e.OrgID)
		if err != nil {
			writeError(w, a.cfg.Log, err)
			return
		}
		need := readAction
		if r.Method == http.MethodDelete {
			need = writeAction
		}
		c := &call{a: a, r: r, ctx: r.Context(), p: p, orgID: e.OrgID, access: ac, env: e}
		if !c.can(need) {
			writeError(w, a.cfg.Log, forbidden(need, c.resource()))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// envInPath returns the segment after "/envs/" in p, or "".
func envInPath(p string) string {
	_, rest, ok := strings.Cut(p, "/envs/")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, "/")
	return id
}
