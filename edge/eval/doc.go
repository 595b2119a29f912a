// Package eval is Switchyard's pure feature-flag evaluator: it computes, for
// one end user, the variation FeatBit's evaluation server would serve, with
// the same match reason and experiment sampling (see docs/evaluation.md and
// section 6 of the FeatBit protocol notes).
//
// The package imports only the standard library and codec, so the edge (which
// serves evaluations) and control (which validates flags and previews
// evaluations) run exactly the same code.
//
// Usage: compile each flag and segment once when it is loaded, with
// CompileFlag and CompileSegment, then call Evaluate as often as needed.
// Compilation parses everything that can be parsed ahead of time (regular
// expressions, numbers, JSON lists, semantic versions, dates); it never fails
// as a whole: a broken condition compiles to "never matches" and is reported
// in the returned error list, which control shows to the user.
//
// Concurrency and lifetime: a compiled *Flag and *Segment are immutable and
// safe for concurrent use by any number of goroutines. They keep a pointer to
// the codec value they were compiled from (Src) and Result.Variation points
// into Src.Variations, so the caller must not modify Src after compiling it;
// to change a flag, compile the new value and swap the pointer. Evaluate does
// not allocate and does not retain u or segs. Explain allocates and is meant
// for tools and previews, not the hot path.
package eval
