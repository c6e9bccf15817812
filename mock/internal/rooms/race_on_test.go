//go:build race

package rooms

// raceEnabled is true under the race detector, whose instrumentation
// changes heap figures: the heap test runs without it.
const raceEnabled = true
