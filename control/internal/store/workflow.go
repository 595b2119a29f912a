package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/switchyard/switchyard/codec"
)

// Workflow collections (audit log, webhooks and their deliveries, flag
// triggers, scheduled changes, per-environment workflow settings).
const (
	CollAudit       = "audit"
	CollWebhooks    = "webhooks"
	CollDeliveries  = "webhook_deliveries"
	CollTriggers    = "triggers"
	CollSchedules   = "schedules"
	CollEnvSettings = "env_settings"
)

func init() {
	Schema = append(Schema,
		Collection{Name: CollAudit, Indexes: []Index{
			{Name: "org_at", Fields: []string{"orgId", "at"}},
			{Name: "env_at", Fields: []string{"envId", "at"}},
			{Name: "at", Fields: []string{"at"}}, // retention: oldest first across organizations
		}},
		Collection{Name: CollWebhooks, Indexes: []Index{{Name: "org", Fields: []string{"orgId"}}}},
		Collection{Name: CollDeliveries, Indexes: []Index{
			{Name: "status", Fields: []string{"status"}},
			{Name: "webhook", Fields: []string{"webhookId"}},
		}},
		Collection{Name: CollTriggers, Indexes: []Index{
			{Name: "hash", Fields: []string{"hash"}, Unique: true},
			{Name: "flag", Fields: []string{"flagId"}},
		}},
		Collection{Name: CollSchedules, Indexes: []Index{
			{Name: "env", Fields: []string{"envId"}},
			{Name: "status", Fields: []string{"status"}},
		}},
		Collection{Name: CollEnvSettings},
	)
}

// Claim takes the claim named key in coll for owner: the first caller
// wins (true); later callers get false. It is an insert of a new id, which
// is atomic on every backend, including MongoDB-wire servers (FerretDB)
// whose filtered ReplaceOne is not an atomic compare-and-set under
// concurrency. Claim documents carry no indexed fields, so queries on the
// collection's fields never see them.
func (s *Store) Claim(ctx context.Context, coll, key, owner string) (bool, error) {
	err := s.b.Insert(ctx, coll, &Doc{ID: "claim:" + key, Version: 1, Data: encode(map[string]any{"owner": owner, "at": s.Now()})})
	if errors.Is(err, ErrDuplicate) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("cannot claim %s: %w", key, err)
	}
	return true, nil
}

// ReleaseClaims deletes the claims key:0 … key:n-1 of an item that reached
// a final state (it is never claimed again). Best effort.
func (s *Store) ReleaseClaims(ctx context.Context, coll, key string, n int) {
	for i := range n {
		_ = s.b.Delete(ctx, coll, fmt.Sprintf("claim:%s:%d", key, i), -1)
	}
}

// ---- audit ----

// AuditEntry is one recorded write: who (Actor: a user id, "token:<id>",
// "trigger:<id>" or "schedule:<id>"; ActorName its readable name), when (At,
// Unix ms), what (Action on ResourceType/ResourceID, named ResourceKey),
// why (Comment) and how (Changes: the field-level diff in words).
type AuditEntry struct {
	ID           string   `json:"id"`
	OrgID        string   `json:"orgId"`
	ProjectID    string   `json:"projectId,omitempty"`
	EnvID        string   `json:"envId,omitempty"`
	At           int64    `json:"at"`
	Actor        string   `json:"actor"`
	ActorName    string   `json:"actorName,omitempty"`
	Action       string   `json:"action"`
	ResourceType string   `json:"resourceType"`
	ResourceID   string   `json:"resourceId,omitempty"`
	ResourceKey  string   `json:"resourceKey,omitempty"`
	Comment      string   `json:"comment,omitempty"`
	Changes      []string `json:"changes"`
}

func auditFields(a *AuditEntry) map[string]string {
	return map[string]string{"orgId": a.OrgID, "envId": a.EnvID, "at": pad(a.At) + a.ID,
		"actor": a.Actor, "type": a.ResourceType, "rid": a.ResourceID, "rkey": a.ResourceKey}
}

// AddAudit stores an audit entry (ID and At must be set).
func (s *Store) AddAudit(ctx context.Context, a *AuditEntry) error {
	return insertDoc(ctx, s, CollAudit, a.ID, 1, auditFields(a), a)
}

// PruneAudit deletes the audit entries older than before (Unix ms), oldest
// first, and returns how many it deleted. Several control instances may
// prune at once: an entry another one deleted first is skipped.
func (s *Store) PruneAudit(ctx context.Context, before int64) (int, error) {
	return pruneOldest(ctx, s, CollAudit, "at", func(a *AuditEntry) (string, pruneVerdict) {
		if a.At >= before {
			return a.ID, pruneStop
		}
		return a.ID, pruneDelete
	})
}

