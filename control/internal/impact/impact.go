// Package impact previews a targeting change: which of an environment's
// stored end users would be served a different variation by a proposed
// flag than by the current one, from which variation to which, why (the
// proposed flag's match reason) and a few of them by key. It evaluates
// both flags with the edge's evaluator (edge/eval) over the end users'
// stored properties, reading the users as a stream (store.ScanEndUsers):
// memory is O(transitions × samples), never O(users), and progress is
// reported as it goes.
package impact

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/edge/eval"
)

// Bounds.
const (
	MaxSamples = 20 // sample keys per transition
	MaxReasons = 20 // match reasons listed per transition (the rest are counted as "other")
)

// ErrTooMany: the environment has more end users than Options.MaxUsers.
var ErrTooMany = errors.New("impact: too many end users")

// Variation names a variation in a result (nil: no variation, the SDK's
// default is served).
type Variation struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Reason is a match reason of the proposed flag and how many moved users it
// covers.
type Reason struct {
	Reason string `json:"reason"`
	Count  int    `json:"count"`
}

// Transition is the users moved from one variation to another.
type Transition struct {
	From    *Variation `json:"from"`
	To      *Variation `json:"to"`
	Count   int        `json:"count"`
	Reasons []Reason   `json:"reasons"` // why the proposed flag serves them To, most first
	Samples []string   `json:"samples"` // end-user keys, first seen in the scan
}

// Served counts the users served one variation.
type Served struct {
	Variation *Variation `json:"variation"`
	Before    int        `json:"before"`
	After     int        `json:"after"`
}

// Result is the preview.
type Result struct {
	Users       int          `json:"users"`   // end users evaluated
	Changed     int          `json:"changed"` // of those, served another variation
	Transitions []Transition `json:"transitions"`
	Served      []Served     `json:"served"`
	TookMs      int64        `json:"tookMs"`
}

// Options of Compute.
type Options struct {
	Samples  int // sample keys per transition (0..MaxSamples)
	MaxUsers int // stop with ErrTooMany beyond this many users (0: no cap)
	// Progress, when set, is called with the number of users evaluated
	// every ProgressEvery users (default 50,000).
	Progress      func(users int)
	ProgressEvery int
}

// Scanner streams end users (store.Store.ScanEndUsers bound to an
// environment and window).
type Scanner func(ctx context.Context, fn func(*codec.EndUser) error) error

type pair struct{ from, to string }

type acc struct {
	n       int
	reasons map[string]int
	samples []string
}

// Compute evaluates cur and next for every user scan yields.
func Compute(ctx context.Context, cur, next *codec.Flag, segments []*codec.Segment, scan Scanner, o Options) (*Result, error) {
	start := time.Now()
	cf, errs := eval.CompileFlag(cur)
	if len(errs) > 0 {
		return nil, errs[0]
	}
	nf, errs := eval.CompileFlag(next)
	if len(errs) > 0 {
		return nil, errs[0]
	}
	segs := make(eval.Segments, len(segments))
	for _, s := range segments {
		segs[s.ID], _ = eval.CompileSegment(s)
	}
	o.Samples = min(max(o.Samples, 0), MaxSamples)
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 50_000
	}
	res := &Result{Transitions: []Transition{}, Served: []Served{}}
	moved := map[pair]*acc{}
	before, after := map[string]int{}, map[string]int{}
	err := scan(ctx, func(eu *codec.EndUser) error {
		if o.MaxUsers > 0 && res.Users >= o.MaxUsers {
			return ErrTooMany
		}
		u := eval.UserFrom(eu)
		a, b := eval.Evaluate(cf, segs, &u), eval.Evaluate(nf, segs, &u)
		ka, kb := id(a.Variation), id(b.Variation)
		before[ka]++
		after[kb]++
		res.Users++
		if o.Progress != nil && res.Users%o.ProgressEvery == 0 {
			o.Progress(res.Users)
		}
		if ka == kb {
			return nil
		}
		res.Changed++
		p := pair{ka, kb}
		m := moved[p]
		if m == nil {
			m = &acc{reasons: map[string]int{}}
			moved[p] = m
		}
		m.n++
		if _, ok := m.reasons[b.MatchReason]; ok || len(m.reasons) < MaxReasons {
			m.reasons[b.MatchReason]++
		} else {
			m.reasons["other"]++
		}
		if len(m.samples) < o.Samples {
			m.samples = append(m.samples, eu.KeyID)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for p, m := range moved {
		t := Transition{From: variation(cur, next, p.from), To: variation(next, cur, p.to), Count: m.n, Samples: m.samples}
		if t.Samples == nil {
			t.Samples = []string{}
		}
		for r, n := range m.reasons {
			t.Reasons = append(t.Reasons, Reason{Reason: r, Count: n})
		}
		sort.Slice(t.Reasons, func(i, j int) bool {
			return t.Reasons[i].Count > t.Reasons[j].Count || t.Reasons[i].Count == t.Reasons[j].Count && t.Reasons[i].Reason < t.Reasons[j].Reason
		})
		res.Transitions = append(res.Transitions, t)
	}
	sort.Slice(res.Transitions, func(i, j int) bool {
		a, b := res.Transitions[i], res.Transitions[j]
		return a.Count > b.Count || a.Count == b.Count && key(a.From)+"→"+key(a.To) < key(b.From)+"→"+key(b.To)
	})
	ids := map[string]bool{}
	for k := range before {
		ids[k] = true
	}
	for k := range after {
		ids[k] = true
	}
	for k := range ids {
		res.Served = append(res.Served, Served{Variation: variation(next, cur, k), Before: before[k], After: after[k]})
	}
	sort.Slice(res.Served, func(i, j int) bool { return key(res.Served[i].Variation) < key(res.Served[j].Variation) })
	res.TookMs = time.Since(start).Milliseconds()
	return res, nil
}

func id(v *codec.Variation) string {
	if v == nil {
		return ""
	}
	return v.ID
}

func key(v *Variation) string {
	if v == nil {
		return ""
	}
	return v.ID
}

// variation finds the variation id in f, else in g ("": none).
func variation(f, g *codec.Flag, vid string) *Variation {
	if vid == "" {
		return nil
	}
	for _, fl := range []*codec.Flag{f, g} {
		for _, v := range fl.Variations {
			if v.ID == vid {
				return &Variation{ID: v.ID, Name: v.Name, Value: v.Value}
			}
		}
	}
	return &Variation{ID: vid}
}
