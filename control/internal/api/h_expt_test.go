package api

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/store"
)

func TestExpectedSplit(t *testing.T) {
	rv := func(id string, lo, hi, expt float64) codec.RolloutVariation {
		return codec.RolloutVariation{ID: id, Rollout: [2]float64{lo, hi}, ExptRollout: expt}
	}
	fall := func(in bool, vs ...codec.RolloutVariation) codec.Fallthrough {
		return codec.Fallthrough{IncludedInExpt: in, Variations: vs}
	}
	cases := []struct {
		name string
		f    codec.Flag
		want map[string]float64
		note string
	}{
		{"80/20 all sent", codec.Flag{IsEnabled: true, Fallthrough: fall(true, rv("a", 0, 0.8, 0.8), rv("b", 0.8, 1, 0.2))},
			map[string]float64{"a": 0.8, "b": 0.2}, ""},
		// half of each range sampled: FeatBit's exptRollout is a share of all users, capped at the range width
		{"80/20 sampled 10% each", codec.Flag{IsEnabled: true, Fallthrough: fall(true, rv("a", 0, 0.8, 0.1), rv("b", 0.8, 1, 0.1))},
			map[string]float64{"a": 0.5, "b": 0.5}, ""},
		{"exptRollout above width is capped", codec.Flag{IsEnabled: true, Fallthrough: fall(true, rv("a", 0, 0.25, 1), rv("b", 0.25, 1, 1))},
			map[string]float64{"a": 0.25, "b": 0.75}, ""},
		{"same split in a rule and the default", codec.Flag{IsEnabled: true,
			Rules:       []codec.Rule{{IncludedInExpt: true, Variations: []codec.RolloutVariation{rv("a", 0, 0.5, 0.5), rv("b", 0.5, 1, 0.5)}}},
			Fallthrough: fall(true, rv("b", 0, 0.5, 0.5), rv("a", 0.5, 1, 0.5))},
			map[string]float64{"a": 0.5, "b": 0.5}, ""},
		{"rule not in the experiment ignored", codec.Flag{IsEnabled: true,
			Rules:       []codec.Rule{{IncludedInExpt: false, Variations: []codec.RolloutVariation{rv("a", 0, 1, 1)}}},
			Fallthrough: fall(true, rv("a", 0, 0.3, 0.3), rv("b", 0.3, 1, 0.7))},
			map[string]float64{"a": 0.3, "b": 0.7}, ""},
		{"rules split differently", codec.Flag{IsEnabled: true,
			Rules:       []codec.Rule{{IncludedInExpt: true, Variations: []codec.RolloutVariation{rv("a", 0, 1, 1)}}},
			Fallthrough: fall(true, rv("a", 0, 0.5, 0.5), rv("b", 0.5, 1, 0.5))},
			nil, "split traffic differently"},
		{"nothing in the experiment", codec.Flag{IsEnabled: true, Fallthrough: fall(false, rv("a", 0, 1, 1))}, nil, "no rule"},
		{"flag off", codec.Flag{Fallthrough: fall(true, rv("a", 0, 1, 1))}, nil, "flag is off"},
		{"targets warned", codec.Flag{IsEnabled: true, ExptIncludeAllTargets: true, TargetUsers: []codec.TargetUser{{VariationID: "a"}},
			Fallthrough: fall(true, rv("a", 0, 0.5, 0.5), rv("b", 0.5, 1, 0.5))}, map[string]float64{"a": 0.5, "b": 0.5}, "targeted"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, note := ExpectedSplit(&c.f)
			if len(got) != len(c.want) || (c.note == "") != (note == "") || !strings.Contains(note, c.note) {
				t.Fatalf("ExpectedSplit = %v, %q; want %v, %q", got, note, c.want, c.note)
			}
			for k, v := range c.want {
				if math.Abs(got[k]-v) > 1e-12 {
					t.Errorf("%s: %v, want %v", k, got[k], v)
				}
			}
		})
	}
}

