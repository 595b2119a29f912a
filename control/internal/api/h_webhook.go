package api

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/switchyard/switchyard/control/internal/audit"
	"github.com/switchyard/switchyard/control/internal/domain"
	"github.com/switchyard/switchyard/control/internal/store"
	"github.com/switchyard/switchyard/control/internal/webhook"
)

// WebhookRequest creates or changes a webhook. Events are kinds such as
// "flag.updated" ("*" for all); ProjectIDs and EnvIDs, when set, keep only
// events of those projects and environments. Secret is optional on
// creation (a random one is made); Enabled defaults to true on creation.
type WebhookRequest struct {
	Name        string   `json:"name"`
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	ProjectIDs  []string `json:"projectIds"`
	EnvIDs      []string `json:"envIds"`
	Enabled     *bool    `json:"enabled,omitempty"`
	Secret      string   `json:"secret,omitempty"`
	Description string   `json:"description"`
	Version     int64    `json:"version"`
}

// WebhookView is a webhook without its secret.
type WebhookView struct {
	store.Webhook
}

// WebhookCreated is the only response that carries the signing secret.
type WebhookCreated struct {
	WebhookView
	Secret string `json:"secret"`
}

func (a *API) webhookRoutes() []Route {
	const p = Prefix
	return []Route{
		{Method: "GET", Path: p + "/orgs/{orgId}/webhooks", Tag: "webhooks", Summary: "List webhooks", Scope: Org, Action: ActWebhookManage, Resp: List[WebhookView]{}, h: a.listWebhooks},
		{Method: "GET", Path: p + "/orgs/{orgId}/webhook-kinds", Tag: "webhooks", Summary: "The event kinds a webhook can subscribe to, sorted (\"*\" subscribes to all)", Scope: Org, Action: ActRead, Resp: List[string]{}, h: a.webhookKinds},
		{Method: "POST", Path: p + "/orgs/{orgId}/webhooks", Tag: "webhooks", Summary: "Create a webhook; its signing secret is shown only in this response", Scope: Org, Action: ActWebhookManage, Status: 201, Body: WebhookRequest{}, Resp: WebhookCreated{}, h: a.createWebhook},
		{Method: "GET", Path: p + "/orgs/{orgId}/webhooks/{id}", Tag: "webhooks", Summary: "Get a webhook", Scope: Org, Action: ActWebhookManage, Resp: WebhookView{}, h: a.getWebhook},
		{Method: "PUT", Path: p + "/orgs/{orgId}/webhooks/{id}", Tag: "webhooks", Summary: "Change a webhook (version must be the version read; an empty secret keeps it)", Scope: Org, Action: ActWebhookManage, Body: WebhookRequest{}, Resp: WebhookView{}, h: a.updateWebhook},
		{Method: "DELETE", Path: p + "/orgs/{orgId}/webhooks/{id}", Tag: "webhooks", Summary: "Delete a webhook", Scope: Org, Action: ActWebhookManage, h: a.deleteWebhook},
		{Method: "POST", Path: p + "/orgs/{orgId}/webhooks/{id}/test", Tag: "webhooks", Summary: "Send a test event now and return the delivery with its attempt", Scope: Org, Action: ActWebhookManage, Resp: store.Delivery{}, h: a.testWebhook},
		{Method: "GET", Path: p + "/orgs/{orgId}/webhooks/{id}/deliveries", Tag: "webhooks", Summary: "Delivery log of a webhook, newest first (status, attempts with HTTP status, latency, response excerpt)", Scope: Org, Action: ActWebhookManage, Query: []string{"offset", "limit"}, Resp: List[store.Delivery]{}, h: a.listDeliveries},
	}
}

func init() {
	auditSpecs["POST /orgs/{orgId}/webhooks"] = auditSpec{typ: "webhook", action: "created"}
	auditSpecs["PUT /orgs/{orgId}/webhooks/{id}"] = auditSpec{typ: "webhook", action: "updated", before: webhookBefore}
	auditSpecs["DELETE /orgs/{orgId}/webhooks/{id}"] = auditSpec{typ: "webhook", action: "deleted", before: webhookBefore}
}

