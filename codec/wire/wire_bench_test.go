package wire

import (
	"testing"

	"github.com/switchyard/switchyard/codec"
)

// BenchmarkAppendServerSync1000 encodes a full server data-sync of 1,000
// realistic flags (3 rules, 2–3 variations each) and 101 segments into a
// reused buffer.
func BenchmarkAppendServerSync1000(b *testing.B) {
	flags, segs := realisticFlags(1000)
	buf := AppendServerSync(nil, EventFull, flags, segs)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf = AppendServerSync(buf[:0], EventFull, flags, segs)
	}
}

// BenchmarkAppendServerSyncRaw1000 builds the same message from per-item
// JSON cached by the caller (what the edge does on a full sync).
func BenchmarkAppendServerSyncRaw1000(b *testing.B) {
	flags, segs := realisticFlags(1000)
	fj := make([][]byte, len(flags))
	for i, f := range flags {
		fj[i] = AppendFlag(nil, f)
	}
	sj := make([][]byte, len(segs))
	for i, s := range segs {
		sj[i] = AppendSegment(nil, s)
	}
	buf := AppendServerSyncRaw(nil, EventFull, fj, sj)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf = AppendServerSyncRaw(buf[:0], EventFull, fj, sj)
	}
}

// BenchmarkAppendFlag encodes one realistic flag.
func BenchmarkAppendFlag(b *testing.B) {
	flags, _ := realisticFlags(1)
	buf := AppendFlag(nil, flags[0])
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf = AppendFlag(buf[:0], flags[0])
	}
}

// BenchmarkParseDataSync parses a client data-sync request whose user has 10
// custom properties.
func BenchmarkParseDataSync(b *testing.B) {
	in := []byte(dataSyncWithUser)
	var m Message
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := m.Parse(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParsePing parses the ping most SDKs send.
func BenchmarkParsePing(b *testing.B) {
	in := []byte(`{"messageType":"ping","data":null}`)
	var m Message
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := m.Parse(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendClientSync encodes a client data-sync of 20 evaluated flags.
func BenchmarkAppendClientSync(b *testing.B) {
	flags := clientFlags(20)
	buf := AppendClientSync(nil, EventFull, "3f1c2a7e-9b0d-4c55-8e2f-6a7b8c9d0e1f", flags)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf = AppendClientSync(buf[:0], EventFull, "3f1c2a7e-9b0d-4c55-8e2f-6a7b8c9d0e1f", flags)
	}
}

// BenchmarkParseTrack parses a track body of 50 insights (the SDKs' batch
// size): 40 flag evaluations and 10 metrics over 5 users.
func BenchmarkParseTrack(b *testing.B) {
	body := trackBody(50)
	var batch codec.InsightBatch
	var users codec.EndUserBatch
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		batch.Evals, batch.Metrics, users.Users = batch.Evals[:0], batch.Metrics[:0], users.Users[:0]
		if err := ParseTrack(body, env, &batch, &users); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendServerSync100 encodes a full server data-sync of 100
// realistic flags and 11 segments and reports the frame size, next to the
// msgpack size of the same flags and segments (codec's MarshalMsg).
func BenchmarkAppendServerSync100(b *testing.B) {
	flags, segs := realisticFlags(100)
	buf := AppendServerSync(nil, EventFull, flags, segs)
	var mp []byte
	for _, f := range flags {
		mp, _ = f.MarshalMsg(mp)
	}
	for _, s := range segs {
		mp, _ = s.MarshalMsg(mp)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf = AppendServerSync(buf[:0], EventFull, flags, segs)
	}
	b.ReportMetric(float64(len(buf)), "json-bytes")
	b.ReportMetric(float64(len(mp)), "msgp-bytes")
}
