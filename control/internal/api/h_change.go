package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/codec/secret"
	"github.com/switchyard/switchyard/control/internal/audit"
	"github.com/switchyard/switchyard/control/internal/domain"
	"github.com/switchyard/switchyard/control/internal/store"
)

// Change requests (docs/access.md "Protected environments"): in a
// protected environment flags and segments change only by a change
// request that enough other members approved. The gate itself is in the
// store (store.BumpEnv, which every flag and segment write passes) and,
// for an early clear refusal, in serve (gatedActions); this file is the
// way through it.

// ChangeRequestCreate proposes a change: the whole proposed flag or
// segment. Key names the flag (its key) or segment (its id) to update and
// BaseVersion the version read; without Key the item is created.
type ChangeRequestCreate struct {
	Kind        string          `json:"kind"`
	Key         string          `json:"key,omitempty"`
	BaseVersion int64           `json:"baseVersion,omitempty"`
	Proposed    json.RawMessage `json:"proposed"`
}

// ReviewRequest approves or rejects a change request.
type ReviewRequest struct {
	Version int64 `json:"version"`
}

// gatedActions are the actions of routes that write flags or segments of
// the environment in their path: in a protected environment serve refuses
// them (409 change_request_required) before the handler runs.
var gatedActions = map[string]bool{ActFlagWrite: true, ActFlagToggle: true, ActSegmentWrite: true}

// maxReviews bounds the reviews kept on one change request.
const maxReviews = 100

func (a *API) changeRoutes() []Route {
	const p = Prefix + "/envs/{envId}/change-requests"
	return []Route{
		{Method: "GET", Path: p, Tag: "change-requests", Summary: "List change requests, newest first (status filter: open, approved, rejected, applied, closed)", Scope: Env, Action: ActRead, Query: []string{"status", "offset", "limit"}, Resp: List[store.ChangeRequest]{}, h: a.listChangeRequests},
		{Method: "POST", Path: p, Tag: "change-requests", Summary: "Propose a change of a flag or segment of a protected environment (needs flag:write or segment:write, and flag:toggle to turn a flag on or off)", Scope: Env, Action: ActRead, Status: 201, Body: ChangeRequestCreate{}, Resp: store.ChangeRequest{}, h: a.createChangeRequest},
		{Method: "GET", Path: p + "/{id}", Tag: "change-requests", Summary: "Get a change request: the proposed item, the item it is based on and the difference", Scope: Env, Action: ActRead, Resp: store.ChangeRequest{}, h: a.getChangeRequest},
		{Method: "POST", Path: p + "/{id}/approve", Tag: "change-requests", Summary: "Approve a change request (not your own; once per member)", Scope: Env, Action: ActChangeApprove, Body: ReviewRequest{}, Resp: store.ChangeRequest{}, h: a.approveChangeRequest},
		{Method: "POST", Path: p + "/{id}/reject", Tag: "change-requests", Summary: "Reject a change request", Scope: Env, Action: ActChangeApprove, Body: ReviewRequest{}, Resp: store.ChangeRequest{}, h: a.rejectChangeRequest},
		{Method: "POST", Path: p + "/{id}/apply", Tag: "change-requests", Summary: "Apply an approved change request as one versioned write (409 if the item changed since: rebase it)", Scope: Env, Action: ActRead, Body: ReviewRequest{}, Resp: store.ChangeRequest{}, h: a.applyChangeRequest},
		{Method: "POST", Path: p + "/{id}/rebase", Tag: "change-requests", Summary: "Base a stale change request on the item's current version (approvals start over)", Scope: Env, Action: ActRead, Body: ReviewRequest{}, Resp: store.ChangeRequest{}, h: a.rebaseChangeRequest},
		{Method: "POST", Path: p + "/{id}/close", Tag: "change-requests", Summary: "Withdraw a change request (its author, or a member who may approve)", Scope: Env, Action: ActRead, Body: ReviewRequest{}, Resp: store.ChangeRequest{}, h: a.closeChangeRequest},
	}
}

func init() {
	const p = "/envs/{envId}/change-requests"
	for path, action := range map[string]string{p: "created", p + "/{id}/approve": "approved", p + "/{id}/reject": "rejected",
		p + "/{id}/apply": "applied", p + "/{id}/rebase": "rebased", p + "/{id}/close": "closed"} {
		auditSpecs["POST "+path] = auditSpec{typ: "change_request", action: action, self: true}
	}
}

