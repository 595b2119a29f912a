package api

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/auth"
	"github.com/switchyard/switchyard/control/internal/domain"
	"github.com/switchyard/switchyard/control/internal/store"
	"github.com/switchyard/switchyard/control/internal/webhook"
)

// TriggerTokenPrefix starts every trigger token.
const TriggerTokenPrefix = "syr_"

// TriggerRequest creates a trigger: Action "on" or "off".
type TriggerRequest struct {
	Action      string `json:"action"`
	Description string `json:"description"`
}

// TriggerUpdate enables or disables a trigger or changes its description.
type TriggerUpdate struct {
	Enabled     *bool   `json:"enabled,omitempty"`
	Description *string `json:"description,omitempty"`
	Version     int64   `json:"version"`
}

// TriggerCreated carries the trigger's token and URL: shown only on
// creation and reset.
type TriggerCreated struct {
	store.Trigger
	Token string `json:"token"`
	URL   string `json:"url"` // path of the run route; POST to it, no other auth
}

// TriggerRun is the answer of the run route.
type TriggerRun struct {
	FlagKey   string `json:"flagKey"`
	IsEnabled bool   `json:"isEnabled"`
	Changed   bool   `json:"changed"` // false: the flag was already in that state
	Version   int64  `json:"version"`
	Count     int64  `json:"count"`
}

func (a *API) triggerRoutes() []Route {
	const p = Prefix
	return []Route{
		{Method: "GET", Path: p + "/envs/{envId}/flags/{key}/triggers", Tag: "triggers", Summary: "List a flag's triggers (counts, last triggered; never tokens)", Scope: Env, Action: ActRead, Resp: List[store.Trigger]{}, h: a.listTriggers},
		{Method: "POST", Path: p + "/envs/{envId}/flags/{key}/triggers", Tag: "triggers", Summary: "Create a trigger that turns the flag on or off; its token URL is shown only in this response", Scope: Env, Action: ActFlagWrite, Status: 201, Body: TriggerRequest{}, Resp: TriggerCreated{}, h: a.createTrigger},
		{Method: "PUT", Path: p + "/envs/{envId}/triggers/{id}", Tag: "triggers", Summary: "Enable or disable a trigger (version must be the version read)", Scope: Env, Action: ActFlagWrite, Body: TriggerUpdate{}, Resp: store.Trigger{}, h: a.updateTrigger},
		{Method: "POST", Path: p + "/envs/{envId}/triggers/{id}/reset", Tag: "triggers", Summary: "Replace a trigger's token (the old URL stops working)", Scope: Env, Action: ActFlagWrite, Resp: TriggerCreated{}, h: a.resetTrigger},
		{Method: "DELETE", Path: p + "/envs/{envId}/triggers/{id}", Tag: "triggers", Summary: "Delete a trigger", Scope: Env, Action: ActFlagWrite, h: a.deleteTrigger},
		{Method: "POST", Path: p + "/triggers/run/{token}", Tag: "triggers", Summary: "Run a trigger: turns its flag on or off (the token is the only credential)", Scope: Public, Resp: TriggerRun{}, h: a.runTrigger},
	}
}

func init() {
	auditSpecs["POST /envs/{envId}/flags/{key}/triggers"] = auditSpec{typ: "trigger", action: "created"}
	auditSpecs["PUT /envs/{envId}/triggers/{id}"] = auditSpec{typ: "trigger", action: "updated", before: triggerBefore}
	auditSpecs["POST /envs/{envId}/triggers/{id}/reset"] = auditSpec{typ: "trigger", action: "token_reset", before: triggerBefore}
	auditSpecs["DELETE /envs/{envId}/triggers/{id}"] = auditSpec{typ: "trigger", action: "deleted", before: triggerBefore}
}

func triggerBefore(c *call, _ []byte) (any, error) {
	return c.a.st.GetTrigger(c.ctx, c.env.ID, c.path("id"))
}

func newTriggerToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return TriggerTokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

func triggerCreated(t *store.Trigger, tok string) *TriggerCreated {
	return &TriggerCreated{Trigger: *t, Token: tok, URL: Prefix + "/triggers/run/" + tok}
}

func (a *API) listTriggers(c *call) (any, error) {
	f, err := a.flag(c)
	if err != nil {
		return nil, err
	}
	ts, err := a.st.ListTriggers(c.ctx, f.ID)
	if err != nil {
		return nil, err
	}
	out := make([]store.Trigger, len(ts))
	for i, t := range ts {
		out[i] = *t
	}
	return list(out, len(out)), nil
}

