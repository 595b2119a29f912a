package api

import (
	"errors"
	"fmt"
	"strings"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/domain"
	"github.com/switchyard/switchyard/control/internal/store"
)

// maxBatchBody is the body limit of the bulk flag route (instead of
// -max-body): store.MaxBatch flags of about 3 KiB each.
const maxBatchBody = 32 << 20

// FlagBatchRequest creates or updates many flags of one environment as one
// change (one publish, one update to each SDK). An item whose version is 0
// (or omitted) is created with the defaults of POST …/flags; any other
// replaces the flag with its key, as PUT …/flags/{key}, if the flag is at
// that version. All items are checked before anything is written; the
// first bad one is answered with 400/404/409 naming "items[i].<field>" and
// nothing is written.
type FlagBatchRequest struct {
	Items []codec.Flag `json:"items"`
}

// FlagBatchItem is the outcome for one item, in request order.
type FlagBatchItem struct {
	Key     string `json:"key"`
	ID      string `json:"id"`
	Version int64  `json:"version"`
	Result  string `json:"result"` // "created" or "updated"
}

// FlagBatchResult answers a bulk write.
type FlagBatchResult struct {
	Created int             `json:"created"`
	Updated int             `json:"updated"`
	Items   []FlagBatchItem `json:"items"`
}

func (a *API) batchRoutes() []Route {
	const p = Prefix
	return []Route{
		{Method: "POST", Path: p + "/envs/{envId}/flags/batch", Tag: "flags",
			Summary: fmt.Sprintf("Create or update up to %d flags as one change (one publish, one update to each SDK); all or nothing", store.MaxBatch),
			Scope:   Env, Action: ActFlagWrite, Body: FlagBatchRequest{}, Resp: FlagBatchResult{}, MaxBody: maxBatchBody, h: a.batchFlags},
	}
}

func init() {
	auditSpecs["POST /envs/{envId}/flags/batch"] = auditSpec{typ: "flag", action: "batch-written", self: true}
}

// itemErr names item i in a validation error of one flag.
func itemErr(i int, err error) error {
	var fe *store.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	field := domain.At("items", i)
	if fe.Field != "" {
		field += "." + fe.Field
	}
	return &store.FieldError{Kind: fe.Kind, Field: field, Msg: fe.Msg}
}

func (a *API) batchFlags(c *call) (any, error) {
	var req FlagBatchRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if len(req.Items) == 0 {
		return nil, store.Invalid("items", "list at least one flag")
	}
	if err := listCap("items", len(req.Items), store.MaxBatch); err != nil {
		return nil, err
	}
	// Only updates need the stored flag here (the store checks every key,
	// creations included, before it writes): one read per update.
	itemKeys := make([]string, 0, len(req.Items))
	for i := range req.Items {
		if req.Items[i].Version != 0 {
			itemKeys = append(itemKeys, req.Items[i].Key)
		}
	}
	byKey, err := a.st.FlagsByKey(c.ctx, c.env.ID, itemKeys)
	if err != nil {
		return nil, err
	}
	segExists := a.dom.SegmentExists(c.ctx, c.env.ID)
	flags := make([]*codec.Flag, len(req.Items))
	res := &FlagBatchResult{Items: make([]FlagBatchItem, len(req.Items))}
	for i := range req.Items {
		f := &req.Items[i]
		f.EnvID, f.IsArchived = c.env.ID, false
		f.Tags = domain.Dedupe(f.Tags)
		if f.Version == 0 {
			id := f.ID
			domain.FlagDefaults(f)
			f.ID = id // set by the store
			res.Items[i].Result = "created"
			res.Created++
		} else {
			cur := byKey[f.Key]
			switch {
			case cur == nil:
				return nil, &store.FieldError{Kind: store.ErrNotFound, Field: domain.At("items", i) + ".key", Msg: fmt.Sprintf("no flag %q to update: send version 0 to create it", f.Key)}
			case f.ID != "" && f.ID != cur.ID:
				return nil, store.Invalid(domain.At("items", i)+".id", "does not match the flag %q", f.Key)
			case cur.IsArchived:
				return nil, &store.FieldError{Kind: store.ErrConflict, Field: domain.At("items", i) + ".key", Msg: fmt.Sprintf("flag %q is archived; restore it first", f.Key)}
			}
			if err := requireVersion(f.Version, cur.Version); err != nil {
				return nil, itemErr(i, err)
			}
			if err := c.mayToggle(cur, f); err != nil {
				return nil, err
			}
			domain.FillIDs(f)
			res.Items[i].Result = "updated"
			res.Updated++
		}
		if err := domain.ValidateFlag(f, segExists); err != nil {
			return nil, itemErr(i, err)
		}
		if f.Version == 0 && f.ID != "" {
			return nil, store.Invalid(domain.At("items", i)+".id", "a new flag gets its id from the server; omit it")
		}
		flags[i] = f
	}
	if err := a.st.BatchFlags(c.ctx, c.env.ID, flags); err != nil {
		return nil, err
	}
	a.dom.Notify(c.env.ID)
	keys := make([]string, 0, 20)
	for i, f := range flags {
		res.Items[i].Key, res.Items[i].ID, res.Items[i].Version = f.Key, f.ID, f.Version
		if i < cap(keys) {
			keys = append(keys, f.Key)
		}
	}
	more := ""
	if n := len(flags) - len(keys); n > 0 {
		more = fmt.Sprintf(" and %d more", n)
	}
	a.dom.Record(c.ctx, &domain.Change{Actor: c.actor(), ActorName: c.actorName(), OrgID: c.orgID, Type: "flag", Action: "batch-written",
		Comment: commentOf(c.ctx), After: &codec.Flag{EnvID: c.env.ID}, SkipDiff: true, Data: res,
		Extra: []string{fmt.Sprintf("%d flags created, %d updated in one change: %s%s", res.Created, res.Updated, strings.Join(keys, ", "), more)}})
	return res, nil
}