// writeAction is the action a change of kind needs.
func writeAction(kind string) string {
	if kind == store.CRKindSegment {
		return ActSegmentWrite
	}
	return ActFlagWrite
}

// person is the member behind the caller: the user, or for an access token
// the member that created it (through the chain of creating tokens). The
// four-eyes rule compares persons, so an author cannot approve with a token.
func (c *call) person() (string, error) {
	if c.p.user != nil {
		return c.p.user.ID, nil
	}
	t := c.p.token
	for range maxTokenChain {
		creator, isToken := strings.CutPrefix(t.CreatedBy, "token:")
		if !isToken {
			return creator, nil
		}
		parent, err := c.a.st.GetToken(c.ctx, creator)
		if err != nil {
			return "", store.Errorf(store.ErrUnauthorized, "invalid or expired token: the token that created it was revoked")
		}
		t = parent
	}
	return "", store.Errorf(store.ErrUnauthorized, "invalid or expired token: too long a chain of tokens creating tokens")
}

// decodeProposed decodes the proposed item strictly, naming fields under
// "proposed.".
func decodeProposed(raw json.RawMessage, v any) error {
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return store.Invalid("proposed", "required: the whole proposed flag or segment")
	}
	if err := strictJSON(raw); err != nil {
		return prefixField(err, "proposed")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return store.Invalid("proposed."+te.Field, "must be %s, not JSON %s", jsonKind(te.Type.Kind().String()), te.Value)
		}
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			f = strings.Trim(f, `"`)
			return store.Invalid("proposed."+f, "unknown field %q", f)
		}
		return store.Invalid("proposed", "invalid JSON: %v", err)
	}
	return nil
}

// prefixField puts prefix before the field a FieldError names.
func prefixField(err error, prefix string) error {
	var fe *store.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	out := *fe
	if out.Field == "" {
		out.Field = prefix
	} else if !strings.HasPrefix(out.Field, prefix) {
		out.Field = prefix + "." + out.Field
	}
	return &out
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic("BUG: " + err.Error())
	}
	return b
}

// prepareFlag normalises and validates a proposed flag against cur (nil:
// a creation) like createFlag/updateFlag do.
func (c *call) prepareFlag(f, cur *codec.Flag) error {
	if cur == nil {
		f.ID, f.EnvID, f.Version, f.IsArchived = secret.NewGUID(), c.env.ID, 0, false
		f.IsEnabled = false // a new flag starts off, as on createFlag's defaults
		f.Tags = domain.Dedupe(f.Tags)
		domain.FlagDefaults(f)
	} else {
		if f.Key != "" && f.Key != cur.Key {
			return store.Invalid("proposed.key", "a flag's key cannot change (clone it instead)")
		}
		if f.ID != "" && f.ID != cur.ID {
			return store.Invalid("proposed.id", "does not match the flag")
		}
		if cur.IsArchived {
			return store.Errorf(store.ErrConflict, "flag %q is archived", cur.Key)
		}
		f.ID, f.EnvID, f.Key, f.IsArchived, f.CreatedAt = cur.ID, cur.EnvID, cur.Key, false, cur.CreatedAt
		f.Version = cur.Version
		f.Tags = domain.Dedupe(f.Tags)
		domain.FillIDs(f)
		if err := c.mayToggle(cur, f); err != nil {
			return err
		}
	}
	return prefixField(domain.ValidateFlag(f, c.a.dom.SegmentExists(c.ctx, c.env.ID)), "proposed")
}

func prepareSegment(sg, cur *codec.Segment, envID string) error {
	if cur == nil {
		sg.ID, sg.EnvID, sg.IsArchived, sg.Version = secret.NewGUID(), envID, false, 0
	} else {
		sg.ID, sg.EnvID, sg.IsArchived, sg.Version = cur.ID, cur.EnvID, cur.IsArchived, cur.Version
	}
	sg.Name = strings.TrimSpace(sg.Name)
	domain.SegmentDefaults(sg)
	return prefixField(domain.ValidateSegment(sg), "proposed")
}

