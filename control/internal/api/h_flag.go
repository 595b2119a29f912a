package api

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/domain"
	"github.com/switchyard/switchyard/control/internal/store"
)

// VersionRequest carries the version the client read (optimistic
// concurrency).
type VersionRequest struct {
	Version int64 `json:"version"`
}

// ToggleRequest turns a flag on or off; omitted isEnabled flips it.
type ToggleRequest struct {
	IsEnabled *bool `json:"isEnabled,omitempty"`
	Version   int64 `json:"version"`
}

// CloneRequest names the clone.
type CloneRequest struct {
	Key  string `json:"key"`
	Name string `json:"name"`
}

// CopyRequest copies a flag to another environment. If the key exists there,
// Overwrite must be true and TargetVersion the target flag's version.
type CopyRequest struct {
	TargetEnvID   string `json:"targetEnvId"`
	Overwrite     bool   `json:"overwrite"`
	TargetVersion int64  `json:"targetVersion"`
}

func (a *API) listFlags(c *call) (any, error) {
	q := c.r.URL.Query()
	off, err := c.queryInt("offset", 0, 1<<30)
	if err != nil {
		return nil, err
	}
	lim, err := c.queryInt("limit", 50, 1000)
	if err != nil {
		return nil, err
	}
	status := q.Get("status")
	switch status {
	case "", "active", "enabled", "disabled", "archived", "all":
	default:
		return nil, store.Invalid("status", "must be active, enabled, disabled, archived or all")
	}
	fs, total, err := a.st.ListFlags(c.ctx, c.env.ID, store.FlagFilter{Search: q.Get("q"), Tags: q["tag"],
		Status: status, Offset: off, Limit: lim})
	if err != nil {
		return nil, err
	}
	out := make([]codec.Flag, len(fs))
	for i, f := range fs {
		out[i] = *f
	}
	return list(out, total), nil
}

func (a *API) createFlag(c *call) (any, error) {
	var f codec.Flag
	if err := c.decode(&f); err != nil {
		return nil, err
	}
	return a.dom.CreateFlag(c.ctx, c.env.ID, &f)
}

// flag returns the flag named in the path: a copy of the audit hook's read
// when there was one (the store is read once per request), else from the
// store.
func (a *API) flag(c *call) (*codec.Flag, error) {
	if c.flagRead != nil {
		return c.flagRead.Clone(), nil
	}
	return a.st.GetFlagByKey(c.ctx, c.env.ID, c.path("key"))
}

func (a *API) getFlag(c *call) (any, error) { return a.flag(c) }

func (a *API) updateFlag(c *call) (any, error) {
	var f codec.Flag
	if err := c.decode(&f); err != nil {
		return nil, err
	}
	cur, err := a.flag(c)
	if err != nil {
		return nil, err
	}
	if f.Key != "" && f.Key != cur.Key {
		return nil, store.Invalid("key", "a flag's key cannot change (clone it instead)")
	}
	if f.ID != "" && f.ID != cur.ID {
		return nil, store.Invalid("id", "does not match the flag")
	}
	if err := requireVersion(f.Version, cur.Version); err != nil {
		return nil, err
	}
	if cur.IsArchived {
		return nil, store.Errorf(store.ErrConflict, "flag %q is archived; restore it first", cur.Key)
	}
	// Archiving goes through archive/restore only.
	f.ID, f.EnvID, f.Key, f.IsArchived = cur.ID, cur.EnvID, cur.Key, false
	f.Tags = domain.Dedupe(f.Tags)
	domain.FillIDs(&f)
	if err := c.mayToggle(cur, &f); err != nil {
		return nil, err
	}
	return a.dom.SaveFlag(c.ctx, &f, f.Version)
}

// modifyFlag applies fn to the current flag after checking the version.
func (a *API) modifyFlag(c *call, version int64, fn func(f *codec.Flag) error) (any, error) {
	f, err := a.flag(c)
	if err != nil {
		return nil, err
	}
	if err := requireVersion(version, f.Version); err != nil {
		return nil, err
	}
	if err := fn(f); err != nil {
		return nil, err
	}
	return a.dom.SaveFlag(c.ctx, f, version)
}

func (a *API) toggleFlag(c *call) (any, error) {
	var req ToggleRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	return a.modifyFlag(c, req.Version, func(f *codec.Flag) error {
		if f.IsArchived {
			return store.Errorf(store.ErrConflict, "flag %q is archived; restore it first", f.Key)
		}
		if req.IsEnabled != nil {
			f.IsEnabled = *req.IsEnabled
		} else {
			f.IsEnabled = !f.IsEnabled
		}
		return nil
	})
}