func webhookBefore(c *call, _ []byte) (any, error) {
	w, err := c.a.st.GetWebhook(c.ctx, c.orgID, c.path("id"))
	if err != nil {
		return nil, err
	}
	return &WebhookView{*w}, nil
}

// validWebhook checks a request; everything is checked before a write.
func (a *API) validWebhook(c *call, req *WebhookRequest) error {
	req.Name = strings.TrimSpace(req.Name)
	if err := domain.Text("name", req.Name, 1, 200); err != nil {
		return err
	}
	if len(req.URL) > 2000 {
		return store.Invalid("url", "must be at most 2000 characters")
	}
	if err := webhook.CheckURL(req.URL, a.wf.Webhooks().Allow()); err != nil {
		return store.Invalid("url", "%v", err)
	}
	for _, l := range []struct {
		field string
		n     int
	}{{"events", len(req.Events)}, {"projectIds", len(req.ProjectIDs)}, {"envIds", len(req.EnvIDs)}} {
		if err := listCap(l.field, l.n, maxRefList); err != nil {
			return err
		}
	}
	if len(req.Events) == 0 {
		return store.Invalid("events", "subscribe to at least one event kind (or \"*\")")
	}
	kinds := eventKinds()
	for i, k := range req.Events {
		if k != "*" && !slices.Contains(kinds, k) {
			return store.Invalid(domain.At("events", i), "unknown event kind %q; known: *, %s", k, strings.Join(kinds, ", "))
		}
	}
	for i, id := range req.ProjectIDs {
		p, err := a.st.GetProject(c.ctx, id)
		if err != nil || p.OrgID != c.orgID {
			return store.Invalid(domain.At("projectIds", i), "no such project in this organization")
		}
	}
	for i, id := range req.EnvIDs {
		e, err := a.st.GetEnv(c.ctx, id)
		if err != nil || e.OrgID != c.orgID {
			return store.Invalid(domain.At("envIds", i), "no such environment in this organization")
		}
	}
	if req.Secret != "" && (len(req.Secret) < 16 || len(req.Secret) > 200) {
		return store.Invalid("secret", "must be 16 to 200 characters")
	}
	return domain.Text("description", req.Description, 0, domain.MaxText)
}

func (a *API) webhookKinds(*call) (any, error) {
	ks := eventKinds()
	return list(ks, len(ks)), nil
}

func (a *API) listWebhooks(c *call) (any, error) {
	ws, err := a.st.ListWebhooks(c.ctx, c.orgID)
	if err != nil {
		return nil, err
	}
	out := make([]WebhookView, len(ws))
	for i, w := range ws {
		out[i] = WebhookView{*w}
	}
	return list(out, len(out)), nil
}

func (a *API) createWebhook(c *call) (any, error) {
	var req WebhookRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if err := a.validWebhook(c, &req); err != nil {
		return nil, err
	}
	w := &store.Webhook{ID: webhook.NewID(), OrgID: c.orgID, Name: req.Name, URL: req.URL, Events: domain.Dedupe(req.Events),
		ProjectIDs: req.ProjectIDs, EnvIDs: req.EnvIDs, Enabled: req.Enabled == nil || *req.Enabled,
		Secret: req.Secret, Description: req.Description, CreatedBy: c.actor()}
	if w.Secret == "" {
		w.Secret = webhook.NewSecret()
	}
	if err := a.st.CreateWebhook(c.ctx, w); err != nil {
		return nil, err
	}
	return &WebhookCreated{WebhookView{*w}, w.Secret}, nil
}

func (a *API) getWebhook(c *call) (any, error) {
	w, err := a.st.GetWebhook(c.ctx, c.orgID, c.path("id"))
	if err != nil {
		return nil, err
	}
	return &WebhookView{*w}, nil
}

