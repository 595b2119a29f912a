package api

import (
	"errors"
	"fmt"
	"strings"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/domain"
	"github.com/switchyard/switchyard/control/internal/envdiff"
	"github.com/switchyard/switchyard/control/internal/store"
)

// FlagCompare is one flag compared across two environments. Status:
// "same", "different", "onlyInSource", "onlyInTarget". Parts lists exactly
// the differing parts (variations, targeting, rules, defaultRule, onOff)
// with their normalised form on both sides.
type FlagCompare struct {
	Key    string             `json:"key"`
	Status string             `json:"status"`
	Parts  []envdiff.PartDiff `json:"parts"`
}

// CompareResult compares the flags of two environments.
type CompareResult struct {
	SourceEnvID string        `json:"sourceEnvId"`
	TargetEnvID string        `json:"targetEnvId"`
	Items       []FlagCompare `json:"items"`
	Different   int           `json:"different"` // flags not "same"
}

// CopyPartsRequest copies parts of a flag onto the flag with the same key
// in the target environment; TargetVersion is the target flag's version
// (optimistic concurrency).
type CopyPartsRequest struct {
	TargetEnvID   string   `json:"targetEnvId"`
	Parts         []string `json:"parts"`
	TargetVersion int64    `json:"targetVersion"`
}

// CopyFlagsRequest copies whole flags to another environment: missing ones
// are created (off); existing ones are skipped unless Overwrite (their
// on/off state is kept).
type CopyFlagsRequest struct {
	TargetEnvID string   `json:"targetEnvId"`
	Keys        []string `json:"keys"`
	Overwrite   bool     `json:"overwrite"`
}

// CopyFlagResult is the outcome for one key: "created", "overwritten" or
// "skipped".
type CopyFlagResult struct {
	Key    string      `json:"key"`
	Result string      `json:"result"`
	Flag   *codec.Flag `json:"flag,omitempty"`
}

func (a *API) compareRoutes() []Route {
	const p = Prefix
	return []Route{
		{Method: "GET", Path: p + "/envs/{envId}/compare", Tag: "compare", Summary: "Compare every flag (or the keys given) with another environment of the organization", Scope: Env, Action: ActRead, Query: []string{"targetEnvId", "key"}, Resp: CompareResult{}, h: a.compareEnvs},
		{Method: "GET", Path: p + "/envs/{envId}/flags/{key}/compare", Tag: "compare", Summary: "Compare one flag with the same key in another environment: exactly the differing parts", Scope: Env, Action: ActRead, Query: []string{"targetEnvId"}, Resp: FlagCompare{}, h: a.compareFlag},
		{Method: "POST", Path: p + "/envs/{envId}/flags/{key}/copy-parts", Tag: "compare", Summary: "Copy selected parts (variations, targeting, rules, defaultRule, onOff) onto the same flag in another environment", Scope: Env, Action: ActRead, Body: CopyPartsRequest{}, Resp: codec.Flag{}, h: a.copyParts},
		{Method: "POST", Path: p + "/envs/{envId}/copy-flags", Tag: "compare", Summary: "Copy flags to another environment of the organization (create, or overwrite when asked)", Scope: Env, Action: ActRead, Body: CopyFlagsRequest{}, Resp: List[CopyFlagResult]{}, h: a.copyFlags},
	}
}

func init() {
	auditSpecs["POST /envs/{envId}/flags/{key}/copy-parts"] = auditSpec{typ: "flag", action: "copied", self: true}
	auditSpecs["POST /envs/{envId}/copy-flags"] = auditSpec{typ: "flag", action: "copied", self: true}
}

// targetEnv resolves the other environment of a compare or copy: it must
// exist, differ from the source and belong to the same organization, where
// the caller needs action.
func (a *API) targetEnv(c *call, id, action string) (*store.Env, error) {
	if id == "" {
		return nil, store.Invalid("targetEnvId", "required")
	}
	if id == c.env.ID {
		return nil, store.Invalid("targetEnvId", "is the source environment")
	}
	dst, err := a.st.GetEnv(c.ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, store.Invalid("targetEnvId", "environment does not exist")
	}
	if err != nil {
		return nil, err
	}
	if dst.OrgID != c.orgID {
		return nil, &store.FieldError{Kind: store.ErrForbidden, Field: "targetEnvId",
			Msg: "the target environment belongs to another organization; compare and copy work within one organization"}
	}
	if !c.canIn(action, dst) {
		return nil, forbidden(action, "the target environment")
	}
	return dst, nil
}

