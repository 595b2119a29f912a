package api

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/store"
	"github.com/switchyard/switchyard/control/internal/workflow"
)

// FuzzRolloutRequest decodes untrusted guarded-rollout requests and
// validates them against a flag: never a panic, and an accepted request has
// stages in (0, 100] that grow, holds in range, a check period and a test
// tuning in range, two different variations of the flag, and every stage's
// serve is a valid split (ranges cover [0, 1) in order).
func FuzzRolloutRequest(f *testing.F) {
	for _, seed := range []string{
		`{"variationId":"on","metricIds":["m"],"stages":[{"percent":1},{"percent":5,"holdSeconds":60},{"percent":100}]}`,
		`{"ruleId":"r1","variationId":"off","baselineVariationId":"on","metricIds":["m"],"stages":[{"percent":33.33}],"checkEverySeconds":5,"sequentialN":100}`,
		`{"ruleId":"default","variationId":"on","metricIds":["m"],"stages":[{"percent":1e308}]}`,
		`{"variationId":"on","metricIds":["m"],"stages":[{"percent":50},{"percent":50}]}`,
	} {
		f.Add([]byte(seed))
	}
	flag := &codec.Flag{Key: "f", Variations: []codec.Variation{{ID: "on", Value: "true"}, {ID: "off", Value: "false"}},
		Rules:       []codec.Rule{{ID: "r1", Variations: []codec.RolloutVariation{{ID: "on", Rollout: [2]float64{0, 0.5}}, {ID: "off", Rollout: [2]float64{0.5, 1}}}}},
		Fallthrough: codec.Fallthrough{Variations: []codec.RolloutVariation{{ID: "off", Rollout: [2]float64{0, 1}}}}}
	f.Fuzz(func(t *testing.T, b []byte) {
		var req RolloutRequest
		if json.Unmarshal(b, &req) != nil || validRollout(&req, flag) != nil {
			return
		}
		if req.VariationID == req.BaselineVariationID || req.CheckEverySeconds < 1 || req.CheckEverySeconds > maxRolloutCheck ||
			!(req.SequentialN >= 100 && req.SequentialN <= 1e9) || len(req.Stages) == 0 || len(req.Stages) > maxRolloutStages {
			t.Fatalf("accepted %+v", req)
		}
		prev := 0.0
		for _, s := range req.Stages {
			if !(s.Percent > prev && s.Percent <= 100) || s.HoldSeconds < 0 || s.HoldSeconds > maxRolloutHold {
				t.Fatalf("accepted stage %+v of %+v", s, req)
			}
			prev = s.Percent
			x := rolloutOf(&req)
			serve := workflow.StageServe(x, s.Percent)
			lo := 0.0
			for _, v := range serve {
				if v.Rollout[0] != lo || v.Rollout[1] < v.Rollout[0] || math.IsNaN(v.Rollout[1]) {
					t.Fatalf("stage %g serves %+v", s.Percent, serve)
				}
				lo = v.Rollout[1]
			}
			if lo != 1 {
				t.Fatalf("stage %g serves %+v, not all users", s.Percent, serve)
			}
		}
	})
}

func rolloutOf(req *RolloutRequest) *store.GuardedRollout {
	return &store.GuardedRollout{VariationID: req.VariationID, BaselineVariationID: req.BaselineVariationID, Stages: req.Stages}
}
