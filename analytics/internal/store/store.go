// Package store defines the query surface of analytics: the Store interface that
// both the ClickHouse store (chstore, production) and the embedded store (`make run`)
// implement, and the row types its queries return.
//
// Time ranges are half-open [From, To) on the event timestamp (Unix
// milliseconds, UTC). Every query returns rows in a fixed documented order so
// the two implementations are comparable row for row (see storetest).
// Implementations are safe for concurrent use.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/switchyard/switchyard/codec"
)

// ErrInvalid marks a query the caller got wrong (mapped to HTTP 400).
var ErrInvalid = errors.New("invalid query")

// Bucket is the width of a time-series bucket.
type Bucket int64

// Buckets, in milliseconds. Buckets start at multiples of their width since
// the Unix epoch, i.e. toStartOfMinute/Hour/Day in UTC.
const (
	Minute Bucket = 60_000
	Hour   Bucket = 3_600_000
	Day    Bucket = 86_400_000
)

// ParseBucket maps "minute", "hour", "day" to a Bucket.
func ParseBucket(s string) (Bucket, bool) {
	switch s {
	case "minute":
		return Minute, true
	case "hour", "":
		return Hour, true
	case "day":
		return Day, true
	}
	return 0, false
}

// Range selects one flag's evaluations of one environment in [From, To).
type Range struct {
	EnvID   string
	FlagKey string
	From    time.Time
	To      time.Time
}

// Validate reports ErrInvalid for an empty env/flag or an empty range.
func (r Range) Validate() error {
	if r.EnvID == "" || r.FlagKey == "" || !r.From.Before(r.To) {
		return ErrInvalid
	}
	return nil
}

// ValidateEnv reports ErrInvalid for an empty environment or an empty range
// (the queries over all of an environment's flags).
func ValidateEnv(envID string, from, to time.Time) error {
	if envID == "" || !from.Before(to) {
		return ErrInvalid
	}
	return nil
}

// FromMs and ToMs are the bounds in Unix milliseconds.
func (r Range) FromMs() int64 { return r.From.UnixMilli() }
func (r Range) ToMs() int64   { return r.To.UnixMilli() }

// SeriesPoint is the number of evaluations of one variation in one bucket.
// Order: Time, then VariationID.
type SeriesPoint struct {
	Time        int64  `json:"time"` // bucket start, Unix ms
	VariationID string `json:"variationId"`
	Count       uint64 `json:"count"`
}

// VariationUsers is the number of evaluations and of distinct users (exact)
// of one variation. Order: VariationID.
type VariationUsers struct {
	VariationID string `json:"variationId"`
	Evaluations uint64 `json:"evaluations"`
	Users       uint64 `json:"users"`
}

// UsersQuery pages through the users that got a flag's variations; an empty
// VariationID means all variations. Limit 0 means 100.
type UsersQuery struct {
	Range
	VariationID string
	Limit       int
	Offset      int
}

// UserVariation is one (user, variation) pair: how often the user got it and
// when last. UserName is the name of the user's latest evaluation.
// Order: UserKey, then VariationID.
type UserVariation struct {
	UserKey     string `json:"userKey"`
	UserName    string `json:"userName"`
	VariationID string `json:"variationId"`
	Evaluations uint64 `json:"evaluations"`
	LastSeen    int64  `json:"lastSeen"` // Unix ms
}

// Exposure is, for one variation, the users whose FIRST evaluation with
// sendToExperiment=true in the range served that variation, and the earliest
// such first exposure. A user belongs to exactly one variation: the one of
// their first exposure. Order: VariationID.
type Exposure struct {
	VariationID   string `json:"variationId"`
	Users         uint64 `json:"users"`
	FirstExposure int64  `json:"firstExposure"` // Unix ms
}

// URL match types of MetricQuery.URLs (FeatBit's page-view and click
// metrics).
const (
	URLExact    = "exact"
	URLContains = "contains"
	URLRegex    = "regex" // RE2 syntax (ClickHouse match(), Go regexp): linear time
)

// URLMatch matches an event's route.
type URLMatch struct {
	MatchType string `json:"matchType"`
	URL       string `json:"url"`
}

