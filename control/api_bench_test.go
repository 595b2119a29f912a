package control

import (
	"fmt"
	"testing"

	"github.com/switchyard/switchyard/codec"
)

// BenchmarkFlagToggle measures an acknowledged flag change through the
// handler on the embedded store (version check, validation, outbox bump,
// flag write), without publishing.
func BenchmarkFlagToggle(b *testing.B) {
	h := newHarness(b)
	env := h.env("dev")
	var f codec.Flag
	h.must(200, h.admin, "GET", h.flagsURL(env)+"/checkout-flow", nil).decode(b, &f)
	b.ReportAllocs()
	b.ResetTimer()
	v := f.Version
	for b.Loop() {
		h.must(200, h.admin, "POST", h.flagsURL(env)+"/checkout-flow/toggle", map[string]any{"version": v})
		v++
		if v%500 == 0 {
			h.s.PublishPending(b.Context()) // keep the outbox short, as the running publisher does
		}
	}
}

// BenchmarkPublishEnv measures publishing one change of an environment with
// 200 flags to in-memory sinks (the change's item read, encoded, written
// and produced; the publish mark).
func BenchmarkPublishEnv(b *testing.B) {
	h := newHarness(b)
	env := h.env("dev")
	for i := range 196 {
		h.must(201, h.admin, "POST", h.flagsURL(env), boolFlagBody(fmt.Sprintf("bench-%03d", i)))
	}
	h.publish()
	b.ReportAllocs()
	b.ResetTimer()
	v := int64(1)
	for b.Loop() {
		b.StopTimer()
		h.must(200, h.admin, "POST", h.flagsURL(env)+"/bench-000/toggle", map[string]any{"version": v})
		v++
		b.StartTimer()
		if err := h.s.pub.PublishEnv(b.Context(), env); err != nil {
			b.Fatal(err)
		}
	}
}