// AuditFilter selects audit entries of one organization. Resource matches
// the resource id or key; From and To bound At (Unix ms, inclusive; 0: no
// bound).
type AuditFilter struct {
	OrgID, EnvID, ResourceType, Resource, Actor string
	From, To                                    int64
	Offset, Limit                               int
}

// ListAudit returns a page of matching entries, newest first, and the total.
// Organization, environment, type, actor and resource are index or field
// filters of the backend (a resource is matched as a key first, then as an
// id); a time range is applied while reading, so a query with one reads the
// matching entries once.
func (s *Store) ListAudit(ctx context.Context, f AuditFilter) ([]*AuditEntry, int, error) {
	q := Query{Eq: map[string]string{"orgId": f.OrgID}, Sort: "at", Desc: true}
	if f.EnvID != "" {
		q.Eq["envId"] = f.EnvID
	}
	if f.ResourceType != "" {
		q.Eq["type"] = f.ResourceType
	}
	if f.Actor != "" {
		q.Eq["actor"] = f.Actor
	}
	ranged := f.From > 0 || f.To > 0
	if !ranged {
		q.Offset, q.Limit = f.Offset, f.Limit
	}
	find := func(q Query) ([]*AuditEntry, int, error) { return findDocs[AuditEntry](ctx, s, CollAudit, q) }
	var (
		all   []*AuditEntry
		total int
		err   error
	)
	if f.Resource != "" {
		q.Eq["rkey"] = f.Resource
		all, total, err = find(q)
		if err == nil && total == 0 {
			delete(q.Eq, "rkey")
			q.Eq["rid"] = f.Resource
			all, total, err = find(q)
		}
	} else {
		all, total, err = find(q)
	}
	if err != nil || !ranged {
		return all, total, err
	}
	out := all[:0]
	for _, a := range all {
		if (f.From > 0 && a.At < f.From) || (f.To > 0 && a.At > f.To) {
			continue
		}
		out = append(out, a)
	}
	lo, hi := page(len(out), f.Offset, f.Limit)
	return out[lo:hi], len(out), nil
}

// ---- environment workflow settings ----

// EnvSettings are the workflow settings of an environment.
// A protected environment (Protected) changes flags and segments only
// through change requests with RequiredApprovals approvals (at least 1) by
// members allowed the change:approve action and, when Approvers is not
// empty, named there ("user:<id>" or "group:<id>").
type EnvSettings struct {
	EnvID             string   `json:"envId"`
	RequireComment    bool     `json:"requireComment"`
	Protected         bool     `json:"protected"`
	RequiredApprovals int      `json:"requiredApprovals,omitempty"`
	Approvers         []string `json:"approvers,omitempty"`
	UpdatedAt         int64    `json:"updatedAt"`
}

// GetEnvSettings returns an environment's settings (defaults if never set).
// Within a request (WithRequestMemo) they are read once.
func (s *Store) GetEnvSettings(ctx context.Context, envID string) (*EnvSettings, error) {
	m := memoOf(ctx)
	if es, ok := m.getSettings(envID); ok {
		return es, nil
	}
	v, _, err := getDoc[EnvSettings](ctx, s, CollEnvSettings, envID)
	if errors.Is(err, ErrNotFound) {
		v, err = &EnvSettings{EnvID: envID}, nil
	}
	if err == nil {
		m.putSettings(v)
	}
	return v, err
}

// PutEnvSettings stores an environment's settings.
func (s *Store) PutEnvSettings(ctx context.Context, es *EnvSettings) error {
	memoOf(ctx).forgetSettings(es.EnvID)
	defer memoOf(ctx).forgetSettings(es.EnvID)
	es.UpdatedAt = s.Now()
	for range 10 {
		d, err := s.b.Get(ctx, CollEnvSettings, es.EnvID)
		if errors.Is(err, ErrNotFound) {
			err = insertDoc(ctx, s, CollEnvSettings, es.EnvID, 1, nil, es)
		} else if err == nil {
			err = replaceDoc(ctx, s, CollEnvSettings, es.EnvID, d.Version+1, d.Version, nil, es)
		}
		if errors.Is(err, ErrConflict) || errors.Is(err, ErrDuplicate) {
			continue
		}
		return err
	}
	return Errorf(ErrConflict, "settings changed concurrently")
}

// ---- webhooks ----

