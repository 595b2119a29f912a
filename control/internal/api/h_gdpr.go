package api

import (
	"errors"
	"fmt"

	"github.com/switchyard/switchyard/control/internal/store"
)

// ErasureResult says what a GDPR erasure removed.
type ErasureResult struct {
	EnvID          string `json:"envId"`
	KeyID          string `json:"keyId"`
	EndUserDeleted bool   `json:"endUserDeleted"`
	EventsDeleted  bool   `json:"eventsDeleted"`
}

func (a *API) gdprRoutes() []Route {
	return append([]Route{
		{Method: "DELETE", Path: Prefix + "/envs/{envId}/end-users/{keyId}", Tag: "end-users", Summary: "Erase an end user (GDPR): the stored end user and, through analytics, every event about them", Scope: Env, Action: ActEnvManage, Resp: ErasureResult{}, h: a.eraseEndUser},
	}, a.endUserRoutes()...) // h_enduser_import.go: CSV import, evaluate every flag
}

// eraseEndUser deletes the events first, so a failure there leaves the end
// user visible and the request can be repeated.
func (a *API) eraseEndUser(c *call) (any, error) {
	key := c.path("keyId")
	res := &ErasureResult{EnvID: c.env.ID, KeyID: key}
	if a.cfg.Insights == nil {
		return nil, store.Errorf(store.ErrUnavailable, "analytics is not configured: events cannot be erased")
	}
	if err := a.cfg.Insights.DeleteUser(c.ctx, c.env.ID, key); err != nil {
		return nil, fmt.Errorf("cannot erase the events of %s: %w: %w", key, store.ErrUnavailable, err)
	}
	res.EventsDeleted = true
	err := a.st.DeleteEndUser(c.ctx, c.env.ID, key)
	switch {
	case err == nil:
		res.EndUserDeleted = true
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	return res, nil
}