// MetricQuery selects the events of one metric of an experiment.
type MetricQuery struct {
	EventName string
	// EventType, when not empty, keeps only events of that type, compared
	// case-insensitively ("pageview", "click").
	EventType string
	// URLs, when not empty, keeps only events whose route matches one of them.
	URLs []URLMatch
	// PreFrom, when not zero and before Range.From, asks for the CUPED covariate: each
	// user's events in [PreFrom, Range.From) (the Pre* fields).
	PreFrom time.Time
	// Winsorize, when in (0, 1), caps every user's value (and covariate) at the
	// Winsorize quantile of the users' values over all variations: the value
	// at rank ⌊Winsorize·n⌋ (from 0) of the n values sorted ascending, as
	// ClickHouse's quantileExact. The cap is returned in MetricResult.Cap.
	Winsorize float64
}

// MetricResult is, for one variation (users assigned as in Exposure), the
// users with at least one event of the metric at or after their first
// exposure (and before Range.To), and Σv, Σv² over those users where v is the
// user's mean numericValue of those events (capped at Cap when winsorized).
// With MetricQuery.PreFrom, x is the user's mean value in the pre-period (0
// without events there): PreUsers counts the variation's exposed users with a
// pre-period event and PreBoth those of them also counted in Users; PreSum,
// PreSumSq and CrossSum are Σx, Σx² and Σx·v over the Users.
// Order: VariationID.
type MetricResult struct {
	VariationID string  `json:"variationId"`
	Users       uint64  `json:"users"`
	Sum         float64 `json:"sum"`
	SumSq       float64 `json:"sumSq"`
	PreUsers    uint64  `json:"preUsers"`
	PreBoth     uint64  `json:"preBoth"`
	PreSum      float64 `json:"preSum"`
	PreSumSq    float64 `json:"preSumSq"`
	CrossSum    float64 `json:"crossSum"`
	Cap         float64 `json:"cap"` // 0: not winsorized
}

// ExperimentUser is one exposed user of an experiment with one metric:
// their variation and first exposure (as in Exposure), and the metric's
// events at or after it (before Range.To): how many, and their mean
// numericValue (0 without events). Order: UserKey.
type ExperimentUser struct {
	UserKey       string  `json:"userKey"`
	VariationID   string  `json:"variationId"`
	FirstExposure int64   `json:"firstExposure"` // Unix ms
	Events        uint64  `json:"events"`
	Value         float64 `json:"value"`
}

// FlagVariationCount is the number of evaluations of one variation of one
// flag. Order: FlagKey, then VariationID.
type FlagVariationCount struct {
	FlagKey     string `json:"flagKey"`
	VariationID string `json:"variationId"`
	Evaluations uint64 `json:"evaluations"`
}

// Store is what the query API and the ingest path need from a backend.
type Store interface {
	// Insert stores the events of b (an event's empty EnvID is taken from b).
	Insert(ctx context.Context, b *codec.InsightBatch) error
	// Series counts evaluations per bucket and variation.
	Series(ctx context.Context, r Range, b Bucket) ([]SeriesPoint, error)
	// VariationUsers counts evaluations and distinct users per variation.
	VariationUsers(ctx context.Context, r Range) ([]VariationUsers, error)
	// EnvVariations counts evaluations per flag and variation of one
	// environment in [from, to) (the stale-flag report, one query for all
	// flags).
	EnvVariations(ctx context.Context, envID string, from, to time.Time) ([]FlagVariationCount, error)
	// Users pages through (user, variation) pairs.
	Users(ctx context.Context, q UsersQuery) ([]UserVariation, error)
	// Exposures assigns experiment users to variations.
	Exposures(ctx context.Context, r Range) ([]Exposure, error)
	// Metric aggregates one metric's events after first exposure per
	// variation.
	Metric(ctx context.Context, r Range, q MetricQuery) ([]MetricResult, error)
	// ExperimentUsers calls fn for at most limit exposed users of an
	// experiment, in order, as the backend produces them (an export streams
	// them); an error from fn stops the query and is returned. q's
	// PreFrom and Winsorize are ignored.
	ExperimentUsers(ctx context.Context, r Range, q MetricQuery, limit int, fn func(*ExperimentUser) error) error
	// DeleteUser removes every event of one end user of one environment
	// (GDPR). It returns when the deletion is visible to queries.
	DeleteUser(ctx context.Context, envID, userKey string) error
	// DeleteBefore removes every event older than t (retention).
	DeleteBefore(ctx context.Context, t time.Time) error
	// Close releases the store.
	Close() error
}
