package api

import (
	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/store"
	"github.com/switchyard/switchyard/edge/eval"
)

// evaluateFlag previews a flag for an end user with the edge's evaluator
// (eval.Explain): which rule matched, why, and the variation served.
func (a *API) evaluateFlag(c *call) (any, error) {
	var u codec.EndUser
	if err := c.decode(&u); err != nil {
		return nil, err
	}
	if u.KeyID == "" {
		return nil, store.Invalid("keyId", "required")
	}
	f, err := a.flag(c)
	if err != nil {
		return nil, err
	}
	all, err := a.st.AllSegments(c.ctx, c.env.ID)
	if err != nil {
		return nil, err
	}
	segs := make(eval.Segments, len(all))
	for _, s := range all {
		segs[s.ID], _ = eval.CompileSegment(s)
	}
	cf, _ := eval.CompileFlag(f)
	user := eval.UserFrom(&u)
	x := eval.Explain(cf, segs, &user)
	return &x, nil
}