func TestValidMetricFeatBitSpellings(t *testing.T) {
	m := store.Metric{Name: "Checkout views", EventName: "pv", EventType: "PageView", TrackOption: "Conversion",
		SuccessCriteria: "2", TargetURLs: []store.TargetURL{{MatchType: "Substring", URL: "/checkout"}, {MatchType: "RegExp", URL: `^/cart/\d+$`}}}
	if err := validMetric(&m); err != nil {
		t.Fatal(err)
	}
	if m.EventType != "pageview" || m.TrackOption != "conversion" || m.SuccessCriteria != "lower" || !m.SuccessIsLower ||
		m.TargetURLs[0].MatchType != "contains" || m.TargetURLs[1].MatchType != "regex" {
		t.Errorf("not normalised: %+v", m)
	}
	c := store.Metric{Name: "Buy", EventName: "buy", EventType: "3", ElementTargets: "#buy > button.primary",
		TargetURLs: []store.TargetURL{{URL: "/product"}}}
	if err := validMetric(&c); err != nil || c.EventType != "click" || c.TargetURLs[0].MatchType != "contains" {
		t.Errorf("click: %v %+v", err, c)
	}
	n := store.Metric{Name: "Revenue", EventName: "pay", TrackOption: "Numeric", Winsorize: 0.99}
	if err := validMetric(&n); err != nil || n.EventType != "custom" || n.SuccessCriteria != "higher" {
		t.Errorf("numeric: %v %+v", err, n)
	}
}

// TestSecurityMetricDefinition is the attack on a metric definition: URL
// patterns that are not RE2 (backtracking) or huge, too many URLs, control
// characters in a selector or URL, impossible combinations. Each is refused
// with the field named.
func TestSecurityMetricDefinition(t *testing.T) {
	urls := make([]store.TargetURL, maxTargetURLs+1)
	for i := range urls {
		urls[i] = store.TargetURL{URL: "/x"}
	}
	pv := func(u ...store.TargetURL) store.Metric {
		return store.Metric{Name: "n", EventName: "e", EventType: "pageview", TargetURLs: u}
	}
	cases := map[string]struct {
		m     store.Metric
		field string
	}{
		"backreference":       {pv(store.TargetURL{MatchType: "regex", URL: `(a+)+\1`}), "targetUrls[0].url"},
		"huge pattern":        {pv(store.TargetURL{MatchType: "regex", URL: strings.Repeat("a", maxURLLen+1)}), "targetUrls[0].url"},
		"control char in url": {pv(store.TargetURL{URL: "/a\x00b"}), "targetUrls[0].url"},
		"too many urls":       {pv(urls...), "targetUrls"},
		"unknown match":       {pv(store.TargetURL{MatchType: "glob", URL: "/x"}), "targetUrls[0].matchType"},
		"page view no url":    {pv(), "targetUrls"},
		"click no selector":   {store.Metric{Name: "n", EventName: "e", EventType: "click", TargetURLs: []store.TargetURL{{URL: "/x"}}}, "elementTargets"},
		"selector newline":    {store.Metric{Name: "n", EventName: "e", EventType: "click", ElementTargets: "a\nb", TargetURLs: []store.TargetURL{{URL: "/x"}}}, "elementTargets"},
		"numeric page view":   {store.Metric{Name: "n", EventName: "e", EventType: "pageview", TrackOption: "numeric", TargetURLs: []store.TargetURL{{URL: "/x"}}}, "customEventTrackOption"},
		"winsorize conv":      {store.Metric{Name: "n", EventName: "e", Winsorize: 0.99}, "winsorize"},
		"winsorize 1":         {store.Metric{Name: "n", EventName: "e", TrackOption: "numeric", Winsorize: 1}, "winsorize"},
		"unknown criteria":    {store.Metric{Name: "n", EventName: "e", SuccessCriteria: "sideways"}, "customEventSuccessCriteria"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			err := validMetric(&c.m)
			var fe *store.FieldError
			if !errors.As(err, &fe) || fe.Field != c.field {
				t.Fatalf("validMetric = %v, want an error on %s", err, c.field)
			}
		})
	}
}
