//go:build race

package hub_test

// raceEnabled: the race detector changes netpoll's buffers and makes
// sync.Pool drop items, so allocation budgets are not checked under it.
const raceEnabled = true