func (a *API) listChangeRequests(c *call) (any, error) {
	st := c.r.URL.Query().Get("status")
	switch st {
	case "", store.CROpen, store.CRApproved, store.CRRejected, store.CRApplied, store.CRClosed:
	default:
		return nil, store.Invalid("status", "must be open, approved, rejected, applied or closed")
	}
	off, err := c.queryInt("offset", 0, 1<<30)
	if err != nil {
		return nil, err
	}
	lim, err := c.queryInt("limit", 50, 500)
	if err != nil {
		return nil, err
	}
	cs, total, err := a.st.ListChangeRequests(c.ctx, c.env.ID, st, off, lim)
	if err != nil {
		return nil, err
	}
	out := make([]store.ChangeRequest, len(cs))
	for i, x := range cs {
		out[i] = *x
	}
	return list(out, total), nil
}

func (a *API) getChangeRequest(c *call) (any, error) {
	return a.st.GetChangeRequest(c.ctx, c.env.ID, c.path("id"))
}

func (a *API) createChangeRequest(c *call) (any, error) {
	var req ChangeRequestCreate
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if req.Kind != store.CRKindFlag && req.Kind != store.CRKindSegment {
		return nil, store.Invalid("kind", "must be flag or segment")
	}
	if act := writeAction(req.Kind); !c.can(act) {
		return nil, forbidden(act, c.resource())
	}
	es, err := a.st.GetEnvSettings(c.ctx, c.env.ID)
	if err != nil {
		return nil, err
	}
	if !es.Protected {
		return nil, store.Errorf(store.ErrConflict, "environment %s is not protected: change the %s directly", c.env.Key, req.Kind)
	}
	person, err := c.person()
	if err != nil {
		return nil, err
	}
	cr := &store.ChangeRequest{ID: secret.NewGUID(), OrgID: c.orgID, EnvID: c.env.ID, Kind: req.Kind, Op: store.CROpCreate,
		Comment: commentOf(c.ctx), Author: person, AuthorName: c.actorName(), Status: store.CROpen,
		Reviews: []store.Review{}, Required: max(1, es.RequiredApprovals)}
	if req.Key != "" {
		cr.Op = store.CROpUpdate
		if err := requireVersion(req.BaseVersion, req.BaseVersion); err != nil {
			return nil, prefixField(err, "baseVersion")
		}
	}
	switch req.Kind {
	case store.CRKindFlag:
		var f codec.Flag
		if err := decodeProposed(req.Proposed, &f); err != nil {
			return nil, err
		}
		var cur *codec.Flag
		if req.Key != "" {
			if cur, err = a.st.GetFlagByKey(c.ctx, c.env.ID, req.Key); err != nil {
				return nil, err
			}
			if cur.Version != req.BaseVersion {
				return nil, store.Errorf(store.ErrConflict, "stale: the flag is at version %d, not %d; read it again", cur.Version, req.BaseVersion)
			}
			cr.Base, cr.ItemID = mustJSON(cur), cur.ID
		} else if _, err := a.st.GetFlagByKey(c.ctx, c.env.ID, f.Key); err == nil {
			return nil, &store.FieldError{Kind: store.ErrDuplicate, Field: "proposed.key", Msg: "a flag with this key exists; propose an update"}
		}
		if err := c.prepareFlag(&f, cur); err != nil {
			return nil, err
		}
		cr.ItemKey, cr.BaseVersion, cr.Proposed = f.Key, f.Version, mustJSON(&f)
		cr.Diff = audit.Flag(cur, &f, a.dom.SegmentNamer(c.ctx, c.env.ID))
	case store.CRKindSegment:
		var sg codec.Segment
		if err := decodeProposed(req.Proposed, &sg); err != nil {
			return nil, err
		}
		var cur *codec.Segment
		if req.Key != "" {
			if cur, err = a.st.GetSegment(c.ctx, c.env.ID, req.Key); err != nil {
				return nil, err
			}
			if cur.Version != req.BaseVersion {
				return nil, store.Errorf(store.ErrConflict, "stale: the segment is at version %d, not %d; read it again", cur.Version, req.BaseVersion)
			}
			cr.Base, cr.ItemID = mustJSON(cur), cur.ID
		}
		if err := prepareSegment(&sg, cur, c.env.ID); err != nil {
			return nil, err
		}
		cr.ItemKey, cr.BaseVersion, cr.Proposed = sg.Name, sg.Version, mustJSON(&sg)
		cr.Diff = audit.Segment(cur, &sg)
	}
	if cr.Diff == nil {
		cr.Diff = []string{}
	}
	if cr.Op == store.CROpUpdate && len(cr.Diff) == 0 {
		return nil, store.Invalid("proposed", "changes nothing")
	}
	if err := a.st.CreateChangeRequest(c.ctx, cr); err != nil {
		return nil, err
	}
	a.recordCR(c, cr, "created", cr.Diff)
	return cr, nil
}