func (a *API) compareOne(c *call, key string, src, dst *codec.Flag, dstEnv string) FlagCompare {
	switch {
	case src == nil:
		return FlagCompare{Key: key, Status: "onlyInTarget", Parts: []envdiff.PartDiff{}}
	case dst == nil:
		return FlagCompare{Key: key, Status: "onlyInSource", Parts: []envdiff.PartDiff{}}
	}
	parts := envdiff.Compare(src, dst, envdiff.SegmentNamer(a.dom.SegmentNamer(c.ctx, c.env.ID)), envdiff.SegmentNamer(a.dom.SegmentNamer(c.ctx, dstEnv)))
	st := "same"
	if len(parts) > 0 {
		st = "different"
	}
	if parts == nil {
		parts = []envdiff.PartDiff{}
	}
	return FlagCompare{Key: key, Status: st, Parts: parts}
}

func (a *API) compareEnvs(c *call) (any, error) {
	dst, err := a.targetEnv(c, c.r.URL.Query().Get("targetEnvId"), ActRead)
	if err != nil {
		return nil, err
	}
	keys := c.r.URL.Query()["key"]
	srcFlags, err := a.st.AllFlags(c.ctx, c.env.ID)
	if err != nil {
		return nil, err
	}
	dstFlags, err := a.st.AllFlags(c.ctx, dst.ID)
	if err != nil {
		return nil, err
	}
	byKey := func(fs []*codec.Flag) map[string]*codec.Flag {
		m := map[string]*codec.Flag{}
		for _, f := range fs {
			if !f.IsArchived {
				m[f.Key] = f
			}
		}
		return m
	}
	sm, dm := byKey(srcFlags), byKey(dstFlags)
	if len(keys) == 0 {
		for k := range sm {
			keys = append(keys, k)
		}
		for k := range dm {
			if sm[k] == nil {
				keys = append(keys, k)
			}
		}
	}
	sortStrings(keys)
	res := &CompareResult{SourceEnvID: c.env.ID, TargetEnvID: dst.ID, Items: []FlagCompare{}}
	for _, k := range keys {
		if sm[k] == nil && dm[k] == nil {
			continue
		}
		fc := a.compareOne(c, k, sm[k], dm[k], dst.ID)
		if fc.Status != "same" {
			res.Different++
		}
		res.Items = append(res.Items, fc)
	}
	return res, nil
}