// Webhook is an organization's subscription: events of the listed kinds
// (e.g. "flag.updated"; "*" for all), optionally only of some projects and
// environments, are POSTed to URL, signed with Secret.
type Webhook struct {
	ID          string   `json:"id"`
	OrgID       string   `json:"orgId"`
	Name        string   `json:"name"`
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	ProjectIDs  []string `json:"projectIds,omitempty"`
	EnvIDs      []string `json:"envIds,omitempty"`
	Enabled     bool     `json:"enabled"`
	Secret      string   `json:"-"`
	CreatedAt   int64    `json:"createdAt"`
	UpdatedAt   int64    `json:"updatedAt"`
	CreatedBy   string   `json:"createdBy,omitempty"`
	Version     int64    `json:"version"`
	Description string   `json:"description,omitempty"`
}

type webhookDoc struct {
	Webhook
	StoredSecret string `json:"secret"`
}

func webhookOf(d *webhookDoc) *Webhook { w := d.Webhook; w.Secret = d.StoredSecret; return &w }

// CreateWebhook stores a webhook (Version 1).
func (s *Store) CreateWebhook(ctx context.Context, w *Webhook) error {
	w.Version, w.CreatedAt, w.UpdatedAt = 1, s.Now(), s.Now()
	return insertDoc(ctx, s, CollWebhooks, w.ID, 1, map[string]string{"orgId": w.OrgID}, webhookDoc{*w, w.Secret})
}

// GetWebhook returns a webhook of an organization.
func (s *Store) GetWebhook(ctx context.Context, orgID, id string) (*Webhook, error) {
	d, _, err := getDoc[webhookDoc](ctx, s, CollWebhooks, id)
	if err != nil {
		return nil, err
	}
	if d.OrgID != orgID {
		return nil, fmt.Errorf("webhook %s: %w", id, ErrNotFound)
	}
	return webhookOf(d), nil
}

// UpdateWebhook replaces w if its stored version is expect.
func (s *Store) UpdateWebhook(ctx context.Context, w *Webhook, expect int64) error {
	w.Version, w.UpdatedAt = expect+1, s.Now()
	err := replaceDoc(ctx, s, CollWebhooks, w.ID, w.Version, expect, map[string]string{"orgId": w.OrgID}, webhookDoc{*w, w.Secret})
	if errors.Is(err, ErrConflict) {
		return staleVersion(-1, expect)
	}
	return err
}

// DeleteWebhook removes a webhook.
func (s *Store) DeleteWebhook(ctx context.Context, id string) error {
	return s.b.Delete(ctx, CollWebhooks, id, -1)
}

// ListWebhooks returns the webhooks of an organization.
func (s *Store) ListWebhooks(ctx context.Context, orgID string) ([]*Webhook, error) {
	ds, _, err := findDocs[webhookDoc](ctx, s, CollWebhooks, Query{Eq: map[string]string{"orgId": orgID}})
	out := make([]*Webhook, len(ds))
	for i, d := range ds {
		out[i] = webhookOf(d)
	}
	return out, err
}

