package api

import "github.com/switchyard/switchyard/codec"

// The end users the edges reported: list, one, property names (GDPR
// erasure is in h_gdpr.go, the CSV import in h_enduser_import.go).

func (a *API) listEndUsers(c *call) (any, error) {
	off, err := c.queryInt("offset", 0, 1<<30)
	if err != nil {
		return nil, err
	}
	lim, err := c.queryInt("limit", 50, 1000)
	if err != nil {
		return nil, err
	}
	us, total, err := a.st.ListEndUsers(c.ctx, c.env.ID, c.r.URL.Query().Get("q"), off, lim)
	if err != nil {
		return nil, err
	}
	out := make([]codec.EndUser, len(us))
	for i, u := range us {
		out[i] = *u
	}
	return list(out, total), nil
}

func (a *API) getEndUser(c *call) (any, error) {
	return a.st.GetEndUser(c.ctx, c.env.ID, c.path("keyId"))
}

func (a *API) endUserProps(c *call) (any, error) {
	ps, err := a.st.EndUserProps(c.ctx, c.env.ID)
	if err != nil {
		return nil, err
	}
	return list(ps, len(ps)), nil
}
