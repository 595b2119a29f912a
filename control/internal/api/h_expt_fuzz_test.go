package api

import (
	"encoding/json"
	"testing"

	"github.com/switchyard/switchyard/control/internal/store"
)

// FuzzMetricDefinition decodes untrusted metric definitions (FeatBit's enum
// spellings, numbers for enums) and validates them: never a panic, and a
// valid metric is normalised (validating it again changes nothing).
func FuzzMetricDefinition(f *testing.F) {
	for _, seed := range []string{
		`{"name":"Buy","eventName":"buy"}`,
		`{"name":"V","eventName":"pv","eventType":2,"targetUrls":[{"matchType":1,"url":"/checkout"},{"matchType":"RegExp","url":"^/c/\\d+$"}]}`,
		`{"name":"C","eventName":"c","eventType":"Click","elementTargets":"#buy","targetUrls":[{"url":"/p"}],"customEventSuccessCriteria":"Lower"}`,
		`{"name":"R","eventName":"r","customEventTrackOption":"Numeric","winsorize":0.99,"guardrail":true}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m store.Metric
		if json.Unmarshal(b, &m) != nil {
			return
		}
		if validMetric(&m) != nil {
			return
		}
		again := m
		again.TargetURLs = append([]store.TargetURL(nil), m.TargetURLs...)
		if err := validMetric(&again); err != nil {
			t.Fatalf("a normalised metric is invalid: %v (%+v)", err, m)
		}
		if again.EventType != m.EventType || again.TrackOption != m.TrackOption || again.SuccessCriteria != m.SuccessCriteria {
			t.Fatalf("normalising twice changed %+v into %+v", m, again)
		}
	})
}
