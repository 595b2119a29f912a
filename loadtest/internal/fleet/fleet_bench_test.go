package fleet

import (
	"testing"
	"time"
)

var benchPatch = []byte(`{"messageType":"data-sync","data":{"eventType":"patch","featureFlags":[{"id":"0b6f2a3e-7c1d-4e7e-9a55-2f1d1b7c9a10","envId":"ad99d259-1f50-4ed9-a002-7c65e25487df","name":"load test push","key":"lt-push","variationType":"string","variations":[{"id":"lt-v-7","name":"v7","value":"` +
	PushMarker(7, time.Unix(1700000000, 0)) + `"}],"targetUsers":[],"rules":[],"isEnabled":true,"disabledVariationId":"lt-v-7","fallthrough":{"dispatchKey":"","includedInExpt":false,"variations":[{"id":"lt-v-7","rollout":[0,1],"exptRollout":0}]},"exptIncludeAllTargets":false,"tags":[],"updatedAt":1700000000000,"isArchived":false}],"segments":[]}}`)

// TestMessageIsAllocationFree: receiving a push costs no allocation.
func TestMessageIsAllocationFree(t *testing.T) {
	f, err := New(Spec{Dsts: []string{"127.0.0.1:1"}, MaxPushes: 8})
	if err != nil {
		t.Fatal(err)
	}
	var last int32
	if a := testing.AllocsPerRun(1000, func() { last = 0; f.message(benchPatch, &last) }); a != 0 {
		t.Fatalf("message allocates %v", a)
	}
	if f.Push.Count() == 0 {
		t.Fatal("no push recorded")
	}
}

func BenchmarkMessagePush(b *testing.B) {
	f, _ := New(Spec{Dsts: []string{"127.0.0.1:1"}, MaxPushes: 8})
	var last int32
	b.ReportAllocs()
	b.SetBytes(int64(len(benchPatch)))
	for b.Loop() {
		last = 0
		f.message(benchPatch, &last)
	}
}

func BenchmarkClientFrame(b *testing.B) {
	buf := make([]byte, 0, 512)
	req := appendClientSync(nil, 12345, 0)
	b.ReportAllocs()
	for b.Loop() {
		buf = clientFrame(buf[:0], 1, req, [4]byte{1, 2, 3, 4})
	}
}