// recordCR audits a step of a change request and sends its webhook event
// (change_request.<action>).
func (a *API) recordCR(c *call, cr *store.ChangeRequest, action string, lines []string) {
	a.dom.Record(c.ctx, &domain.Change{Actor: c.actor(), ActorName: c.actorName(), OrgID: c.orgID, Type: "change_request", Action: action,
		Comment: commentOf(c.ctx), After: cr, Extra: append([]string{fmt.Sprintf("%s %s %q", cr.Op, cr.Kind, cr.ItemKey)}, lines...), SkipDiff: true})
}

// loadCR reads the change request of the path and checks the version the
// caller read (0: any).
func (a *API) loadCR(c *call, version int64) (*store.ChangeRequest, error) {
	cr, err := a.st.GetChangeRequest(c.ctx, c.env.ID, c.path("id"))
	if err != nil {
		return nil, err
	}
	if version != 0 && version != cr.Version {
		return nil, store.Errorf(store.ErrConflict, "the change request changed (version %d, now %d); read it again", version, cr.Version)
	}
	return cr, nil
}

func (c *call) reviewBody() (int64, error) {
	var req ReviewRequest
	if c.r.ContentLength == 0 {
		return 0, nil
	}
	if err := c.decode(&req); err != nil {
		return 0, err
	}
	return req.Version, nil
}

// mayReview checks the four-eyes rule and the environment's approver list.
func (a *API) mayReview(c *call, cr *store.ChangeRequest) (string, *store.EnvSettings, error) {
	person, err := c.person()
	if err != nil {
		return "", nil, err
	}
	if person == cr.Author {
		return "", nil, store.Errorf(store.ErrForbidden, "the author of a change request cannot review it")
	}
	es, err := a.st.GetEnvSettings(c.ctx, c.env.ID)
	if err != nil {
		return "", nil, err
	}
	if len(es.Approvers) == 0 || slices.Contains(es.Approvers, "user:"+person) {
		return person, es, nil
	}
	gs, err := a.st.ListGroups(c.ctx, c.orgID)
	if err != nil {
		return "", nil, err
	}
	for _, g := range gs {
		if slices.Contains(es.Approvers, "group:"+g.ID) && slices.Contains(g.Members, person) {
			return person, es, nil
		}
	}
	return "", nil, store.Errorf(store.ErrForbidden, "you are not one of this environment's approvers")
}

func (a *API) review(c *call, decision string) (any, error) {
	v, err := c.reviewBody()
	if err != nil {
		return nil, err
	}
	cr, err := a.loadCR(c, v)
	if err != nil {
		return nil, err
	}
	if cr.Status != store.CROpen && cr.Status != store.CRApproved {
		return nil, store.Errorf(store.ErrConflict, "the change request is %s", cr.Status)
	}
	person, es, err := a.mayReview(c, cr)
	if err != nil {
		return nil, err
	}
	cr.Required = max(cr.Required, es.RequiredApprovals) // raised since it was opened: the higher count
	if decision == store.CRApproved && slices.ContainsFunc(cr.Reviews[len(cr.Reviews)-cr.Approvals:], func(r store.Review) bool { return r.Actor == person && r.Decision == store.CRApproved }) {
		return nil, store.Errorf(store.ErrConflict, "you already approved this change request")
	}
	if len(cr.Reviews) >= maxReviews {
		return nil, store.Errorf(store.ErrTooMany, "the change request has %d reviews; open a new one", len(cr.Reviews))
	}
	expect := cr.Version
	r := store.Review{Actor: person, ActorName: c.actorName(), Decision: decision, Comment: audit.Scrub(commentOf(c.ctx)), At: a.st.Now()}
	if decision == store.CRApproved {
		// Approvals since the last rebase are the trailing approvals.
		cr.Reviews = append(cr.Reviews, r)
		cr.Approvals++
		if cr.Approvals >= cr.Required {
			cr.Status = store.CRApproved
		}
	} else {
		cr.Reviews = append(cr.Reviews, r)
		cr.Status = store.CRRejected
	}
	if err := a.st.UpdateChangeRequest(c.ctx, cr, expect); err != nil {
		return nil, err
	}
	a.recordCR(c, cr, decision, []string{fmt.Sprintf("%d of %d approvals", cr.Approvals, cr.Required)})
	return cr, nil
}