func (a *API) archiveFlag(c *call) (any, error) {
	var req VersionRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	return a.modifyFlag(c, req.Version, func(f *codec.Flag) error {
		if f.IsArchived {
			return store.Errorf(store.ErrConflict, "flag %q is already archived", f.Key)
		}
		f.IsArchived, f.IsEnabled = true, false
		return nil
	})
}

func (a *API) restoreFlag(c *call) (any, error) {
	var req VersionRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	return a.modifyFlag(c, req.Version, func(f *codec.Flag) error {
		if !f.IsArchived {
			return store.Errorf(store.ErrConflict, "flag %q is not archived", f.Key)
		}
		f.IsArchived = false
		return nil
	})
}

func (a *API) deleteFlag(c *call) (any, error) {
	f, err := a.flag(c)
	if err != nil {
		return nil, err
	}
	expect := int64(-1)
	if v := c.r.URL.Query().Get("version"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return nil, store.Invalid("version", "must be a positive integer")
		}
		expect = n
	}
	if err := a.st.DeleteFlag(c.ctx, c.env.ID, f.ID, expect); err != nil {
		return nil, err
	}
	a.dom.Notify(c.env.ID)
	return nil, nil
}

func (a *API) cloneFlag(c *call) (any, error) {
	var req CloneRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	src, err := a.flag(c)
	if err != nil {
		return nil, err
	}
	f := src.Clone()
	f.Key, f.Name = req.Key, req.Name
	if f.Name == "" {
		f.Name = req.Key
	}
	f.IsEnabled = false
	return a.dom.CreateFlag(c.ctx, c.env.ID, f)
}

func (a *API) copyFlag(c *call) (any, error) {
	var req CopyRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if req.TargetEnvID == c.env.ID {
		return nil, store.Invalid("targetEnvId", "is the source environment; use clone")
	}
	dst, err := a.st.GetEnv(c.ctx, req.TargetEnvID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, store.Invalid("targetEnvId", "environment does not exist")
	}
	if err != nil {
		return nil, err
	}
	if dst.OrgID != c.env.OrgID {
		return nil, &store.FieldError{Kind: store.ErrForbidden, Field: "targetEnvId",
			Msg: "the target environment belongs to another organization; flags are copied within one organization"}
	}
	if !c.canIn(ActFlagWrite, dst) {
		return nil, forbidden(ActFlagWrite, "the target environment")
	}
	src, err := a.flag(c)
	if err != nil {
		return nil, err
	}
	f := src.Clone()
	if err := a.mapSegments(c.ctx, f, c.env.ID, dst.ID); err != nil {
		return nil, err
	}
	cur, err := a.st.GetFlagByKey(c.ctx, dst.ID, f.Key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		f.IsEnabled = false
		return a.dom.CreateFlag(c.ctx, dst.ID, f)
	case err != nil:
		return nil, err
	}
	if !req.Overwrite {
		return nil, &store.FieldError{Kind: store.ErrDuplicate, Field: "targetEnvId",
			Msg: "the target environment has a flag with this key; set overwrite and targetVersion"}
	}
	if err := requireVersion(req.TargetVersion, cur.Version); err != nil {
		return nil, err
	}
	f.ID, f.EnvID, f.IsEnabled, f.IsArchived = cur.ID, dst.ID, cur.IsEnabled, cur.IsArchived
	return a.dom.SaveFlag(c.ctx, f, req.TargetVersion)
}

// mapSegments rewrites segment ids of src env to the segments of dst env
// with the same name.
func (a *API) mapSegments(ctx context.Context, f *codec.Flag, srcEnv, dstEnv string) error {
	if len(store.SegmentIDs(f)) == 0 {
		return nil
	}
	srcSegs, err := a.st.AllSegments(ctx, srcEnv)
	if err != nil {
		return err
	}
	dstSegs, err := a.st.AllSegments(ctx, dstEnv)
	if err != nil {
		return err
	}
	byName := map[string]string{}
	for _, s := range dstSegs {
		byName[strings.ToLower(s.Name)] = s.ID
	}
	mapping := map[string]string{}
	for _, s := range srcSegs {
		mapping[s.ID] = byName[strings.ToLower(s.Name)]
	}
	for i := range f.Rules {
		for j := range f.Rules[i].Conditions {
			cd := &f.Rules[i].Conditions[j]
			if !domain.IsSegmentProp(cd.Property) {
				continue
			}
			var ids []string
			_ = json.Unmarshal([]byte(cd.Value), &ids)
			for k, id := range ids {
				if mapping[id] == "" {
					return store.Invalid(domain.At("rules", i)+".conditions["+strconv.Itoa(j)+"].value",
						"segment %q has no segment of the same name in the target environment", id)
				}
				ids[k] = mapping[id]
			}
			b, _ := json.Marshal(ids)
			cd.Value = string(b)
		}
	}
	return nil
}
