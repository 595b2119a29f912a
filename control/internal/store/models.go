package store

import (
	"encoding/json"
	"fmt"
	"strconv"
)

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
	// SSOIssuerID and SSOOrgID name the issuer that signed this session in
	// and its organization ("" for a password session).
	SSOIssuerID string `json:"ssoIssuerId,omitempty"`
	SSOOrgID    string `json:"ssoOrgId,omitempty"`
}

// Metric is a metric definition of an environment, FeatBit's model: a
// custom event (conversion or numeric value), a page view (TargetURLs) or a
// click (ElementTargets, a CSS selector, on TargetURLs). The API accepts
// FeatBit's spellings of the enums (Custom/PageView/Click or 1/2/3,
// Conversion/Numeric, Higher/Lower, Substring) and stores the normalised
// lower-case ones.
type Metric struct {
	ID          string `json:"id"`
	EnvID       string `json:"envId"`
	Name        string `json:"name"`
	Description string `json:"description"`
	EventName   string `json:"eventName"`
	EventType   Enum   `json:"eventType"` // custom, pageview, click
	// CustomEventTrackOption: conversion or numeric (page views and clicks
	// are conversions).
	TrackOption Enum   `json:"customEventTrackOption"`
	Unit        string `json:"customEventUnit"`
	// SuccessCriteria is higher (default) or lower: the direction of
	// "better" in every comparison. SuccessIsLower mirrors it.
	SuccessCriteria Enum        `json:"customEventSuccessCriteria"`
	SuccessIsLower  bool        `json:"customEventSuccessCriteriaLower"`
	ElementTargets  string      `json:"elementTargets"` // CSS selector of a click metric
	TargetURLs      []TargetURL `json:"targetUrls"`
	// Guardrail marks a metric watched for harm: a significant move in the
	// bad direction is flagged, without multiple-comparison correction.
	Guardrail bool `json:"guardrail"`
	// Winsorize caps numeric per-user values at this quantile (e.g. 0.99);
	// 0 is off.
	Winsorize float64 `json:"winsorize"`
	CreatedAt int64   `json:"createdAt"`
	UpdatedAt int64   `json:"updatedAt"`
	Version   int64   `json:"version"`
}

// TargetURL is a URL a page-view or click metric counts on. MatchType is
// exact, contains (FeatBit's Substring) or regex (RE2).
type TargetURL struct {
	ID        string `json:"id"`
	MatchType Enum   `json:"matchType"`
	URL       string `json:"url"`
}

// Enum is a string enum value that also accepts FeatBit's numeric form in
// JSON (2 decodes as "2"); the API normalises it.
type Enum string

// UnmarshalJSON accepts a JSON string or integer.
func (e *Enum) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*e = Enum(s)
		return nil
	}
	var n int
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("enum must be a string or an integer")
	}
	*e = Enum(strconv.Itoa(n))
	return nil
}

// Experiment statuses.
const (
	ExptNotStarted = "not_started"
	ExptRunning    = "running"
	ExptStopped    = "stopped"
)

// Experiment measures metrics against the variations of a flag.
// Sequential (default true) analyses it with always-valid p-values so its
// results may be looked at any time; false: fixed-horizon tests. Correction
// is holm (default), bh or none; CUPEDDays the pre-period of the CUPED
// covariate (default 14, 0 off).
type Experiment struct {
	ID                  string   `json:"id"`
	EnvID               string   `json:"envId"`
	FlagID              string   `json:"flagId"`
	MetricIDs           []string `json:"metricIds"`
	BaselineVariationID string   `json:"baselineVariationId"`
	Sequential          *bool    `json:"sequential,omitempty"`
	Correction          string   `json:"correction,omitempty"`
	CUPEDDays           *int     `json:"cupedDays,omitempty"`
	Status              string   `json:"status"`
	StartedAt           int64    `json:"startedAt"`
	StoppedAt           int64    `json:"stoppedAt"`
	// ShippedVariationID is the variation the experiment's rules were set
	// to serve to everyone when it was shipped (empty: not shipped).
	ShippedVariationID string `json:"shippedVariationId,omitempty"`
	CreatedAt          int64  `json:"createdAt"`
	UpdatedAt          int64  `json:"updatedAt"`
	Version            int64  `json:"version"`
}