// Delivery statuses.
const (
	DeliveryPending   = "pending"
	DeliverySending   = "sending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// DeliveryAttempt is one HTTP attempt of a delivery.
type DeliveryAttempt struct {
	At        int64  `json:"at"`
	Status    int    `json:"status"` // HTTP status; 0 when no response
	LatencyMs int64  `json:"latencyMs"`
	Error     string `json:"error,omitempty"`
	Response  string `json:"response,omitempty"` // excerpt of the response body
}

// Delivery is one event to deliver to one webhook, with its attempts. It is
// persisted before anything is sent, so queued deliveries survive a restart.
type Delivery struct {
	ID         string            `json:"id"`
	WebhookID  string            `json:"webhookId"`
	OrgID      string            `json:"orgId"`
	Event      string            `json:"event"`
	Body       string            `json:"body"` // the JSON body POSTed
	Status     string            `json:"status"`
	NextAt     int64             `json:"nextAt"`
	LeaseOwner string            `json:"leaseOwner,omitempty"`
	LeaseUntil int64             `json:"leaseUntil,omitempty"`
	Attempts   []DeliveryAttempt `json:"attempts"`
	Claims     int               `json:"claims"` // claims taken so far (the next claim's key)
	CreatedAt  int64             `json:"createdAt"`
	Version    int64             `json:"version"`
}

func deliveryFields(d *Delivery) map[string]string {
	return map[string]string{"status": d.Status, "webhookId": d.WebhookID, "at": pad(d.CreatedAt) + d.ID}
}

// AddDelivery queues a delivery (Version 1).
func (s *Store) AddDelivery(ctx context.Context, d *Delivery) error {
	d.Version = 1
	if d.CreatedAt == 0 {
		d.CreatedAt = s.Now()
	}
	return insertDoc(ctx, s, CollDeliveries, d.ID, 1, deliveryFields(d), d)
}

// SaveDelivery replaces d if its stored version is expect (ErrConflict
// otherwise: another worker got it first); d.Version becomes expect+1.
func (s *Store) SaveDelivery(ctx context.Context, d *Delivery, expect int64) error {
	d.Version = expect + 1
	return replaceDoc(ctx, s, CollDeliveries, d.ID, d.Version, expect, deliveryFields(d), d)
}

// GetDelivery returns a delivery.
func (s *Store) GetDelivery(ctx context.Context, id string) (*Delivery, error) {
	d, _, err := getDoc[Delivery](ctx, s, CollDeliveries, id)
	return d, err
}

// DeliveriesByStatus returns up to limit deliveries with the status, oldest
// first.
func (s *Store) DeliveriesByStatus(ctx context.Context, status string, limit int) ([]*Delivery, error) {
	ds, _, err := findDocs[Delivery](ctx, s, CollDeliveries, Query{Eq: map[string]string{"status": status}, Sort: "at", Limit: limit, NoTotal: true})
	return ds, err
}

// ListDeliveries returns a page of a webhook's deliveries, newest first.
func (s *Store) ListDeliveries(ctx context.Context, webhookID string, offset, limit int) ([]*Delivery, int, error) {
	return findDocs[Delivery](ctx, s, CollDeliveries, Query{Eq: map[string]string{"webhookId": webhookID},
		Sort: "at", Desc: true, Offset: offset, Limit: limit})
}

// ---- triggers ----

// Trigger turns a flag on or off when its secret URL is called. Only the
// SHA-256 of the token is stored; Prefix helps users recognise it.
type Trigger struct {
	ID              string `json:"id"`
	OrgID           string `json:"orgId"`
	EnvID           string `json:"envId"`
	FlagID          string `json:"flagId"`
	FlagKey         string `json:"flagKey"`
	Action          string `json:"action"` // "on" or "off"
	Description     string `json:"description,omitempty"`
	Enabled         bool   `json:"enabled"`
	Hash            string `json:"-"`
	Prefix          string `json:"prefix"`
	Count           int64  `json:"count"`
	LastTriggeredAt int64  `json:"lastTriggeredAt"`
	CreatedAt       int64  `json:"createdAt"`
	CreatedBy       string `json:"createdBy,omitempty"`
	Version         int64  `json:"version"`
}

type triggerDoc struct {
	Trigger
	StoredHash string `json:"hash"`
}

func triggerOf(d *triggerDoc) *Trigger { t := d.Trigger; t.Hash = d.StoredHash; return &t }

func triggerFields(t *Trigger) map[string]string {
	return map[string]string{"hash": t.Hash, "flagId": t.FlagID}
}

// CreateTrigger stores a trigger (Hash must be set).
func (s *Store) CreateTrigger(ctx context.Context, t *Trigger) error {
	t.Version, t.CreatedAt = 1, s.Now()
	return insertDoc(ctx, s, CollTriggers, t.ID, 1, triggerFields(t), triggerDoc{*t, t.Hash})
}

// GetTrigger returns a trigger of an environment.
func (s *Store) GetTrigger(ctx context.Context, envID, id string) (*Trigger, error) {
	d, _, err := getDoc[triggerDoc](ctx, s, CollTriggers, id)
	if err != nil {
		return nil, err
	}
	if d.EnvID != envID {
		return nil, fmt.Errorf("trigger %s: %w", id, ErrNotFound)
	}
	return triggerOf(d), nil
}

// GetTriggerByHash returns the trigger whose token has the SHA-256 hash.
func (s *Store) GetTriggerByHash(ctx context.Context, hash string) (*Trigger, error) {
	ds, _, err := findDocs[triggerDoc](ctx, s, CollTriggers, Query{Eq: map[string]string{"hash": hash}})
	if err != nil {
		return nil, err
	}
	if len(ds) == 0 {
		return nil, fmt.Errorf("trigger: %w", ErrNotFound)
	}
	return triggerOf(ds[0]), nil
}

// UpdateTrigger replaces t if its stored version is expect.
func (s *Store) UpdateTrigger(ctx context.Context, t *Trigger, expect int64) error {
	t.Version = expect + 1
	return replaceDoc(ctx, s, CollTriggers, t.ID, t.Version, expect, triggerFields(t), triggerDoc{*t, t.Hash})
}

// DeleteTrigger removes a trigger.
func (s *Store) DeleteTrigger(ctx context.Context, id string) error {
	return s.b.Delete(ctx, CollTriggers, id, -1)
}

// ListTriggers returns the triggers of a flag.
func (s *Store) ListTriggers(ctx context.Context, flagID string) ([]*Trigger, error) {
	ds, _, err := findDocs[triggerDoc](ctx, s, CollTriggers, Query{Eq: map[string]string{"flagId": flagID}})
	out := make([]*Trigger, len(ds))
	for i, d := range ds {
		out[i] = triggerOf(d)
	}
	return out, err
}

// ---- scheduled changes ----

// Schedule statuses. A schedule moves pending → applying (one instance wins
// the compare-and-set and holds a lease) → applied or failed; pending →
// cancelled.
const (
	SchedPending   = "pending"
	SchedApplying  = "applying"
	SchedApplied   = "applied"
	SchedFailed    = "failed"
	SchedCancelled = "cancelled"
)

// Schedule is a prepared flag change (Draft: the full flag as it should
// become) to apply at At (Unix ms). BaseVersion is the flag version the draft
// was made from; OnConflict says what happens if the flag changed since:
// "fail" (default; nothing applied, Reason says why) or "apply" (the draft
// replaces the newer state; Reason records the versions).
type Schedule struct {
	ID             string     `json:"id"`
	OrgID          string     `json:"orgId"`
	EnvID          string     `json:"envId"`
	FlagID         string     `json:"flagId"`
	FlagKey        string     `json:"flagKey"`
	At             int64      `json:"at"`
	Draft          codec.Flag `json:"draft"`
	BaseVersion    int64      `json:"baseVersion"`
	OnConflict     string     `json:"onConflict"`
	Comment        string     `json:"comment,omitempty"`
	Status         string     `json:"status"`
	Reason         string     `json:"reason,omitempty"`
	AppliedVersion int64      `json:"appliedVersion,omitempty"`
	AppliedAt      int64      `json:"appliedAt,omitempty"`
	AppliedBy      string     `json:"appliedBy,omitempty"` // instance that applied it
	LeaseOwner     string     `json:"leaseOwner,omitempty"`
	LeaseUntil     int64      `json:"leaseUntil,omitempty"`
	Claims         int        `json:"claims"` // claims taken so far (the next claim's key)
	CreatedBy      string     `json:"createdBy,omitempty"`
	CreatedAt      int64      `json:"createdAt"`
	Version        int64      `json:"version"`
}

func scheduleFields(x *Schedule) map[string]string {
	return map[string]string{"envId": x.EnvID, "status": x.Status, "at": pad(x.At) + x.ID, "flagId": x.FlagID}
}

// CreateSchedule stores a pending schedule (Version 1).
func (s *Store) CreateSchedule(ctx context.Context, x *Schedule) error {
	x.Version, x.CreatedAt, x.Status = 1, s.Now(), SchedPending
	return insertDoc(ctx, s, CollSchedules, x.ID, 1, scheduleFields(x), x)
}

// GetSchedule returns a schedule of an environment.
func (s *Store) GetSchedule(ctx context.Context, envID, id string) (*Schedule, error) {
	x, _, err := getDoc[Schedule](ctx, s, CollSchedules, id)
	if err == nil && x.EnvID != envID {
		return nil, fmt.Errorf("schedule %s: %w", id, ErrNotFound)
	}
	return x, err
}

// SaveSchedule replaces x if its stored version is expect: the atomic state
// change that lets exactly one instance claim a due schedule.
func (s *Store) SaveSchedule(ctx context.Context, x *Schedule, expect int64) error {
	x.Version = expect + 1
	return replaceDoc(ctx, s, CollSchedules, x.ID, x.Version, expect, scheduleFields(x), x)
}

// ListSchedules returns an environment's schedules (status "" = all), by
// time.
func (s *Store) ListSchedules(ctx context.Context, envID, status string) ([]*Schedule, error) {
	q := Query{Eq: map[string]string{"envId": envID}, Sort: "at"}
	if status != "" {
		q.Eq["status"] = status
	}
	xs, _, err := findDocs[Schedule](ctx, s, CollSchedules, q)
	return xs, err
}

// SchedulesByStatus returns every schedule with the status, by time.
func (s *Store) SchedulesByStatus(ctx context.Context, status string) ([]*Schedule, error) {
	xs, _, err := findDocs[Schedule](ctx, s, CollSchedules, Query{Eq: map[string]string{"status": status}, Sort: "at"})
	return xs, err
}