func (a *API) approveChangeRequest(c *call) (any, error) { return a.review(c, store.CRApproved) }
func (a *API) rejectChangeRequest(c *call) (any, error)  { return a.review(c, store.CRRejected) }

// staleErr says the item moved since the request's base.
func staleErr(cr *store.ChangeRequest, now int64) error {
	return store.Errorf(store.ErrConflict, "stale: the %s changed since this change request was made (version %d, now %d); rebase it (POST …/change-requests/%s/rebase) and have it approved again",
		cr.Kind, cr.BaseVersion, now, cr.ID)
}

func (a *API) applyChangeRequest(c *call) (any, error) {
	v, err := c.reviewBody()
	if err != nil {
		return nil, err
	}
	cr, err := a.loadCR(c, v)
	if err != nil {
		return nil, err
	}
	if act := writeAction(cr.Kind); !c.can(act) {
		return nil, forbidden(act, c.resource())
	}
	if es, err := a.st.GetEnvSettings(c.ctx, c.env.ID); err != nil {
		return nil, err
	} else if cr.Status == store.CRApproved && es.Protected && cr.Approvals < es.RequiredApprovals {
		// The environment now asks for more approvals than were given.
		cr.Required, cr.Status = es.RequiredApprovals, store.CROpen
	}
	if cr.Status != store.CRApproved {
		return nil, store.Errorf(store.ErrConflict, "the change request is %s (%d of %d approvals); only an approved one applies", cr.Status, cr.Approvals, max(cr.Required, 1))
	}
	ctx := store.WithChangeRequest(c.ctx, cr.ID)
	var before, after any
	var version int64
	switch cr.Kind {
	case store.CRKindFlag:
		var f codec.Flag
		if err := json.Unmarshal(cr.Proposed, &f); err != nil {
			return nil, fmt.Errorf("change request %s: %w", cr.ID, err)
		}
		if cr.Op == store.CROpCreate {
			if _, err := a.st.GetFlagByKey(c.ctx, c.env.ID, f.Key); err == nil {
				return nil, store.Errorf(store.ErrConflict, "stale: a flag with key %q was created since; close this change request", f.Key)
			}
			saved, err := a.dom.CreateFlag(ctx, c.env.ID, &f)
			if err != nil {
				return nil, err
			}
			after, version = saved, saved.Version
			break
		}
		cur, err := a.st.GetFlag(c.ctx, c.env.ID, cr.ItemID)
		if err != nil {
			return nil, err
		}
		if cur.Version != cr.BaseVersion {
			return nil, staleErr(cr, cur.Version)
		}
		if err := c.mayToggle(cur, &f); err != nil {
			return nil, err
		}
		saved, err := a.dom.SaveFlag(ctx, &f, cr.BaseVersion) // compare-and-set on the base version
		if errors.Is(err, store.ErrConflict) {
			return nil, staleErr(cr, cr.BaseVersion+1)
		}
		if err != nil {
			return nil, err
		}
		before, after, version = cur, saved, saved.Version
	case store.CRKindSegment:
		var sg codec.Segment
		if err := json.Unmarshal(cr.Proposed, &sg); err != nil {
			return nil, fmt.Errorf("change request %s: %w", cr.ID, err)
		}
		if cr.Op == store.CROpCreate {
			if err := a.st.CreateSegment(ctx, &sg); err != nil {
				return nil, domain.SegmentNameError(err)
			}
			a.dom.Notify(c.env.ID)
			after, version = &sg, sg.Version
			break
		}
		cur, err := a.st.GetSegment(c.ctx, c.env.ID, cr.ItemID)
		if err != nil {
			return nil, err
		}
		if cur.Version != cr.BaseVersion {
			return nil, staleErr(cr, cur.Version)
		}
		sg.IsArchived = cur.IsArchived
		if err := a.st.UpdateSegment(ctx, &sg, cr.BaseVersion); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return nil, staleErr(cr, cr.BaseVersion+1)
			}
			return nil, domain.SegmentNameError(err)
		}
		a.dom.Notify(c.env.ID)
		before, after, version = cur, &sg, sg.Version
	}
	// The item write is the one that counts; the request's state follows.
	cr.Status, cr.AppliedVersion, cr.AppliedBy = store.CRApplied, version, c.actor()
	if err := a.st.UpdateChangeRequest(context.WithoutCancel(c.ctx), cr, cr.Version); err != nil {
		a.cfg.Log.Error("change request applied but not marked applied", "id", cr.ID, "err", err)
	}
	action := "updated"
	if cr.Op == store.CROpCreate {
		action = "created"
	}
	a.dom.Record(c.ctx, &domain.Change{Actor: c.actor(), ActorName: c.actorName(), OrgID: c.orgID, Type: cr.Kind, Action: action,
		Comment: cr.Comment, Before: before, After: after,
		Extra: []string{fmt.Sprintf("change request %s by %s, approved %d of %d", cr.ID, cr.AuthorName, cr.Approvals, cr.Required)}})
	a.recordCR(c, cr, "applied", []string{fmt.Sprintf("now version %d", version)})
	return cr, nil
}

