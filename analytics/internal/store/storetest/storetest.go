// Package storetest is the query conformance suite every store.Store
// implementation must pass: the embedded store runs it in unit tests, the
// ClickHouse store (chstore) in integration tests. The fixture is small and its expected
// results are written out by hand below, so both implementations are checked
// against the same independent answers.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/switchyard/switchyard/analytics/internal/store"
	"github.com/switchyard/switchyard/codec"
)

// T0 is the fixture's reference time: 2026-11-02 10:00:00 UTC.
var T0 = time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)

func ms(d time.Duration) int64 { return T0.Add(d).UnixMilli() }

// Fixture returns the conformance data for environment env (and a second
// environment other that must never leak into env's answers).
func Fixture(env, other string) []*codec.InsightBatch {
	ev := func(user, name, variation string, at time.Duration, expt bool) codec.FlagEval {
		return codec.FlagEval{FlagKey: "f1", VariationID: variation, Value: "v-" + variation, UserKey: user,
			UserName: name, SendToExperiment: expt, Timestamp: ms(at)}
	}
	me := func(user, event string, at time.Duration, v float64) codec.MetricEvent {
		return codec.MetricEvent{EventName: event, UserKey: user, NumericValue: v, Timestamp: ms(at),
			Route: "/r", Type: "CustomEvent", AppType: "server"}
	}
	return []*codec.InsightBatch{
		{EnvID: env, Evals: []codec.FlagEval{
			ev("u1", "Ann", "a", time.Second, true),
			ev("u1", "Ann2", "a", 90*time.Second, true),
			ev("u2", "Bob", "b", 30*time.Second, true),
			ev("u2", "Bob", "a", 2*time.Hour, true),
			ev("u3", "Cid", "b", 61*time.Second, false),
			ev("u4", "Dee", "a", 5*time.Second, true),
			ev("u5", "Eve", "b", 3*time.Minute, true),
			ev("u6", "Fay", "a", -time.Millisecond, true), // before the range
			ev("u7", "Gus", "a", 24*time.Hour, true),      // at To: excluded
			{FlagKey: "f2", VariationID: "x", UserKey: "u1", SendToExperiment: true, Timestamp: ms(time.Second)},
		}},
		{EnvID: other, Evals: []codec.FlagEval{ev("u1", "Ann", "a", 0, true)},
			Metrics: []codec.MetricEvent{me("u1", "buy", 10*time.Second, 1000)}},
		{EnvID: env, Metrics: []codec.MetricEvent{
			me("u1", "buy", 500*time.Millisecond, 100), // before u1's exposure
			me("u1", "buy", 10*time.Second, 10),
			me("u1", "buy", 20*time.Second, 20),
			me("u2", "buy", 40*time.Second, 7),
			me("u3", "buy", 70*time.Second, 50),                                                       // u3 is not in the experiment
			me("u5", "buy", 2*time.Minute, 9),                                                         // before u5's exposure
			me("u4", "buy", 24*time.Hour+time.Second, 5),                                              // after To
			me("u4", "other", 10*time.Second, 1),                                                      // another event
			{EnvID: env, EventName: "buy", UserKey: "u4", NumericValue: 3, Timestamp: ms(-time.Hour)}, // before exposure
			me("u1", "buy", -30*time.Minute, 4),                                                       // pre-period (CUPED)
			me("u1", "buy", -3*time.Hour, 1000),                                                       // before the pre-period
			// page views and clicks (FeatBit's casing of the type)
			{EventName: "view", UserKey: "u1", Type: "PageView", Route: "/checkout/step1", Timestamp: ms(10 * time.Second)},
			{EventName: "view", UserKey: "u2", Type: "Click", Route: "/checkout", Timestamp: ms(40 * time.Second)},
			{EventName: "view", UserKey: "u5", Type: "pageview", Route: "/home", Timestamp: ms(4 * time.Minute)},
			// a numeric metric with an outlier (winsorization)
			me("u1", "amount", 10*time.Second, 10),
			me("u2", "amount", 40*time.Second, 20),
			me("u5", "amount", 4*time.Minute, 1000),
		}},
	}
}

