package hist

import (
	"testing"
	"time"
)

func BenchmarkRecord(b *testing.B) {
	var h H
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.Record(time.Duration(i))
	}
}

func BenchmarkRecordParallel(b *testing.B) {
	var h H
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			h.Record(time.Duration(i))
			i++
		}
	})
}
