package store

import "github.com/switchyard/switchyard/codec"

// Roles, from most to least privileged.
const (
	RoleOwner  = "owner"
	RoleAdmin  = "admin"
	RoleEditor = "editor"
	RoleViewer = "viewer"
)

// RoleRank orders roles: a higher rank may do everything a lower one may.
// Unknown roles rank 0.
func RoleRank(role string) int {
	switch role {
	case RoleOwner:
		return 4
	case RoleAdmin:
		return 3
	case RoleEditor:
		return 2
	case RoleViewer:
		return 1
	}
	return 0
}

// Org is an organization: the unit of membership and access tokens.
type Org struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Key       string `json:"key"`
	CreatedAt int64  `json:"createdAt"`
	Version   int64  `json:"version"`
}

// Project groups environments of one organization.
type Project struct {
	ID        string `json:"id"`
	OrgID     string `json:"orgId"`
	Name      string `json:"name"`
	Key       string `json:"key"`
	CreatedAt int64  `json:"createdAt"`
	Version   int64  `json:"version"`
}

// OutboxEntry is one change waiting to be produced as a codec.ChangeEvent.
// EnvVersion is the environment version the change was assigned.
// ItemVersion is the version the item has once the write landed (for a
// deletion: the tombstone's version; the write landed when the item is
// gone); 0 means nothing to wait for. Payload is set for deletions only (the
// last state of the deleted item, msgp), since the item cannot be read back
// later. Stamp is the item's UpdatedAt at ItemVersion: assigned with
// EnvVersion in the environment's compare-and-set, it increases with
// EnvVersion (see Env.Stamp).
type OutboxEntry struct {
	EnvVersion    int64    `json:"envVersion"`
	ItemVersion   int64    `json:"itemVersion,omitempty"`
	Stamp         int64    `json:"stamp,omitempty"`
	Kind          string   `json:"kind"`
	Op            string   `json:"op"`
	ID            string   `json:"id"`
	At            int64    `json:"at"`
	Payload       []byte   `json:"payload,omitempty"`
	AffectedFlags []string `json:"affectedFlags,omitempty"`
	// RequestID is the id of the API request that made the change
	// (WithRequestID), carried into the change event.
	RequestID string `json:"requestId,omitempty"`

	// encode, when set, builds Payload from the stamp given in the bump
	// (deletions: the tombstone carries its own UpdatedAt).
	encode func(stamp int64) []byte
}

// Env is an environment with its SDK secrets and its publish state: Version
// is incremented on every change of its flags, segments or secrets;
// PublishedVersion is the Version whose snapshot and change events were
// delivered; Outbox holds the changes not yet produced. Rev is the document's
// compare-and-set revision (renames, publish bookkeeping), distinct from
// Version. Stamp is the last item timestamp (UpdatedAt, Unix ms) given in the
// environment: every bump gives each entry max(now, Stamp+1), so item
// timestamps increase strictly in EnvVersion (publish) order even when the
// clock goes back, and an SDK asking for "items newer than t" gets every
// change published after the one stamped t.
type Env struct {
	ID               string            `json:"id"`
	OrgID            string            `json:"orgId"`
	ProjectID        string            `json:"projectId"`
	Name             string            `json:"name"`
	Key              string            `json:"key"`
	Description      string            `json:"description"`
	Secrets          []codec.EnvSecret `json:"secrets"`
	Version          int64             `json:"version"`
	PublishedVersion int64             `json:"publishedVersion"`
	Stamp            int64             `json:"stamp,omitempty"`
	Outbox           []OutboxEntry     `json:"outbox,omitempty"`
	CreatedAt        int64             `json:"createdAt"`
	UpdatedAt        int64             `json:"updatedAt"`
	Rev              int64             `json:"rev"`
	Deleted          bool              `json:"deleted,omitempty"`
}

// User is an account of the management API. InstanceAdmin marks the
// administrators of the whole instance (the bootstrap admin), who may create
// organizations whatever the API's OrgCreation setting.
type User struct {
	ID            string `json:"id"`
	Email         string `json:"email"`
	Name          string `json:"name"`
	PasswordHash  string `json:"passwordHash"`
	InstanceAdmin bool   `json:"instanceAdmin,omitempty"`
	CreatedAt     int64  `json:"createdAt"`
	Version       int64  `json:"version"`
}

// Member gives a user a role in an organization. ID is OrgID + ":" + UserID.
type Member struct {
	ID        string `json:"id"`
	OrgID     string `json:"orgId"`
	UserID    string `json:"userId"`
	Role      string `json:"role"`
	CreatedAt int64  `json:"createdAt"`
}

// AccessToken is an API token scoped to one organization with a role. Only
// the SHA-256 of the token is stored; Prefix (its first characters) helps
// users recognise it. CreatedBy is the creating user's id, or "token:" and
// the creating token's id: the token acts with at most its creator's current
// role and dies with it. ExpiresAt (Unix ms, 0: never) ends it.
type AccessToken struct {
	ID        string `json:"id"`
	OrgID     string `json:"orgId"`
	Name      string `json:"name"`
	Role      string `json:"role"`
	Hash      string `json:"-"`
	Prefix    string `json:"prefix"`
	CreatedBy string `json:"createdBy"`
	CreatedAt int64  `json:"createdAt"`
	ExpiresAt int64  `json:"expiresAt,omitempty"`
}

// Session is a login session; ID is the SHA-256 of the session token.
type Session struct {
	ID        string `json:"id"`
	UserID    string `json:"userId"`
	CreatedAt int64  `json:"createdAt"`
	ExpiresAt int64  `json:"expiresAt"`
}

// Metric is a custom metric definition of an environment.
type Metric struct {
	ID          string `json:"id"`
	EnvID       string `json:"envId"`
	Name        string `json:"name"`
	Description string `json:"description"`
	EventName   string `json:"eventName"`
	EventType   string `json:"eventType"` // custom, pageview, click
	// CustomEventTrackOption: conversion or numeric.
	TrackOption    string `json:"customEventTrackOption"`
	SuccessIsLower bool   `json:"customEventSuccessCriteriaLower"`
	CreatedAt      int64  `json:"createdAt"`
	UpdatedAt      int64  `json:"updatedAt"`
	Version        int64  `json:"version"`
}

// Experiment statuses.
const (
	ExptNotStarted = "not_started"
	ExptRunning    = "running"
	ExptStopped    = "stopped"
)

// Experiment measures metrics against the variations of a flag.
type Experiment struct {
	ID                  string   `json:"id"`
	EnvID               string   `json:"envId"`
	FlagID              string   `json:"flagId"`
	MetricIDs           []string `json:"metricIds"`
	BaselineVariationID string   `json:"baselineVariationId"`
	Status              string   `json:"status"`
	StartedAt           int64    `json:"startedAt"`
	StoppedAt           int64    `json:"stoppedAt"`
	CreatedAt           int64    `json:"createdAt"`
	UpdatedAt           int64    `json:"updatedAt"`
	Version             int64    `json:"version"`
}
