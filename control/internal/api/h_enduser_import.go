package api

import (
	"fmt"
	"slices"
	"strings"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/enduser"
	"github.com/switchyard/switchyard/control/internal/store"
	"github.com/switchyard/switchyard/edge/eval"
)

// EndUserImport is a CSV import of end users (enduser.ParseCSV: header row
// of property names, keyId required, bounded in bytes, rows and lengths).
type EndUserImport struct {
	CSV string `json:"csv"`
}

// EndUserImportResult says what an import stored.
type EndUserImportResult struct {
	EnvID      string   `json:"envId"`
	Imported   int      `json:"imported"`
	Properties []string `json:"properties"`
}

// DescribeAudit implements domain.Described.
func (x *EndUserImportResult) DescribeAudit(e *store.AuditEntry) {
	e.EnvID, e.ResourceKey = x.EnvID, fmt.Sprintf("%d end users", x.Imported)
}

// maxImportBody leaves room for the JSON escapes around the CSV text;
// ParseCSV bounds the text itself.
const maxImportBody = 2*enduser.MaxImportBytes + 4096

func init() {
	auditSpecs["POST /envs/{envId}/end-users/import"] = auditSpec{typ: "end_user", action: "imported"}
}

func (a *API) endUserRoutes() []Route {
	p := Prefix
	return []Route{
		{Method: "POST", Path: p + "/envs/{envId}/end-users/import", Tag: "end-users", Summary: "Import end users from CSV (header row: keyId, name, properties; properties merge into existing end users); audited", Scope: Env, Action: ActEnvManage, Body: EndUserImport{}, Resp: EndUserImportResult{}, MaxBody: maxImportBody, h: a.importEndUsers},
		{Method: "POST", Path: p + "/envs/{envId}/evaluate", Tag: "flags", Summary: "Preview: what every flag of the environment serves an end user, and why (the playground)", Scope: Env, Action: ActRead, Body: codec.EndUser{}, Resp: List[FlagServed]{}, h: a.evaluateAll},
	}
}

func (a *API) importEndUsers(c *call) (any, error) {
	var req EndUserImport
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if strings.TrimSpace(req.CSV) == "" {
		return nil, store.Invalid("csv", "required: the CSV text (header row first)")
	}
	users, props, err := enduser.ParseCSV([]byte(req.CSV))
	if err != nil {
		return nil, err
	}
	if err := a.st.UpsertEndUsers(c.ctx, c.env.ID, users); err != nil {
		return nil, err
	}
	if props == nil {
		props = []string{}
	}
	return &EndUserImportResult{EnvID: c.env.ID, Imported: len(users), Properties: props}, nil
}

// FlagServed is what one flag serves an end user (evaluateAll).
type FlagServed struct {
	FlagKey    string      `json:"flagKey"`
	FlagName   string      `json:"flagName"`
	Enabled    bool        `json:"enabled"`
	Archived   bool        `json:"archived"`
	TargetedBy int         `json:"targetedBy"`
	Result     eval.Result `json:"result"`
}

// evaluateAll evaluates every flag of the environment (archived ones
// left out) for one end user with the edge's evaluator, sorted by key.
func (a *API) evaluateAll(c *call) (any, error) {
	var u codec.EndUser
	if err := c.decode(&u); err != nil {
		return nil, err
	}
	if u.KeyID == "" {
		return nil, store.Invalid("keyId", "required")
	}
	flags, err := a.st.AllFlags(c.ctx, c.env.ID)
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
	user := eval.UserFrom(&u)
	out := make([]FlagServed, 0, len(flags))
	for _, f := range flags {
		if f.IsArchived {
			continue
		}
		cf, _ := eval.CompileFlag(f)
		x := eval.Explain(cf, segs, &user)
		out = append(out, FlagServed{FlagKey: f.Key, FlagName: f.Name, Enabled: x.Enabled, Archived: x.Archived, TargetedBy: x.TargetedBy, Result: x.Result})
	}
	slices.SortFunc(out, func(a, b FlagServed) int { return strings.Compare(a.FlagKey, b.FlagKey) })
	return List[FlagServed]{Items: out, Total: len(out)}, nil
}