// Run runs the suite against a fresh store from open. Open may return a store
// shared with other tests: the suite uses random environment ids, but its last
// step (DeleteBefore) deletes everything older than T0+60s.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := open(t)
	env := fmt.Sprintf("env-%x", rand.Uint64())
	other := env + "-other"
	for _, b := range Fixture(env, other) {
		if err := s.Insert(ctx, b); err != nil {
			t.Fatalf("Insert: %v", err)
		}
	}
	r := store.Range{EnvID: env, FlagKey: "f1", From: T0, To: T0.Add(24 * time.Hour)}

	t.Run("Series", func(t *testing.T) {
		p := func(at time.Duration, v string, n uint64) store.SeriesPoint {
			return store.SeriesPoint{Time: ms(at), VariationID: v, Count: n}
		}
		day := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC).UnixMilli()
		cases := []struct {
			b    store.Bucket
			want []store.SeriesPoint
		}{
			{store.Minute, []store.SeriesPoint{p(0, "a", 2), p(0, "b", 1), p(time.Minute, "a", 1), p(time.Minute, "b", 1),
				p(3*time.Minute, "b", 1), p(2*time.Hour, "a", 1)}},
			{store.Hour, []store.SeriesPoint{p(0, "a", 3), p(0, "b", 3), p(2*time.Hour, "a", 1)}},
			{store.Day, []store.SeriesPoint{{Time: day, VariationID: "a", Count: 4}, {Time: day, VariationID: "b", Count: 3}}},
		}
		for _, c := range cases {
			got, err := s.Series(ctx, r, c.b)
			check(t, fmt.Sprintf("Series(%d)", c.b), got, err, c.want)
		}
	})
	t.Run("VariationUsers", func(t *testing.T) {
		got, err := s.VariationUsers(ctx, r)
		check(t, "VariationUsers", got, err, []store.VariationUsers{vu("a", 4, 3), vu("b", 3, 3)})
	})
	t.Run("Users", func(t *testing.T) {
		all := []store.UserVariation{
			uv("u1", "Ann2", "a", 2, ms(90*time.Second)),
			uv("u2", "Bob", "a", 1, ms(2*time.Hour)),
			uv("u2", "Bob", "b", 1, ms(30*time.Second)),
			uv("u3", "Cid", "b", 1, ms(61*time.Second)),
			uv("u4", "Dee", "a", 1, ms(5*time.Second)),
			uv("u5", "Eve", "b", 1, ms(3*time.Minute)),
		}
		got, err := s.Users(ctx, store.UsersQuery{Range: r})
		check(t, "Users(all)", got, err, all)
		got, err = s.Users(ctx, store.UsersQuery{Range: r, Limit: 2, Offset: 1})
		check(t, "Users(page)", got, err, all[1:3])
		got, err = s.Users(ctx, store.UsersQuery{Range: r, VariationID: "b"})
		check(t, "Users(b)", got, err, []store.UserVariation{all[2], all[3], all[5]})
		got, err = s.Users(ctx, store.UsersQuery{Range: r, Offset: 100})
		check(t, "Users(past end)", got, err, []store.UserVariation{})
	})
	t.Run("Exposures", func(t *testing.T) {
		got, err := s.Exposures(ctx, r)
		check(t, "Exposures", got, err, []store.Exposure{ex("a", 2, ms(time.Second)), ex("b", 2, ms(30*time.Second))})
	})
	t.Run("Metric", func(t *testing.T) {
		got, err := s.Metric(ctx, r, store.MetricQuery{EventName: "buy"})
		check(t, "Metric", got, err, []store.MetricResult{mr("a", 1, 15, 225), mr("b", 1, 7, 49)})
		got, err = s.Metric(ctx, r, store.MetricQuery{EventName: "nothing"})
		check(t, "Metric(none)", got, err, []store.MetricResult{})
		// CUPED covariate from [T0-2h, T0): u1 (a, 4) and u4 (a, 3, no event after exposure)
		got, err = s.Metric(ctx, r, store.MetricQuery{EventName: "buy", PreFrom: T0.Add(-2 * time.Hour)})
		a := mr("a", 1, 15, 225)
		a.PreUsers, a.PreBoth, a.PreSum, a.PreSumSq, a.CrossSum = 2, 1, 4, 16, 60
		check(t, "Metric(pre)", got, err, []store.MetricResult{a, mr("b", 1, 7, 49)})
		pv := func(urls ...store.URLMatch) store.MetricQuery {
			return store.MetricQuery{EventName: "view", EventType: "pageview", URLs: urls}
		}
		got, err = s.Metric(ctx, r, pv(store.URLMatch{MatchType: store.URLContains, URL: "/checkout"}))
		check(t, "Metric(pageview contains)", got, err, []store.MetricResult{mr("a", 1, 0, 0)})
		got, err = s.Metric(ctx, r, pv(store.URLMatch{MatchType: store.URLRegex, URL: `^/(home|nope)$`},
			store.URLMatch{MatchType: store.URLExact, URL: "/checkout/step1"}))
		check(t, "Metric(pageview regex|exact)", got, err, []store.MetricResult{mr("a", 1, 0, 0), mr("b", 1, 0, 0)})
		got, err = s.Metric(ctx, r, store.MetricQuery{EventName: "view", EventType: "click"})
		check(t, "Metric(click)", got, err, []store.MetricResult{mr("b", 1, 0, 0)})
		// winsorized at the median of {10, 20, 1000}: 20
		got, err = s.Metric(ctx, r, store.MetricQuery{EventName: "amount", Winsorize: 0.5})
		wa, wb := mr("a", 1, 10, 100), mr("b", 2, 40, 800)
		wa.Cap, wb.Cap = 20, 20
		check(t, "Metric(winsorized)", got, err, []store.MetricResult{wa, wb})
		if _, err := s.Metric(ctx, r, pv(store.URLMatch{MatchType: store.URLRegex, URL: `(a`})); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("bad regex: %v, want ErrInvalid", err)
		}
	})
	t.Run("ExperimentUsers", func(t *testing.T) {
		var got []store.ExperimentUser
		err := s.ExperimentUsers(ctx, r, store.MetricQuery{EventName: "buy"}, 3, func(u *store.ExperimentUser) error {
			got = append(got, *u)
			return nil
		})
		check(t, "ExperimentUsers", got, err, []store.ExperimentUser{
			{UserKey: "u1", VariationID: "a", FirstExposure: ms(time.Second), Events: 2, Value: 15},
			{UserKey: "u2", VariationID: "b", FirstExposure: ms(30 * time.Second), Events: 1, Value: 7},
			{UserKey: "u4", VariationID: "a", FirstExposure: ms(5 * time.Second)}})
		stop := errors.New("stop")
		n := 0
		err = s.ExperimentUsers(ctx, r, store.MetricQuery{EventName: "buy"}, 10, func(*store.ExperimentUser) error { n++; return stop })
		if !errors.Is(err, stop) || n != 1 {
			t.Errorf("fn error: %v after %d rows, want stop after 1", err, n)
		}
	})
	t.Run("EnvVariations", func(t *testing.T) {
		got, err := s.EnvVariations(ctx, env, T0, T0.Add(24*time.Hour))
		check(t, "EnvVariations", got, err, []store.FlagVariationCount{
			{FlagKey: "f1", VariationID: "a", Evaluations: 4}, {FlagKey: "f1", VariationID: "b", Evaluations: 3},
			{FlagKey: "f2", VariationID: "x", Evaluations: 1}})
		got, err = s.EnvVariations(ctx, env, T0.Add(time.Hour), T0.Add(24*time.Hour))
		check(t, "EnvVariations(later)", got, err, []store.FlagVariationCount{{FlagKey: "f1", VariationID: "a", Evaluations: 1}})
		if _, err := s.EnvVariations(ctx, env, T0, T0); err == nil {
			t.Error("empty range: no error")
		}
	})
	t.Run("Invalid", func(t *testing.T) {
		if _, err := s.Series(ctx, store.Range{EnvID: env, FlagKey: "f1", From: T0, To: T0}, store.Hour); err == nil {
			t.Error("empty range: no error")
		}
	})
	t.Run("DeleteUser", func(t *testing.T) {
		if err := s.DeleteUser(ctx, env, "u1"); err != nil {
			t.Fatalf("DeleteUser: %v", err)
		}
		got, err := s.VariationUsers(ctx, r)
		check(t, "VariationUsers", got, err, []store.VariationUsers{vu("a", 2, 2), vu("b", 3, 3)})
		got2, err := s.Metric(ctx, r, store.MetricQuery{EventName: "buy"})
		check(t, "Metric", got2, err, []store.MetricResult{mr("b", 1, 7, 49)})
		// the other environment's u1 is untouched
		got3, err := s.VariationUsers(ctx, store.Range{EnvID: other, FlagKey: "f1", From: T0, To: T0.Add(time.Hour)})
		check(t, "other env", got3, err, []store.VariationUsers{vu("a", 1, 1)})
	})
	t.Run("DeleteBefore", func(t *testing.T) {
		if err := s.DeleteBefore(ctx, T0.Add(60*time.Second)); err != nil {
			t.Fatalf("DeleteBefore: %v", err)
		}
		got, err := s.VariationUsers(ctx, r)
		check(t, "VariationUsers", got, err, []store.VariationUsers{vu("a", 1, 1), vu("b", 2, 2)})
	})
}

func check[T any](t *testing.T, what string, got []T, err error, want []T) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

func vu(v string, n, u uint64) store.VariationUsers {
	return store.VariationUsers{VariationID: v, Evaluations: n, Users: u}
}

func uv(u, name, v string, n uint64, last int64) store.UserVariation {
	return store.UserVariation{UserKey: u, UserName: name, VariationID: v, Evaluations: n, LastSeen: last}
}

func ex(v string, n uint64, first int64) store.Exposure {
	return store.Exposure{VariationID: v, Users: n, FirstExposure: first}
}

func mr(v string, n uint64, sum, sumSq float64) store.MetricResult {
	return store.MetricResult{VariationID: v, Users: n, Sum: sum, SumSq: sumSq}
}
