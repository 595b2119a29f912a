//go:build race

package eval

// raceEnabled: under -race, sync.Pool drops items on purpose, so pooled
// paths allocate.
const raceEnabled = true
