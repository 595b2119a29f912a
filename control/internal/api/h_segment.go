package api

import (
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/store"
)

func (a *API) listSegments(c *call) (any, error) {
	q := c.r.URL.Query()
	off, err := c.queryInt("offset", 0, 1<<30)
	if err != nil {
		return nil, err
	}
	lim, err := c.queryInt("limit", 50, 1000)
	if err != nil {
		return nil, err
	}
	all, err := a.st.AllSegments(c.ctx, c.env.ID)
	if err != nil {
		return nil, err
	}
	search, status := strings.ToLower(q.Get("q")), q.Get("status")
	var out []codec.Segment
	for _, s := range all {
		if (status == "archived") != s.IsArchived && status != "all" {
			continue
		}
		if search != "" && !strings.Contains(strings.ToLower(s.Name), search) {
			continue
		}
		out = append(out, *s)
	}
	lo, hi := min(off, len(out)), len(out)
	if lo+lim < hi {
		hi = lo + lim
	}
	return list(out[lo:hi], len(out)), nil
}

func (a *API) createSegment(c *call) (any, error) {
	var sg codec.Segment
	if err := c.decode(&sg); err != nil {
		return nil, err
	}
	return a.dom.CreateSegment(c.ctx, c.env.ID, &sg)
}

func (a *API) segment(c *call) (*codec.Segment, error) {
	return a.st.GetSegment(c.ctx, c.env.ID, c.path("id"))
}

func (a *API) getSegment(c *call) (any, error) { return a.segment(c) }

func (a *API) updateSegment(c *call) (any, error) {
	var sg codec.Segment
	if err := c.decode(&sg); err != nil {
		return nil, err
	}
	cur, err := a.segment(c)
	if err != nil {
		return nil, err
	}
	if err := requireVersion(sg.Version, cur.Version); err != nil {
		return nil, err
	}
	sg.ID, sg.EnvID, sg.IsArchived = cur.ID, cur.EnvID, cur.IsArchived // archive/restore change it
	return a.dom.SaveSegment(c.ctx, &sg, sg.Version)
}

func (a *API) archiveSegment(c *call) (any, error) {
	var req VersionRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	sg, err := a.segment(c)
	if err != nil {
		return nil, err
	}
	if err := requireVersion(req.Version, sg.Version); err != nil {
		return nil, err
	}
	users, err := a.st.SegmentUsedBy(c.ctx, c.env.ID, sg.ID)
	if err != nil {
		return nil, err
	}
	if len(users) > 0 {
		return nil, store.Errorf(store.ErrConflict, "segment is used by %d flags (first: %q)", len(users), users[0].Key)
	}
	sg.IsArchived = true
	return a.dom.SaveSegment(c.ctx, sg, req.Version)
}

func (a *API) restoreSegment(c *call) (any, error) {
	var req VersionRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	sg, err := a.segment(c)
	if err != nil {
		return nil, err
	}
	if err := requireVersion(req.Version, sg.Version); err != nil {
		return nil, err
	}
	sg.IsArchived = false
	return a.dom.SaveSegment(c.ctx, sg, req.Version)
}

func (a *API) deleteSegment(c *call) (any, error) {
	expect := int64(-1)
	if v := c.r.URL.Query().Get("version"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return nil, store.Invalid("version", "must be a positive integer")
		}
		expect = n
	}
	if err := a.st.DeleteSegment(c.ctx, c.env.ID, c.path("id"), expect); err != nil {
		return nil, err
	}
	a.dom.Notify(c.env.ID)
	return nil, nil
}

func (a *API) segmentFlags(c *call) (any, error) {
	if _, err := a.segment(c); err != nil {
		return nil, err
	}
	fs, err := a.st.SegmentUsedBy(c.ctx, c.env.ID, c.path("id"))
	if err != nil {
		return nil, err
	}
	out := make([]codec.Flag, len(fs))
	for i, f := range fs {
		out[i] = *f
	}
	return list(out, len(out)), nil
}
