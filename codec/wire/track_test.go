package wire

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/codec"
)

const env = "0d9c8b7a-6f5e-4d3c-2b1a-0f9e8d7c6b5a"

func TestParseTrackShapes(t *testing.T) {
	body := `[
 {"user":{"keyId":"u1","name":"Bob","customizedProperties":[{"name":"country","value":"us"}]},
  "variations":[{"featureFlagKey":"checkout-v2","variation":{"id":"var-1","value":"true","name":"On","reason":"rule match"},
                 "timestamp":1700000000000,"sendToExperiment":true}]},
 {"user":{"keyId":"u1","name":"Bob","customizedProperties":[]},
  "metrics":[{"route":"index/metric","type":"CustomEvent","eventName":"checkout-completed",
              "numericValue":1.5,"appType":"NodeJS-Server-SDK","timestamp":1700000000500}]},
 {"variations":[{"featureFlagKey":"f2","variation":{"id":"var-2","value":"blue"},"timestamp":1700000000100,"sendToExperiment":false}],
  "user":{"keyId":"u2","customizedProperties":[{"name":"age","value":18},{"name":"vip","value":false}]}},
 {"user":{"keyId":""},"variations":[{"featureFlagKey":"dropped","variation":{"id":"x","value":"y"}}]},
 {"user":{"keyId":"  "},"metrics":[{"eventName":"dropped"}]},
 {"variations":[{"featureFlagKey":"no-user","variation":{"id":"x","value":"y"}}]},
 {"user":null,"metrics":[{"eventName":"null-user"}]},
 {"user":{"keyId":"u3"},"variations":[{"featureFlagKey":"f3","variation":null,"timestamp":1},{"featureFlagKey":"","variation":{"id":"a","value":"b"}},null],
  "metrics":null,"unknown":{"deep":[[{"x":1}]]}},
 {"user":{"keyId":"u4"}},
 null
]`
	var batch codec.InsightBatch
	var users codec.EndUserBatch
	if err := ParseTrack([]byte(body), env, &batch, &users); err != nil {
		t.Fatal(err)
	}
	wantEvals := []codec.FlagEval{
		{EnvID: env, FlagKey: "checkout-v2", VariationID: "var-1", Value: "true", UserKey: "u1", UserName: "Bob", SendToExperiment: true, Timestamp: 1700000000000},
		{EnvID: env, FlagKey: "f2", VariationID: "var-2", Value: "blue", UserKey: "u2", Timestamp: 1700000000100},
	}
	if !reflect.DeepEqual(batch.Evals, wantEvals) {
		t.Fatalf("evals:\n got %+v\nwant %+v", batch.Evals, wantEvals)
	}
	wantMetrics := []codec.MetricEvent{{EnvID: env, EventName: "checkout-completed", Route: "index/metric", Type: "CustomEvent",
		AppType: "NodeJS-Server-SDK", UserKey: "u1", NumericValue: 1.5, Timestamp: 1700000000500}}
	if !reflect.DeepEqual(batch.Metrics, wantMetrics) {
		t.Fatalf("metrics:\n got %+v\nwant %+v", batch.Metrics, wantMetrics)
	}
	wantUsers := []codec.EndUser{
		{EnvID: env, KeyID: "u1", Name: "Bob", Props: []codec.UserProp{{Name: "country", Value: "us"}}, FirstSeen: 1700000000000, LastSeen: 1700000000500},
		{EnvID: env, KeyID: "u2", Props: []codec.UserProp{{Name: "age", Value: "18"}, {Name: "vip", Value: "false"}}, FirstSeen: 1700000000100, LastSeen: 1700000000100},
		{EnvID: env, KeyID: "u3"},
		{EnvID: env, KeyID: "u4"},
	}
	if !reflect.DeepEqual(users.Users, wantUsers) {
		t.Fatalf("users:\n got %+v\nwant %+v", users.Users, wantUsers)
	}
	if batch.EnvID != env || users.EnvID != env {
		t.Fatal("batch env ids not set")
	}
}

func TestParseTrackAppendsAndDedupesPerBody(t *testing.T) {
	batch := codec.InsightBatch{EnvID: "other", Evals: []codec.FlagEval{{FlagKey: "old"}}}
	users := codec.EndUserBatch{Users: []codec.EndUser{{KeyID: "u1"}}}
	var sb strings.Builder
	sb.WriteString("[")
	for i := 0; i < 100; i++ {
		if i > 0 {
			sb.WriteString(",")
		}
		// 40 distinct users, each several times (exercises the map path)
		sb.WriteString(fmt.Sprintf(`{"user":{"keyId":"user-%02d"}`, i%40) + `,"variations":[{"featureFlagKey":"f","variation":{"id":"v","value":"1"},"timestamp":5}]}`)
	}
	sb.WriteString("]")
	if err := ParseTrack([]byte(sb.String()), env, &batch, &users); err != nil {
		t.Fatal(err)
	}
	if batch.EnvID != "other" || len(batch.Evals) != 101 || batch.Evals[0].FlagKey != "old" {
		t.Fatalf("batch: env %s, %d evals", batch.EnvID, len(batch.Evals))
	}
	// u1 from an earlier body is kept; this body adds its own 40 users once each
	if len(users.Users) != 41 {
		t.Fatalf("%d users, want 41", len(users.Users))
	}
	seen := map[string]bool{}
	for _, u := range users.Users[1:] {
		if seen[u.KeyID] {
			t.Fatalf("duplicate user %s", u.KeyID)
		}
		seen[u.KeyID] = true
	}
	// a second body may repeat users (dedup is per body)
	if err := ParseTrack([]byte(`[{"user":{"keyId":"user-07"}}]`), env, &batch, &users); err != nil || len(users.Users) != 42 {
		t.Fatalf("second body: %v, %d users", err, len(users.Users))
	}
}

