package consume

import (
	"fmt"
	"testing"

	"github.com/switchyard/switchyard/analytics/internal/chstore"
	"github.com/switchyard/switchyard/codec"
)

// BenchmarkDecodeToColumns is the consumer's CPU cost per record of 100
// evaluations (36-character ids): validate, decode, append to the columns.
func BenchmarkDecodeToColumns(b *testing.B) {
	in := codec.InsightBatch{EnvID: "0f4a3c2e-7d41-4b7e-9a43-5c1d2e3f4a5b"}
	for i := 0; i < 100; i++ {
		in.Evals = append(in.Evals, codec.FlagEval{FlagKey: fmt.Sprintf("flag-%02d", i%20), VariationID: "5c1d2e3f-7d41-4b7e-9a43-000000000001",
			Value: "true", UserKey: fmt.Sprintf("7a1e5a2c-3b4d-4e5f-8a9b-%012d", i), UserName: "user", Timestamp: 1764000000000})
	}
	rec, _ := in.MarshalMsg(nil)
	var batch codec.InsightBatch
	var cols chstore.Columns
	b.ReportAllocs()
	b.SetBytes(int64(len(rec)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := DecodeRecord(rec, &batch); err != nil {
			b.Fatal(err)
		}
		cols.Add(&batch, 0, func(j int) uint64 { return EventID(0, int64(i), j) })
		if cols.Rows() >= 100_000 {
			cols.Reset()
		}
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "events/s")
}
