package store

import (
	"context"
	"fmt"

	"github.com/switchyard/switchyard/codec"
)

// CollRollouts holds guarded rollouts.
const CollRollouts = "guarded_rollouts"

func init() {
	Schema = append(Schema, Collection{Name: CollRollouts, Indexes: []Index{
		{Name: "env", Fields: []string{"envId"}},
		{Name: "status", Fields: []string{"status"}},
	}})
}

// Guarded rollout statuses: running → completed (the last stage held with
// no harm), rolled_back (a guardrail showed harm), aborted (an operator
// stopped it; the rule is restored) or failed (the flag or rule went away).
const (
	RolloutRunning    = "running"
	RolloutCompleted  = "completed"
	RolloutRolledBack = "rolled_back"
	RolloutAborted    = "aborted"
	RolloutFailed     = "failed"
)

// RolloutStage is one step of a guarded rollout: Percent (0 < p ≤ 100) of
// the rule's users get the new variation for at least HoldSeconds.
type RolloutStage struct {
	Percent     float64 `json:"percent"`
	HoldSeconds int64   `json:"holdSeconds"`
}

// RolloutCheck is the outcome of the last guardrail check.
type RolloutCheck struct {
	At        int64            `json:"at"`
	Exposures map[string]int64 `json:"exposures,omitempty"` // users per variation id
	Harmed    []string         `json:"harmed,omitempty"`    // event names of harmed guardrails
	Error     string           `json:"error,omitempty"`     // why the check could not run
}

// GuardedRollout moves one rule (RuleID; "" is the default rule) of a flag
// from BaselineVariationID to VariationID through Stages, checking the
// guardrail metrics (MetricIDs) every CheckEverySeconds with the experiment
// statistics, and restores Previous (the rule's serve before the rollout)
// when one shows harm. Claims counts the claims taken (see store.Claim).
type GuardedRollout struct {
	ID                  string                   `json:"id"`
	OrgID               string                   `json:"orgId"`
	EnvID               string                   `json:"envId"`
	FlagID              string                   `json:"flagId"`
	FlagKey             string                   `json:"flagKey"`
	RuleID              string                   `json:"ruleId"`
	VariationID         string                   `json:"variationId"`
	BaselineVariationID string                   `json:"baselineVariationId"`
	MetricIDs           []string                 `json:"metricIds"`
	Stages              []RolloutStage           `json:"stages"`
	CheckEverySeconds   int64                    `json:"checkEverySeconds"`
	SequentialN         float64                  `json:"sequentialN"` // the guardrail test's tuning (analytics' sequentialN)
	Stage               int                      `json:"stage"`
	StageStartedAt      int64                    `json:"stageStartedAt"`
	StartedAt           int64                    `json:"startedAt"`
	EndedAt             int64                    `json:"endedAt,omitempty"`
	Previous            []codec.RolloutVariation `json:"previous"`
	PreviousInExpt      bool                     `json:"previousIncludedInExpt"`
	Status              string                   `json:"status"`
	Reason              string                   `json:"reason,omitempty"`
	LastCheck           *RolloutCheck            `json:"lastCheck,omitempty"`
	Comment             string                   `json:"comment,omitempty"`
	CreatedBy           string                   `json:"createdBy,omitempty"`
	CreatedAt           int64                    `json:"createdAt"`
	UpdatedAt           int64                    `json:"updatedAt"`
	Version             int64                    `json:"version"`
}

func rolloutFields(x *GuardedRollout) map[string]string {
	return map[string]string{"envId": x.EnvID, "status": x.Status, "flagId": x.FlagID}
}

// CreateRollout stores a running guarded rollout (Version 1).
func (s *Store) CreateRollout(ctx context.Context, x *GuardedRollout) error {
	x.Version, x.CreatedAt, x.UpdatedAt = 1, s.Now(), s.Now()
	return insertDoc(ctx, s, CollRollouts, x.ID, 1, rolloutFields(x), x)
}

// GetRollout returns a guarded rollout of an environment.
func (s *Store) GetRollout(ctx context.Context, envID, id string) (*GuardedRollout, error) {
	x, _, err := getDoc[GuardedRollout](ctx, s, CollRollouts, id)
	if err == nil && x.EnvID != envID {
		return nil, fmt.Errorf("guarded rollout %s: %w", id, ErrNotFound)
	}
	return x, err
}

// SaveRollout replaces x if its stored version is expect.
func (s *Store) SaveRollout(ctx context.Context, x *GuardedRollout, expect int64) error {
	x.Version, x.UpdatedAt = expect+1, s.Now()
	return replaceDoc(ctx, s, CollRollouts, x.ID, x.Version, expect, rolloutFields(x), x)
}

// ListRollouts returns an environment's guarded rollouts (status "" = all).
func (s *Store) ListRollouts(ctx context.Context, envID, status string) ([]*GuardedRollout, error) {
	q := Query{Eq: map[string]string{"envId": envID}}
	if status != "" {
		q.Eq["status"] = status
	}
	xs, _, err := findDocs[GuardedRollout](ctx, s, CollRollouts, q)
	return xs, err
}

// RunningRollouts returns every running guarded rollout.
func (s *Store) RunningRollouts(ctx context.Context) ([]*GuardedRollout, error) {
	xs, _, err := findDocs[GuardedRollout](ctx, s, CollRollouts, Query{Eq: map[string]string{"status": RolloutRunning}})
	return xs, err
}

// ReleaseClaim deletes one claim (best effort).
func (s *Store) ReleaseClaim(ctx context.Context, coll, key string) {
	_ = s.b.Delete(ctx, coll, "claim:"+key, -1)
}

// DeleteRollout deletes a guarded rollout (a start whose flag write failed).
func (s *Store) DeleteRollout(ctx context.Context, envID, id string) error {
	if _, err := s.GetRollout(ctx, envID, id); err != nil {
		return err
	}
	return s.b.Delete(ctx, CollRollouts, id, -1)
}

// DescribeAudit fills the resource fields of a rollout's audit entry: the
// environment, the rollout and the flag's key.
func (x *GuardedRollout) DescribeAudit(e *AuditEntry) {
	e.EnvID, e.ResourceID, e.ResourceKey = x.EnvID, x.ID, x.FlagKey
}