func (a *API) updateWebhook(c *call) (any, error) {
	var req WebhookRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	w, err := a.st.GetWebhook(c.ctx, c.orgID, c.path("id"))
	if err != nil {
		return nil, err
	}
	if err := requireVersion(req.Version, w.Version); err != nil {
		return nil, err
	}
	if err := a.validWebhook(c, &req); err != nil {
		return nil, err
	}
	w.Name, w.URL, w.Events, w.ProjectIDs, w.EnvIDs, w.Description = req.Name, req.URL, domain.Dedupe(req.Events), req.ProjectIDs, req.EnvIDs, req.Description
	if req.Enabled != nil {
		w.Enabled = *req.Enabled
	}
	if req.Secret != "" {
		w.Secret = req.Secret
	}
	if err := a.st.UpdateWebhook(c.ctx, w, req.Version); err != nil {
		return nil, err
	}
	return &WebhookView{*w}, nil
}

func (a *API) deleteWebhook(c *call) (any, error) {
	if _, err := a.st.GetWebhook(c.ctx, c.orgID, c.path("id")); err != nil {
		return nil, err
	}
	return nil, a.st.DeleteWebhook(c.ctx, c.path("id"))
}

// testWebhook sends a "webhook.test" event once, now, and records it in
// the delivery log (no retries).
func (a *API) testWebhook(c *call) (any, error) {
	w, err := a.st.GetWebhook(c.ctx, c.orgID, c.path("id"))
	if err != nil {
		return nil, err
	}
	ev := &webhook.Event{ID: webhook.NewID(), Kind: "webhook.test", At: a.st.Now(), OrgID: c.orgID, Actor: c.actor(),
		Resource: &webhook.Resource{Type: "webhook", ID: w.ID, Key: w.Name}}
	body, err := jsonBytes(ev)
	if err != nil {
		return nil, err
	}
	dl := &store.Delivery{ID: webhook.NewID(), WebhookID: w.ID, OrgID: w.OrgID, Event: ev.Kind, Body: string(body),
		Status: store.DeliverySending, LeaseOwner: a.wf.Instance(), LeaseUntil: a.st.Now() + 60_000}
	if err := a.st.AddDelivery(c.ctx, dl); err != nil {
		return nil, err
	}
	at := a.wf.Webhooks().Attempt(c.ctx, w, dl)
	dl.Attempts = append(dl.Attempts, at)
	dl.Status, dl.LeaseOwner, dl.LeaseUntil = store.DeliveryFailed, "", 0
	if at.Status >= 200 && at.Status < 300 {
		dl.Status = store.DeliveryDelivered
	}
	if err := a.st.SaveDelivery(c.ctx, dl, dl.Version); err != nil {
		return nil, err
	}
	return dl, nil
}

func (a *API) listDeliveries(c *call) (any, error) {
	if _, err := a.st.GetWebhook(c.ctx, c.orgID, c.path("id")); err != nil {
		return nil, err
	}
	off, err := c.queryInt("offset", 0, 1<<30)
	if err != nil {
		return nil, err
	}
	lim, err := c.queryInt("limit", 50, 1000)
	if err != nil {
		return nil, err
	}
	ds, total, err := a.st.ListDeliveries(c.ctx, c.path("id"), off, lim)
	if err != nil {
		return nil, err
	}
	out := make([]store.Delivery, len(ds))
	for i, d := range ds {
		out[i] = *d
		out[i].Body = redactBody(d.Body)
	}
	return list(out, total), nil
}

// redactBody passes a stored delivery body through audit.Redact on its way
// out: deliveries queued by earlier versions carried secrets.
func redactBody(body string) string {
	var v any
	if json.Unmarshal([]byte(body), &v) != nil {
		return audit.Scrub(body)
	}
	b, err := json.Marshal(audit.Redact(v))
	if err != nil {
		return ""
	}
	return string(b)
}