func (a *API) compareFlag(c *call) (any, error) {
	dst, err := a.targetEnv(c, c.r.URL.Query().Get("targetEnvId"), ActRead)
	if err != nil {
		return nil, err
	}
	src, err := a.flag(c)
	if err != nil {
		return nil, err
	}
	df, err := a.st.GetFlagByKey(c.ctx, dst.ID, src.Key)
	if errors.Is(err, store.ErrNotFound) {
		df, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	fc := a.compareOne(c, src.Key, src, df, dst.ID)
	return &fc, nil
}

func (a *API) copyParts(c *call) (any, error) {
	var req CopyPartsRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	dst, err := a.targetEnv(c, req.TargetEnvID, ActFlagWrite)
	if err != nil {
		return nil, err
	}
	if len(req.Parts) == 0 {
		return nil, store.Invalid("parts", "choose at least one of %s", strings.Join(envdiff.AllParts, ", "))
	}
	if err := listCap("parts", len(req.Parts), maxRefList); err != nil {
		return nil, err
	}
	src, err := a.flag(c)
	if err != nil {
		return nil, err
	}
	cur, err := a.st.GetFlagByKey(c.ctx, dst.ID, src.Key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, store.Invalid("targetEnvId", "the target environment has no flag %q; copy the whole flag instead", src.Key)
	}
	if err != nil {
		return nil, err
	}
	if err := requireVersion(req.TargetVersion, cur.Version); err != nil {
		return nil, &store.FieldError{Kind: err.(*store.FieldError).Kind, Field: "targetVersion", Msg: err.(*store.FieldError).Msg}
	}
	if cur.IsArchived {
		return nil, store.Errorf(store.ErrConflict, "flag %q is archived in the target environment", cur.Key)
	}
	s := src.Clone()
	if err := a.mapSegments(c.ctx, s, c.env.ID, dst.ID); err != nil {
		return nil, err
	}
	f, err := envdiff.Copy(s, cur, req.Parts)
	if err != nil {
		var ce *envdiff.Error
		if errors.As(err, &ce) {
			return nil, store.Invalid(ce.Field, "%s", ce.Msg)
		}
		return nil, err
	}
	domain.FillIDs(f)
	if err := c.mayToggle(cur, f); err != nil {
		return nil, err
	}
	if _, err := a.dom.SaveFlag(c.ctx, f, cur.Version); err != nil {
		return nil, err
	}
	a.dom.Record(c.ctx, &domain.Change{Actor: c.actor(), ActorName: c.actorName(), OrgID: c.orgID, Type: "flag", Action: "copied",
		Comment: commentOf(c.ctx), Before: cur, After: f,
		Extra: []string{fmt.Sprintf("copied %s from environment '%s'", strings.Join(req.Parts, ", "), c.env.Name)}})
	return f, nil
}

func (a *API) copyFlags(c *call) (any, error) {
	var req CopyFlagsRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	dst, err := a.targetEnv(c, req.TargetEnvID, ActFlagWrite)
	if err != nil {
		return nil, err
	}
	if len(req.Keys) == 0 {
		return nil, store.Invalid("keys", "list the keys of the flags to copy")
	}
	if err := listCap("keys", len(req.Keys), maxCopyKeys); err != nil {
		return nil, err
	}
	// Check everything before the first write.
	type plan struct {
		f   *codec.Flag
		cur *codec.Flag
	}
	plans := make([]plan, len(req.Keys))
	for i, k := range req.Keys {
		src, err := a.st.GetFlagByKey(c.ctx, c.env.ID, k)
		if errors.Is(err, store.ErrNotFound) {
			return nil, store.Invalid(domain.At("keys", i), "no flag %q in the source environment", k)
		}
		if err != nil {
			return nil, err
		}
		f := src.Clone()
		if err := a.mapSegments(c.ctx, f, c.env.ID, dst.ID); err != nil {
			var fe *store.FieldError
			if errors.As(err, &fe) {
				return nil, store.Invalid(domain.At("keys", i), "flag %q: %s", k, fe.Msg)
			}
			return nil, err
		}
		cur, err := a.st.GetFlagByKey(c.ctx, dst.ID, k)
		if errors.Is(err, store.ErrNotFound) {
			cur, err = nil, nil
		}
		if err != nil {
			return nil, err
		}
		if cur != nil && cur.IsArchived && req.Overwrite {
			return nil, store.Invalid(domain.At("keys", i), "flag %q is archived in the target environment", k)
		}
		if err := domain.ValidateFlag(f, a.dom.SegmentExists(c.ctx, dst.ID)); err != nil {
			var fe *store.FieldError
			if errors.As(err, &fe) {
				return nil, store.Invalid(domain.At("keys", i), "flag %q: %s: %s", k, fe.Field, fe.Msg)
			}
			return nil, err
		}
		plans[i] = plan{f, cur}
	}
	out := make([]CopyFlagResult, 0, len(plans))
	for _, p := range plans {
		r := CopyFlagResult{Key: p.f.Key}
		switch {
		case p.cur == nil:
			p.f.IsEnabled = false
			f, err := a.dom.CreateFlag(c.ctx, dst.ID, p.f)
			if err != nil {
				return nil, err
			}
			r.Result, r.Flag = "created", f
			a.dom.Record(c.ctx, &domain.Change{Actor: c.actor(), ActorName: c.actorName(), OrgID: c.orgID, Type: "flag", Action: "copied",
				Comment: commentOf(c.ctx), After: f, Extra: []string{fmt.Sprintf("copied from environment '%s'", c.env.Name)}})
		case !req.Overwrite:
			r.Result = "skipped"
		default:
			f := p.f
			f.ID, f.EnvID, f.IsEnabled, f.IsArchived = p.cur.ID, dst.ID, p.cur.IsEnabled, false
			if _, err := a.dom.SaveFlag(c.ctx, f, p.cur.Version); err != nil {
				return nil, err
			}
			r.Result, r.Flag = "overwritten", f
			a.dom.Record(c.ctx, &domain.Change{Actor: c.actor(), ActorName: c.actorName(), OrgID: c.orgID, Type: "flag", Action: "copied",
				Comment: commentOf(c.ctx), Before: p.cur, After: f, Extra: []string{fmt.Sprintf("overwritten from environment '%s'", c.env.Name)}})
		}
		out = append(out, r)
	}
	return list(out, len(out)), nil
}