func (a *API) createTrigger(c *call) (any, error) {
	var req TriggerRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if req.Action != "on" && req.Action != "off" {
		return nil, store.Invalid("action", "must be \"on\" or \"off\"")
	}
	if err := domain.Text("description", req.Description, 0, domain.MaxText); err != nil {
		return nil, err
	}
	f, err := a.flag(c)
	if err != nil {
		return nil, err
	}
	if !c.can(ActFlagToggle) { // a trigger is a standing toggle
		return nil, forbidden(ActFlagToggle, c.resource())
	}
	tok := newTriggerToken()
	t := &store.Trigger{ID: webhook.NewID(), OrgID: c.orgID, EnvID: c.env.ID, FlagID: f.ID, FlagKey: f.Key, Action: req.Action,
		Description: req.Description, Enabled: true, Hash: auth.Hash(tok), Prefix: tok[:len(TriggerTokenPrefix)+6], CreatedBy: c.actor()}
	if err := a.st.CreateTrigger(c.ctx, t); err != nil {
		return nil, err
	}
	return triggerCreated(t, tok), nil
}

func (a *API) updateTrigger(c *call) (any, error) {
	var req TriggerUpdate
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	t, err := a.st.GetTrigger(c.ctx, c.env.ID, c.path("id"))
	if err != nil {
		return nil, err
	}
	if err := requireVersion(req.Version, t.Version); err != nil {
		return nil, err
	}
	if req.Description != nil {
		if err := domain.Text("description", *req.Description, 0, domain.MaxText); err != nil {
			return nil, err
		}
		t.Description = *req.Description
	}
	if req.Enabled != nil {
		t.Enabled = *req.Enabled
	}
	if err := a.st.UpdateTrigger(c.ctx, t, req.Version); err != nil {
		return nil, conflictVersion(err)
	}
	return t, nil
}

func conflictVersion(err error) error {
	if errors.Is(err, store.ErrConflict) {
		return &store.FieldError{Kind: store.ErrConflict, Field: "version", Msg: "changed concurrently; reload and retry"}
	}
	return err
}

func (a *API) resetTrigger(c *call) (any, error) {
	t, err := a.st.GetTrigger(c.ctx, c.env.ID, c.path("id"))
	if err != nil {
		return nil, err
	}
	tok := newTriggerToken()
	expect := t.Version
	t.Hash, t.Prefix = auth.Hash(tok), tok[:len(TriggerTokenPrefix)+6]
	if err := a.st.UpdateTrigger(c.ctx, t, expect); err != nil {
		return nil, conflictVersion(err)
	}
	return triggerCreated(t, tok), nil
}

func (a *API) deleteTrigger(c *call) (any, error) {
	if _, err := a.st.GetTrigger(c.ctx, c.env.ID, c.path("id")); err != nil {
		return nil, err
	}
	return nil, a.st.DeleteTrigger(c.ctx, c.path("id"))
}

// runTrigger turns the trigger's flag on or off through the normal write
// path (validation, outbox, publisher), then counts the run. Unknown tokens
// are 404; a disabled trigger is 409.
func (a *API) runTrigger(c *call) (any, error) {
	tok := c.path("token")
	if !strings.HasPrefix(tok, TriggerTokenPrefix) {
		return nil, fmt.Errorf("trigger: %w", store.ErrNotFound)
	}
	t, err := a.st.GetTriggerByHash(c.ctx, auth.Hash(tok))
	if err != nil {
		return nil, err
	}
	if !t.Enabled {
		return nil, store.Errorf(store.ErrConflict, "this trigger is disabled")
	}
	want := t.Action == "on"
	var (
		before, after *codec.Flag
		changed       bool
	)
	for range 10 {
		cur, err := a.st.GetFlag(c.ctx, t.EnvID, t.FlagID)
		if err != nil {
			return nil, err
		}
		if cur.IsArchived {
			return nil, store.Errorf(store.ErrConflict, "flag %q is archived", cur.Key)
		}
		before, after = cur, cur
		if cur.IsEnabled == want {
			break
		}
		f := cur.Clone()
		f.IsEnabled = want
		_, err = a.dom.SaveFlag(c.ctx, f, cur.Version)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, err
		}
		after, changed = f, true
		break
	}
	if after == nil {
		return nil, store.Errorf(store.ErrConflict, "the flag changed concurrently too often; retry")
	}
	// Count the run (compare-and-set, retried).
	for range 10 {
		t2, err := a.st.GetTriggerByHash(c.ctx, t.Hash)
		if err != nil {
			break
		}
		expect := t2.Version
		t2.Count++
		t2.LastTriggeredAt = a.st.Now()
		if err := a.st.UpdateTrigger(c.ctx, t2, expect); err == nil {
			t = t2
			break
		}
	}
	if changed {
		desc := "trigger " + t.Prefix + "…"
		if t.Description != "" {
			desc = fmt.Sprintf("trigger '%s' (%s…)", t.Description, t.Prefix)
		}
		a.dom.Record(c.ctx, &domain.Change{Actor: "trigger:" + t.ID, ActorName: desc, OrgID: t.OrgID, Type: "flag", Action: "toggled",
			Before: before, After: after})
	}
	return &TriggerRun{FlagKey: after.Key, IsEnabled: after.IsEnabled, Changed: changed, Version: after.Version, Count: t.Count}, nil
}
