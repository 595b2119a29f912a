package secret

import "testing"

// BenchmarkDecodeTokenBytes decodes a connection token into a reused buffer
// (the edge's WebSocket handshake path).
func BenchmarkDecodeTokenBytes(b *testing.B) {
	tok := []byte(exampleToken)
	dst := make([]byte, 0, Length)
	b.SetBytes(int64(len(tok)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var err error
		if dst, err = DecodeTokenBytes(tok, exampleTs, DefaultWindow, dst[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendEnvID recovers the env id of a secret into a reused buffer.
func BenchmarkAppendEnvID(b *testing.B) {
	sec := []byte(clientSecret)
	dst := make([]byte, 0, 36)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var err error
		if dst, err = AppendEnvID(dst[:0], sec); err != nil {
			b.Fatal(err)
		}
	}
}
