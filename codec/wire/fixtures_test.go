package wire

import (
	"fmt"
	"math/rand/v2"

	"github.com/switchyard/switchyard/codec"
)

// guid returns a deterministic GUID-shaped id.
func guid(r *rand.Rand) string {
	var b [16]byte
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// realisticFlag builds a production-shaped flag: 2 or 3 variations, a few
// targeted users, 3 rules (one with a segment condition), a 3-way rollout.
func realisticFlag(r *rand.Rand, env string, i int) *codec.Flag {
	nv := 2 + i%2
	vars := make([]codec.Variation, nv)
	for j := range vars {
		vars[j] = codec.Variation{ID: guid(r), Name: fmt.Sprintf("Variation %d", j+1), Value: fmt.Sprintf("value-%d", j)}
	}
	vt := "string"
	if nv == 2 {
		vt = "boolean"
		vars[0].Value, vars[0].Name = "true", "True"
		vars[1].Value, vars[1].Name = "false", "False"
	}
	split := func() []codec.RolloutVariation {
		out := make([]codec.RolloutVariation, nv)
		for j := range out {
			out[j] = codec.RolloutVariation{ID: vars[j].ID, Rollout: [2]float64{float64(j) / float64(nv), float64(j+1) / float64(nv)}, ExptRollout: 1}
		}
		return out
	}
	rules := []codec.Rule{
		{ID: guid(r), Name: "Beta testers", DispatchKey: "keyId", IncludedInExpt: true,
			Conditions: []codec.Condition{
				{ID: guid(r), Property: "country", Op: "IsOneOf", Value: `["fr","de","es"]`},
				{ID: guid(r), Property: "age", Op: "BiggerEqualThan", Value: "18"},
			},
			Variations: split()},
		{ID: guid(r), Name: "Internal", Conditions: []codec.Condition{
			{ID: guid(r), Property: "User is in segment", Value: `["` + guid(r) + `"]`},
		}, Variations: []codec.RolloutVariation{{ID: vars[0].ID, Rollout: [2]float64{0, 1}, ExptRollout: 1}}},
		{ID: guid(r), Name: "Email domain", Conditions: []codec.Condition{
			{ID: guid(r), Property: "email", Op: "EndsWith", Value: "@example.com"},
		}, Variations: []codec.RolloutVariation{{ID: vars[nv-1].ID, Rollout: [2]float64{0, 1}, ExptRollout: 0.5}}},
	}
	return &codec.Flag{
		ID: guid(r), EnvID: env, Name: fmt.Sprintf("Checkout flow %d", i), Description: "Roll out the new checkout",
		Key: fmt.Sprintf("checkout-flow-%04d", i), VariationType: vt, Variations: vars,
		TargetUsers: []codec.TargetUser{
			{KeyIDs: []string{guid(r), guid(r)}, VariationID: vars[0].ID},
			{KeyIDs: []string{guid(r)}, VariationID: vars[1].ID},
		},
		Rules: rules, IsEnabled: true, DisabledVariationID: vars[nv-1].ID,
		Fallthrough:           codec.Fallthrough{IncludedInExpt: true, Variations: split()},
		ExptIncludeAllTargets: true, Tags: []string{"checkout", "web"},
		UpdatedAt: 1764075600000 + int64(i)*1001, IsArchived: i%50 == 49,
	}
}

func realisticSegment(r *rand.Rand, env string, i int) *codec.Segment {
	return &codec.Segment{
		ID: guid(r), EnvID: env, Name: fmt.Sprintf("segment-%d", i), Description: "beta users",
		Included: []string{guid(r), guid(r)}, Excluded: []string{guid(r)},
		Rules: []codec.SegmentRule{{ID: guid(r), Name: "Rule 1", Conditions: []codec.Condition{
			{Property: "age", Op: "LessEqualThan", Value: "22"},
			{Property: "country", Op: "IsOneOf", Value: `["cn","us","es"]`},
		}}},
		UpdatedAt: 1764075600000 + int64(i),
	}
}

func realisticFlags(n int) ([]*codec.Flag, []*codec.Segment) {
	r := rand.New(rand.NewPCG(1, 2))
	env := guid(r)
	flags := make([]*codec.Flag, n)
	for i := range flags {
		flags[i] = realisticFlag(r, env, i)
	}
	segs := make([]*codec.Segment, n/10+1)
	for i := range segs {
		segs[i] = realisticSegment(r, env, i)
	}
	return flags, segs
}

// clientFlags builds n evaluated flags as the edge would send them.
func clientFlags(n int) []ClientFlag {
	r := rand.New(rand.NewPCG(3, 4))
	out := make([]ClientFlag, n)
	for i := range out {
		opts := []codec.Variation{{ID: guid(r), Value: "true"}, {ID: guid(r), Value: "false"}}
		out[i] = ClientFlag{
			Key: fmt.Sprintf("checkout-flow-%04d", i), Value: "true", VariationType: "boolean",
			VariationID: opts[0].ID, MatchReason: "Beta testers", Options: opts,
			SendToExperiment: i%3 == 0, Timestamp: 1764075600000 + int64(i),
		}
	}
	return out
}

// dataSyncWithUser is a client data-sync request: a 36-character user key
// and 10 custom properties, one escaped, two non-string.
const dataSyncWithUser = `{"messageType":"data-sync","data":{"timestamp":1764075600123,` +
	`"user":{"keyId":"3f1c2a7e-9b0d-4c55-8e2f-6a7b8c9d0e1f","name":"Jos\u00e9 Garc\u00eda",` +
	`"customizedProperties":[` +
	`{"name":"country","value":"FR"},` +
	`{"name":"email","value":"jose.garcia@example.com"},` +
	`{"name":"plan","value":"enterprise-annual"},` +
	`{"name":"age","value":42},` +
	`{"name":"isMember","value":true},` +
	`{"name":"signupDate","value":"2025-03-14T09:26:53Z"},` +
	`{"name":"device","value":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15"},` +
	`{"name":"tenant","value":"a2b9c3d4-e5f6-4789-a0b1-c2d3e4f5a6b7"},` +
	`{"name":"locale","value":"fr-FR"},` +
	`{"name":"quote","value":"say \"hi\"\n"}]}}}`

// trackBody builds a track body of n insights, 4 of 5 flag evaluations and
// 1 of 5 metrics, spread over 5 users with 3 custom properties each.
func trackBody(n int) []byte {
	b := []byte{'['}
	for i := 0; i < n; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `{"user":{"keyId":"3f1c2a7e-9b0d-4c55-8e2f-6a7b8c9d0e%02d","name":"User %d",`+
			`"customizedProperties":[{"name":"country","value":"FR"},{"name":"plan","value":"pro"},{"name":"age","value":"42"}]},`, i%5, i%5)
		if i%5 == 4 {
			b = fmt.Appendf(b, `"metrics":[{"route":"index/metric","type":"CustomEvent","eventName":"checkout-completed",`+
				`"numericValue":1,"appType":"NodeJS-Server-SDK","timestamp":%d}]}`, 1764075600000+int64(i))
		} else {
			b = fmt.Appendf(b, `"variations":[{"featureFlagKey":"checkout-flow-%04d","variation":{"id":"a2b9c3d4-e5f6-4789-a0b1-c2d3e4f5a6b7","value":"true"},`+
				`"timestamp":%d,"sendToExperiment":true}]}`, i%7, 1764075600000+int64(i))
		}
	}
	return append(b, ']')
}
