package control

import (
	"context"
	"errors"
	"fmt"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/codec/secret"
	"github.com/switchyard/switchyard/control/internal/auth"
	"github.com/switchyard/switchyard/control/internal/domain"
	"github.com/switchyard/switchyard/control/internal/store"
)

// BootstrapInfo is what a first run prints: the admin login and the SDK
// secrets of the demo environments.
type BootstrapInfo struct {
	FirstRun      bool
	AdminEmail    string
	AdminPassword string // set only on the run that created the admin
	OrgID         string
	ProjectID     string
	Envs          []EnvInfo
}

// EnvInfo names an environment and its SDK secrets.
type EnvInfo struct {
	ID, Name, Key              string
	ServerSecret, ClientSecret string
}

// Bootstrap makes a fresh store usable: on first run it creates the initial
// admin (Config.AdminEmail; password Config.AdminPassword or a random one,
// returned here and never again; an instance administrator, who may create
// organizations), a demo organization, project, the
// environments "dev" and "prod" and a few demo flags and a segment. Later runs
// create nothing and return the admin's first organization's secrets without
// a password.
func (s *Server) Bootstrap(ctx context.Context) (*BootstrapInfo, error) {
	info := &BootstrapInfo{AdminEmail: s.cfg.AdminEmail}
	u, err := s.st.GetUserByEmail(ctx, s.cfg.AdminEmail)
	switch {
	case errors.Is(err, store.ErrNotFound):
		pw := s.cfg.AdminPassword
		if pw == "" {
			pw = auth.NewPassword()
		}
		h, err := auth.HashPassword(pw)
		if err != nil {
			return nil, err
		}
		u = &store.User{ID: secret.NewGUID(), Email: s.cfg.AdminEmail, Name: "Admin", PasswordHash: h, InstanceAdmin: true}
		if err := s.st.CreateUser(ctx, u); err != nil {
			return nil, fmt.Errorf("cannot create the initial admin: %w", err)
		}
		info.FirstRun, info.AdminPassword = true, pw
	case err != nil:
		return nil, err
	case !u.InstanceAdmin:
		// A store from before instance administrators existed: the
		// configured admin is one.
		v := *u
		v.InstanceAdmin = true
		if err := s.st.UpdateUser(ctx, &v, u.Version); err != nil {
			return nil, fmt.Errorf("cannot mark %s as instance administrator: %w", u.Email, err)
		}
	}
	ms, err := s.st.ListMemberships(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	var org *store.Org
	if len(ms) == 0 {
		if org, err = s.dom.CreateOrg(ctx, "Demo", "demo", u.ID); err != nil {
			return nil, err
		}
	} else if org, err = s.st.GetOrg(ctx, ms[0].OrgID); err != nil {
		return nil, err
	}
	info.OrgID = org.ID
	ps, err := s.st.ListProjects(ctx, org.ID)
	if err != nil {
		return nil, err
	}
	var p *store.Project
	if len(ps) == 0 {
		p = &store.Project{ID: secret.NewGUID(), OrgID: org.ID, Name: "Demo project", Key: "demo-project"}
		if err := s.st.CreateProject(ctx, p); err != nil {
			return nil, err
		}
	} else {
		p = ps[0]
	}
	info.ProjectID = p.ID
	envs, err := s.st.ListEnvs(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	if len(envs) == 0 {
		for _, name := range []string{"dev", "prod"} {
			e, err := s.dom.CreateEnv(ctx, p, name, name, "demo environment")
			if err != nil {
				return nil, err
			}
			if err := s.demoContent(ctx, e.ID); err != nil {
				return nil, err
			}
			s.pub.Notify(e.ID)
			envs = append(envs, e)
		}
	}
	for _, e := range envs {
		ei := EnvInfo{ID: e.ID, Name: e.Name, Key: e.Key}
		for _, sc := range e.Secrets {
			if sc.ExpiresAt != 0 {
				continue // rotated out
			}
			switch sc.Type {
			case codec.SecretServer:
				ei.ServerSecret = sc.Value
			case codec.SecretClient:
				ei.ClientSecret = sc.Value
			}
		}
		info.Envs = append(info.Envs, ei)
	}
	return info, nil
}

func (s *Server) demoContent(ctx context.Context, envID string) error {
	seg := &codec.Segment{ID: secret.NewGUID(), EnvID: envID, Name: "Beta testers",
		Description: "users who opted into beta features", Included: []string{"alice", "bob"}}
	if err := s.st.CreateSegment(ctx, seg); err != nil {
		return err
	}
	flags := []*codec.Flag{
		{Key: "welcome-banner", Name: "Welcome banner", Description: "show the welcome banner",
			VariationType: domain.TypeBoolean, IsEnabled: true, Tags: []string{"demo", "ui"}},
		{Key: "checkout-flow", Name: "Checkout flow", Description: "A/B test of the checkout flow",
			VariationType: domain.TypeString, IsEnabled: true, Tags: []string{"demo"},
			Variations: []codec.Variation{{ID: "v1", Name: "classic", Value: "classic"}, {ID: "v2", Name: "one-page", Value: "one-page"}},
			Fallthrough: codec.Fallthrough{DispatchKey: "keyId", Variations: []codec.RolloutVariation{
				{ID: "v1", Rollout: [2]float64{0, 0.5}}, {ID: "v2", Rollout: [2]float64{0.5, 1}}}},
			Rules: []codec.Rule{{Name: "beta testers get one-page", Conditions: []codec.Condition{
				{Property: store.PropInSegment, Value: `["` + seg.ID + `"]`}},
				Variations: []codec.RolloutVariation{{ID: "v2", Rollout: [2]float64{0, 1}}}}}},
		{Key: "max-items", Name: "Max items per page", VariationType: domain.TypeNumber, IsEnabled: true,
			Tags:       []string{"demo"},
			Variations: []codec.Variation{{ID: "n10", Value: "10"}, {ID: "n25", Value: "25"}, {ID: "n50", Value: "50"}},
			Rules: []codec.Rule{{Name: "France", Conditions: []codec.Condition{
				{Property: "country", Op: "Equal", Value: "FR"}},
				Variations: []codec.RolloutVariation{{ID: "n25", Rollout: [2]float64{0, 1}}}}}},
		{Key: "theme-config", Name: "Theme configuration", VariationType: domain.TypeJSON, IsEnabled: false,
			Variations: []codec.Variation{{ID: "light", Value: `{"mode":"light"}`}, {ID: "dark", Value: `{"mode":"dark"}`}}},
	}
	for _, f := range flags {
		if _, err := s.dom.CreateFlag(ctx, envID, f); err != nil {
			return fmt.Errorf("demo flag %s: %w", f.Key, err)
		}
	}
	return nil
}