func TestParseTrackLenientValues(t *testing.T) {
	body := `[{"user":{"keyId":7,"name":true},"variations":[{"featureFlagKey":"f","variation":{"id":1,"value":2.5},
	  "timestamp":"1700000000000","sendToExperiment":"TRUE"}],
	  "metrics":[{"eventName":"e","numericValue":"3","timestamp":1.7e12}]}]`
	var batch codec.InsightBatch
	var users codec.EndUserBatch
	if err := ParseTrack([]byte(body), env, &batch, &users); err != nil {
		t.Fatal(err)
	}
	e := batch.Evals[0]
	if e.UserKey != "7" || e.UserName != "true" || e.VariationID != "1" || e.Value != "2.5" || e.Timestamp != 1700000000000 || !e.SendToExperiment {
		t.Fatalf("eval %+v", e)
	}
	m := batch.Metrics[0]
	if m.NumericValue != 3 || m.Timestamp != 1700000000000 {
		t.Fatalf("metric %+v", m)
	}
}

func TestParseTrackErrors(t *testing.T) {
	for _, body := range []string{
		``, `{}`, `"x"`, `null`, `[`, `[{]`, `[1]`, `["a"]`, `[[]]`,
		`[{"user":{"keyId":"u"},"variations":{}}]`,
		`[{"user":{"keyId":"u"},"variations":[1]}]`,
		`[{"user":{"keyId":"u"},"variations":[{"featureFlagKey":{}}]}]`,
		`[{"user":{"keyId":"u"},"variations":[{"variation":"x"}]}]`,
		`[{"user":{"keyId":"u"},"variations":[{"timestamp":"soon"}]}]`,
		`[{"user":{"keyId":"u"},"variations":[{"sendToExperiment":"maybe"}]}]`,
		`[{"user":{"keyId":"u"},"metrics":[{"numericValue":"NaN"}]}]`,
		`[{"user":{"keyId":"u"},"metrics":[{"numericValue":[1]}]}]`,
		`[{"user":{"keyId":"u","customizedProperties":[{"name":"a","value":{}}]}}]`,
		`[{"user":"u"}]`,
		`[{"user":{"keyId":"u"}}] x`,
		`[{"user":{"keyId":"u"}},]`,
	} {
		batch := codec.InsightBatch{Evals: []codec.FlagEval{{FlagKey: "keep"}}}
		users := codec.EndUserBatch{}
		err := ParseTrack([]byte(`[{"user":{"keyId":"first"},"variations":[{"featureFlagKey":"a","variation":{"id":"b","value":"c"}}]}]`), env, &batch, &users)
		if err != nil {
			t.Fatal(err)
		}
		err = ParseTrack([]byte(body), env, &batch, &users)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%q: err = %v, want *SyntaxError", body, err)
		}
		if len(batch.Evals) != 2 || len(users.Users) != 1 || len(batch.Metrics) != 0 {
			t.Errorf("%q: a failed body appended data (%d evals, %d users)", body, len(batch.Evals), len(users.Users))
		}
	}
}

func TestParseUser(t *testing.T) {
	var u codec.EndUser
	u.EnvID = "keep"
	err := ParseUser([]byte(` {"keyId":"u1","name":"Ann","customizedProperties":[{"name":"age","value":30},{"key":"k","value":"v"}]} `), &u)
	want := codec.EndUser{EnvID: "keep", KeyID: "u1", Name: "Ann", Props: []codec.UserProp{{Name: "age", Value: "30"}, {Name: "k", Value: "v"}}}
	if err != nil || !reflect.DeepEqual(u, want) {
		t.Fatalf("ParseUser = %+v, %v", u, err)
	}
	for _, body := range []string{`{}`, `{"keyId":""}`, `{"keyId":" \t"}`, `{"keyId":"\u00a0\u3000\n"}`, `{"keyId":null,"name":"x"}`, `null`} {
		if err := ParseUser([]byte(body), &u); !errors.Is(err, ErrInvalidUser) {
			t.Errorf("%s: err = %v, want ErrInvalidUser", body, err)
		}
	}
	for _, body := range []string{``, `[]`, `"u"`, `{"keyId":"u"`, `{"keyId":"u"}x`, `{"keyId":[]}`} {
		var se *SyntaxError
		if err := ParseUser([]byte(body), &u); !errors.As(err, &se) {
			t.Errorf("%s: err = %v, want *SyntaxError", body, err)
		}
	}
}