func (a *API) rebaseChangeRequest(c *call) (any, error) {
	v, err := c.reviewBody()
	if err != nil {
		return nil, err
	}
	cr, err := a.loadCR(c, v)
	if err != nil {
		return nil, err
	}
	if act := writeAction(cr.Kind); !c.can(act) {
		return nil, forbidden(act, c.resource())
	}
	if cr.Status != store.CROpen && cr.Status != store.CRApproved {
		return nil, store.Errorf(store.ErrConflict, "the change request is %s", cr.Status)
	}
	if cr.Op != store.CROpUpdate {
		return nil, store.Errorf(store.ErrConflict, "only a change request that updates an item can be rebased")
	}
	expect := cr.Version
	switch cr.Kind {
	case store.CRKindFlag:
		var f codec.Flag
		if err := json.Unmarshal(cr.Proposed, &f); err != nil {
			return nil, fmt.Errorf("change request %s: %w", cr.ID, err)
		}
		cur, err := a.st.GetFlag(c.ctx, c.env.ID, cr.ItemID)
		if err != nil {
			return nil, err
		}
		if cur.Version == cr.BaseVersion {
			return nil, store.Errorf(store.ErrConflict, "the change request is not stale")
		}
		if err := c.prepareFlag(&f, cur); err != nil {
			return nil, err
		}
		cr.Base, cr.BaseVersion, cr.Proposed = mustJSON(cur), cur.Version, mustJSON(&f)
		cr.Diff = audit.Flag(cur, &f, a.dom.SegmentNamer(c.ctx, c.env.ID))
	case store.CRKindSegment:
		var sg codec.Segment
		if err := json.Unmarshal(cr.Proposed, &sg); err != nil {
			return nil, fmt.Errorf("change request %s: %w", cr.ID, err)
		}
		cur, err := a.st.GetSegment(c.ctx, c.env.ID, cr.ItemID)
		if err != nil {
			return nil, err
		}
		if cur.Version == cr.BaseVersion {
			return nil, store.Errorf(store.ErrConflict, "the change request is not stale")
		}
		if err := prepareSegment(&sg, cur, c.env.ID); err != nil {
			return nil, err
		}
		cr.Base, cr.BaseVersion, cr.Proposed = mustJSON(cur), cur.Version, mustJSON(&sg)
		cr.Diff = audit.Segment(cur, &sg)
	}
	if cr.Diff == nil {
		cr.Diff = []string{}
	}
	cr.Approvals, cr.Status = 0, store.CROpen
	if err := a.st.UpdateChangeRequest(c.ctx, cr, expect); err != nil {
		return nil, err
	}
	a.recordCR(c, cr, "rebased", append([]string{fmt.Sprintf("based on version %d; approvals start over", cr.BaseVersion)}, cr.Diff...))
	return cr, nil
}

func (a *API) closeChangeRequest(c *call) (any, error) {
	v, err := c.reviewBody()
	if err != nil {
		return nil, err
	}
	cr, err := a.loadCR(c, v)
	if err != nil {
		return nil, err
	}
	if cr.Status != store.CROpen && cr.Status != store.CRApproved {
		return nil, store.Errorf(store.ErrConflict, "the change request is %s", cr.Status)
	}
	person, err := c.person()
	if err != nil {
		return nil, err
	}
	if person != cr.Author && !c.can(ActChangeApprove) {
		return nil, forbidden(ActChangeApprove, c.resource())
	}
	expect := cr.Version
	cr.Status = store.CRClosed
	if err := a.st.UpdateChangeRequest(c.ctx, cr, expect); err != nil {
		return nil, err
	}
	a.recordCR(c, cr, "closed", nil)
	return cr, nil
}
