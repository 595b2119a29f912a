package consume

import (
	"testing"

	"github.com/switchyard/switchyard/analytics/internal/chstore"
	"github.com/switchyard/switchyard/codec"
)

// FuzzDecodeInsightRecord feeds arbitrary record values through the decode
// path the consumer runs (DecodeRecord, then the column buffer): it must never
// panic, and whatever decodes must survive a re-encode round trip and land
// in the columns as exactly its number of events.
func FuzzDecodeInsightRecord(f *testing.F) {
	seed := codec.InsightBatch{EnvID: "env-1",
		Evals: []codec.FlagEval{{EnvID: "env-1", FlagKey: "flag", VariationID: "v1", Value: "true", UserKey: "u-1",
			UserName: "Ann", SendToExperiment: true, Timestamp: 1764000000000}},
		Metrics: []codec.MetricEvent{{EventName: "buy", UserKey: "u-1", NumericValue: 9.5, Timestamp: 1764000000001}}}
	b, _ := seed.MarshalMsg(nil)
	f.Add(b)
	f.Add(b[:len(b)/2])
	f.Add([]byte{0x80})
	f.Add([]byte{0x83, 0xa5, 'e', 'v', 'a', 'l', 's', 0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		var batch codec.InsightBatch
		if err := DecodeRecord(data, &batch); err != nil {
			return
		}
		var cols chstore.Columns
		cols.Add(&batch, 1, func(i int) uint64 { return uint64(i) })
		if cols.Rows() != len(batch.Evals)+len(batch.Metrics) {
			t.Fatalf("columns hold %d rows for %d events", cols.Rows(), len(batch.Evals)+len(batch.Metrics))
		}
		out, err := batch.MarshalMsg(nil)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		var again codec.InsightBatch
		if err := DecodeRecord(out, &again); err != nil {
			t.Fatalf("decode of re-encoded batch: %v", err)
		}
		if len(again.Evals) != len(batch.Evals) || len(again.Metrics) != len(batch.Metrics) || again.EnvID != batch.EnvID {
			t.Fatal("round trip changed the batch")
		}
	})
}
