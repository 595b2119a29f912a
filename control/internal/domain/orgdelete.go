package domain

import (
	"context"

	"github.com/switchyard/switchyard/control/internal/store"
	"github.com/switchyard/switchyard/control/internal/webhook"
)

// DeleteOrg deletes an organization without projects and everything scoped
// to it (store.DeleteOrg), then records ch (the actor and comment; Type,
// Action and Before are filled here). The order matters: the
// organization's audit log goes with it, so the deletion's entry is
// written afterwards and is the one trace left (until audit retention
// prunes it), and the webhooks subscribed to organization.deleted are kept
// so that event reaches them; the dispatcher removes each when its delivery
// ends (webhook.Dispatcher).
func (s *Service) DeleteOrg(ctx context.Context, orgID string, ch *Change) error {
	o, err := s.st.GetOrg(ctx, orgID)
	if err != nil {
		return err
	}
	hooks, err := s.st.ListWebhooks(ctx, orgID)
	if err != nil {
		return err
	}
	var keep store.OrgDeletion
	for _, w := range hooks {
		if webhook.Matches(w, webhook.OrgDeleted, "", "") {
			keep.KeepWebhooks = append(keep.KeepWebhooks, w.ID)
		}
	}
	if err := s.st.DeleteOrg(ctx, orgID, keep); err != nil {
		return err
	}
	s.log.Info("organization deleted", "org", orgID, "key", o.Key, "name", o.Name, "actor", ch.Actor, "actorName", ch.ActorName)
	ch.OrgID, ch.Type, ch.Action, ch.Before, ch.After = orgID, "organization", "deleted", o, nil
	s.Record(ctx, ch)
	return nil
}
