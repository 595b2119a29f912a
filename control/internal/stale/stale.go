// Package stale decides which flags of a project are stale or risky, from
// the flags themselves, their evaluations (analytics) and their code
// references. It is pure: callers gather the inputs.
//
// A flag is reported stale when, for at least Days days, it
//   - has served one variation to everyone: it is off, or on with no
//     individual targeting, no rules and a default rule that serves a single
//     variation, has not changed since, and analytics (when it knows) saw no
//     other variation served; or analytics saw evaluations of only one
//     variation in the window while the flag did not change;
//   - has had no evaluations at all (analytics knew the flag for the whole
//     window); or
//   - has no code references left, while the project does have uploaded
//     references (so the scanner runs for it), and existed for the whole
//     window (a flag created today is not in code yet).
//
// An archived flag that still has code references is reported as a risk:
// code that reads it gets the SDK's default value.
package stale

import (
	"fmt"
	"sort"
	"time"

	"github.com/switchyard/switchyard/codec"
)

// Reason codes.
const (
	SingleVariation  = "single-variation"
	NoEvaluations    = "no-evaluations"
	NoCodeReferences = "no-code-references"
	ArchivedInCode   = "archived-with-code-references"
)

// Reason says why a flag is listed.
type Reason struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Usage is what analytics knows of a flag in the window: evaluations per
// variation id. Known is false when analytics could not be asked.
type Usage struct {
	Known      bool
	Evaluation map[string]int64
}

// Input is one environment's flag with what is known about its use.
type Input struct {
	EnvID, EnvName string
	Flag           *codec.Flag
	Usage          Usage
	// CodeRefs is the number of code references to the flag's key; Scanned
	// is true when the project has any uploaded references at all.
	CodeRefs int
	Scanned  bool
}

// Report is one listed flag.
type Report struct {
	EnvID      string   `json:"envId"`
	EnvName    string   `json:"envName"`
	FlagKey    string   `json:"flagKey"`
	FlagName   string   `json:"flagName"`
	IsArchived bool     `json:"isArchived"`
	Stale      bool     `json:"stale"`
	Risk       bool     `json:"risk"`
	CodeRefs   int      `json:"codeRefs"`
	Reasons    []Reason `json:"reasons"`
}

// Evaluate applies the rules to every input and returns the flags with at
// least one reason, by environment and key.
func Evaluate(in []Input, days int, now time.Time) []Report {
	window := time.Duration(days) * 24 * time.Hour
	since := now.Add(-window)
	var out []Report
	for _, x := range in {
		f := x.Flag
		r := Report{EnvID: x.EnvID, EnvName: x.EnvName, FlagKey: f.Key, FlagName: f.Name, IsArchived: f.IsArchived, CodeRefs: x.CodeRefs}
		if f.IsArchived {
			if x.CodeRefs > 0 {
				r.Risk = true
				r.Reasons = append(r.Reasons, Reason{ArchivedInCode, fmt.Sprintf("archived, but still referenced %d times in code: those reads get the SDK default", x.CodeRefs)})
			}
		} else {
			unchanged := time.UnixMilli(f.UpdatedAt).Before(since)
			if v, ok := servesOne(f); ok && unchanged && !mixed(x.Usage) {
				r.Reasons = append(r.Reasons, Reason{SingleVariation, fmt.Sprintf("has served %q to everyone for %d+ days (unchanged since %s)", v, days, time.UnixMilli(f.UpdatedAt).UTC().Format("2006-01-02"))})
			} else if id, ok := onlyEvaluated(x.Usage); ok && unchanged {
				r.Reasons = append(r.Reasons, Reason{SingleVariation, fmt.Sprintf("every evaluation in the last %d days returned %q", days, variationName(f, id))})
			}
			known := time.UnixMilli(f.CreatedAt).Before(since)
			if x.Usage.Known && known && total(x.Usage) == 0 {
				r.Reasons = append(r.Reasons, Reason{NoEvaluations, fmt.Sprintf("no evaluations in the last %d days", days)})
			}
			if x.Scanned && x.CodeRefs == 0 && known { // a new flag is not in code yet
				r.Reasons = append(r.Reasons, Reason{NoCodeReferences, "no code references left in the scanned repositories"})
			}
			r.Stale = len(r.Reasons) > 0
		}
		if len(r.Reasons) > 0 {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].EnvName != out[j].EnvName {
			return out[i].EnvName < out[j].EnvName
		}
		return out[i].FlagKey < out[j].FlagKey
	})
	return out
}

// servesOne reports whether the flag's configuration gives every user the
// same variation, and that variation's name.
func servesOne(f *codec.Flag) (string, bool) {
	if !f.IsEnabled {
		return variationName(f, f.DisabledVariationID), true
	}
	if len(f.TargetUsers) > 0 || len(f.Rules) > 0 {
		for _, t := range f.TargetUsers {
			if len(t.KeyIDs) > 0 {
				return "", false
			}
		}
		if len(f.Rules) > 0 {
			return "", false
		}
	}
	var only string
	for _, v := range f.Fallthrough.Variations {
		if v.Rollout[1]-v.Rollout[0] <= 0 {
			continue
		}
		if only != "" && only != v.ID {
			return "", false
		}
		only = v.ID
	}
	if only == "" {
		return "", false
	}
	return variationName(f, only), true
}

func onlyEvaluated(u Usage) (string, bool) {
	if !u.Known {
		return "", false
	}
	var only string
	for id, n := range u.Evaluation {
		if n == 0 {
			continue
		}
		if only != "" {
			return "", false
		}
		only = id
	}
	return only, only != ""
}

// mixed reports whether analytics saw more than one variation served.
func mixed(u Usage) bool {
	_, one := onlyEvaluated(u)
	return u.Known && !one && total(u) > 0
}

func total(u Usage) int64 {
	var n int64
	for _, c := range u.Evaluation {
		n += c
	}
	return n
}

func variationName(f *codec.Flag, id string) string {
	for _, v := range f.Variations {
		if v.ID == id {
			if v.Name != "" {
				return v.Name
			}
			return v.Value
		}
	}
	return id
}
